/**
 * Read-only SQL over the declared tables.
 *
 * What may run, and why it is sound without an authorizer: the connection
 * opens only `tables.db` (the declared tables, nothing of weft's own) and
 * opens it read-only; the statement must prepare as a reader that writes
 * nothing (SQLite's own `sqlite3_stmt_readonly`), and what runs is
 * `SELECT * FROM (<the SQL>)`, which SQLite parses only when the SQL is a
 * SELECT (or WITH … SELECT, or VALUES). PRAGMAs, ATTACH, writes and several
 * statements in one string are refused with a message that says so.
 *
 * Limits: rows, result size and time are checked as rows come out. A single
 * step that computes for long before its first row (a big sort or
 * aggregate, a runaway recursive CTE) cannot be interrupted in-process:
 * better-sqlite3 exposes no interrupt and this SQLite build has no progress
 * handler. `QueryProcess` runs the same engine in a child process and kills
 * it at the deadline; the control API uses that.
 */
import type { Db, Statement } from '../sqlite.js'
import { openReadonlyDatabase } from '../sqlite.js'
import {
  DEFAULT_QUERY_MAX_BYTES, DEFAULT_QUERY_MAX_ROWS, DEFAULT_QUERY_TIMEOUT_MS, MAX_QUERY_MAX_BYTES, MAX_QUERY_MAX_ROWS, MAX_QUERY_PARAM_BYTES,
  MAX_QUERY_PARAMS, MAX_QUERY_SQL_BYTES, MAX_QUERY_TIMEOUT_MS, QUERY_CACHE_STATEMENTS
} from './constants.js'
import { QueryError, QueryLimitError, QueryTimeoutError } from './errors.js'
import { decoderFor, resultValue, type ColumnDecoder } from './values.js'

export type SqlParam = null | number | bigint | string | boolean | Uint8Array
/** Positional (`?`) parameters as a list, or named ones (`:name`, `@name`, `$name`) as an object without the prefix. */
export type QueryParams = readonly SqlParam[] | Readonly<Record<string, SqlParam>>

export interface QueryOptions {
  /** Most rows the result may hold; a query that returns more fails with QueryLimitError. @default 10000 */
  maxRows?: number
  /** Time the query may run, checked as rows come out (see the module doc). @default 5000 */
  timeoutMs?: number
  /** Estimated bytes the result may hold. @default 16777216 (16 MiB) */
  maxBytes?: number
}

export interface QueryResult<R = Record<string, unknown>> {
  /** Result column names (a name repeated in the SQL gets a `:1` suffix). */
  readonly columns: string[]
  readonly rows: R[]
}

interface Prepared {
  readonly stmt: Statement
  readonly columns: string[]
  readonly decoders: ColumnDecoder[]
  tables?: string[]
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8')

function checkLimit (name: string, v: number | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new QueryError(`${name} must be an integer from 1 to ${max}, got ${String(v)}`)
  return v
}

function checkParam (v: unknown, where: string): SqlParam {
  if (v === null || typeof v === 'bigint' || v instanceof Uint8Array) {
    if (v instanceof Uint8Array && v.byteLength > MAX_QUERY_PARAM_BYTES) throw new QueryError(`${where} is ${v.byteLength} bytes, over the ${MAX_QUERY_PARAM_BYTES}-byte limit`)
    return v
  }
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new QueryError(`${where} is ${v}; only finite numbers can be bound`)
      return v
    case 'boolean': return v ? 1 : 0
    case 'string':
      if (byteLength(v) > MAX_QUERY_PARAM_BYTES) throw new QueryError(`${where} is over the ${MAX_QUERY_PARAM_BYTES}-byte limit`)
      return v
    default:
      throw new QueryError(`${where} is ${v === undefined ? 'undefined' : `a ${typeof v}`}; parameters are null, numbers, strings, booleans or bytes`)
  }
}

/** Checks parameters once, at the boundary; returns what better-sqlite3 binds. */
export function checkParams (params: unknown): unknown[] {
  if (params === undefined) return []
  if (Array.isArray(params)) {
    if (params.length > MAX_QUERY_PARAMS) throw new QueryError(`${params.length} parameters, over the limit of ${MAX_QUERY_PARAMS}`)
    return params.map((p, i) => checkParam(p, `parameter ${i + 1}`))
  }
  if (typeof params === 'object' && params !== null && !(params instanceof Uint8Array)) {
    const entries = Object.entries(params)
    if (entries.length > MAX_QUERY_PARAMS) throw new QueryError(`${entries.length} parameters, over the limit of ${MAX_QUERY_PARAMS}`)
    const named: Record<string, unknown> = {}
    for (const [k, v] of entries) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new QueryError(`parameter name ${JSON.stringify(k.slice(0, 80))} is not an identifier (name it without its :, @ or $)`)
      named[k] = checkParam(v, `parameter ${k}`)
    }
    return [named]
  }
  throw new QueryError('parameters must be a list (for ?) or an object (for :name)')
}

