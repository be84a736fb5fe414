import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { snsStringToSign } from '../../src/webhooks/sns.ts'

export const SNS_CERT = readFileSync(new URL('../../src/adapters/circle/simulator/sns-test-cert.pem', import.meta.url), 'utf8')
const SNS_KEY = readFileSync(new URL('../../src/adapters/circle/simulator/sns-test-key.pem', import.meta.url), 'utf8')
export const TOPIC = 'arn:aws:sns:us-east-1:908968368384:sandbox_platform-notifications-topic'
export const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem'

/** A P-256 key pair standing in for Circle's, with its public key encoded as Circle serves it (base64 DER SPKI). */
export function circleKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return { id: randomUUID(), privateKey, publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }
}

/** A v2 delivery: the exact body bytes, signed (DER, base64) over those bytes. */
export function v2Delivery(key: { id: string; privateKey: KeyObject }, notificationType: string, notification: object, notificationId = randomUUID()) {
  const body = JSON.stringify({ subscriptionId: randomUUID(), notificationId, notificationType, notification, timestamp: new Date().toISOString(), version: 2 })
  const signature = sign('sha256', Buffer.from(body), key.privateKey).toString('base64')
  return { body, notificationId, headers: { 'content-type': 'application/json', 'x-circle-signature': signature, 'x-circle-key-id': key.id } }
}

/** A v1 delivery: an SNS envelope signed with the test certificate's key (SignatureVersion 1 = SHA1, 2 = SHA256). */
export function snsDelivery(
  fields: { Type?: string; Message?: string; TopicArn?: string; SigningCertURL?: string; SignatureVersion?: '1' | '2'; SubscribeURL?: string; Token?: string; Subject?: string; MessageId?: string },
  options: { key?: string } = {},
) {
  const type = fields.Type ?? 'Notification'
  const envelope: Record<string, string> = {
    Type: type,
    MessageId: fields.MessageId ?? randomUUID(),
    TopicArn: fields.TopicArn ?? TOPIC,
    Message: fields.Message ?? '',
    Timestamp: new Date().toISOString(),
    SignatureVersion: fields.SignatureVersion ?? '2',
    SigningCertURL: fields.SigningCertURL ?? CERT_URL,
  }
  if (fields.Subject !== undefined) envelope.Subject = fields.Subject
  if (type !== 'Notification') {
    envelope.Token = fields.Token ?? randomUUID().replaceAll('-', '')
    envelope.SubscribeURL = fields.SubscribeURL ?? `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${envelope.TopicArn}&Token=${envelope.Token}`
  } else envelope.UnsubscribeURL = 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe'
  envelope.Signature = sign(envelope.SignatureVersion === '1' ? 'sha1' : 'sha256', Buffer.from(snsStringToSign(envelope)), options.key ?? SNS_KEY).toString('base64')
  return { envelope, body: JSON.stringify(envelope), headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': type } }
}

/** Circle's v1 message body for a resource. */
export const circleMessage = (notificationType: string, resourceKey: string, resource: object) =>
  JSON.stringify({ clientId: 'client-1', notificationType, version: 1, customAttributes: { clientId: 'client-1' }, [resourceKey]: resource })
