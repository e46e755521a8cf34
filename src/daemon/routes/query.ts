/**
 * The control API's queries and schemas:
 *
 *   POST   /v1/query              { sql, params?, maxRows?, timeoutMs?, maxBytes? } -> { columns, rows, ms }
 *   POST   /v1/query/watch        the same body -> NDJSON: the result now, then each new result
 *   GET    /v1/schemas            the declared schemas, with their tables' row counts
 *   PUT    /v1/schemas/<c>        declare or change a collection's schema (body: the schema)
 *   DELETE /v1/schemas/<c>        forget it (the data stays)
 *   POST   /v1/schemas/<c>/rebuild  rebuild its table from the merged state
 *
 * Queries run in a QueryProcess, so a runaway one is killed at its deadline
 * instead of blocking the daemon. Live queries are run again (one at a time,
 * coalesced) when the replica reports a commit to a table they read.
 */
import type { ServerResponse } from 'node:http'
import { InvalidArgumentError, WeftError } from '../../errors.js'
import type { Replica } from '../../store/replica.js'
import { MAX_LIVE_QUERIES } from '../../store/tables/constants.js'
import { QueryProcess } from '../../store/tables/query-process.js'
import type { CollectionSchema, QueryOptions, QueryResult } from '../../store/tables/index.js'
import { HttpError, REQUEST_TIMEOUT_MS, type ApiRequest, type Route } from '../control-api.js'
import { fromJson, toJson } from '../json-values.js'
import { isJsonObject } from './context.js'
import type { Logger } from '../../runtime/log.js'

/** An API query may run at most this long: it must answer within the control API's request timeout. */
export const MAX_API_QUERY_TIMEOUT_MS = REQUEST_TIMEOUT_MS - 5_000

interface QueryBody { sql: string, params: unknown, options: QueryOptions }

interface Watch {
  readonly body: QueryBody
  readonly res: ServerResponse
  tables: Set<string>
  last: string
  running: boolean
  dirty: boolean
  closed: boolean
}

function parseBody (body: unknown): QueryBody {
  const b = body
  if (!isJsonObject(b)) throw new InvalidArgumentError('body must be a JSON object: { "sql": "SELECT …", "params"?: [...] or {...} }')
  for (const k of Object.keys(b)) if (!['sql', 'params', 'maxRows', 'timeoutMs', 'maxBytes'].includes(k)) throw new InvalidArgumentError(`unknown key ${JSON.stringify(k)} (known: sql, params, maxRows, timeoutMs, maxBytes)`)
  if (typeof b.sql !== 'string') throw new InvalidArgumentError('body needs "sql": the SELECT statement to run')
  const options: QueryOptions = {}
  for (const k of ['maxRows', 'timeoutMs', 'maxBytes'] as const) {
    const v = b[k]
    if (v === undefined) continue
    if (typeof v !== 'number') throw new InvalidArgumentError(`"${k}" must be a number`)
    options[k] = v
  }
  if (options.timeoutMs !== undefined && options.timeoutMs > MAX_API_QUERY_TIMEOUT_MS) throw new InvalidArgumentError(`"timeoutMs" may be at most ${MAX_API_QUERY_TIMEOUT_MS} on the control API`)
  const params = b.params === undefined || b.params === null ? [] : fromJson(b.params)
  return { sql: b.sql, params, options }
}

/** A result as JSON: bytes as { "$bytes" }, integers beyond 2^53 as strings. */
function resultJson (r: QueryResult<unknown[]>): { columns: string[], rows: unknown[][] } {
  return { columns: r.columns, rows: r.rows.map(row => row.map(v => typeof v === 'bigint' ? v.toString() : toJson(v))) }
}

export class QueryRoutes {
  readonly #replica: Replica
  readonly #log: Logger
  readonly #process: QueryProcess
  readonly #watches = new Set<Watch>()
  readonly #unlisten: () => void

