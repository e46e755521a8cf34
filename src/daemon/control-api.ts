/**
 * The local control API: HTTP+JSON over a Unix domain socket (directory 0700,
 * socket 0600: only this user), plus an optional loopback TCP port that
 * requires the bearer token from a 0600 file. Apps read and write data through
 * it; the CLI uses it for everything live.
 *
 * Every request has limits: its headers must arrive within 10 s and the whole
 * request within 30 s (answering may take longer: a sync, or a follow stream
 * that lasts as long as its client), its body is bounded in size and depth,
 * and each listener holds a bounded number of connections. On the TCP port a
 * connection that has not shown the token within 5 s is closed, and so is one
 * that shows a wrong one. Errors are `{ "error": { "code", "message" } }`
 * with the HTTP status of the code (error-codes.ts); never a stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { type ErrorCode, InvalidArgumentError, WeftError } from '../errors.js'
import { HttpError, parseTarget, readJsonBody } from './api-request.js'
import { outcomeFor } from './error-codes.js'

export { HttpError, MAX_BODY_BYTES, MAX_BODY_DEPTH } from './api-request.js'

/** Time for a client to send a request's headers (Node's `headersTimeout`). */
export const HEADERS_TIMEOUT_MS = 10_000
/** Time for a client to send a whole request, headers and body (Node's `requestTimeout`); not the time to answer it. */
export const REQUEST_TIMEOUT_MS = 30_000
/**
 * How often Node checks the two timeouts above. Node's default is 30 s, which
 * let a slow request live up to 30 s past its timeout.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000
/** Connections the Unix socket holds at once (same-user apps and CLI runs, follow streams included). */
export const MAX_SOCKET_CONNECTIONS = 128
/** Connections the TCP port holds at once; beyond it new ones are closed at once. */
export const MAX_TCP_CONNECTIONS = 32
/** A TCP connection that has not sent a request with the right token by then is closed. */
export const TCP_AUTH_TIMEOUT_MS = 5_000

export interface ApiRequest {
  readonly method: string
  /** Decoded path segments, empty ones included. */
  readonly path: string[]
  /** The path as sent, for messages. */
  readonly rawPath: string
  readonly query: URLSearchParams
  readonly body: unknown
  /** Aborted when the client goes away (for --follow streams). */
  readonly signal: AbortSignal
  readonly res: ServerResponse
}

/** A handler returns a JSON value, a string (sent as text/plain), or undefined after writing `res` itself. */
export type Handler = (req: ApiRequest) => Promise<unknown> | unknown

/** A route's handler, given the values of the route's `:name` segments (never empty). */
export type RouteHandler = (req: ApiRequest, params: Readonly<Record<string, string>>) => Promise<unknown> | unknown

export interface Route {
  /** Segments, literal or `:name`: `v1/data/:collection/:key`. */
  readonly path: string
  readonly methods: Readonly<Record<string, RouteHandler>>
}

/**
 * Matches requests against a route table: an unknown path is a 404, a known
 * path with another method a 405 with an `Allow` header, and an empty value
 * for a `:name` segment (`/v1/data//k`) a 400: names are never empty, and
 * skipping the empty segment would address another collection.
 */
/** A route as the router keeps it: its segments, which of them are `:name`, its handlers. */
interface RouteEntry { segments: string[], params: boolean[], methods: Readonly<Record<string, RouteHandler>> }

export class Router {
  readonly #routes: RouteEntry[]

