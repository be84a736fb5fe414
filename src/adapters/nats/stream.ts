import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'

export interface LedgerStreamOptions {
  /** Stream name (`LEDGER`). */
  name: string
  /** Subject prefix the stream captures (`ledger.v1` -> `ledger.v1.>`). */
  subjectPrefix: string
  maxAgeMs: number
  /** JetStream drops a repeated Nats-Msg-Id published within this window. */
  duplicateWindowMs: number
}

/**
 * Creates the stream, or brings an existing one to the configured subjects and limits; leaves it
 * alone when it already matches. Uses only settings NATS 2.9 knows (file storage, limits
 * retention, max age, duplicate window).
 */
export async function ensureLedgerStream(jsm: JetStreamManager, options: LedgerStreamOptions): Promise<{ action: 'created' | 'updated' | 'unchanged'; info: StreamInfo }> {
  const wanted = {
    subjects: [`${options.subjectPrefix}.>`],
    max_age: nanos(options.maxAgeMs),
    duplicate_window: nanos(options.duplicateWindowMs),
  }
  let current: StreamInfo | undefined
  try {
    current = await jsm.streams.info(options.name)
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err
  }
  if (!current) {
    const info = await jsm.streams.add({
      name: options.name,
      ...wanted,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: 1,
    })
    return { action: 'created', info }
  }
  const c = current.config
  const same =
    c.subjects.length === 1 && c.subjects[0] === wanted.subjects[0] && c.max_age === wanted.max_age && c.duplicate_window === wanted.duplicate_window
  if (same) return { action: 'unchanged', info: current }
  // Storage cannot change on a live stream; subjects and limits can.
  const info = await jsm.streams.update(options.name, wanted)
  return { action: 'updated', info }
}
