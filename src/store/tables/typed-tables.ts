/**
 * Declared tables: for each collection an app declared a schema for, a real
 * SQL table (`key` plus one column per declared field) holding the merged
 * value of every visible row, kept in step with the merge.
 *
 * Why a second database file. The tables live in `tables.db`, ATTACHed to
 * the replica's connection as `weft_typed`; queries run on another
 * connection that opens only `tables.db`, read-only. That connection cannot
 * name weft's internal tables (oplog, registers, keys of the group…)
 * whatever SQL it is given: they are not in its file. better-sqlite3 has no
 * authorizer, and filtering SQL text would be guesswork; a file boundary is
 * not.
 *
 * Same transaction. A write's ops, the merged state and the typed rows they
 * change commit in one SQLite transaction (`afterApply` runs inside the
 * replica's apply transaction, local and remote), so a reader never sees a
 * table out of step with the data. In WAL mode a transaction over two files
 * is atomic per file, not across them: a power cut can keep one file's last
 * commit and lose the other's. So every such transaction also bumps an
 * epoch in both files (meta `typed_epoch` in replica.db, `user_version` in
 * tables.db); at open, epochs (and an id tying the two files together) that
 * differ mean the tables are rebuilt from the merged state. A lost, stale or
 * corrupt tables.db is never a loss: everything in it is derived.
 *
 * Cost. A write refreshes each row it touched once per transaction (a page
 * of remote ops, a local batch), not once per op: the row is read back from
 * the merged state (one query for most rows, see `MergedRows.row`) and
 * upserted, or deleted when no field is visible any more.
 */
import { randomInt } from 'node:crypto'
import { rmSync } from 'node:fs'
import type { Op } from '../../oplog/op.js'
import type { Db, Statement } from '../sqlite.js'
import { SchemaError } from './errors.js'
import { MergedRows, RowReader } from './merged-rows.js'
import {
  COLUMN_TYPES, createIndexSql, createTableSql, MAX_DECLARED_COLLECTIONS, quoteId, resolveSchema, schemaChange, schemaFromJson, schemaToJson,
  toDeclaration, type CollectionSchema, type ResolvedSchema
} from './schema.js'
import { columnValue } from './values.js'

/** The tables file, next to replica.db. */
export const TABLES_FILE = 'tables.db'
/** Name of the attached tables database on the replica's connection. */
export const TYPED_DB = 'weft_typed'
/** Collections weft keeps for itself cannot be declared (same prefix as the replica's). */
const RESERVED_PREFIX = '_weft.'
/** Rows per multi-row upsert (a page of remote ops touches hundreds of rows). */
const UPSERT_CHUNK_ROWS = 32
/** user_version is a signed 32-bit integer: the epoch counts modulo this. */
const EPOCH_MODULUS = 2 ** 31 - 1

export interface DeclareResult {
  readonly collection: string
  readonly table: string
  readonly version: number
  /**
   * created: a new table; extended: columns or indexes added (or indexes dropped); rebuilt: dropped and rebuilt;
   * unchanged: same table (the version may have changed).
   */
  readonly change: 'created' | 'extended' | 'rebuilt' | 'unchanged'
  /** Rows written from the merged state. */
  readonly rows: number
}

export interface SchemaInfo {
  readonly collection: string
  readonly table: string
  readonly version: number
  readonly schema: CollectionSchema
}

interface Compiled {
  readonly schema: ResolvedSchema
  readonly reader: RowReader
  readonly upsert: Statement
  /** UPSERT_CHUNK_ROWS rows in one statement. */
  readonly upsertMany: Statement
  readonly remove: Statement
}

export type TablesChangedListener = (tables: readonly string[]) => void

export class TypedTables {
  readonly #db: Db
  readonly #file: string
  readonly #rows: MergedRows
  readonly #byCollection = new Map<string, Compiled>()
  readonly #listeners = new Set<TablesChangedListener>()
  readonly #setEpoch: Statement
  readonly #saveSchema: Statement
  readonly #deleteSchema: Statement
  #epoch = 0

