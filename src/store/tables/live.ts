/**
 * Live queries: a query that runs again when a write (local or remote)
 * touches a table it reads, and reports its new result when it differs.
 *
 * Which tables a query reads comes from its bytecode (`tablesRead`), so a
 * write to an unrelated table costs nothing. Reruns are coalesced: every
 * change in one turn of the event loop (a burst of pages, a batch) marks
 * the queries dirty, and each runs once in the next turn (setImmediate).
 */
import { MAX_LIVE_QUERIES } from './constants.js'
import { QueryError } from './errors.js'
import type { QueryEngine, QueryOptions, QueryResult } from './query.js'
import { jsonText } from './values.js'

export interface LiveQueryOptions extends QueryOptions {
  /** Called when a rerun fails (time or row limit, a dropped table); the live query stays and runs again on the next change. */
  onError?: (err: Error) => void
}

export type LiveQueryListener = (result: QueryResult) => void

export interface LiveQuery {
  /** The result when the live query started. */
  readonly result: QueryResult
  /** The declared tables the query reads: writes to these run it again. */
  readonly tables: readonly string[]
  /** Stops it; no more calls after this returns. */
  close(): void
}

interface Watch {
  readonly sql: string
  readonly params: unknown
  readonly options: LiveQueryOptions
  readonly listener: LiveQueryListener
  tables: Set<string>
  last: string
  dirty: boolean
  closed: boolean
}

/** A result compared by value (bigint and bytes included). */
const fingerprint = (r: QueryResult): string => jsonText([r.columns, r.rows])

export class LiveQueries {
  readonly #engine: () => QueryEngine
  readonly #watches = new Set<Watch>()
  #scheduled: NodeJS.Immediate | undefined

  constructor (engine: () => QueryEngine) { this.#engine = engine }

  get size (): number { return this.#watches.size }

  watch (sql: string, params: unknown, listener: LiveQueryListener, options: LiveQueryOptions = {}): LiveQuery {
    if (typeof listener !== 'function') throw new QueryError('a live query needs a function to call with each new result')
    if (this.#watches.size >= MAX_LIVE_QUERIES) throw new QueryError(`${MAX_LIVE_QUERIES} live queries run already, the most one replica keeps`)
    const engine = this.#engine()
    const result = engine.run(sql, params, options)
    const tables = engine.tablesRead(sql, params)
    const w: Watch = { sql, params, options, listener, tables: new Set(tables), last: fingerprint(result), dirty: false, closed: false }
    this.#watches.add(w)
    return { result, tables, close: () => { w.closed = true; this.#watches.delete(w) } }
  }

  /** Tables whose content changed (after the commit): queries reading them run again soon. */
  changed (tables: Iterable<string>): void {
    if (this.#watches.size === 0) return
    const set = tables instanceof Set ? tables as Set<string> : new Set(tables)
    if (set.size === 0) return
    let any = false
    for (const w of this.#watches) {
      for (const t of w.tables) if (set.has(t)) { w.dirty = true; any = true; break }
    }
    if (any && this.#scheduled === undefined) this.#scheduled = setImmediate(() => { this.#scheduled = undefined; this.#flush() })
  }

  #flush (): void {
    for (const w of [...this.#watches]) {
      if (!w.dirty || w.closed) continue
      w.dirty = false
      let result: QueryResult
      try {
        const engine = this.#engine()
        result = engine.run(w.sql, w.params, w.options)
        // A schema change may have moved what the query reads.
        w.tables = new Set(engine.tablesRead(w.sql, w.params))
      } catch (err) {
        try { w.options.onError?.(err as Error) } catch {}
        continue
      }
      const f = fingerprint(result)
      if (f === w.last) continue
      w.last = f
      try { w.listener(result) } catch {}
    }
  }

  close (): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    for (const w of this.#watches) w.closed = true
    this.#watches.clear()
  }
}