  constructor (replica: Replica, log: Logger) {
    this.#replica = replica
    this.#log = log
    this.#process = new QueryProcess({ file: replica.tablesFile })
    this.#unlisten = replica.onTablesChanged(tables => { this.#changed(tables) })
  }

  /** The query and schema endpoints, for the daemon's route table. */
  routes (): Route[] {
    return [
      { path: 'v1/query', methods: { POST: async req => await this.query(parseBody(req.body), req.signal) } },
      { path: 'v1/query/watch', methods: { POST: async req => await this.#watch(req) } },
      { path: 'v1/schemas', methods: { GET: () => this.#replica.schemas() } },
      {
        path: 'v1/schemas/:collection',
        methods: {
          PUT: (req, p) => {
            const c = p.collection!
            // The store checks the schema in full (resolveSchema takes it as unknown) and names what is wrong.
            const res = this.#replica.declareSchema(c, req.body as CollectionSchema)
            if (res.change !== 'unchanged') this.#log('info', 'declared a collection schema', { collection: c, version: res.version, change: res.change, rows: res.rows })
            return res
          },
          DELETE: (_req, p) => {
            const c = p.collection!
            if (!this.#replica.dropSchema(c)) throw new HttpError('NOT_FOUND', `no schema is declared for collection ${JSON.stringify(c)}`)
            this.#log('info', 'dropped a collection schema (the data stays)', { collection: c })
            return { ok: true }
          }
        }
      },
      { path: 'v1/schemas/:collection/rebuild', methods: { POST: (_req, p) => ({ rows: this.#replica.rebuildTables(p.collection!) }) } }
    ]
  }

  async query (q: QueryBody, signal?: AbortSignal): Promise<unknown> {
    const started = performance.now()
    const r = await this.#process.query(q.sql, q.params, q.options, signal)
    return { ...resultJson(r), ms: Math.round((performance.now() - started) * 1000) / 1000 }
  }

  /** NDJSON: the result now, then each result that differs, until the client goes away. */
  async #watch (req: ApiRequest): Promise<undefined> {
    const body = parseBody(req.body)
    if (this.#watches.size >= MAX_LIVE_QUERIES) throw new HttpError('TOO_MANY_WATCHES', `${MAX_LIVE_QUERIES} live queries run already, the most this daemon keeps`)
    const first = await this.#process.query(body.sql, body.params, body.options, req.signal)
    const tables = await this.#process.tablesRead(body.sql, body.params, req.signal)
    if (req.signal.aborted) return undefined // the client left while the first result was computed
    const line = JSON.stringify(resultJson(first))
    const w: Watch = { body, res: req.res, tables: new Set(tables), last: line, running: false, dirty: false, closed: false }
    req.res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    req.res.write(line + '\n')
    this.#watches.add(w)
    req.signal.addEventListener('abort', () => { w.closed = true; this.#watches.delete(w) }, { once: true })
    return undefined
  }

  #changed (tables: readonly string[]): void {
    for (const w of this.#watches) {
      if (!tables.some(t => w.tables.has(t))) continue
      w.dirty = true
      if (!w.running) void this.#rerun(w)
    }
  }

  /** Runs a watch again until no change arrived while it ran. */
  async #rerun (w: Watch): Promise<void> {
    w.running = true
    try {
      while (w.dirty && !w.closed) {
        w.dirty = false
        let line: string
        try {
          const r = await this.#process.query(w.body.sql, w.body.params, w.body.options)
          w.tables = new Set(await this.#process.tablesRead(w.body.sql, w.body.params))
          line = JSON.stringify(resultJson(r))
        } catch (err) {
          line = JSON.stringify({ error: { code: err instanceof WeftError ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) } })
        }
        if (line === w.last || w.closed) continue
        w.last = line
        w.res.write(line + '\n')
      }
    } finally {
      w.running = false
    }
  }

  async close (): Promise<void> {
    this.#unlisten()
    for (const w of this.#watches) { w.closed = true; w.res.end() }
    this.#watches.clear()
    await this.#process.close()
  }
}