  /** Attaches (creating if needed) the tables file and checks it against the catalogue; rebuilds what is out of step. */
  constructor (db: Db, file: string) {
    this.#db = db
    this.#file = file
    this.#attach()
    this.#rows = new MergedRows(db)
    this.#setEpoch = db.prepare("INSERT INTO meta (name, value) VALUES ('typed_epoch', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
    this.#saveSchema = db.prepare(`INSERT INTO typed_schemas (collection, tbl, version, spec) VALUES (?, ?, ?, ?)
      ON CONFLICT (collection) DO UPDATE SET tbl = excluded.tbl, version = excluded.version, spec = excluded.spec`)
    this.#deleteSchema = db.prepare('DELETE FROM typed_schemas WHERE collection = ?')
    const catalogue = (db.prepare('SELECT collection, spec FROM typed_schemas ORDER BY collection').raw().all() as Array<[string, string]>)
      .map(([c, spec]) => schemaFromJson(c, spec))
    this.#check(catalogue)
    for (const s of catalogue) this.#compile(s)
  }

  get file (): string { return this.#file }

  /** ATTACHes tables.db; a file SQLite cannot use is removed and started afresh (it holds nothing that is not derived). */
  #attach (): void {
    try {
      this.#attachOnce()
      this.#db.prepare(`SELECT count(*) FROM ${TYPED_DB}.sqlite_schema`).get()
    } catch {
      try { this.#db.exec(`DETACH DATABASE ${TYPED_DB}`) } catch {}
      for (const suffix of ['', '-wal', '-shm']) rmSync(this.#file + suffix, { force: true })
      this.#attachOnce()
    }
  }

  #attachOnce (): void {
    this.#db.prepare(`ATTACH DATABASE ? AS ${TYPED_DB}`).run(this.#file)
    this.#db.pragma(`${TYPED_DB}.journal_mode = WAL`)
    // Derived data: a power cut that loses its last commits is repaired at open (see the epochs).
    this.#db.pragma(`${TYPED_DB}.synchronous = NORMAL`)
  }

  /** Compares the two files' id and epoch and each table's columns with the catalogue; rebuilds every table when anything differs. */
  #check (catalogue: readonly ResolvedSchema[]): void {
    const meta = this.#db.prepare("SELECT name, value FROM meta WHERE name IN ('typed_id', 'typed_epoch')").raw().all() as Array<[string, unknown]>
    const id = meta.find(([n]) => n === 'typed_id')?.[1]
    const epoch = meta.find(([n]) => n === 'typed_epoch')?.[1]
    const fileId = this.#db.pragma(`${TYPED_DB}.application_id`, { simple: true }) as number
    const fileEpoch = this.#db.pragma(`${TYPED_DB}.user_version`, { simple: true }) as number
    const objects = this.#db.prepare(`SELECT type, name, tbl_name FROM ${TYPED_DB}.sqlite_schema WHERE type IN ('table', 'index', 'view', 'trigger')`).raw().all() as Array<[string, string, string]>
    let consistent = typeof id === 'number' && id === fileId && typeof epoch === 'number' && epoch === fileEpoch
    if (consistent) {
      const expected = new Set<string>()
      for (const s of catalogue) {
        expected.add(`table ${s.table}`)
        for (const ix of s.indexes) expected.add(`index ${ix.name}`)
        const cols = this.#db.pragma(`${TYPED_DB}.table_info(${quoteId(s.table)})`) as Array<{ name: string, type: string }>
        const want = new Map([['key', 'TEXT'], ...s.fields.map(f => [f.column, COLUMN_TYPES[f.type]] as [string, string])])
        if (cols.length !== want.size || cols.some(c => want.get(c.name) !== c.type)) consistent = false
      }
      // Automatic indexes (sqlite_autoindex_…) belong to their table.
      const present = objects.filter(([type, name]) => !(type === 'index' && name.startsWith('sqlite_autoindex_'))).map(([type, name]) => `${type} ${name}`)
      if (present.length !== expected.size || present.some(p => !expected.has(p))) consistent = false
    }
    if (consistent) { this.#epoch = epoch as number; return }
    // Out of step (a power cut between the two files' commits, a deleted or foreign tables.db, a first open): rebuild it all.
    this.#db.transaction(() => {
      for (const [type, name] of objects) {
        if (type === 'table' || type === 'view') this.#db.exec(`DROP ${type === 'table' ? 'TABLE' : 'VIEW'} IF EXISTS ${TYPED_DB}.${quoteId(name)}`)
      }
      for (const [type, name] of objects) if (type === 'trigger') this.#db.exec(`DROP TRIGGER IF EXISTS ${TYPED_DB}.${quoteId(name)}`)
      for (const s of catalogue) this.#build(s)
      const newId = typeof id === 'number' && id !== 0 ? id : randomInt(1, EPOCH_MODULUS)
      this.#db.prepare("INSERT INTO meta (name, value) VALUES ('typed_id', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(newId)
      this.#db.pragma(`${TYPED_DB}.application_id = ${newId}`)
      this.#epoch = typeof epoch === 'number' ? epoch : 0
      this.#bumpEpoch()
    })()
  }

  #bumpEpoch (): void {
    this.#epoch = this.#epoch % EPOCH_MODULUS + 1
    this.#setEpoch.run(this.#epoch)
    this.#db.exec(`PRAGMA ${TYPED_DB}.user_version = ${this.#epoch}`)
  }

  #compile (s: ResolvedSchema): Compiled {
    const t = `${TYPED_DB}.${quoteId(s.table)}`
    const cols = s.fields.map(f => quoteId(f.column))
    const upsert = (rows: number): string => `INSERT INTO ${t} (key, ${cols.join(', ')}) VALUES ${Array.from({ length: rows }, () => `(?${', ?'.repeat(cols.length)})`).join(', ')}
        ON CONFLICT (key) DO UPDATE SET ${cols.map(col => `${col} = excluded.${col}`).join(', ')}`
    const c: Compiled = {
      schema: s,
      reader: new RowReader(this.#db, s.collection, s.fields),
      upsert: this.#db.prepare(upsert(1)),
      upsertMany: this.#db.prepare(upsert(UPSERT_CHUNK_ROWS)),
      remove: this.#db.prepare(`DELETE FROM ${t} WHERE key = ?`)
    }
    this.#byCollection.set(s.collection, c)
    return c
  }

  /** Creates `s`'s table, fills it from the merged state, then creates its indexes (faster than filling indexed). Inside a transaction. */
  #build (s: ResolvedSchema): number {
    this.#db.exec(createTableSql(s, TYPED_DB))
    const c = this.#compile(s)
    const rows = this.#fill(c)
    for (const ix of s.indexes) this.#db.exec(createIndexSql(s, ix, TYPED_DB))
    return rows
  }

