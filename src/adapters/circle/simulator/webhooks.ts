import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

export interface WebhookSubscriber {
  id: string
  url: string
  version: 'v1' | 'v2'
  /** v1 only: SNS SignatureVersion, '1' (SHA1withRSA) or '2' (SHA256withRSA, the default). */
  signatureVersion?: '1' | '2'
}

export interface WebhookFaults {
  /** Share of notifications never delivered. */
  dropRate: number
  /** Share of notifications delivered twice. */
  duplicateRate: number
  /** Random delay (ms) before each delivery, so later transitions may overtake earlier ones. */
  reorderMs: number
}

/** The test-only certificate and key the simulator signs SNS (v1) envelopes with. */
export const snsTestCertificate = readFileSync(new URL('./sns-test-cert.pem', import.meta.url), 'utf8')
const snsTestKey = readFileSync(new URL('./sns-test-key.pem', import.meta.url), 'utf8')
export const SNS_TOPIC_ARN = 'arn:aws:sns:us-east-1:908968368384:sandbox_platform-notifications-topic'
/** How long one delivery attempt waits for the subscriber's answer. */
const DELIVERY_TIMEOUT_MS = 5000

/** The canonical string SNS signs for a Notification (keys in this order, Subject only when present). */
export function snsCanonicalNotification(m: Record<string, string | undefined>): string {
  return ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
    .filter((k) => m[k] !== undefined)
    .map((k) => `${k}\n${m[k]}\n`)
    .join('')
}

/** The canonical string SNS signs for a SubscriptionConfirmation. */
export function snsCanonicalConfirmation(m: Record<string, string | undefined>): string {
  return ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
    .filter((k) => m[k] !== undefined)
    .map((k) => `${k}\n${m[k]}\n`)
    .join('')
}

/**
 * Signs and delivers Circle notifications: v2 as ECDSA P-256 over the raw body (`X-Circle-Signature`,
 * `X-Circle-Key-Id`), v1 as an SNS envelope signed SHA256withRSA with the test certificate.
 * Non-2xx answers are retried with backoff.
 */
/** The v2 signing key; kept with the simulator's state so a restarted or second simulator signs alike. */
export interface SigningKey {
  keyId: string
  privateKeyPem: string
}

export function newSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return { keyId: randomUUID(), privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }
}

export class WebhookDispatcher {
  readonly keyId: string
  readonly publicKeyDer: string
  private readonly privateKey: KeyObject
  faults: WebhookFaults = { dropRate: 0, duplicateRate: 0, reorderMs: 0 }
  private readonly pending = new Set<Promise<void>>()
  private closed = false
  private readonly retries: number
  private readonly retryDelayMs: number
  certUrl = ''

  constructor(options: { retries?: number; retryDelayMs?: number; key?: SigningKey } = {}) {
    const key = options.key ?? newSigningKey()
    this.keyId = key.keyId
    this.privateKey = createPrivateKey(key.privateKeyPem)
    this.publicKeyDer = createPublicKey(this.privateKey).export({ format: 'der', type: 'spki' }).toString('base64')
    this.retries = options.retries ?? 5
    this.retryDelayMs = options.retryDelayMs ?? 200
  }

  notify(subscribers: WebhookSubscriber[], notificationType: string, resourceKey: string, resource: { id: string; status?: string }): void {
    for (const subscriber of subscribers) {
      if (Math.random() < this.faults.dropRate) continue
      const copies = Math.random() < this.faults.duplicateRate ? 2 : 1
      const { body, headers } = subscriber.version === 'v2' ? this.v2(subscriber, notificationType, resource) : this.v1(subscriber, notificationType, resourceKey, resource)
      for (let i = 0; i < copies; i++) {
        const job = this.deliver(subscriber, body, headers).finally(() => this.pending.delete(job))
        this.pending.add(job)
      }
    }
  }

