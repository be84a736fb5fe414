import { verify as verifySignature, X509Certificate } from 'node:crypto'

/** The SNS envelope fields that take part in a signature (all strings, as SNS sends them). */
export type SnsEnvelope = Record<string, string | undefined>

const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
const CONFIRMATION_FIELDS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']

/**
 * The string SNS signs, as AWS documents it: for each field in this order, `name\nvalue\n`;
 * Notification: Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type;
 * SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL,
 * Timestamp, Token, TopicArn, Type.
 */
export function snsStringToSign(envelope: SnsEnvelope): string {
  const fields = envelope.Type === 'Notification' ? NOTIFICATION_FIELDS : CONFIRMATION_FIELDS
  return fields
    .filter((name) => envelope[name] !== undefined)
    .map((name) => `${name}\n${envelope[name]}\n`)
    .join('')
}

/** SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA. */
export const snsDigest = (signatureVersion: string | undefined): 'sha1' | 'sha256' | undefined =>
  signatureVersion === '1' ? 'sha1' : signatureVersion === '2' ? 'sha256' : undefined

/** Production rule for SNS URLs (certificate, subscribe): HTTPS on `sns.<region>.amazonaws.com`. */
export const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/

/**
 * Whether a URL in an SNS message may be fetched: HTTPS on an SNS host, or one of the extra origins
 * configured (only the embedded simulator's, outside production).
 */
export function snsUrlAllowed(raw: string | undefined, extraOrigins: readonly string[] = []): URL | undefined {
  if (raw === undefined) return undefined
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return undefined
  }
  if (url.username || url.password) return undefined
  if (extraOrigins.includes(url.origin)) return url
  return url.protocol === 'https:' && SNS_HOST.test(url.hostname) && (url.port === '' || url.port === '443') ? url : undefined
}

/** Verifies an SNS signature with the certificate's public key. */
export function verifySnsSignature(envelope: SnsEnvelope, certificatePem: string): boolean {
  const digest = snsDigest(envelope.SignatureVersion)
  if (!digest || !envelope.Signature) return false
  const cert = new X509Certificate(certificatePem)
  return verifySignature(digest, Buffer.from(snsStringToSign(envelope)), cert.publicKey, Buffer.from(envelope.Signature, 'base64'))
}

/**
 * Signing certificates by URL, fetched once (bounded); only URLs that passed `snsUrlAllowed` reach
 * here. SNS rotates certificates by publishing a new URL, so a URL's certificate never changes.
 */
export class SnsCertificates {
  private readonly cache = new Map<string, Promise<string>>()
  private readonly fetchText: (url: string) => Promise<string>
  private readonly maxEntries: number

  constructor(options: { fetchText?: (url: string) => Promise<string>; maxEntries?: number; timeoutMs?: number } = {}) {
    const timeoutMs = options.timeoutMs ?? 5000
    this.fetchText =
      options.fetchText ??
      (async (url) => {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' })
        if (!res.ok) throw new Error(`certificate ${url}: HTTP ${res.status}`)
        return res.text()
      })
    this.maxEntries = options.maxEntries ?? 20
  }

  get(url: string): Promise<string> {
    const cached = this.cache.get(url)
    if (cached) return cached
    const loading = this.fetchText(url)
    loading.catch(() => this.cache.delete(url))
    this.cache.set(url, loading)
    const [oldest] = this.cache.keys()
    if (this.cache.size > this.maxEntries && oldest !== undefined) this.cache.delete(oldest)
    return loading
  }
}
