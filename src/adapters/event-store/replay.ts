import { EventIdConflict, type AppendResult, type StreamAppend } from '../../events/event-store.ts'

interface Stored {
  stream: string
  revision: number
  position: string
}

/**
 * Decides whether an append repeats one already written. All ids known in their own streams ->
 * the original results; none known -> undefined (a new append); anything else is a conflict.
 */
export function findReplay(appends: StreamAppend[], lookup: (id: string) => Stored | undefined): AppendResult[] | undefined {
  const ids = appends.flatMap((a) => a.events.map((e) => e.id))
  const found = appends.map((a) => a.events.map((e) => lookup(e.id)))
  const known = found.flat().filter((s) => s !== undefined).length
  if (known === 0) return undefined
  if (known !== ids.length) throw new EventIdConflict('some event ids of this append were already written', ids)
  return appends.map((a, i) => {
    const stored = (found[i] ?? []).filter((s) => s !== undefined)
    if (stored.some((s) => s.stream !== a.stream)) {
      throw new EventIdConflict(`event ids already written to another stream than ${a.stream}`, ids)
    }
    const last = stored.reduce((m, s) => (s.revision > m.revision ? s : m))
    return { stream: a.stream, revision: last.revision, position: last.position }
  })
}
