import { createRequire } from 'node:module'
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

/**
 * Circle's own contract: the OpenAPI 3.0 document shipped inside `@circle-fin/circle-sdk`
 * (`sdk.json`). The simulator checks every request it receives against it, and its tests check
 * every response it sends.
 */
const require = createRequire(import.meta.url)
const original = require('@circle-fin/circle-sdk/sdk.json') as Record<string, unknown>
const document = normalise(original) as { paths: Record<string, Record<string, unknown>> }

/**
 * Reads Circle's document the way Circle's API behaves:
 * - OpenAPI 3.0 allows `nullable` without `type`; Ajv does not. Such a schema becomes "this, or null".
 * - Circle's `oneOf` branches overlap (a US wire account also matches the non-IBAN branch), and
 *   Circle accepts a body that fits any branch. Without a discriminator to pick the branch, `oneOf`
 *   is read as `anyOf`; strict `oneOf` would refuse Circle's own examples.
 */
function normalise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalise)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = normalise(v)
  if (Array.isArray(out.oneOf) && out.discriminator === undefined) {
    out.anyOf = out.oneOf
    delete out.oneOf
  }
  if (out.nullable === true && out.type === undefined) {
    delete out.nullable
    return { anyOf: [out, { type: 'null' }] }
  }
  return out
}

const ajv = new Ajv.default({ strict: false, allErrors: true, discriminator: true })
addFormats.default(ajv)
ajv.addSchema(document, 'circle')
const compiled = new Map<string, ValidateFunction>()

const escape = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1')

function validator(pointer: string[]): ValidateFunction {
  const ref = `circle#/${pointer.map(escape).join('/')}`
  let v = compiled.get(ref)
  if (!v) {
    v = ajv.compile({ $ref: ref })
    compiled.set(ref, v)
  }
  return v
}

/** One entry of Circle's `errors[]`. */
export interface CircleFieldError {
  error: string
  location: string
  message: string
  invalidValue?: unknown
}

const errorKind: Record<string, string> = {
  required: 'required',
  pattern: 'pattern_mismatch',
  format: 'pattern_mismatch',
  enum: 'invalid_value',
  const: 'invalid_value',
  type: 'invalid_value',
  minLength: 'length_outside_bounds',
  maxLength: 'length_outside_bounds',
  minimum: 'min_value',
  maximum: 'max_value',
  additionalProperties: 'not_required',
}

function toCircle(errors: ErrorObject[], body: unknown): CircleFieldError[] {
  const seen = new Set<string>()
  const out: CircleFieldError[] = []
  for (const e of errors) {
    const path = e.instancePath.replace(/^\//, '').replaceAll('/', '.')
    const location = e.keyword === 'required' ? [path, (e.params as { missingProperty: string }).missingProperty].filter(Boolean).join('.') : path
    const error = errorKind[e.keyword] ?? 'invalid_value'
    const key = `${error}:${location}`
    if (seen.has(key) || e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue
    seen.add(key)
    const entry: CircleFieldError = { error, location, message: e.message ?? 'invalid' }
    const value = location.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), body)
    if (value !== undefined && e.keyword !== 'required') entry.invalidValue = value
    out.push(entry)
  }
  return out
}

/** Checks a request body against Circle's schema for the operation; [] when it is valid. */
export function requestErrors(method: string, path: string, body: unknown): CircleFieldError[] {
  const operation = document.paths[path]?.[method.toLowerCase()] as { requestBody?: unknown } | undefined
  if (!operation?.requestBody) return []
  const v = validator(['paths', path, method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema'])
  return v(body) ? [] : toCircle(v.errors ?? [], body)
}

interface Parameter {
  name: string
  in: string
  schema?: Record<string, unknown>
}

const resolve = (ref: string): unknown => ref.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k.replaceAll('~1', '/').replaceAll('~0', '~')], document)
const deref = <T>(node: T): T => {
  let n: unknown = node
  while (n && typeof n === 'object' && '$ref' in n) n = resolve((n as { $ref: string }).$ref)
  return n as T
}

