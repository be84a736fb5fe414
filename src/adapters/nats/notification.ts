import { z } from 'zod'

/**
 * The public contract of the NATS notifications: one message per status change, on
 * `<prefix>.<resource>.<status>.<walletId>` (prefix `ledger.v1`), header `Nats-Msg-Id` = `eventId`.
 * The JSON Schema under docs/ is generated from these schemas; a change here that is not additive
 * bumps `schemaVersion` (and the `v1` in the subject prefix).
 */

export const NOTIFICATION_SCHEMA_VERSION = 1

export const RESOURCES = ['wallet', 'address', 'bank_account', 'mint', 'redeem', 'transfer', 'deposit', 'card', 'reconciliation'] as const
export type Resource = (typeof RESOURCES)[number]

/**
 * Every status any resource shows: operations (pending, processing, completed, failed), wallets,
 * addresses, bank accounts and cards (active, frozen, closed), and a reconciliation run's outcome
 * (clean, mismatches, failed).
 */
export const STATUSES = ['pending', 'processing', 'completed', 'failed', 'active', 'frozen', 'closed', 'clean', 'mismatches'] as const
export type NotificationStatus = (typeof STATUSES)[number]

/** The subject token used for resources that belong to no wallet (bank accounts belong to an owner). */
export const NO_WALLET = 'none'

const status = z.enum(STATUSES)

const notificationShape = {
  schemaVersion: z.literal(NOTIFICATION_SCHEMA_VERSION).describe('Payload version; consumers reject versions they do not know'),
  eventId: z.uuid().describe('Id of the event that changed the status; equal to the Nats-Msg-Id header. Deduplicate on it'),
  resource: z.enum(RESOURCES),
  id: z.string().min(1).describe('Id of the resource (wallet, address, bank account, mint, redeem, transfer, deposit, card)'),
  walletId: z.uuid().nullable().describe('Wallet the resource belongs to (for a transfer, the source wallet); null for bank accounts'),
  ownerId: z.string().nullable().describe('Owner of a wallet or bank account; null for other resources'),
  status,
  previousStatus: status.nullable().describe('Status before this event; null when the resource was just created'),
  amount: z
    .string()
    .regex(/^[0-9]+\.[0-9]{2,6}$/)
    .nullable()
    .describe('Decimal string in currency units, e.g. "10.50" (never a number); null for resources without an amount'),
  currency: z.literal('USD').nullable().describe('"USD" is Circle\'s code for USDC; null when amount is null'),
  circleId: z
    .string()
    .nullable()
    .describe('Circle id of the resource: wallet id, wire account id, transfer id (mint, transfer, deposit), payout id (redeem, once paying out); null when Circle has none yet'),
  txHash: z.string().nullable().describe('On-chain transaction hash, when there is one (transfers to a blockchain address, deposits)'),
  failure: z.object({ code: z.string(), message: z.string() }).nullable().describe('Why the resource failed; null unless status is failed'),
  occurredAt: z.iso.datetime().describe('When the ledger accepted the change (ISO-8601, UTC)'),
  position: z.string().describe('Event store position of the event: opaque, totally ordered per ledger'),
}

// Loose objects: a later version may add fields without breaking consumers that validate against this one.
export const notificationSchema = z.looseObject(notificationShape).meta({ title: 'Circle Ledger status notification, schemaVersion 1' })

/** One status change as published on NATS. Never carries an account or card number. */
export type Notification = z.infer<z.ZodObject<typeof notificationShape>>

/** The audit chain head published on `<prefix>.audit.head`: anyone keeping these can detect a rewritten audit table. */
const auditHeadShape = {
  schemaVersion: z.literal(NOTIFICATION_SCHEMA_VERSION),
  position: z.string().describe('Event store position of the last event in the audit chain'),
  hash: z.string().regex(/^[0-9a-f]{64}$/).describe('Chain hash (sha256, hex) at that position'),
  at: z.iso.datetime().describe('When the head was read and published'),
}

export const auditHeadSchema = z.looseObject(auditHeadShape).meta({ title: 'Circle Ledger audit chain head, schemaVersion 1' })

export type AuditHeadMessage = z.infer<z.ZodObject<typeof auditHeadShape>>

export function notificationSubject(prefix: string, n: Pick<Notification, 'resource' | 'status' | 'walletId'>): string {
  return `${prefix}.${n.resource}.${n.status}.${n.walletId ?? NO_WALLET}`
}

export const auditHeadSubject = (prefix: string) => `${prefix}.audit.head`

/** The JSON Schemas committed under docs/ (a test keeps the files equal to these). */
export function jsonSchemas(): Record<string, unknown> {
  return {
    'notification.schema.json': z.toJSONSchema(notificationSchema, { target: 'draft-2020-12' }),
    'audit-head.schema.json': z.toJSONSchema(auditHeadSchema, { target: 'draft-2020-12' }),
  }
}
