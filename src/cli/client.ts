/** The CLI's side of the control API: one HTTP request over the daemon's Unix socket. */
import { request } from 'node:http'
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

async function request1 (socket: string, method: string, path: string, o: CallOptions): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body))
    const req = request({ socketPath: socket, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length } }, res => {
      const chunks: Buffer[] = []
      let size = 0
      let pending = ''
      res.on('data', (c: Buffer) => {
        if (o.onLine !== undefined && res.statusCode === 200) {
          pending += c.toString('utf8')
          let i
          while ((i = pending.indexOf('\n')) >= 0) { o.onLine(pending.slice(0, i)); pending = pending.slice(i + 1) }
          return
        }
        size += c.length
        if (size > MAX_RESPONSE_BYTES) { req.destroy(new WeftError('response from the daemon is too large', 'RESPONSE_TOO_LARGE')); return }
        chunks.push(c)
      })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        const type = String(res.headers['content-type'] ?? '')
        if (res.statusCode !== 200) {
          reject(apiError(res.statusCode ?? 500, text))
          return
        }
        if (!type.includes('json')) { resolve(text); return }
        try { resolve(text === '' ? undefined : JSON.parse(text)) } catch { reject(new WeftError('the daemon sent invalid JSON', 'INTERNAL')) }
      })
      res.on('error', reject)
    })
    if (o.onLine === undefined) req.setTimeout(o.timeoutMs ?? CLIENT_TIMEOUT_MS, () => req.destroy(new WeftError(`the daemon did not answer within ${(o.timeoutMs ?? CLIENT_TIMEOUT_MS) / 1000} s`, 'TIMEOUT')))
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new DaemonUnavailableError(`the weft daemon is not running (no control socket at ${socket}); start it with: weft start`))
      else if (err.code === 'EACCES') reject(new WeftError(`permission denied on the control socket ${socket}: it belongs to another user`, 'PERMISSION_DENIED'))
      else reject(err)
    })
    if (o.signal !== undefined) {
      const onAbort = (): void => {
        if (o.onLine !== undefined) { resolve(undefined); req.destroy() } else req.destroy(new WeftError('cancelled', 'CANCELLED'))
      }
      if (o.signal.aborted) { onAbort(); return }
      o.signal.addEventListener('abort', onAbort, { once: true })
      req.once('close', () => o.signal?.removeEventListener('abort', onAbort))
    }
    req.end(payload)
  })
}