/** Checks a query string against the operation's documented query parameters (integers and date-times as Circle reads them). */
export function queryErrors(method: string, path: string, query: Record<string, unknown>): CircleFieldError[] {
  const operation = document.paths[path]?.[method.toLowerCase()] as { parameters?: unknown[] } | undefined
  const out: CircleFieldError[] = []
  for (const p of (operation?.parameters ?? []).map((p) => deref(p as Parameter))) {
    const value = query[p.name]
    if (p.in !== 'query' || value === undefined || !p.schema) continue
    const schema = deref(p.schema)
    const coerced = schema.type === 'integer' && typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : schema.type === 'boolean' && (value === 'true' || value === 'false') ? value === 'true' : value
    const v = ajv.compile(schema)
    if (!v(coerced)) out.push(...toCircle(v.errors ?? [], coerced).map((e) => ({ ...e, location: p.name, invalidValue: value })))
  }
  return out
}

/** A body built from the `example` (or first enum value) of each property, one per `oneOf`/`anyOf` branch: what Circle's reference shows for a request. */
function examplesOf(node: unknown): unknown[] {
  const schema = deref(node as Record<string, unknown>)
  if (!schema || typeof schema !== 'object') return []
  if ('example' in schema) return [schema.example]
  // The reference shows an enum's values where a property has no example.
  if (Array.isArray(schema.enum)) return [schema.enum[0]]
  const branches = (schema.oneOf ?? schema.anyOf) as unknown[] | undefined
  if (branches) return branches.flatMap(examplesOf)
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((part) => examplesOf(part)[0])
    return [Object.assign({}, ...parts)]
  }
  if (schema.type === 'array' && schema.items) return [examplesOf(schema.items).slice(0, 1)]
  if (schema.properties && typeof schema.properties === 'object') {
    const body: Record<string, unknown> = {}
    for (const [name, property] of Object.entries(schema.properties as Record<string, unknown>)) {
      const example = examplesOf(property)[0]
      if (example !== undefined) body[name] = example
    }
    return [body]
  }
  return []
}

/** Every request example Circle publishes for an operation: the named examples, else one built from the schema's property examples per branch. */
export function requestExamples(method: string, path: string): { name: string; body: unknown }[] {
  const operation = (original.paths as Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown; examples?: Record<string, { value: unknown }> }> } }>>)[path]?.[method.toLowerCase()]
  const content = operation?.requestBody?.content?.['application/json']
  if (!content) return []
  const named = Object.entries(content.examples ?? {}).map(([name, e]) => ({ name, body: e.value }))
  if (named.length > 0) return named
  const originalDeref = (n: unknown): unknown => {
    let x = n
    while (x && typeof x === 'object' && '$ref' in x) x = (x as { $ref: string }).$ref.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], original)
    return x
  }
  const schema = originalDeref(content.schema) as { oneOf?: unknown[]; anyOf?: unknown[] }
  const branches = schema.oneOf ?? schema.anyOf
  if (branches) return branches.map((b, i) => ({ name: ((b as { $ref?: string }).$ref ?? `branch ${i}`).replace(/^.*\//s, ''), body: examplesOf(originalDeref(b))[0] }))
  return examplesOf(schema).map((body) => ({ name: 'properties', body }))
}

/** Checks a response body against Circle's schema for the operation and status (simulator tests). */
export function responseErrors(method: string, path: string, status: number, body: unknown): ErrorObject[] | undefined {
  const operation = document.paths[path]?.[method.toLowerCase()] as { responses?: Record<string, { content?: unknown }> } | undefined
  const response = operation?.responses?.[String(status)] ?? operation?.responses?.default
  if (!response?.content) return [{ keyword: 'undocumented', instancePath: '', schemaPath: '', params: {}, message: `${method} ${path} ${status} is not in Circle's document` }]
  const key = operation?.responses?.[String(status)] ? String(status) : 'default'
  const v = validator(['paths', path, method.toLowerCase(), 'responses', key, 'content', 'application/json', 'schema'])
  return v(body) ? undefined : (v.errors ?? [])
}
