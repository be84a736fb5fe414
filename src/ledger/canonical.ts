import { createHash } from 'node:crypto'
import type { JsonValue, RecordedEvent } from '../events/event-store.ts'

/** prev_hash of the first event of the log. */
export const GENESIS_HASH = '0'.repeat(64)

/** The fields of an event that the chain covers (see the README, "Audit log: the hash chain"). */
export type ChainedEvent = Pick<RecordedEvent, 'position' | 'stream' | 'revision' | 'id' | 'type' | 'data' | 'metadata' | 'recordedAt'>

/**
 * JSON with every object's keys sorted (JavaScript's default string order, i.e. by UTF-16 code
 * units), no whitespace, strings and numbers written as JSON.stringify writes them. Members whose
 * value is undefined are left out, as JSON.stringify does.
 */
export function canonicalJson(value: JsonValue | undefined): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`
  const members = Object.keys(value)
    .sort()
    .filter((k) => value[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
  return `{${members.join(',')}}`
}

/** The canonical form of one event: exactly these eight members, the position as a string. */
export function canonicalEvent(e: ChainedEvent): string {
  return canonicalJson({
    data: e.data,
    id: e.id,
    metadata: e.metadata as unknown as JsonValue,
    position: e.position,
    recordedAt: e.recordedAt,
    revision: e.revision,
    stream: e.stream,
    type: e.type,
  })
}

/** hash = hex(sha256(utf8(prevHash hex + canonical JSON))). */
export function chainHash(prevHash: string, canonical: string): string {
  return createHash('sha256').update(prevHash, 'utf8').update(canonical, 'utf8').digest('hex')
}
