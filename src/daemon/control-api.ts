/**
 * The local control API: HTTP+JSON over a Unix domain socket (directory 0700,
 * socket 0600: only this user), plus an optional loopback TCP port that
 * requires the bearer token from a 0600 file. Apps read and write data through
 * it; the CLI uses it for everything live.
 *
 * Every request has a body limit and a timeout. Errors are
 * `{ "error": { "code", "message" } }` with an HTTP status; never a stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { WeftError } from '../errors.js'

/** Largest request body: a 1 MiB value as base64 JSON plus framing. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024
export const REQUEST_TIMEOUT_MS = 30_000

export class HttpError extends WeftError {
  static override name = 'HttpError'
  readonly status: number
  constructor (status: number, code: string, message: string) { super(message, code); this.status = status }
}

export interface ApiRequest {
  readonly method: string
  readonly path: string[]
  readonly query: URLSearchParams
  readonly body: unknown
  /** Aborted when the client goes away (for --follow streams). */
  readonly signal: AbortSignal
  readonly res: ServerResponse
}

/** A handler returns a JSON value, a string (sent as text/plain), or undefined after writing `res` itself. */
export type Handler = (req: ApiRequest) => Promise<unknown> | unknown

function statusFor (err: unknown): { status: number, code: string, message: string } {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message }
  if (err instanceof WeftError) {
    const status = err.code === 'INVALID_ARGUMENT' ? 400 : err.code === 'NOT_FOUND' ? 404 : err.code === 'DISK_FULL' ? 507 : 500
    return { status, code: err.code, message: err.message }
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error (see the daemon log)' }
}

async function readBody (req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'TOO_LARGE', `request body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'TOO_LARGE', `request body is over the ${MAX_BODY_BYTES}-byte limit`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'request body is not valid JSON')
  }
}

export interface ControlApiOptions {
  socket: string
  runtimeDir: string
  tokenFile: string
  apiPort: number | null
  handle: Handler
  log: (level: 'warn' | 'debug', msg: string) => void
}

export class ControlApi {
  readonly #o: ControlApiOptions
  readonly #servers: Server[] = []
  #token: Buffer | undefined

  constructor (o: ControlApiOptions) { this.#o = o }

  async start (): Promise<void> {
    const o = this.#o
    mkdirSync(o.runtimeDir, { recursive: true, mode: 0o700 })
    chmodSync(o.runtimeDir, 0o700)
    rmSync(o.socket, { force: true }) // a socket left by a crashed daemon (we hold the lock)
    const unix = this.#server(false)
    await new Promise<void>((resolve, reject) => {
      unix.once('error', reject)
      // umask during listen: the socket file never exists with wider permissions.
      const old = process.umask(0o177)
      try { unix.listen(o.socket, () => resolve()) } finally { process.umask(old) }
    })
    chmodSync(o.socket, 0o600)
    this.#servers.push(unix)
    if (o.apiPort !== null) {
      this.#token = loadOrCreateToken(o.tokenFile)
      const tcp = this.#server(true)
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen(o.apiPort!, '127.0.0.1', () => resolve())
      })
      this.#servers.push(tcp)
    }
  }

  #server (requireToken: boolean): Server {
    const server = createServer((req, res) => { void this.#serve(req, res, requireToken) })
    server.requestTimeout = REQUEST_TIMEOUT_MS
    server.headersTimeout = 10_000
    server.maxHeadersCount = 50
    return server
  }

  async #serve (req: IncomingMessage, res: ServerResponse, requireToken: boolean): Promise<void> {
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    try {
      if (requireToken && !this.#authorized(req)) throw new HttpError(401, 'UNAUTHORIZED', 'missing or wrong token (send Authorization: Bearer <token from the api.token file>)')
      const url = new URL(req.url ?? '/', 'http://weft')
      const path = url.pathname.split('/').filter(s => s !== '').map(s => decodeURIComponent(s))
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req)
      const out = await this.#o.handle({ method: req.method ?? 'GET', path, query: url.searchParams, body, signal: abort.signal, res })
      if (res.headersSent || res.writableEnded) return
      if (typeof out === 'string') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(out)
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out ?? { ok: true }))
      }
    } catch (err) {
      const e = statusFor(err)
      if (e.status >= 500) this.#o.log('warn', `control API ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`)
      if (!res.headersSent) res.writeHead(e.status, { 'content-type': 'application/json' })
      if (!res.writableEnded) res.end(JSON.stringify({ error: { code: e.code, message: e.message } }))
    }
  }

  #authorized (req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? ''
    const m = /^Bearer (\S+)$/.exec(h)
    if (m === null || this.#token === undefined) return false
    const given = Buffer.from(m[1]!)
    return given.length === this.#token.length && timingSafeEqual(given, this.#token)
  }

  async stop (): Promise<void> {
    await Promise.all(this.#servers.map(async s => {
      s.closeAllConnections()
      await new Promise<void>(resolve => s.close(() => resolve()))
    }))
    this.#servers.length = 0
    rmSync(this.#o.socket, { force: true })
  }
}

function loadOrCreateToken (file: string): Buffer {
  try {
    const st = statSync(file)
    if ((st.mode & 0o077) !== 0) throw new WeftError(`token file ${file} is readable by other users; run: chmod 600 ${file}`, 'BAD_PERMISSIONS')
    return Buffer.from(readFileSync(file, 'utf8').trim())
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(32).toString('base64url')
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' })
  return Buffer.from(token)
}
