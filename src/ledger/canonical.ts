import { hash } from 'node:crypto'
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
  // Plain loops and string appends: a rebuild of the audit log spends most of its Node time here.
  let out: string
  if (Array.isArray(value)) {
    out = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ','
      // As Array.prototype.join: an undefined element (never in stored JSON) writes nothing.
      out += canonicalJson(value[i]) ?? ''
    }
    return out + ']'
  }
  const keys = Object.keys(value).sort()
  out = '{'
  for (const key of keys) {
    const member = value[key]
    if (member === undefined) continue
    if (out.length > 1) out += ','
    out += JSON.stringify(key) + ':' + canonicalJson(member)
  }
  return out + '}'
}

/** The canonical form of one event: exactly these eight members (written in sorted order), the position as a string. */
export function canonicalEvent(e: ChainedEvent): string {
  return (
    `{"data":${canonicalJson(e.data)},"id":${JSON.stringify(e.id)},"metadata":${canonicalJson(e.metadata as unknown as JsonValue)},` +
    `"position":${JSON.stringify(e.position)},"recordedAt":${JSON.stringify(e.recordedAt)},"revision":${JSON.stringify(e.revision)},` +
    `"stream":${JSON.stringify(e.stream)},"type":${JSON.stringify(e.type)}}`
  )
}

/** hash = hex(sha256(utf8(prevHash hex + canonical JSON))). */
export function chainHash(prevHash: string, canonical: string): string {
  return hash('sha256', prevHash + canonical, 'hex')
}
