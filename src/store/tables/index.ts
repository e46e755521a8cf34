/**
 * Declared tables and SQL queries over them: the part of the store that
 * turns synced collections into real SQL tables an app can query.
 *
 *   schema.ts        what an app declares; checks, canonical form, how one schema changes into another
 *   typed-tables.ts  the tables in tables.db, kept in the merge's transaction; declare, drop, rebuild
 *   merged-rows.ts   reads the merged rows the tables are derived from
 *   query.ts         read-only SQL on a connection that sees only tables.db
 *   live.ts          live queries: run again when their tables change
 *   query-process.ts the same engine in a child process with a hard deadline (the control API's)
 *
 * `DeclaredTables` is what the replica holds: one hook inside each apply
 * transaction (`afterApply`), one after each commit (`committed`), and the
 * calls the replica's API forwards. docs/queries.md explains the design.
 */
import type { Op } from '../../oplog/op.js'
import type { Db } from '../sqlite.js'
import { LiveQueries, type LiveQuery, type LiveQueryListener, type LiveQueryOptions } from './live.js'
import { QueryEngine, type QueryOptions, type QueryResult } from './query.js'
import type { CollectionSchema } from './schema.js'
import { TypedTables, type DeclareResult, type SchemaInfo } from './typed-tables.js'

export { TABLES_FILE } from './typed-tables.js'
export type { DeclareResult, SchemaInfo } from './typed-tables.js'
export type { CollectionSchema, FieldSpec, FieldType } from './schema.js'
export { FIELD_TYPES } from './schema.js'
export type { QueryOptions, QueryParams, QueryResult, SqlParam } from './query.js'
export type { LiveQuery, LiveQueryListener, LiveQueryOptions } from './live.js'
export { QueryError, QueryLimitError, QueryTimeoutError, SchemaError } from './errors.js'

export class DeclaredTables {
  readonly #typed: TypedTables
  #engine: QueryEngine | undefined
  readonly #live: LiveQueries
  readonly #listeners = new Set<(tables: readonly string[]) => void>()
  readonly #unlisten: () => void

  constructor (db: Db, file: string) {
    this.#typed = new TypedTables(db, file)
    this.#live = new LiveQueries(() => this.#query())
    this.#unlisten = this.#typed.onTablesChanged(tables => { this.#changed(tables) })
  }

  get file (): string { return this.#typed.file }

  /** The query connection, opened on first use. */
  #query (): QueryEngine {
    this.#engine ??= new QueryEngine(this.#typed.file)
    return this.#engine
  }

  /** Inside the apply transaction, after the state tables were written. */
  afterApply (ops: readonly Op[]): void { this.#typed.afterApply(ops) }

  /** After the commit: live queries on the tables these ops touched run again. */
  committed (ops: readonly Op[]): void {
    if (this.#live.size === 0 && this.#listeners.size === 0) return
    const tables = new Set<string>()
    let last: string | undefined
    for (const op of ops) {
      if (op.collection === last) continue
      last = op.collection
      const t = this.#typed.tableOf(op.collection)
      if (t !== undefined) tables.add(t)
    }
    if (tables.size > 0) this.#changed([...tables])
  }

  #changed (tables: readonly string[]): void {
    this.#live.changed(tables)
    for (const l of this.#listeners) {
      try { l(tables) } catch {}
    }
  }

  /** Calls `listener` after every commit that changed declared tables (writes, declare, drop, rebuild), with their names. */
  onTablesChanged (listener: (tables: readonly string[]) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  declare (collection: string, schema: CollectionSchema): DeclareResult { return this.#typed.declare(collection, schema) }
  drop (collection: string): boolean { return this.#typed.drop(collection) }
  rebuild (collection?: string): number { return this.#typed.rebuild(collection) }
  list (): Array<SchemaInfo & { rows: number }> { return this.#typed.list().map(s => ({ ...s, rows: this.#typed.count(s.collection) })) }
  versions (): Map<string, number> { return this.#typed.versions() }

  query (sql: string, params?: unknown, options?: QueryOptions & { rowMode?: 'object' }): QueryResult
  query (sql: string, params: unknown, options: QueryOptions & { rowMode: 'array' }): QueryResult<unknown[]>
  query (sql: string, params?: unknown, options: QueryOptions & { rowMode?: 'object' | 'array' } = {}): QueryResult<unknown> {
    return this.#query().run(sql, params, options as QueryOptions & { rowMode: 'array' })
  }

  watch (sql: string, params: unknown, listener: LiveQueryListener, options?: LiveQueryOptions): LiveQuery {
    return this.#live.watch(sql, params, listener, options)
  }

  close (): void {
    this.#unlisten()
    this.#listeners.clear()
    this.#live.close()
    this.#engine?.close()
    this.#engine = undefined
  }
}
