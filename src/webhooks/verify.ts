import { verify as verifySignature } from 'node:crypto'
import { KeyUnavailable, type PublicKeySource } from './public-keys.ts'
import { snsUrlAllowed, verifySnsSignature, type SnsCertificates, type SnsEnvelope } from './sns.ts'

/** A verified notification, normalised: its dedupe id, Circle's notification type and the resource it carries. */
export interface Notification {
  scheme: 'v2' | 'sns'
  /** v2 `notificationId` or SNS `MessageId`: stable across redeliveries. */
  id: string
  type: string
  resource: Record<string, unknown>
}

export type Verified =
  | { kind: 'notification'; notification: Notification }
  /** A verified SNS control message (subscription confirmed, unsubscribe noted): nothing to store. */
  | { kind: 'control'; scheme: 'sns'; id: string; action: 'subscription_confirmed' | 'unsubscribe_noted' }

export type RejectionReason =
  | 'missing_signature'
  | 'invalid_key_id'
  | 'unknown_key'
  | 'invalid_signature'
  | 'unsupported_signature_version'
  | 'certificate_url_not_allowed'
  | 'subscribe_url_not_allowed'
  | 'unknown_topic'
  | 'malformed'

/** The notification cannot be shown to come from Circle: 401, nothing stored. */
export class WebhookRejected extends Error {
  override name = 'WebhookRejected'
  readonly reason: RejectionReason
  constructor(reason: RejectionReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/** The notification may be genuine but cannot be checked now (Circle or AWS unreachable): 503, Circle redelivers. */
export class VerificationUnavailable extends Error {
  override name = 'VerificationUnavailable'
}

export interface VerifierOptions {
  publicKeys: PublicKeySource
  certificates: SnsCertificates
  /** SNS topics we subscribed to; notifications and confirmations from any other topic are refused. */
  snsTopicArns: readonly string[]
  /** Origins trusted for SNS certificate and subscribe URLs besides `https://sns.<region>.amazonaws.com` (the embedded simulator only). */
  snsExtraOrigins?: readonly string[]
  /** GETs an SNS SubscribeURL to confirm a subscription. */
  confirmSubscription?: (url: string) => Promise<void>
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Checks that a webhook comes from Circle, on the raw body bytes, before anything is parsed for use.
 * v2 (`X-Circle-Signature` present): ECDSA P-256 / SHA-256 over the raw body, signature base64 of
 * its DER encoding, key by `X-Circle-Key-Id` (a UUID) from Circle. v1 (otherwise): an AWS SNS
 * envelope, SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA), certificate from an allowed
 * HTTPS URL, topic one of ours.
 */
export class WebhookVerifier {
  private readonly options: VerifierOptions

  constructor(options: VerifierOptions) {
    this.options = options
  }

  async verify(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<Verified> {
    if (header(headers, 'x-circle-signature') !== undefined || header(headers, 'x-circle-key-id') !== undefined) return this.v2(raw, headers)
    return this.sns(raw, headers)
  }

  private async v2(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<Verified> {
    const signature = header(headers, 'x-circle-signature')?.trim()
    const keyId = header(headers, 'x-circle-key-id')?.trim()
    if (!signature || !BASE64.test(signature)) throw new WebhookRejected('missing_signature', 'X-Circle-Signature is missing or not base64')
    if (!keyId || !UUID.test(keyId)) throw new WebhookRejected('invalid_key_id', 'X-Circle-Key-Id must be a UUID')
    let key
    try {
      key = await this.options.publicKeys.get(keyId.toLowerCase())
    } catch (err) {
      if (err instanceof KeyUnavailable) throw new VerificationUnavailable(err.message, { cause: err })
      throw err
    }
    if (!key) throw new WebhookRejected('unknown_key', `Circle does not know notification key ${keyId}`)
    // Node's default ECDSA signature encoding is DER, which is what Circle sends.
    if (!verifySignature('sha256', raw, key, Buffer.from(signature, 'base64'))) {
      throw new WebhookRejected('invalid_signature', 'the signature does not match the body')
    }
    const body = parseJson(raw)
    if (!isObject(body) || typeof body.notificationId !== 'string' || typeof body.notificationType !== 'string') {
      throw new WebhookRejected('malformed', 'a v2 notification needs notificationId and notificationType')
    }
    const resource = isObject(body.notification) ? body.notification : {}
    return { kind: 'notification', notification: { scheme: 'v2', id: body.notificationId, type: body.notificationType, resource } }
  }

  private async sns(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<Verified> {
    const body = parseJson(raw)
    if (!isObject(body) || typeof body.Type !== 'string') {
      throw new WebhookRejected('missing_signature', 'neither X-Circle-Signature nor a signed SNS envelope')
    }
    const envelope: SnsEnvelope = {}
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string') envelope[k] = v
    const typeHeader = header(headers, 'x-amz-sns-message-type')
    if (typeHeader !== undefined && typeHeader !== envelope.Type) throw new WebhookRejected('malformed', 'x-amz-sns-message-type does not match the envelope')
    if (!envelope.Signature || !envelope.SigningCertURL) throw new WebhookRejected('missing_signature', 'the SNS envelope is not signed')
    if (envelope.SignatureVersion !== '1' && envelope.SignatureVersion !== '2') {
      throw new WebhookRejected('unsupported_signature_version', `SNS SignatureVersion ${envelope.SignatureVersion ?? '(none)'} is not 1 or 2`)
    }
    if (!envelope.MessageId || !envelope.TopicArn || !envelope.Timestamp || envelope.Message === undefined) {
      throw new WebhookRejected('malformed', 'the SNS envelope lacks MessageId, TopicArn, Timestamp or Message')
    }
    const certUrl = snsUrlAllowed(envelope.SigningCertURL, this.options.snsExtraOrigins)
    if (!certUrl) throw new WebhookRejected('certificate_url_not_allowed', 'SigningCertURL must be HTTPS on sns.<region>.amazonaws.com')
    let certificate: string
    try {
      certificate = await this.options.certificates.get(certUrl.href)
    } catch (err) {
      throw new VerificationUnavailable(`could not fetch the SNS signing certificate`, { cause: err })
    }
    let valid = false
    try {
      valid = verifySnsSignature(envelope, certificate)
    } catch {
      valid = false
    }
    if (!valid) throw new WebhookRejected('invalid_signature', 'the SNS signature does not match the envelope')
    // Checked after the signature, so an unknown topic is known to be a genuine SNS message for someone else's topic.
    if (!this.options.snsTopicArns.includes(envelope.TopicArn)) throw new WebhookRejected('unknown_topic', `topic ${envelope.TopicArn} is not one we subscribed to`)

    switch (envelope.Type) {
      case 'Notification': {
        const message = parseJson(Buffer.from(envelope.Message))
        if (!isObject(message) || typeof message.notificationType !== 'string') throw new WebhookRejected('malformed', 'the SNS Message is not a Circle notification')
        return { kind: 'notification', notification: { scheme: 'sns', id: envelope.MessageId, type: message.notificationType, resource: resourceOf(message) } }
      }
      case 'SubscriptionConfirmation': {
        const subscribeUrl = snsUrlAllowed(envelope.SubscribeURL, this.options.snsExtraOrigins)
        if (!subscribeUrl) throw new WebhookRejected('subscribe_url_not_allowed', 'SubscribeURL must be HTTPS on sns.<region>.amazonaws.com')
        try {
          await (this.options.confirmSubscription ?? confirmByGet)(subscribeUrl.href)
        } catch (err) {
          throw new VerificationUnavailable('could not confirm the SNS subscription', { cause: err })
        }
        return { kind: 'control', scheme: 'sns', id: envelope.MessageId, action: 'subscription_confirmed' }
      }
      case 'UnsubscribeConfirmation':
        return { kind: 'control', scheme: 'sns', id: envelope.MessageId, action: 'unsubscribe_noted' }
      default:
        throw new WebhookRejected('malformed', `SNS message type ${envelope.Type} is not handled`)
    }
  }
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch {
    return undefined
  }
}

/** Circle's v1 message holds the resource under a key named after it (`transfer`, `payout`, `wire`, ...). */
function resourceOf(message: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(message)) {
    if (key !== 'customAttributes' && isObject(value)) return value
  }
  return {}
}

async function confirmByGet(url: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' })
  await res.arrayBuffer()
  if (!res.ok) throw new Error(`SubscribeURL answered ${res.status}`)
}
