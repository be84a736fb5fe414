import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { sql } from 'kysely'
import type { Db } from '../../adapters/postgres/database.ts'
import { HttpError } from '../errors.ts'
import { canonicalJson } from '../../events/canonical-json.ts'
import type { KeyLock, RequestAnswer, StreamAppend } from '../../events/event-store.ts'
import { parsePrefer } from '../command-requests.ts'
import type { WaitForReadModels } from '../../subscriptions/read-your-writes.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A creating POST: requires Idempotency-Key and replays its stored answer. */
    idempotent?: boolean
    /**
     * The route can store its answer with the events it appends (see AnswerInAppend), so the key
     * needs no in-flight row when the event store supports it.
     */
    answerInAppend?: boolean
  }
  interface FastifyRequest {
    /**
     * Set while this request holds its Idempotency-Key; `hash` identifies the request's content,
     * `token` this attempt. `lock`: the key is held by an in-flight row, which the command's append
     * must still hold when it writes (AppendOptions.lock).
     */
    idempotency?: { principal: string; key: string; hash: string; token: string; inAppend?: AnswerInAppend; lock?: KeyLock }
  }
}

/**
 * One commit per command, and no statement before it. The key is not looked up when the request
 * comes in: the route's append claims it and stores the answer in the same transaction (`answer`
 * builds that answer from the events about to be appended). If the append finds the key held (a
 * retry, a concurrent duplicate, or another request under the key) it writes nothing, and `replay`
 * answers from the key's row. So does the route when its command is refused or finds its resource
 * existing, before answering anything of its own: a stored answer always stands. An answer the
 * append did not store (a refusal) is stored when it is sent, as on the in-flight path.
 */
export interface AnswerInAppend {
  ttlHours: number
  /** Set by the route: the answer to store, given the appends (see ExecuteOptions.answer). */
  answer?: (appends: StreamAppend[]) => RequestAnswer
  /** Set once an append stored the answer. */
  stored: boolean
  /**
   * Sends the key's stored answer if it is this request's; throws 422 idempotency_key_reused when
   * the key was used for another request, 409 idempotency_key_in_use while its request is in flight;
   * false when the key has no live row (none, an expired one, or an abandoned in-flight one, which
   * it removes). A stored 2xx is sent once the read models caught up (see IdempotencyOptions.readModels).
   */
  replay(reply: FastifyReply): Promise<boolean>
}

export interface IdempotencyOptions {
  db: Db
  /** The event store keeps an answer in its append's transaction (EventStore.storesAnswers). */
  answersInAppend?: boolean
  /** How long a key and its answer are kept. */
  ttlHours: number
  /**
   * After this long without renewal an in-flight key is taken to be abandoned (its process died) and
   * may be retried. A live request renews its lock every third of this, however long its handler runs.
   */
  inFlightLockSeconds?: number
  /**
   * Waits until the read models include everything written so far. On a route whose answer the
   * append stores (answersInAppend), a stored 2xx was stored with its events, before its request
   * waited for the read models (read-your-writes): a retry given that answer, with or without
   * `Prefer: wait`, waits for them first, so a GET after it finds what it says (or gets the 503 the
   * first request got, while they are behind).
   */
  readModels?: WaitForReadModels
}

/**
 * Answers that must not be replayed: the client should be able to retry them with the same key. A
 * 400 says the request was not valid, as schema validation says before the key is looked at; the
 * few checks a handler makes itself (an amount above the maximum, a routing number) answer the same,
 * so the corrected request may use the key too.
 */
const retryable = (status: number) => status >= 500 || status === 400 || status === 409 || status === 429


/**
 * Idempotency-Key on creating POSTs, stored with the principal, a hash of the request and the
 * answer. Same key + same body -> the original status and body (`Idempotent-Replayed: true`);
 * same key + another body -> 422 idempotency_key_reused; same key while the first is in flight ->
 * 409 idempotency_key_in_use.
 */
