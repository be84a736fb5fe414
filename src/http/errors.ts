/** An error a route throws to answer with a given status and error code. */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly statusCode: number
  readonly code: string
  readonly details: unknown
  readonly headers: Record<string, string>
  constructor(statusCode: number, code: string, message: string, options: { details?: unknown; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.statusCode = statusCode
    this.code = code
    this.details = options.details
    this.headers = options.headers ?? {}
  }
}

export const notFound = (what: string, id: string) => new HttpError(404, 'not_found', `${what} ${id} not found`)
