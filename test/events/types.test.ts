import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { allEventTypes } from '../../src/events/types.ts'

// The compiler keeps each stream's list complete, but not the list of streams: a stream whose event
// union is left out of DomainEvent would go unaudited (the reconciliation runs' once did).
t.test('every event type declared in src/events is in allEventTypes, which the audit log handles', async (t) => {
  const dir = path.join(import.meta.dirname, '../../src/events')
  const declared = new Set<string>()
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.ts')) continue
    for (const match of (await readFile(path.join(dir, file), 'utf8')).matchAll(/\bEvent<\s*'([A-Za-z]+)'/g)) declared.add(match[1]!)
  }
  t.ok(declared.has('ReconciliationRunCompleted') && declared.has('WalletCreated'), 'the declarations are found (a multi-line one too)')
  t.same([...declared].filter((type) => !(allEventTypes as string[]).includes(type)), [], 'none is missing')
})
