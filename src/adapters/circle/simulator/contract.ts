import { createRequire } from 'node:module'
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

/**
 * Circle's own contract: the OpenAPI 3.0 document shipped inside `@circle-fin/circle-sdk`
 * (`sdk.json`). The simulator checks every request it receives against it, and its tests check
 * every response it sends.
 */
const require = createRequire(import.meta.url)
const document = normalise(require('@circle-fin/circle-sdk/sdk.json')) as { paths: Record<string, Record<string, unknown>> }

/** OpenAPI 3.0 allows `nullable` without `type`; Ajv does not. Such a schema becomes "this, or null". */
function normalise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalise)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = normalise(v)
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

/** Checks a response body against Circle's schema for the operation and status (simulator tests). */
export function responseErrors(method: string, path: string, status: number, body: unknown): ErrorObject[] | undefined {
  const operation = document.paths[path]?.[method.toLowerCase()] as { responses?: Record<string, { content?: unknown }> } | undefined
  const response = operation?.responses?.[String(status)] ?? operation?.responses?.default
  if (!response?.content) return [{ keyword: 'undocumented', instancePath: '', schemaPath: '', params: {}, message: `${method} ${path} ${status} is not in Circle's document` }]
  const key = operation?.responses?.[String(status)] ? String(status) : 'default'
  const v = validator(['paths', path, method.toLowerCase(), 'responses', key, 'content', 'application/json', 'schema'])
  return v(body) ? undefined : (v.errors ?? [])
}
