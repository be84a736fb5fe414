import t from 'tap'
import { snsStringToSign, snsUrlAllowed, verifySnsSignature } from '../../src/webhooks/sns.ts'
import { SNS_CERT, snsDelivery } from '../helpers/webhooks.ts'

t.test('the string to sign follows AWS: Notification fields in order, Subject only when present', async (t) => {
  const base = { Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:t', Message: 'hello\nworld', Timestamp: '2026-01-01T00:00:00.000Z', SignatureVersion: '2', Signature: 'x', SigningCertURL: 'u', UnsubscribeURL: 'u2' }
  t.equal(snsStringToSign(base), 'Message\nhello\nworld\nMessageId\nm-1\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n')
  t.equal(snsStringToSign({ ...base, Subject: 'S' }), 'Message\nhello\nworld\nMessageId\nm-1\nSubject\nS\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n')
})

t.test('the string to sign of a SubscriptionConfirmation includes SubscribeURL and Token, in order', async (t) => {
  const envelope = { Type: 'SubscriptionConfirmation', MessageId: 'm', Token: 'tok', TopicArn: 'arn:t', Message: 'msg', SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?a', Timestamp: 'ts' }
  t.equal(snsStringToSign(envelope), 'Message\nmsg\nMessageId\nm\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?a\nTimestamp\nts\nToken\ntok\nTopicArn\narn:t\nType\nSubscriptionConfirmation\n')
})

t.test('SignatureVersion 1 verifies as SHA1withRSA and 2 as SHA256withRSA, not the other way round', async (t) => {
  for (const version of ['1', '2'] as const) {
    const { envelope } = snsDelivery({ SignatureVersion: version, Message: 'm' })
    t.ok(verifySnsSignature(envelope, SNS_CERT), `version ${version}`)
    t.notOk(verifySnsSignature({ ...envelope, SignatureVersion: version === '1' ? '2' : '1' }, SNS_CERT), `version ${version} claimed as the other`)
  }
})

t.test('certificate and subscribe URLs must be https on sns.<region>.amazonaws.com unless their origin is configured', async (t) => {
  t.ok(snsUrlAllowed('https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem'))
  t.ok(snsUrlAllowed('https://sns.cn-north-1.amazonaws.com.cn/x.pem'))
  for (const bad of [
    'http://sns.us-east-1.amazonaws.com/x.pem',
    'https://sns.us-east-1.amazonaws.com.evil.example/x.pem',
    'https://evil.example/sns.us-east-1.amazonaws.com/x.pem',
    'https://sns.us-east-1.amazonaws.com:8443/x.pem',
    'https://user:pw@sns.us-east-1.amazonaws.com/x.pem',
    'https://s3.amazonaws.com/x.pem',
    'not a url',
    undefined,
  ]) t.equal(snsUrlAllowed(bad), undefined, String(bad))
  t.ok(snsUrlAllowed('http://127.0.0.1:4010/sns/cert.pem', ['http://127.0.0.1:4010']), 'a configured origin (the embedded simulator)')
  t.equal(snsUrlAllowed('http://127.0.0.1:4011/sns/cert.pem', ['http://127.0.0.1:4010']), undefined, 'only that origin')
})
