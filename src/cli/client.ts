/** The CLI's side of the control API: one HTTP request over the daemon's Unix socket. */
import { connect } from 'node:net'
import type { ErrorResponse } from '../daemon/api-types.js'
import { parseErrorCode, WeftError } from '../errors.js'

export const CLIENT_TIMEOUT_MS = 120_000
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

export class DaemonUnavailableError extends WeftError {
  static override name = 'DaemonUnavailableError'
  constructor (message: string) { super(message, 'DAEMON_NOT_RUNNING') }
}

/**
 * An error the daemon answered with. The daemon is another program (maybe
 * another version), so its code is not trusted to be one of ours: `code` is
 * it parsed (an unknown one reads as INTERNAL, so exit 1), and `remoteCode`
 * is the string the daemon sent, which `--json` passes on as it came.
 */
export class ApiError extends WeftError {
  static override name = 'ApiError'
  readonly status: number
  readonly remoteCode: string
  constructor (status: number, remoteCode: string, message: string) {
    super(message, parseErrorCode(remoteCode))
    this.status = status
    this.remoteCode = remoteCode
  }
}

/** An error answer as an ApiError; a body that is not `{ "error": { "code", "message" } }` reads as INTERNAL with the status. */
export function apiError (status: number, body: string): ApiError {
  let e: Partial<Record<keyof ErrorResponse['error'], unknown>> | undefined
  try { e = (JSON.parse(body) as { error?: typeof e }).error } catch {}
  if (typeof e?.code !== 'string' || typeof e.message !== 'string') return new ApiError(status, 'INTERNAL', `daemon answered ${status}`)
  return new ApiError(status, e.code, e.message)
}

export interface CallOptions {
  body?: unknown
  timeoutMs?: number
  /** Streams the answer line by line (NDJSON); the call resolves when the stream ends. */
  onLine?: (line: string) => void
  /** Ends a streaming call quietly (it resolves), or fails any other call. */
  signal?: AbortSignal
}

/**
 * One request; resolves with the answer, typed by the caller with the
 * response type of that endpoint from daemon/api-types.ts (the daemon's
 * handlers build their answers with the same types). A streaming call
 * (`onLine`) resolves with undefined when the stream ends.
 */
export async function call<T = unknown> (socket: string, method: string, path: string, o: CallOptions = {}): Promise<T> {
  return await request1(socket, method, path, o) as T
}

/** The most header bytes an answer may start with before its body. */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024

/**
 * One HTTP/1.0 exchange over the Unix socket, on node:net rather than
 * node:http: a CLI call is one request per process, and node:http's client
 * (agent, parser, header machinery) costs a cold process about 15 to 25 ms
 * more than writing the request and reading the answer here does
 * (`npm run bench:cli`). HTTP/1.0 keeps the answer simple: the daemon's
 * node:http server never chunks it and closes the connection after it, so
 * the body is what arrives before the end (or Content-Length bytes).
 */
async function request1 (socket: string, method: string, path: string, o: CallOptions): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body))
    const head = `${method} ${path} HTTP/1.0\r\nHost: weft\r\n` +
      (payload === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n`) + '\r\n'
    const conn = connect(socket)
    let settled = false
    const fail = (err: Error): void => { if (!settled) { settled = true; reject(err) } conn.destroy() }
    const done = (value: unknown): void => { if (!settled) { settled = true; resolve(value) } conn.destroy() }

    let headBuf: Buffer | undefined = Buffer.alloc(0)
    let status = 0
    let type = ''
    let expected: number | undefined
    const chunks: Buffer[] = []
    let size = 0
    let pending = ''
    const streaming = (): boolean => o.onLine !== undefined && status === 200

    const body = (c: Buffer): void => {
      if (c.length === 0) return
      if (streaming()) {
        pending += c.toString('utf8')
        let i
        while ((i = pending.indexOf('\n')) >= 0) { o.onLine!(pending.slice(0, i)); pending = pending.slice(i + 1) }
        return
      }
      size += c.length
      if (size > MAX_RESPONSE_BYTES) { fail(new WeftError('response from the daemon is too large', 'RESPONSE_TOO_LARGE')); return }
      chunks.push(c)
      if (expected !== undefined && size >= expected) finish()
    }
    const finish = (): void => {
      if (settled) return
      if (headBuf !== undefined) { fail(new WeftError('the daemon closed the connection before it answered', 'BAD_MESSAGE')); return }
      if (streaming()) { done(undefined); return }
      const text = Buffer.concat(chunks).toString('utf8')
      if (status !== 200) {
        fail(apiError(status, text))
        return
      }
      if (!type.includes('json')) { done(text); return }
      try { done(text === '' ? undefined : JSON.parse(text)) } catch { fail(new WeftError('the daemon sent invalid JSON', 'INTERNAL')) }
    }

    conn.on('data', (c: Buffer) => {
      if (settled) return
      if (headBuf === undefined) { body(c); return }
      headBuf = Buffer.concat([headBuf, c])
      const end = headBuf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (headBuf.length > MAX_RESPONSE_HEAD_BYTES) fail(new WeftError('the answer from the daemon has too large a header', 'BAD_MESSAGE'))
        return
      }
      const lines = headBuf.subarray(0, end).toString('latin1').split('\r\n')
      const rest = headBuf.subarray(end + 4)
      headBuf = undefined
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
      if (m === null) { fail(new WeftError(`the daemon answered with an unreadable status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, 'BAD_MESSAGE')); return }
      status = Number(m[1])
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        if (colon < 0) continue
        const name = line.slice(0, colon).trim().toLowerCase()
        const value = line.slice(colon + 1).trim()
        if (name === 'content-type') type = value
        else if (name === 'content-length') expected = Number(value)
        else if (name === 'transfer-encoding' && value.toLowerCase() !== 'identity') { fail(new WeftError(`the daemon answered an HTTP/1.0 request with transfer-encoding ${value}`, 'BAD_MESSAGE')); return }
      }
      if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) { fail(new WeftError('the daemon sent an invalid content-length', 'BAD_MESSAGE')); return }
      body(rest)
      if (expected === 0) finish()
    })
    conn.on('end', finish)
    conn.on('close', () => { if (!settled) finish() })
    if (o.onLine === undefined) {
      const ms = o.timeoutMs ?? CLIENT_TIMEOUT_MS
      conn.setTimeout(ms, () => { fail(new WeftError(`the daemon did not answer within ${ms / 1000} s`, 'TIMEOUT')) })
    }
    conn.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') fail(new DaemonUnavailableError(`the weft daemon is not running (no control socket at ${socket}); start it with: weft start`))
      else if (err.code === 'EACCES') fail(new WeftError(`permission denied on the control socket ${socket}: it belongs to another user`, 'PERMISSION_DENIED'))
      else fail(err)
    })
    if (o.signal !== undefined) {
      const signal = o.signal
      const onAbort = (): void => {
        if (o.onLine !== undefined) done(undefined)
        else fail(new WeftError('cancelled', 'CANCELLED'))
      }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      conn.once('close', () => { signal.removeEventListener('abort', onAbort) })
    }
    conn.write(payload === undefined ? head : Buffer.concat([Buffer.from(head, 'latin1'), payload]))
  })
}