/** The statement a query runs as: only a SELECT parses inside it. */
const wrap = (sql: string): string => `SELECT * FROM (\n${sql}\n)`

export class QueryEngine {
  readonly #db: Db
  readonly #cache = new Map<string, Prepared>()
  readonly #schemaVersion: Statement
  readonly #tableNames: Statement
  readonly #roots: Statement
  readonly #loadSchema: Statement
  #seenSchema: bigint | number | undefined

  /** Opens `tablesFile` read-only; the replica that writes it must have created it. */
  constructor (tablesFile: string) {
    this.#db = openReadonlyDatabase(tablesFile)
    this.#schemaVersion = this.#db.prepare('PRAGMA schema_version').pluck()
    this.#tableNames = this.#db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck()
    this.#roots = this.#db.prepare('SELECT rootpage, tbl_name FROM sqlite_schema WHERE rootpage > 0').raw()
    this.#loadSchema = this.#db.prepare('SELECT count(*) FROM sqlite_schema').pluck()
  }

  /** The declared tables this connection sees. */
  tables (): string[] { return this.#tableNames.all() as string[] }

  #prepare (sql: string): Prepared {
    const version = this.#schemaVersion.get() as bigint
    if (version !== this.#seenSchema) {
      // The writer changed the tables. Prepare compiles against the schema
      // this connection loaded last; a statement that reads sqlite_schema
      // makes it notice the change and load the new one first.
      this.#cache.clear()
      this.#loadSchema.get()
      this.#seenSchema = version
    }
    const hit = this.#cache.get(sql)
    if (hit !== undefined) {
      this.#cache.delete(sql)
      this.#cache.set(sql, hit) // most recently used last
      return hit
    }
    if (typeof sql !== 'string' || sql.trim() === '') throw new QueryError('the query is empty: give a SELECT statement')
    if (byteLength(sql) > MAX_QUERY_SQL_BYTES) throw new QueryError(`the query is ${byteLength(sql)} bytes, over the ${MAX_QUERY_SQL_BYTES}-byte limit`)
    let raw: Statement
    try {
      raw = this.#db.prepare(sql)
    } catch (err) {
      throw this.#explain(err)
    }
    if (!raw.readonly) throw new QueryError('queries are read-only: this statement would write (the tables follow the synced data; write with put, increment, add and remove)')
    if (!raw.reader) throw new QueryError('only a SELECT (or WITH … SELECT, or VALUES) statement may run: this statement returns no rows')
    let stmt: Statement
    try {
      stmt = this.#db.prepare(wrap(sql))
    } catch (err) {
      throw new QueryError('only a SELECT (or WITH … SELECT, or VALUES) statement may run: PRAGMA, EXPLAIN and other statements are not queries of the declared tables', { cause: err })
    }
    stmt.raw(true)
    const cols = stmt.columns()
    const p: Prepared = { stmt, columns: cols.map(c => c.name), decoders: cols.map(c => decoderFor(c.type)) }
    this.#cache.set(sql, p)
    if (this.#cache.size > QUERY_CACHE_STATEMENTS) this.#cache.delete(this.#cache.keys().next().value!)
    return p
  }

  #explain (err: unknown): QueryError {
    const msg = (err as Error).message
    if (/more than one statement/.test(msg)) return new QueryError('the query holds more than one statement; run one SELECT at a time')
    if (/^no such table/.test(msg)) {
      const tables = this.tables()
      return new QueryError(`${msg}: queries read only the declared tables (${tables.length === 0 ? 'none is declared yet: declare a collection schema first' : tables.join(', ')})`)
    }
    return new QueryError(`the query does not prepare: ${msg}`, { cause: err })
  }

