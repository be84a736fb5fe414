import { hash } from 'node:crypto'
import { canonicalJson } from '../events/canonical-json.ts'
import type { RecordedEvent } from '../events/event-store.ts'

/** prev_hash of the first event of the log. */
export const GENESIS_HASH = '0'.repeat(64)

/** The fields of an event that the chain covers (see the README, "Audit log: the hash chain"). */
export type ChainedEvent = Pick<RecordedEvent, 'position' | 'stream' | 'revision' | 'id' | 'type' | 'data' | 'metadata' | 'recordedAt'>

/** The canonical form of one event: exactly these eight members (written in sorted order), the position as a string. */
export function canonicalEvent(e: ChainedEvent): string {
  return (
    `{"data":${canonicalJson(e.data)},"id":${JSON.stringify(e.id)},"metadata":${canonicalJson(e.metadata)},` +
    `"position":${JSON.stringify(e.position)},"recordedAt":${JSON.stringify(e.recordedAt)},"revision":${JSON.stringify(e.revision)},` +
    `"stream":${JSON.stringify(e.stream)},"type":${JSON.stringify(e.type)}}`
  )
}

/** hash = hex(sha256(utf8(prevHash hex + canonical JSON))). */
export function chainHash(prevHash: string, canonical: string): string {
  return hash('sha256', prevHash + canonical, 'hex')
}