export const idempotencyPlugin = fp<IdempotencyOptions>(async (app, opts) => {
  const { db } = opts
  const lockSeconds = opts.inFlightLockSeconds ?? 60
  app.decorateRequest('idempotency', undefined)
  const renewals = new WeakMap<object, NodeJS.Timeout>()

  /** Keeps the lock ahead of a slow handler; stops when the request lets go of the key or loses it. */
  const renewWhileRunning = (request: FastifyRequest) => {
    const held = request.idempotency!
    // A handler stuck far beyond any deadline stops holding the key, so a retry can run.
    const giveUpAt = Date.now() + lockSeconds * 20_000
    const timer = setInterval(() => {
      if (Date.now() > giveUpAt) return stopRenewing(request)
      void db
        .updateTable('idempotency_keys')
        .set({ locked_until: sql<Date>`now() + make_interval(secs => ${lockSeconds})` })
        .where('principal', '=', held.principal)
        .where('key', '=', held.key)
        .where('lock_token', '=', held.token)
        .where('state', '=', 'in_flight')
        .executeTakeFirst()
        .then(
          (res) => {
            if (res.numUpdatedRows === 0n) {
              clearInterval(timer)
              request.log.warn({ idempotencyKey: held.key }, 'lost the Idempotency-Key lock while the request ran')
            }
          },
          (err: unknown) => request.log.warn({ err, idempotencyKey: held.key }, 'could not renew the Idempotency-Key lock'),
        )
    }, (lockSeconds * 1000) / 3)
    timer.unref()
    renewals.set(request, timer)
  }
  const stopRenewing = (request: FastifyRequest) => {
    clearInterval(renewals.get(request))
    renewals.delete(request)
  }

  const findRow = (principal: string, key: string) =>
    db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'state', 'response_status', 'response_body', 'response_headers', sql<boolean>`expires_at < now()`.as('expired'), sql<boolean>`locked_until < now()`.as('abandoned')])
      .where('principal', '=', principal)
      .where('key', '=', key)
      .executeTakeFirst()
  type Row = NonNullable<Awaited<ReturnType<typeof findRow>>>
  const sendStored = (reply: FastifyReply, row: Row) =>
    reply
      .code(row.response_status!)
      .headers({ ...(row.response_headers ?? {}), 'idempotent-replayed': 'true', 'content-type': 'application/json; charset=utf-8' })
      .send(JSON.stringify(row.response_body))
  /** A stored answer of a route whose append stores it: a 2xx waits for the read models first (see IdempotencyOptions.readModels). */
  const replayAnsweredInAppend = async (reply: FastifyReply, row: Row) => {
    const success = row.response_status !== null && row.response_status >= 200 && row.response_status < 300
    if (success && opts.readModels) await opts.readModels()
    return sendStored(reply, row)
  }
  const inUse = () => new HttpError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still in progress; retry shortly')
  const reused = () => new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with another request; use a new key')

  /** The key held by this attempt's in-flight row, with the lock the command's append must still hold. */
  const heldInFlight = (principal: string, key: string, hash: string, token: string) => {
    const lock: KeyLock = { principal, key, requestHash: hash, token, lockSeconds, ttlHours: opts.ttlHours }
    return { principal, key, hash, token, lock }
  }

  const answerInAppend = (principal: string, key: string, hash: string): AnswerInAppend => {
    const held: AnswerInAppend = {
      ttlHours: opts.ttlHours,
      stored: false,
      async replay(reply) {
        const row = await findRow(principal, key)
        if (!row || row.expired) return false
        // Either refusal leaves the key's row as it is: there is nothing to store for this request.
        if (row.request_hash !== hash) {
          held.stored = true
          throw reused()
        }
        if (row.state !== 'done') {
          if (!row.abandoned) {
            held.stored = true
            throw inUse()
          }
          // Its request's process died in flight: resource ids derive from the key, so running again is safe.
          await db
            .deleteFrom('idempotency_keys')
            .where('principal', '=', principal)
            .where('key', '=', key)
            .where('state', '=', 'in_flight')
            .where('locked_until', '<', sql<Date>`now()`)
            .execute()
          return false
        }
        // The answer is the key's already: nothing more to store.
        held.stored = true
        await replayAnsweredInAppend(reply, row)
        return true
      },
    }
    return held
  }

  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.idempotent) return
    const key = request.headers['idempotency-key']
    if (typeof key !== 'string') throw new HttpError(400, 'validation_failed', 'the Idempotency-Key header is required')
    const principal = request.principal?.name ?? 'anonymous'
    const hash = createHash('sha256')
      .update(`${request.method} ${request.routeOptions.url ?? ''} ${canonicalJson(request.params)}\n${canonicalJson(request.body)}`)
      .digest('hex')
    const token = randomUUID()
    if (opts.answersInAppend && request.routeOptions.config.answerInAppend && parsePrefer(request.headers.prefer).wait === undefined) {
      // Nothing is read here: the append claims the key, and the route answers from the key's row when it is held.
      request.idempotency = { principal, key, hash, token, inAppend: answerInAppend(principal, key, hash) }
      return
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({
          principal,
          key,
          request_hash: hash,
          state: 'in_flight',
          response_status: null,
          response_body: null,
          response_headers: null,
          locked_until: sql<Date>`now() + make_interval(secs => ${lockSeconds})`,
          lock_token: token,
          expires_at: sql<Date>`now() + make_interval(hours => ${opts.ttlHours})`,
        })
        .onConflict((oc) => oc.columns(['principal', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst()
      if (inserted) {
        request.idempotency = heldInFlight(principal, key, hash, token)
        renewWhileRunning(request)
        return
      }
      const row = await findRow(principal, key)
      if (!row) continue
      if (row.expired) {
        await db.deleteFrom('idempotency_keys').where('principal', '=', principal).where('key', '=', key).where('expires_at', '<', sql<Date>`now()`).execute()
        continue
      }
      if (row.request_hash !== hash) throw reused()
      if (row.state === 'done') return opts.answersInAppend && request.routeOptions.config.answerInAppend ? replayAnsweredInAppend(reply, row) : sendStored(reply, row)
      if (!row.abandoned) throw inUse()
      // The first attempt's process died; resource ids derive from the key, so running again is safe.
      const taken = await db
        .updateTable('idempotency_keys')
        .set({ locked_until: sql<Date>`now() + make_interval(secs => ${lockSeconds})`, lock_token: token })
        .where('principal', '=', principal)
        .where('key', '=', key)
        .where('state', '=', 'in_flight')
        .where('locked_until', '<', sql<Date>`now()`)
        .executeTakeFirst()
      if (taken.numUpdatedRows === 0n) throw inUse()
      request.idempotency = heldInFlight(principal, key, hash, token)
      renewWhileRunning(request)
      return
    }
    throw new HttpError(409, 'idempotency_key_in_use', 'the Idempotency-Key is contended; retry shortly')
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const held = request.idempotency
    if (!held) return payload
    request.idempotency = undefined
    stopRenewing(request)
    if (held.inAppend) {
      // No row was taken: a stored or unstorable answer leaves nothing to do, any other is stored now.
      if (held.inAppend.stored || retryable(reply.statusCode) || typeof payload !== 'string') return payload
      const location = reply.getHeader('location')
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({
          principal: held.principal,
          key: held.key,
          request_hash: held.hash,
          state: 'done',
          response_status: reply.statusCode,
          response_body: sql`${payload}::jsonb`,
          response_headers: typeof location === 'string' ? { location } : {},
          locked_until: sql<Date>`now()`,
          expires_at: sql<Date>`now() + make_interval(hours => ${opts.ttlHours})`,
        })
        // An expired row is taken over, as the append's claim would.
        .onConflict((oc) =>
          oc
            .columns(['principal', 'key'])
            .doUpdateSet((eb) => ({
              request_hash: eb.ref('excluded.request_hash'),
              state: 'done',
              response_status: eb.ref('excluded.response_status'),
              response_body: eb.ref('excluded.response_body'),
              response_headers: eb.ref('excluded.response_headers'),
              created_at: sql<Date>`now()`,
              locked_until: eb.ref('excluded.locked_until'),
              lock_token: null,
              expires_at: eb.ref('excluded.expires_at'),
            }))
            .where('idempotency_keys.expires_at', '<', sql<Date>`now()`),
        )
        .returning('key')
        .executeTakeFirst()
      if (!inserted) request.log.warn({ idempotencyKey: held.key }, 'another request took the Idempotency-Key meanwhile; this answer is not stored')
      return payload
    }
    // Fenced by the attempt's token: if the lock passed to a retry meanwhile, the row is the retry's now.
    if (retryable(reply.statusCode) || typeof payload !== 'string') {
      const dropped = await db
        .deleteFrom('idempotency_keys')
        .where('principal', '=', held.principal)
        .where('key', '=', held.key)
        .where('lock_token', '=', held.token)
        .where('state', '=', 'in_flight')
        .executeTakeFirst()
      if (dropped.numDeletedRows === 0n) request.log.warn({ idempotencyKey: held.key }, 'the Idempotency-Key lock passed to another attempt; its row is left alone')
      return payload
    }
    const location = reply.getHeader('location')
    const stored = await db
      .updateTable('idempotency_keys')
      .set({
        state: 'done',
        response_status: reply.statusCode,
        response_body: sql`${payload}::jsonb`,
        response_headers: typeof location === 'string' ? { location } : {},
      })
      .where('principal', '=', held.principal)
      .where('key', '=', held.key)
      .where('lock_token', '=', held.token)
      .where('state', '=', 'in_flight')
      .executeTakeFirst()
    if (stored.numUpdatedRows === 0n) request.log.warn({ idempotencyKey: held.key }, 'the Idempotency-Key lock passed to another attempt; this answer is not stored')
    return payload
  })
  // Belt and braces: a request that somehow skipped onSend stops renewing once its response is done.
  app.addHook('onResponse', async (request) => stopRenewing(request))
})

/** Deletes keys past their retention; run periodically by the API role. */
export async function purgeExpiredIdempotencyKeys(db: Db): Promise<number> {
  const res = await db.deleteFrom('idempotency_keys').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst()
  return Number(res.numDeletedRows)
}