  constructor (routes: readonly Route[]) {
    this.#routes = routes.map(r => {
      const segments = r.path.split('/')
      return { segments, params: segments.map(s => s.startsWith(':')), methods: r.methods }
    })
  }

  async handle (req: ApiRequest): Promise<unknown> {
    const route = this.#match(req.path)
    if (route === undefined) throw new HttpError('NOT_FOUND', `no such endpoint: ${req.method} ${req.rawPath}`)
    const handler = Object.hasOwn(route.methods, req.method) ? route.methods[req.method] : undefined
    if (handler === undefined) {
      const allow = Object.keys(route.methods).join(', ')
      throw new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.rawPath} (allowed: ${allow})`, { allow })
    }
    const params: Record<string, string> = {}
    for (let i = 0; i < route.segments.length; i++) {
      if (!route.params[i]) continue
      const name = route.segments[i]!.slice(1)
      if (req.path[i] === '') throw new InvalidArgumentError(`${req.rawPath}: the ${name} is empty (${name} names must be non-empty)`)
      params[name] = req.path[i]!
    }
    return await handler(req, params)
  }

  /** The first route whose literal segments are the path's (plain loops: this runs at every request). */
  #match (path: readonly string[]): RouteEntry | undefined {
    for (const route of this.#routes) {
      if (route.segments.length !== path.length) continue
      let i = 0
      while (i < path.length && (route.params[i]! || route.segments[i] === path[i])) i++
      if (i === path.length) return route
    }
    return undefined
  }
}

/**
 * A request as handlers see it. Its abort signal is made when a handler
 * first reads it: most requests never do, and an AbortController, with the
 * DOMException aborting it makes, cost each write about 0.1 ms of CPU under
 * load (perf, `npm run bench:group`). A class, not an object literal with a
 * getter, which V8 defines at every request through a slow runtime call.
 */
class ControlRequest implements ApiRequest {
  /** Set once read (before any handler sees the request). */
  body: unknown = undefined
  #abort: AbortController | undefined
  #gone = false

  constructor (
    readonly method: string,
    readonly path: string[],
    readonly rawPath: string,
    readonly query: URLSearchParams,
    readonly res: ServerResponse
  ) {
    res.on('close', () => { this.#gone = true; this.#abort?.abort() })
  }

  get signal (): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController()
      if (this.#gone) this.#abort.abort()
    }
    return this.#abort.signal
  }
}

/** The answer to a failed request: any WeftError by its code's row in error-codes.ts, anything else a 500 (a bug). */
function statusFor (err: unknown): { status: number, code: ErrorCode, message: string, headers: Readonly<Record<string, string>> } {
  if (err instanceof WeftError) {
    return { status: outcomeFor(err.code).http, code: err.code, message: err.message, headers: err instanceof HttpError ? err.headers : {} }
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error (see the daemon log)', headers: {} }
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
  /** TCP connections that have not shown the token yet, with the timer that closes them. */
  readonly #unauthenticated = new WeakMap<Socket, NodeJS.Timeout>()

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

  #server (tcp: boolean): Server {
    const server = createServer({
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS
    }, (req, res) => { void this.#serve(req, res, tcp) })
    server.maxHeadersCount = 50
    server.maxConnections = tcp ? MAX_TCP_CONNECTIONS : MAX_SOCKET_CONNECTIONS
    if (tcp) {
      // Any local process can connect to the port; until it shows the token
      // it holds a connection slot, so it gets little time to do so.
      server.on('connection', (socket: Socket) => {
        const timer = setTimeout(() => socket.destroy(), TCP_AUTH_TIMEOUT_MS)
        this.#unauthenticated.set(socket, timer)
        socket.once('close', () => { clearTimeout(timer); this.#unauthenticated.delete(socket) })
      })
    }
    return server
  }

  async #serve (req: IncomingMessage, res: ServerResponse, tcp: boolean): Promise<void> {
    try {
      if (tcp) {
        if (!this.#authorized(req)) {
          res.setHeader('connection', 'close')
          throw new HttpError('UNAUTHORIZED', 'missing or wrong token (send Authorization: Bearer <token from the api.token file>)')
        }
        clearTimeout(this.#unauthenticated.get(req.socket))
        this.#unauthenticated.delete(req.socket)
      }
      const { path, rawPath, query } = parseTarget(req.url ?? '/')
      const method = req.method ?? 'GET'
      const request = new ControlRequest(method, path, rawPath, query, res)
      if (method !== 'GET' && method !== 'HEAD') request.body = await readJsonBody(req)
      const out = await this.#o.handle(request)
      if (res.headersSent || res.writableEnded) return
      if (typeof out === 'string') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(out)
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out ?? { ok: true }))
      }
    } catch (err) {
      const e = statusFor(err)
      if (e.status >= 500) this.#o.log('warn', `control API ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`)
      if (!res.headersSent) res.writeHead(e.status, { ...e.headers, 'content-type': 'application/json' })
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
