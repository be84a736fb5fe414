/**
 * Turns the validator's issues into one `{field, message}` per problem, worded for a person:
 * fields are named by request path (`body.amount`, `headers.idempotency-key`), messages name the
 * field and say what is expected. Messages a schema sets itself are kept as they are.
 */

export interface FieldProblem {
  field: string
  message: string
}

interface Issue {
  keyword: string
  instancePath: string
  message: string
  params: Record<string, unknown>
}

const ARTICLE: Record<string, string> = { object: 'a JSON object', array: 'an array', string: 'a string', number: 'a number', boolean: 'true or false', int: 'an integer' }

/** Zod's own wording (as opposed to a message a schema chose) starts like this. */
const isValidatorWording = (message: string) => /^(Invalid|Too (small|big)|Unrecognized|Expected|Required)/.test(message)

function join(context: string, segments: (string | number)[]): string {
  return [context, ...segments.map(String)].filter((s) => s !== '').join('.')
}

/** Problems of one issue; unions are explained by the branch that came closest to matching. */
export function problemsOf(context: string, issue: Issue): FieldProblem[] {
  const segments = issue.instancePath.split('/').filter((s) => s !== '')
  return explain(context, segments, issue.keyword, issue.message, issue.params)
}

function explain(context: string, segments: string[], code: string, message: string, params: Record<string, unknown>): FieldProblem[] {
  const field = join(context, segments)
  const name = segments.at(-1) ?? context
  if (code === 'unrecognized_keys') {
    const keys = (params.keys as string[] | undefined) ?? []
    return keys.map((key) => ({ field: join(context, [...segments, key]), message: `${key} is not a known field; remove it` }))
  }
  if (code === 'invalid_union' && Array.isArray(params.errors) && params.errors.length > 0) {
    // The branch with the fewest problems is what the caller most likely meant.
    const branches = (params.errors as { code: string; path: (string | number)[]; message: string }[][]).filter((b) => b.length > 0)
    const best = branches.sort((a, b) => a.length - b.length)[0]
    // A value of the wrong type fails every branch alike at the top: no branch is closer than another.
    const noneCloser = branches.length > 1 && branches.every((b) => b.length === best?.length && b.every((i) => i.code === 'invalid_type' && i.path.length === 0))
    if (best && !noneCloser) {
      return best.flatMap((i) => {
        const { code: c, path, message: m, ...rest } = i
        return explain(context, [...segments, ...path.map(String)], c, m, rest)
      })
    }
    if (typeof params.discriminator === 'string') return [{ field, message: `${name} is not one of the accepted values` }]
    return [{ field, message: `${name} does not match any accepted form` }]
  }
  if (!isValidatorWording(message)) return [{ field, message }]
  switch (code) {
    case 'invalid_type': {
      if (/received undefined/.test(message) || (segments.length === 0 && /received null/.test(message))) {
        return [{ field, message: segments.length === 0 ? `the ${context} is required${context === 'body' ? ': send a JSON object' : ''}` : `${name} is required` }]
      }
      const expected = String(params.expected ?? '')
      return [{ field, message: `${segments.length === 0 ? `the ${context}` : name} must be ${ARTICLE[expected] ?? expected}` }]
    }
    case 'too_small':
      if (params.origin === 'string') return [{ field, message: Number(params.minimum) <= 1 ? `${name} must not be empty` : `${name} must be at least ${String(params.minimum)} characters` }]
      return [{ field, message: `${name} must be at least ${String(params.minimum)}` }]
    case 'too_big':
      if (params.origin === 'string') return [{ field, message: `${name} must be at most ${String(params.maximum)} characters` }]
      return [{ field, message: `${name} must be at most ${String(params.maximum)}` }]
    case 'invalid_format':
      if (params.format === 'uuid') return [{ field, message: `${name} must be a UUID in lower case, such as 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f` }]
      return [{ field, message: `${name} is not in the expected format` }]
    case 'invalid_value': {
      const values = (params.values as unknown[] | undefined) ?? []
      return [{ field, message: values.length === 1 ? `${name} must be ${JSON.stringify(values[0])}` : `${name} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` }]
    }
    default:
      return [{ field, message: `${name} is not valid` }]
  }
}
