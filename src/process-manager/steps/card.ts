import { circleKey } from '../../commands/ids.ts'
import { fold } from '../../events/fold.ts'
import { recordCardOutcome } from '../../commands/record-card-outcome.ts'
import { card } from '../../events/card.ts'
import type { IssuedCard } from '../../adapters/card-issuer/port.ts'
import { done, failureOf, isRefusal, poll, record, type Step } from '../context.ts'

/**
 * Issues requested cards through the CardIssuer, lands card actions the issuer did not confirm
 * within the API request (recording CardFrozen... when it does, CardActionFailed when it refuses),
 * and brings the issuer in line with the recorded status.
 */
export const cardStep: Step = async (ctx, cardId) => {
  const stream = card.streamName(cardId)
  const { state } = await fold(ctx.store, card, cardId)
  if (state.status === 'pending') {
    let issued: IssuedCard
    try {
      const created = await ctx.issuer.issue({ idempotencyKey: circleKey(cardId, 'issue'), walletId: state.walletId, cardholderName: state.cardholderName })
      issued = created.status === 'pending' ? await ctx.issuer.get(created.id) : created
    } catch (err) {
      if (!isRefusal(err)) throw err
      await record(ctx, recordCardOutcome, { cardId, outcome: { type: 'failed', failure: failureOf(err, 'issuer') } }, stream, 'failed')
      return done
    }
    if (issued.status === 'pending') return poll(ctx)
    if (issued.status === 'failed') {
      await record(ctx, recordCardOutcome, { cardId, outcome: { type: 'failed', failure: { code: 'issuer_failed', message: 'the issuer could not issue the card' } } }, stream, 'failed')
      return done
    }
    const { id: issuerCardId, last4, expMonth, expYear, network } = issued
    await record(ctx, recordCardOutcome, { cardId, outcome: { type: 'issued', issuerCardId, last4, expMonth, expYear, network } }, stream, 'issued')
    return done
  }
  if (state.status !== 'active' && state.status !== 'frozen' && state.status !== 'closed') return done
  if (state.pendingAction !== undefined) {
    const action = state.pendingAction
    // Each pending action has its own outcome id, so a later freeze after an unfreeze is not taken for the first.
    const outcomeKey = `${action}-${state.actionRequests ?? 0}`
    try {
      await ctx.issuer[action](state.issuerCardId)
    } catch (err) {
      if (!isRefusal(err)) throw err
      await record(ctx, recordCardOutcome, { cardId, outcome: { type: 'action_failed', action, failure: failureOf(err, 'issuer') } }, stream, `${outcomeKey}-failed`)
      return done
    }
    await record(ctx, recordCardOutcome, { cardId, outcome: { type: 'action_confirmed', action } }, stream, `${outcomeKey}-confirmed`)
    return done
  }
  const current = await ctx.issuer.get(state.issuerCardId)
  if (current.status === state.status || current.status === 'closed') return done
  if (state.status === 'frozen') await ctx.issuer.freeze(current.id)
  else if (state.status === 'active') await ctx.issuer.unfreeze(current.id)
  else await ctx.issuer.close(current.id)
  return done
}
