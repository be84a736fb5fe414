import { HttpError } from './errors.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })
/** Charsets whose bodies are UTF-8 as sent: UTF-8 itself, and ASCII, its subset (the decoder still refuses any byte over 0x7f that is not UTF-8). */
const UTF8_READABLE = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii'])

/**
 * The API's request bodies: JSON in UTF-8 and nothing looser. A body another reader could take for
 * something else is refused rather than guessed at:
 * - a charset other than UTF-8 is 415 (the bytes would be read as UTF-8 regardless);
 * - bytes that are not UTF-8 are 400 `invalid_json` (decoding would replace them silently);
 * - a key twice in one object is 400 `validation_failed` (JSON.parse keeps the last, a proxy or
 *   a log reader may keep the first: `{"amount": "1", "amount": "2"}`);
 * - `__proto__` and `constructor` are 400 `validation_failed` like any field no schema has.
 * An empty body is no body (undefined): routes whose body is optional accept it.
 */
export function parseJsonBody(raw: Buffer, contentType: string | undefined): unknown {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase()
  if (charset !== undefined && !UTF8_READABLE.has(charset)) {
    throw new HttpError(415, 'unsupported_media_type', `send the body as JSON in UTF-8 (got charset=${charset})`)
  }
  let text: string
  try {
    text = utf8.decode(raw)
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid UTF-8')
  }
  if (text.trim() === '') return undefined
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON: check its quotes, commas and brackets')
  }
  const problem = keyProblem(text)
  if (problem) {
    const field = ['body', ...problem.path].join('.')
    const message = problem.kind === 'duplicate' ? `${problem.key} appears more than once in its object: send each field once` : `${problem.key} is not a known field`
    throw new HttpError(400, 'validation_failed', `the request is not valid: ${message}`, { details: [{ field, message }] })
  }
  return body
}

const FORBIDDEN = new Set(['__proto__', 'constructor'])

interface Container {
  /** An object's keys so far; undefined for an array. */
  keys?: Set<string>
  /** The object's current key, or the array's current index. */
  at: string
  expectKey: boolean
}

/**
 * The first key that appears twice in one object, or that is forbidden, with its path. Runs on text
 * JSON.parse has accepted, so the structure is known to be sound: only strings, brackets, braces,
 * commas and colons matter.
 */
export function keyProblem(text: string): { kind: 'duplicate' | 'forbidden'; key: string; path: string[] } | undefined {
  const stack: Container[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      let j = i + 1
      let escaped = false
      while (text[j] !== '"') {
        if (text[j] === '\\') {
          escaped = true
          j++
        }
        j++
      }
      const top = stack.at(-1)
      if (top?.keys && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j)
        // The path only for the answer: built per key, deep nesting would make the scan quadratic.
        const path = () => [...stack.slice(0, -1).map((s) => s.at), key]
        if (FORBIDDEN.has(key)) return { kind: 'forbidden', key, path: path() }
        if (top.keys.has(key)) return { kind: 'duplicate', key, path: path() }
        top.keys.add(key)
        top.at = key
        top.expectKey = false
      }
      i = j
    } else if (c === '{') stack.push({ keys: new Set(), at: '', expectKey: true })
    else if (c === '[') stack.push({ at: '0', expectKey: false })
    else if (c === '}' || c === ']') stack.pop()
    else if (c === ',') {
      const top = stack.at(-1)
      if (top?.keys) top.expectKey = true
      else if (top) top.at = String(Number(top.at) + 1)
    }
  }
  return undefined
}
