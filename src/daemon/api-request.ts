/**
 * The control API's input checks: the request target (path and query) and
 * the JSON body, each decoded strictly and bounded before anything acts on
 * them. A malformed request is the client's error and is answered 400 with
 * what is wrong, never a 500 and never a lenient guess: a path segment that
 * does not decode, or decodes to another name, would read or write another
 * collection.
 */
import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import { type ErrorCode, WeftError } from '../errors.js'
import { outcomeFor } from './error-codes.js'

/** Largest request body: a 1 MiB value as base64 JSON plus framing. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

/**
 * Deepest nesting of arrays and objects in a request body. A stored value
 * nests at most 64 levels (src/oplog/value.ts); the request's own envelope
 * (`{"fields": {"f": …}}`) adds a few. The bound is checked on the raw bytes,
 * before parsing, so nothing that walks the body can run out of stack.
 */
export const MAX_BODY_DEPTH = 100

/**
 * An error found by the control API itself (a path, a method, a body, the
 * token), with optional headers for the answer (e.g. `Allow`). Its HTTP
 * status is its code's, from the one table in error-codes.ts.
 */
export class HttpError extends WeftError {
  static override name = 'HttpError'
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  constructor (code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message, code)
    this.status = outcomeFor(code).http
    this.headers = headers
  }
}

const badRequest = (message: string): HttpError => new HttpError('BAD_REQUEST', message)

const shown = (s: string): string => JSON.stringify(s.length > 200 ? s.slice(0, 200) + '…' : s)

/** Percent-decodes one path segment or query part, refusing what does not decode to well-formed UTF-8 text. */
function decodeComponent (raw: string, what: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    if (/%(?![0-9A-Fa-f]{2})/.test(raw)) throw badRequest(`${what} ${shown(raw)} has a "%" that is not followed by two hex digits (send a literal % as %25)`)
    throw badRequest(`${what} ${shown(raw)} does not decode to UTF-8 text (its %-escapes encode invalid UTF-8, such as a lone surrogate)`)
  }
}

export interface RequestTarget {
  /** Decoded path segments; empty segments are kept (`/v1/data//k` has an empty collection), so no name is ever skipped. */
  readonly path: string[]
  /** The path as sent, for messages. */
  readonly rawPath: string
  readonly query: URLSearchParams
}

/** Splits the request target (origin-form, RFC 9112 §3.2.1) into strictly decoded path segments and query parameters. */
export function parseTarget (target: string): RequestTarget {
  if (!target.startsWith('/')) throw badRequest(`request target ${shown(target)} is not a path (it must start with /)`)
  const q = target.indexOf('?')
  const rawPath = q < 0 ? target : target.slice(0, q)
  const path = rawPath.slice(1).split('/').map(s => decodeComponent(s, 'path segment'))
  const query = new URLSearchParams()
  if (q >= 0) {
    for (const pair of target.slice(q + 1).split('&')) {
      if (pair === '') continue
      const eq = pair.indexOf('=')
      const name = decodeComponent((eq < 0 ? pair : pair.slice(0, eq)).replaceAll('+', ' '), 'query parameter')
      const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1).replaceAll('+', ' '), `query parameter ${JSON.stringify(name)}`)
      query.append(name, value)
    }
  }
  return { path, rawPath, query }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

/**
 * The deepest nesting of arrays and objects in JSON text, counted on the
 * UTF-8 bytes (these ASCII bytes never occur inside a multi-byte sequence).
 * Stops counting once past `limit`. Malformed text is left to JSON.parse.
 */
export function jsonDepth (bytes: Uint8Array, limit = Infinity): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (inString) {
      if (b === BACKSLASH) i++
      else if (b === QUOTE) inString = false
    } else if (b === QUOTE) {
      inString = true
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > max) {
        max = depth
        if (max > limit) return max
      }
    } else if (b === CLOSE_BRACKET || b === CLOSE_BRACE) {
      depth--
    }
  }
  return max
}

/**
 * Over the size limit: the answer closes the connection, so the rest of the
 * body is not read (nor waited for) on it.
 */
const tooLarge = (message: string): HttpError => new HttpError('TOO_LARGE', message, { connection: 'close' })

/** Reads and parses a JSON body within the size and depth limits; undefined when there is none. */
export async function readJsonBody (req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw tooLarge(`request body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`)
  const bytes = await readBody(req)
  if (bytes.byteLength === 0) return undefined
  // Decoding would turn invalid bytes into U+FFFD: another name than the one sent.
  if (!isUtf8(bytes)) throw badRequest('request body is not valid UTF-8')
  if (jsonDepth(bytes, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) throw badRequest(`request body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`)
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw badRequest(`request body is not valid JSON (${(err as Error).message})`)
  }
}

/**
 * The body's bytes, up to MAX_BODY_BYTES. Read with listeners rather than
 * `for await`: an async iterator per request was a tenth of the control
 * API's CPU under load (`npm run bench:group`). Past the limit it stops
 * reading at once; a client that leaves before the end is a 400 (no handler
 * runs, and nothing is logged: it is not a server error).
 */
async function readBody (req: IncomingMessage): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size <= MAX_BODY_BYTES) { chunks.push(chunk); return }
      stop()
      req.pause()
      reject(tooLarge(`request body is over the ${MAX_BODY_BYTES}-byte limit`))
    }
    const onEnd = (): void => { stop(); resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)) }
    // Node fails a request whose connection closed early with "aborted".
    const onError = (err: Error): void => { stop(); reject(badRequest(`the request body did not arrive whole (${err.message})`)) }
    const onClose = (): void => { stop(); reject(badRequest('the client closed the connection before the whole request body arrived')) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