  #fill (c: Compiled): number {
    let n = 0
    for (const [key, fields] of this.#rows.rows(c.schema.collection)) {
      c.upsert.run(key, ...this.#values(c, fields))
      n++
    }
    return n
  }

  #values (c: Compiled, fields: ReadonlyArray<Parameters<typeof columnValue>[1] & object>): unknown[] {
    const byName = new Map(fields.map(f => [f.name, f]))
    return c.schema.fields.map(f => columnValue(f.type, byName.get(f.name)))
  }

  /** True when at least one collection is declared. */
  get active (): boolean { return this.#byCollection.size > 0 }

  /**
   * The apply hook: refreshes, once each, the rows of declared collections
   * that `ops` touched. Must run inside the transaction that applied them,
   * after the state tables were written.
   */
  afterApply (ops: readonly Op[]): void {
    if (this.#byCollection.size === 0) return
    let touched: Map<Compiled, Set<string>> | undefined
    let lastCollection: string | undefined
    let lastKeys: Set<string> | undefined
    for (const op of ops) {
      if (op.collection === lastCollection) { lastKeys?.add(op.key); continue }
      lastCollection = op.collection
      const c = this.#byCollection.get(op.collection)
      if (c === undefined) { lastKeys = undefined; continue }
      touched ??= new Map()
      lastKeys = touched.get(c)
      if (lastKeys === undefined) touched.set(c, lastKeys = new Set())
      lastKeys.add(op.key)
    }
    if (touched === undefined) return
    for (const [c, keys] of touched) {
      let values: unknown[] = []
      let rows = 0
      for (const [key, read] of c.reader.read([...keys])) {
        if (!read.visible) { c.remove.run(key); continue }
        values.push(key, ...read.values)
        if (++rows === UPSERT_CHUNK_ROWS) { c.upsertMany.run(values); values = []; rows = 0 }
      }
      if (rows > 0) {
        const width = c.schema.fields.length + 1
        for (let i = 0; i < values.length; i += width) c.upsert.run(values.slice(i, i + width))
      }
    }
    this.#bumpEpoch()
  }

  /** Declares (or changes) a collection's schema; see `DeclareResult`. Runs its own transaction. */
  declare (collection: string, schema: CollectionSchema): DeclareResult {
    if (collection.startsWith(RESERVED_PREFIX)) throw new SchemaError(collection, [`collections starting with ${RESERVED_PREFIX} are weft's own and cannot be declared`])
    const next = resolveSchema(collection, schema)
    const current = this.#byCollection.get(collection)?.schema
    if (current === undefined && this.#byCollection.size >= MAX_DECLARED_COLLECTIONS) throw new SchemaError(collection, [`${MAX_DECLARED_COLLECTIONS} collections are declared already, the most one replica keeps tables for`])
    for (const other of this.#byCollection.values()) {
      if (other.schema.collection !== collection && other.schema.table.toLowerCase() === next.table.toLowerCase()) {
        throw new SchemaError(collection, [`table ${JSON.stringify(next.table)} is already the table of collection ${JSON.stringify(other.schema.collection)}`])
      }
    }
    const change = current === undefined ? undefined : schemaChange(current, next)
    if (change !== undefined && change.kind !== 'same' && current!.version === next.version) {
      throw new SchemaError(collection, [`the schema changed but its version is still ${next.version}: give the changed schema a new version (peers see it in weft status)`])
    }
    if (change?.kind === 'same' && current!.version === next.version) return { collection, table: next.table, version: next.version, change: 'unchanged', rows: 0 }
    let rows = 0
    let stored = next
    const previous = this.#byCollection.get(collection)
    try {
      this.#db.transaction(() => {
        if (change === undefined || change.kind === 'rebuild') {
          if (current !== undefined) this.#db.exec(`DROP TABLE IF EXISTS ${TYPED_DB}.${quoteId(current.table)}`)
          rows = this.#build(next)
        } else if (change.kind === 'extend') {
          // Columns keep their order in the table: the old ones, then the new.
          stored = { ...next, fields: [...current!.fields, ...change.addFields] }
          for (const ix of change.dropIndexes) this.#db.exec(`DROP INDEX IF EXISTS ${TYPED_DB}.${quoteId(ix.name)}`)
          for (const f of change.addFields) this.#db.exec(`ALTER TABLE ${TYPED_DB}.${quoteId(next.table)} ADD COLUMN ${quoteId(f.column)} ${COLUMN_TYPES[f.type]}`)
          const c = this.#compile(stored)
          // Ops for the new fields were merged all along: fill them in from the merged state.
          if (change.addFields.length > 0) rows = this.#fill(c)
          for (const ix of change.addIndexes) this.#db.exec(createIndexSql(stored, ix, TYPED_DB))
        } else {
          stored = { ...next, fields: current!.fields } // a new version of the same table
        }
        this.#saveSchema.run(collection, stored.table, stored.version, schemaToJson(stored))
        this.#bumpEpoch()
      })()
    } catch (err) {
      // Rolled back: the old table (if any) is back, so are its statements.
      if (previous === undefined) this.#byCollection.delete(collection)
      else this.#compile(previous.schema)
      throw err
    }
    this.#compile(stored)
    const kind = change === undefined ? 'created' : change.kind === 'rebuild' ? 'rebuilt' : change.kind === 'extend' ? 'extended' : 'unchanged'
    this.#notify(current !== undefined && current.table !== next.table ? [current.table, next.table] : [next.table])
    return { collection, table: next.table, version: next.version, change: kind, rows }
  }

  /** Forgets a collection's schema and drops its table; the data stays in the merged state. */
  drop (collection: string): boolean {
    const c = this.#byCollection.get(collection)
    if (c === undefined) return false
    this.#db.transaction(() => {
      this.#db.exec(`DROP TABLE IF EXISTS ${TYPED_DB}.${quoteId(c.schema.table)}`)
      this.#deleteSchema.run(collection)
      this.#bumpEpoch()
    })()
    this.#byCollection.delete(collection)
    this.#notify([c.schema.table])
    return true
  }

  /** Rebuilds tables from the merged state (one collection, or all): the recovery path. Returns the rows written. */
  rebuild (collection?: string): number {
    const targets = collection === undefined ? [...this.#byCollection.values()] : [this.#byCollection.get(collection)].filter(c => c !== undefined)
    if (collection !== undefined && targets.length === 0) throw new SchemaError(collection, ['no schema is declared for this collection'])
    let rows = 0
    this.#db.transaction(() => {
      for (const c of targets) {
        this.#db.exec(`DROP TABLE IF EXISTS ${TYPED_DB}.${quoteId(c.schema.table)}`)
        rows += this.#build(c.schema)
      }
      this.#bumpEpoch()
    })()
    this.#notify(targets.map(c => c.schema.table))
    return rows
  }

  list (): SchemaInfo[] {
    return [...this.#byCollection.values()]
      .map(c => ({ collection: c.schema.collection, table: c.schema.table, version: c.schema.version, schema: toDeclaration(c.schema) }))
      .sort((a, b) => a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0)
  }

  /** Rows in a declared table (a full count: O(rows)). */
  count (collection: string): number {
    const c = this.#byCollection.get(collection)
    if (c === undefined) return 0
    return this.#db.prepare(`SELECT count(*) FROM ${TYPED_DB}.${quoteId(c.schema.table)}`).pluck().get() as number
  }

  /** collection -> schema version, for the sync Hello. */
  versions (): Map<string, number> {
    return new Map([...this.#byCollection.values()].map(c => [c.schema.collection, c.schema.version]))
  }

  /** The table of a declared collection. */
  tableOf (collection: string): string | undefined { return this.#byCollection.get(collection)?.schema.table }

  /** Called after a declare, drop or rebuild commits, with the tables whose content changed. */
  onTablesChanged (listener: TablesChangedListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #notify (tables: readonly string[]): void {
    for (const l of this.#listeners) {
      try { l(tables) } catch {}
    }
  }
}
