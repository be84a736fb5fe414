/** Writes the JSON Schemas of the NATS payloads under docs/ (`npm run docs:schemas`); a test keeps them current. */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { jsonSchemas } from '../src/adapters/nats/notification.ts'

const docs = path.resolve(import.meta.dirname, '..', 'docs')
for (const [file, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(path.join(docs, file), JSON.stringify(schema, null, 2) + '\n')
  process.stdout.write(`wrote docs/${file}\n`)
}
