import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import type { App } from '../../src/http/app.ts'

type Validator = ((data: unknown) => boolean) & { errors?: unknown }

/**
 * Validates every answer a test receives against the schema `/openapi.json` documents for that
 * route and status: the document is the contract backendMirror generates its client from.
 */
export async function contractClient(t: Test, app: App) {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>>
  }
  const ajv = new Ajv2020.default({ strict: false, allErrors: true })
  addFormats.default(ajv)
  ajv.addSchema(doc, 'openapi')
  // Literal segments win over parameters: /wallets/address before /wallets/{id}.
  const templates = Object.keys(doc.paths)
    .map((path) => ({ path, params: path.split('{').length, regex: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
    .sort((a, b) => a.params - b.params)
  const cache = new Map<string, Validator>()
  const checked: string[] = []

  function validate(method: string, url: string, res: LightMyRequestResponse): void {
    const path = url.split('?')[0]!
    const template = templates.find((x) => x.regex.test(path) && doc.paths[x.path]?.[method.toLowerCase()])?.path
    if (!template) return void t.fail(`${method} ${path} is not documented in /openapi.json`)
    const operation = doc.paths[template]?.[method.toLowerCase()]
    const response = operation?.responses?.[String(res.statusCode)]
    if (!response) return void t.fail(`${method} ${template} answered ${res.statusCode}, which /openapi.json does not document`)
    const key = `${method} ${template} ${res.statusCode}`
    let validator = cache.get(key)
    if (!validator) {
      const pointer = ['paths', template, method.toLowerCase(), 'responses', String(res.statusCode), 'content', 'application/json', 'schema']
        .map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1'))
        .join('/')
      validator = ajv.compile({ $ref: `openapi#/${pointer}` }) as Validator
      cache.set(key, validator)
    }
    const ok = validator(res.json())
    if (!ok) t.fail(`${key} does not match its documented schema`, { errors: validator.errors, body: res.json() })
    checked.push(key)
  }

  return {
    checked,
    validate,
    /** `app.inject`, then the answer is checked against the documented schema. */
    async call(options: InjectOptions & { method: string; url: string }): Promise<LightMyRequestResponse> {
      const res = await app.inject(options)
      validate(options.method, options.url, res)
      return res
    },
  }
}