  private v2(subscriber: WebhookSubscriber, notificationType: string, resource: object) {
    const body = JSON.stringify({ subscriptionId: subscriber.id, notificationId: randomUUID(), notificationType, notification: resource, timestamp: new Date().toISOString(), version: 2 })
    const signature = sign('sha256', Buffer.from(body), this.privateKey).toString('base64')
    return { body, headers: { 'content-type': 'application/json', 'x-circle-signature': signature, 'x-circle-key-id': this.keyId } }
  }

  /** Like SNS on subscribe: a signed SubscriptionConfirmation whose SubscribeURL confirms the subscriber. */
  confirmSubscription(subscriber: WebhookSubscriber): void {
    const base = this.certUrl.replace(/\/sns\/cert\.pem$/, '')
    const token = randomUUID().replaceAll('-', '')
    const envelope: Record<string, string> = {
      Type: 'SubscriptionConfirmation',
      MessageId: randomUUID(),
      Token: token,
      TopicArn: SNS_TOPIC_ARN,
      Message: `You have chosen to subscribe to the topic ${SNS_TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      SubscribeURL: `${base}/sns/confirm?subscriber=${subscriber.id}&Token=${token}`,
      Timestamp: new Date().toISOString(),
      SignatureVersion: subscriber.signatureVersion ?? '2',
      SigningCertURL: this.certUrl,
    }
    envelope.Signature = sign(envelope.SignatureVersion === '1' ? 'sha1' : 'sha256', Buffer.from(snsCanonicalConfirmation(envelope)), snsTestKey).toString('base64')
    const headers = { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'SubscriptionConfirmation' }
    const job = this.deliver(subscriber, JSON.stringify(envelope), headers).finally(() => this.pending.delete(job))
    this.pending.add(job)
  }

  private v1(subscriber: WebhookSubscriber, notificationType: string, resourceKey: string, resource: object) {
    const message = JSON.stringify({ clientId: 'simulator-client', notificationType, version: 1, customAttributes: { clientId: 'simulator-client' }, [resourceKey]: resource })
    const envelope: Record<string, string> = {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: SNS_TOPIC_ARN,
      Message: message,
      Timestamp: new Date().toISOString(),
      SignatureVersion: subscriber.signatureVersion ?? '2',
      SigningCertURL: this.certUrl,
      UnsubscribeURL: `${this.certUrl.replace(/\/sns\/cert\.pem$/, '')}/sns/unsubscribe`,
    }
    envelope.Signature = sign(envelope.SignatureVersion === '1' ? 'sha1' : 'sha256', Buffer.from(snsCanonicalNotification(envelope)), snsTestKey).toString('base64')
    return { body: JSON.stringify(envelope), headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' } }
  }

  /** Posts one notification, retrying with backoff; nothing is kept of it once it is done (a long run would keep them all). */
  private async deliver(subscriber: WebhookSubscriber, body: string, headers: Record<string, string>) {
    if (this.faults.reorderMs > 0) await sleep(Math.random() * this.faults.reorderMs)
    for (let attempt = 0; attempt <= this.retries && !this.closed; attempt++) {
      // Not AbortSignal.timeout: its timer fires even after the answer came, and each firing made an
      // AbortError with a stack trace (0.6% of the service's CPU in a profile of the soak's probe, a third of
      // what AbortErrors cost it then; src/timers.ts has the rest).
      const timeout = new AbortController()
      const timer = setTimeout(() => timeout.abort(), DELIVERY_TIMEOUT_MS)
      try {
        const res = await fetch(subscriber.url, { method: 'POST', body, headers, signal: timeout.signal })
        await res.arrayBuffer()
        if (res.ok) return
      } catch {
        // unreachable subscriber: retried like a non-2xx answer
      } finally {
        clearTimeout(timer)
      }
      await sleep(this.retryDelayMs * 2 ** attempt)
    }
  }

  /** Waits for deliveries in flight (tests). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  close(): void {
    this.closed = true
  }
}
