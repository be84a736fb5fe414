import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Db } from '../../adapters/postgres/database.ts'
import { unstorableAt } from '../../adapters/postgres/text.ts'
import type { Metrics } from '../../metrics.ts'
import { actionable } from '../../webhooks/handle.ts'
import { store } from '../../webhooks/inbox.ts'
import { VerificationUnavailable, WebhookRejected, type WebhookVerifier } from '../../webhooks/verify.ts'
import { HttpError } from '../errors.ts'
import { unstorableError } from '../plugins/storable-text.ts'
import { errorBody } from '../schemas.ts'

export interface WebhookRouteOptions {
  verifier: WebhookVerifier
  db: Db
  metrics: Metrics
  /** Per source address. */
  rateLimit: { max: number; windowMs: number }
  /** A notification was stored: wake the worker in this process. */
  onStored?: () => void
}

const accepted = z
  .object({ status: z.enum(['accepted', 'duplicate', 'confirmed', 'noted']), id: z.string() })
  .meta({ id: 'WebhookAccepted', description: 'Verified and stored (or already stored); processing happens after the answer' })

/**
 * `POST /webhook` (and `HEAD /webhook`, which Circle probes): Circle's notifications, authenticated
 * by their signature instead of an API key. The body is taken raw — whatever the content type
 * (v2 sends application/json, SNS text/plain) — and verified on those exact bytes before anything
 * is parsed. Verified notifications are stored in the inbox and answered at once; the worker
 * processes them after the answer.
 */
export const webhookRoutes: FastifyPluginAsyncZod<WebhookRouteOptions> = async (app, opts) => {
  // Scoped to this plugin: other routes keep their JSON parsing.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_request, body, done) => done(null, body))
  const config = {
    public: true,
    rateLimit: { max: opts.rateLimit.max, timeWindow: opts.rateLimit.windowMs, keyGenerator: (r: { ip: string }) => `webhook:${r.ip}`, allowList: () => false },
  }

  app.head('/webhook', { config, schema: { tags: ['webhooks'], summary: 'Reachability probe Circle sends before delivering', security: [] } }, async (_request, reply) =>
    reply.code(200).send(),
  )

  app.post(
    '/webhook',
    {
      config,
      schema: {
        tags: ['webhooks'],
        summary: 'Circle notifications (v2 signed ECDSA, or v1 AWS SNS envelopes)',
        description:
          'Authenticated by signature, not API key: v2 `X-Circle-Signature` / `X-Circle-Key-Id`, or an SNS envelope signed by AWS. ' +
          'Unverifiable notifications get 401 and are not stored; verified ones are stored once (by notification id / SNS MessageId) and answered 200 at once.',
        security: [],
        response: { 200: accepted, 400: errorBody, 401: errorBody, 413: errorBody, 429: errorBody, 503: errorBody },
      },
    },
    async (request) => {
      opts.metrics.webhooks.inc({ stage: 'received' })
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      let verified
      try {
        verified = await opts.verifier.verify(raw, request.headers)
      } catch (err) {
        if (err instanceof WebhookRejected) {
          opts.metrics.webhooks.inc({ stage: 'rejected' })
          request.log.warn({ reason: err.reason, ip: request.ip }, `webhook rejected: ${err.message}`)
          throw new HttpError(401, 'invalid_signature', `the notification could not be verified: ${err.message}`, { details: { reason: err.reason } })
        }
        if (err instanceof VerificationUnavailable) {
          request.log.warn({ err }, 'webhook could not be verified now')
          throw new HttpError(503, 'verification_unavailable', 'the notification cannot be verified right now; deliver it again later', { headers: { 'retry-after': '5' } })
        }
        throw err
      }
      opts.metrics.webhooks.inc({ stage: 'verified' })
      if (verified.kind === 'control') {
        request.log.info({ id: verified.id, action: verified.action }, 'SNS control message handled')
        return { status: verified.action === 'subscription_confirmed' ? ('confirmed' as const) : ('noted' as const), id: verified.id }
      }
      const n = verified.notification
      // Signed by Circle, yet not storable (a NUL, an unpaired surrogate): refused and logged, never a 500.
      const field = unstorableAt({ id: n.id, type: n.type, resource: n.resource }, 'notification')
      if (field !== undefined) {
        opts.metrics.webhooks.inc({ stage: 'rejected' })
        request.log.warn({ id: n.id, field }, 'verified webhook holds text that cannot be stored; refused')
        throw unstorableError('notification', field)
      }
      const needsWork = actionable(n.type, n.resource)
      const outcome = await store(opts.db, n, { processed: !needsWork })
      if (outcome === 'duplicate') {
        opts.metrics.webhooks.inc({ stage: 'duplicate' })
        return { status: 'duplicate' as const, id: n.id }
      }
      if (needsWork) opts.onStored?.()
      else opts.metrics.webhooks.inc({ stage: 'processed' })
      return { status: 'accepted' as const, id: n.id }
    },
  )
}