  /** Runs a query; rows as objects (`rowMode: 'object'`, the default) or as arrays in column order. */
  run (sql: string, params?: unknown, options?: QueryOptions & { rowMode?: 'object' }): QueryResult
  run (sql: string, params: unknown, options: QueryOptions & { rowMode: 'array' }): QueryResult<unknown[]>
  run (sql: string, params?: unknown, options: QueryOptions & { rowMode?: 'object' | 'array' } = {}): QueryResult<unknown> {
    try {
      return this.#run(sql, params, options)
    } catch (err) {
      // The tables changed between preparing and stepping (SQLite prepared the statement again): once more, fresh.
      if (!(err instanceof SchemaMovedError)) throw err
      this.#cache.delete(sql)
      return this.#run(sql, params, options)
    }
  }

  #run (sql: string, params: unknown, options: QueryOptions & { rowMode?: 'object' | 'array' }): QueryResult<unknown> {
    const maxRows = checkLimit('maxRows', options.maxRows, DEFAULT_QUERY_MAX_ROWS, MAX_QUERY_MAX_ROWS)
    const timeoutMs = checkLimit('timeoutMs', options.timeoutMs, DEFAULT_QUERY_TIMEOUT_MS, MAX_QUERY_TIMEOUT_MS)
    const maxBytes = checkLimit('maxBytes', options.maxBytes, DEFAULT_QUERY_MAX_BYTES, MAX_QUERY_MAX_BYTES)
    const args = checkParams(params)
    const started = performance.now()
    const p = this.#prepare(sql)
    const objects = options.rowMode !== 'array'
    const rows: unknown[] = []
    let bytes = 0
    let it: IterableIterator<unknown[]>
    try {
      it = p.stmt.iterate(...args) as IterableIterator<unknown[]>
    } catch (err) {
      throw bindError(err)
    }
    try {
      for (const raw of it) {
        if (raw.length !== p.columns.length) throw new SchemaMovedError()
        if (rows.length >= maxRows) throw new QueryLimitError(`the query returned more than ${maxRows} rows (its row limit): add a LIMIT, or ask for more with maxRows`)
        if (performance.now() - started > timeoutMs) throw new QueryTimeoutError(`the query ran past its ${timeoutMs} ms time limit`)
        const out: unknown[] | Record<string, unknown> = objects ? {} : new Array(raw.length)
        for (let i = 0; i < raw.length; i++) {
          const v = raw[i]
          bytes += typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.byteLength : 8
          const value = resultValue(v, p.decoders[i])
          if (objects) (out as Record<string, unknown>)[p.columns[i]!] = value
          else (out as unknown[])[i] = value
        }
        if (bytes > maxBytes) throw new QueryLimitError(`the result grew past ${maxBytes} bytes (its size limit): select fewer rows or columns, or ask for more with maxBytes`)
        rows.push(out)
      }
    } catch (err) {
      it.return?.()
      if (err instanceof QueryLimitError || err instanceof QueryTimeoutError || err instanceof SchemaMovedError) throw err
      throw new QueryError(`the query failed: ${(err as Error).message}`, { cause: err })
    }
    if (performance.now() - started > timeoutMs) throw new QueryTimeoutError(`the query ran past its ${timeoutMs} ms time limit`)
    return { columns: p.columns, rows }
  }

  /**
   * The declared tables a query reads (for live queries): the tables and
   * indexes its bytecode opens, from SQLite's EXPLAIN, not from the text.
   */
  tablesRead (sql: string, params?: unknown): string[] {
    const p = this.#prepare(sql)
    if (p.tables !== undefined) return p.tables
    const args = checkParams(params)
    let program: Array<{ opcode: string, p2: number | bigint, p3: number | bigint }>
    try {
      program = this.#db.prepare(`EXPLAIN ${wrap(sql)}`).all(...args) as typeof program
    } catch (err) {
      throw bindError(err)
    }
    const names = new Map((this.#roots.all() as Array<[bigint, string]>).map(([root, name]) => [Number(root), name]))
    const tables = new Set<string>()
    for (const op of program) {
      // OpenRead/ReopenIdx: P2 the b-tree's root page, P3 the database (0: this file).
      if ((op.opcode === 'OpenRead' || op.opcode === 'ReopenIdx') && Number(op.p3) === 0) {
        const name = names.get(Number(op.p2))
        if (name !== undefined) tables.add(name)
      }
    }
    p.tables = [...tables].sort()
    return p.tables
  }

  close (): void { this.#db.close() }
}

class SchemaMovedError extends Error {}

function bindError (err: unknown): QueryError {
  const msg = (err as Error).message
  if (err instanceof RangeError || /parameter|bind/i.test(msg)) return new QueryError(`the parameters do not fit the query: ${msg}`)
  return new QueryError(`the query failed: ${msg}`, { cause: err })
}
