/**
 * Queries in a child process, with a deadline that holds.
 *
 * In-process, a query's time limit is checked between rows (see query.ts):
 * one long step cannot be interrupted, and it would block the event loop of
 * whatever runs it. A daemon serving any local app cannot accept that, so
 * it runs queries here: a child process opens tables.db read-only and runs
 * them one at a time; when one runs past its time limit (plus a small grace
 * for the child's own between-rows check to answer first), the child is
 * killed with SIGKILL and the caller gets a QueryTimeoutError. The next
 * query starts a fresh child. A request waiting its turn can be cancelled.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { WeftError } from '../../errors.js'
import { DEFAULT_QUERY_TIMEOUT_MS, QUERY_KILL_GRACE_MS } from './constants.js'
import { QueryError, QueryLimitError, QueryTimeoutError } from './errors.js'
import type { ChildReply, ChildRequest } from './query-child.js'
import type { QueryOptions, QueryResult } from './query.js'

export interface QueryProcessOptions {
  /** The tables file (a replica's `tablesFile`), opened read-only by the child. */
  file: string
  /** How long past a query's time limit the child may take to answer before it is killed. @default 250 */
  killGraceMs?: number
  /** The child's entry module. @default query-child.js next to this module */
  entry?: string
  /** The child's start-up (importing better-sqlite3, opening the file) may take this long. @default 10000 */
  startTimeoutMs?: number
}

const DEFAULT_START_TIMEOUT_MS = 10_000

interface Pending { resolve: (r: ChildReply) => void, reject: (e: Error) => void }

export class QueryProcess {
  readonly #o: QueryProcessOptions
  #child: ChildProcess | undefined
  #ready: Promise<ChildProcess> | undefined
  #next = 0
  readonly #pending = new Map<number, Pending>()
  /** Requests run one at a time: a kill must not take other queries with it. */
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor (options: QueryProcessOptions) { this.#o = options }

  #start (): Promise<ChildProcess> {
    this.#ready ??= new Promise<ChildProcess>((resolve, reject) => {
      const entry = this.#o.entry ?? fileURLToPath(new URL('./query-child.js', import.meta.url))
      const child = fork(entry, [this.#o.file], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] })
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new WeftError('the query process did not start in time', 'QUERY_PROCESS')) }, this.#o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS)
      child.on('message', (m: ChildReply) => {
        if (m.id === -1) { clearTimeout(timer); this.#child = child; resolve(child); return }
        const p = this.#pending.get(m.id)
        this.#pending.delete(m.id)
        p?.resolve(m)
      })
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        if (this.#child === child) this.#child = undefined
        this.#ready = undefined
        const err = new WeftError(`the query process exited (${signal ?? `code ${code}`})`, 'QUERY_PROCESS')
        reject(err)
        for (const p of this.#pending.values()) p.reject(err)
        this.#pending.clear()
      })
      child.on('error', err => { clearTimeout(timer); reject(err) })
    })
    return this.#ready
  }

  async #request (req: Omit<ChildRequest, 'id'>, timeoutMs: number, signal?: AbortSignal): Promise<ChildReply> {
    const turn = this.#queue.then(async () => {
      if (this.#closed) throw new WeftError('the query process is closed', 'CLOSED')
      signal?.throwIfAborted()
      const child = await this.#start()
      const id = this.#next++
      return await new Promise<ChildReply>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#pending.delete(id)
          child.kill('SIGKILL')
          reject(new QueryTimeoutError(`the query ran past its ${timeoutMs} ms time limit (the query process was stopped)`))
        }, timeoutMs + (this.#o.killGraceMs ?? QUERY_KILL_GRACE_MS))
        this.#pending.set(id, { resolve: r => { clearTimeout(timer); resolve(r) }, reject: e => { clearTimeout(timer); reject(e) } })
        child.send({ ...req, id })
      })
    })
    this.#queue = turn.catch(() => {})
    return await turn
  }

  /** Runs a read-only query in the child; rows come back as arrays in column order. */
  async query (sql: string, params: unknown, options: QueryOptions = {}, signal?: AbortSignal): Promise<QueryResult<unknown[]>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
    const r = await this.#request({ op: 'query', sql, params, options }, timeoutMs, signal)
    if (!r.ok) throw reviveError(r.error)
    return { columns: r.columns!, rows: r.rows! }
  }

  /** The declared tables a query reads (see QueryEngine.tablesRead). */
  async tablesRead (sql: string, params: unknown, signal?: AbortSignal): Promise<string[]> {
    const r = await this.#request({ op: 'tables', sql, params, options: {} }, DEFAULT_QUERY_TIMEOUT_MS, signal)
    if (!r.ok) throw reviveError(r.error)
    return r.tables!
  }

  /** The child's pid, if one runs (for tests and logs). */
  get pid (): number | undefined { return this.#child?.pid }

  async close (): Promise<void> {
    this.#closed = true
    const child = this.#child
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
    child.disconnect()
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000)
    await exited
    clearTimeout(timer)
  }
}

function reviveError (e: { name: string, message: string }): Error {
  switch (e.name) {
    case 'QueryError': return new QueryError(e.message)
    case 'QueryLimitError': return new QueryLimitError(e.message)
    case 'QueryTimeoutError': return new QueryTimeoutError(e.message)
    default: return new WeftError(`the query process failed: ${e.message}`, 'QUERY_PROCESS')
  }
}
