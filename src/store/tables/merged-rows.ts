/**
 * Reads the merged rows a declared table is derived from, straight from the
 * state tables: one row by key (after a write) or every row of a collection
 * in key order, a page of keys at a time (to create or rebuild a table).
 *
 * Visibility is the same as `StateTables.row` (registers and set adds newer
 * than the row's tombstone, set adds not cancelled, counters with live
 * increments) and fields are combined by the same `combineFields`, so a
 * typed row and `get` cannot disagree; test/integration/typed-tables.test.ts
 * checks the two against each other on random histories.
 */
import { combineFields, type MaterializedField } from '../../merge/digest.js'
import type { Db, Statement } from '../sqlite.js'

/** Keys per page when reading a whole collection. */
const RANGE_PAGE_KEYS = 2000
/** Keys per query when reading the rows a write touched. */
const KEYS_PER_QUERY = 500

export class MergedRows {
  readonly #rangeKeys: Statement
  readonly #rangeRegisters: Statement
  readonly #rangeCounters: Statement
  readonly #rangeSets: Statement

  constructor (db: Db) {
    const keysOf = (table: string): string => `SELECT key FROM ${table} WHERE collection = :c AND key > :after`
    this.#rangeKeys = db.prepare(`SELECT key FROM (${keysOf('registers')} UNION ${keysOf('counters')} UNION ${keysOf('set_adds')}) ORDER BY key LIMIT :limit`).pluck()
    this.#rangeRegisters = db.prepare(`SELECT r.key, r.field, r.value FROM registers r
      LEFT JOIN tombstones t ON t.collection = r.collection AND t.key = r.key
      WHERE r.collection = :c AND r.key > :after AND r.key <= :last AND (t.stamp IS NULL OR r.stamp > t.stamp)`).raw()
    this.#rangeCounters = db.prepare('SELECT key, field, total FROM counters WHERE collection = :c AND key > :after AND key <= :last AND live > 0').raw()
    this.#rangeSets = db.prepare(`SELECT a.key, a.field, a.element FROM set_adds a
      LEFT JOIN tombstones t ON t.collection = a.collection AND t.key = a.key
      WHERE a.collection = :c AND a.key > :after AND a.key <= :last AND (t.stamp IS NULL OR a.stamp > t.stamp)
        AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp)
      GROUP BY a.key, a.field, a.element`).raw()
  }

  /** Every visible row of `collection`, in key order (SQLite's BINARY order), with all its fields. */
  *rows (collection: string): Generator<[string, MaterializedField[]]> {
    let after = ''
    for (;;) {
      const keys = this.#rangeKeys.all({ c: collection, after, limit: RANGE_PAGE_KEYS }) as string[]
      if (keys.length === 0) return
      const last = keys[keys.length - 1]!
      const range = { c: collection, after, last }
      const registers = groupByKey(this.#rangeRegisters.all(range) as Array<[string, string, Uint8Array]>)
      const counters = groupByKey(this.#rangeCounters.all(range) as Array<[string, string, number]>)
      const sets = groupByKey(this.#rangeSets.all(range) as Array<[string, string, Uint8Array]>)
      for (const key of keys) {
        const fields = combineFields(registers.get(key) ?? [], counters.get(key) ?? [], elementsOf(sets.get(key)))
        if (fields.length > 0) yield [key, fields]
      }
      if (keys.length < RANGE_PAGE_KEYS) return
      after = last
    }
  }
}

function elementsOf (pairs: Array<[string, Uint8Array]> | undefined): Map<string, Uint8Array[]> {
  const elements = new Map<string, Uint8Array[]>()
  for (const [field, element] of pairs ?? []) {
    const list = elements.get(field)
    if (list === undefined) elements.set(field, [element])
    else list.push(element)
  }
  return elements
}

function groupByKey<T> (rows: Array<[string, string, T]>): Map<string, Array<[string, T]>> {
  const out = new Map<string, Array<[string, T]>>()
  for (const [key, field, v] of rows) {
    const list = out.get(key)
    if (list === undefined) out.set(key, [[field, v]])
    else list.push([field, v])
  }
  return out
}

/** What `RowReader` returns per key: whether the row is visible, and one value per declared field (see below). */
export interface ReadRow { readonly visible: boolean, readonly values: unknown[] }

/**
 * Reads, for many keys of one collection in one statement, exactly what a
 * declared table needs: per declared field the register's encoded value (for
 * register types), the counter's total (counter: NULL when a register of that
 * name shadows it), or whether the set shows (set: 1 when neither a register
 * nor a live counter of that name shadows it); and whether the row is
 * visible at all. One result row per key and no field names to build makes
 * it several times cheaper than reading the whole row back.
 */
export class RowReader {
  readonly #many: Statement
  readonly #elements: Statement
  readonly #collection: string
  readonly #fieldParams: Record<string, string>

  constructor (db: Db, collection: string, fields: ReadonlyArray<{ readonly name: string, readonly type: string }>) {
    this.#collection = collection
    this.#fieldParams = Object.fromEntries(fields.map((f, i) => [`f${i}`, f.name]))
    const newer = (alias: string): string => `${alias}.collection = :c AND ${alias}.key = k.value AND ${alias}.stamp > coalesce(tb.stamp, x'')`
    const register = (i: number): string => `(SELECT r.value FROM registers r WHERE ${newer('r')} AND r.field = :f${i})`
    const hasRegister = (i: number): string => `EXISTS (SELECT 1 FROM registers r WHERE ${newer('r')} AND r.field = :f${i})`
    const liveCounter = (field: string): string => `(SELECT n.total FROM counters n WHERE n.collection = :c AND n.key = k.value AND n.field = ${field} AND n.live > 0)`
    const cols = fields.map((f, i) => {
      if (f.type === 'counter') return `CASE WHEN ${hasRegister(i)} THEN NULL ELSE ${liveCounter(`:f${i}`)} END`
      if (f.type === 'set') return `CASE WHEN ${hasRegister(i)} OR ${liveCounter(`:f${i}`)} IS NOT NULL THEN 0 ELSE 1 END`
      return register(i)
    })
    const visibleAdd = `EXISTS (SELECT 1 FROM set_adds a WHERE ${newer('a')} AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp))`
    this.#many = db.prepare(`SELECT k.value,
        EXISTS (SELECT 1 FROM registers r WHERE ${newer('r')})
          OR EXISTS (SELECT 1 FROM counters n WHERE n.collection = :c AND n.key = k.value AND n.live > 0)
          OR ${visibleAdd}${cols.map(c => `,\n        ${c}`).join('')}
      FROM json_each(:keys) k LEFT JOIN tombstones tb ON tb.collection = :c AND tb.key = k.value`).raw()
    this.#elements = db.prepare(`SELECT DISTINCT a.element FROM set_adds a
      LEFT JOIN tombstones t ON t.collection = a.collection AND t.key = a.key
      WHERE a.collection = ? AND a.key = ? AND a.field = ? AND (t.stamp IS NULL OR a.stamp > t.stamp)
        AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp)`).pluck()
  }

  read (keys: readonly string[]): Array<[string, ReadRow]> {
    const out: Array<[string, ReadRow]> = []
    for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
      const rows = this.#many.all({ c: this.#collection, keys: JSON.stringify(keys.slice(i, i + KEYS_PER_QUERY)), ...this.#fieldParams }) as unknown[][]
      for (const r of rows) out.push([r[0] as string, { visible: r[1] === 1, values: r.slice(2) }])
    }
    return out
  }

  /** The visible elements of a set field, in byte order (as `combineFields` orders them). */
  elements (key: string, field: string): Uint8Array[] {
    return (this.#elements.all(this.#collection, key, field) as Uint8Array[]).sort(Buffer.compare)
  }
}
