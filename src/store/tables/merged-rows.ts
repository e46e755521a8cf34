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
import { decodeValue } from '../../oplog/value.js'
import type { Db, Statement } from '../sqlite.js'
import type { FieldType } from './schema.js'
import { registerColumn, setColumn, type SqlValue } from './values.js'

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
  * rows (collection: string): Generator<[string, MaterializedField[]]> {
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

/** What `RowReader` returns per key: whether the row is visible, and its column values in field order. */
export interface ReadRow { readonly visible: boolean, readonly values: SqlValue[] }

/** Value tags of the canonical encoding (src/oplog/value.ts) that SQL looks at. */
const TAG_FALSE = "x'01'"
const TAG_TRUE = "x'02'"
const TAG_NUMBER = "x'03'"
const TAG_STRING = "x'04'"
const TAG_BYTES = "x'05'"

/**
 * Reads, for many keys of one collection in one statement, exactly the
 * column values of a declared table: one result row per key, most values
 * already in their column's form. Each declared field is a LEFT JOIN on its
 * register (visible: newer than the row's tombstone), so a text, boolean or
 * bytes column comes out of SQL ready (the encoding's tag checked and the
 * payload cut out past its length varint), a number as its 9 encoded bytes,
 * a counter as its total unless a register shadows it, a set as a flag (its
 * elements are read only then). Whether the row is visible at all is
 * checked only for rows with no visible declared register.
 *
 * This reads the state tables directly, as `rows` does through
 * `combineFields`; the property test in test/integration/typed-tables.test.ts
 * holds both (incremental and rebuilt tables) to the pure merge model.
 */
export class RowReader {
  readonly #many: Statement
  readonly #elementsOf: Statement
  readonly #collection: string
  readonly #fields: ReadonlyArray<{ readonly name: string, readonly type: FieldType }>
  readonly #params: Record<string, string>

  constructor (db: Db, collection: string, fields: ReadonlyArray<{ readonly name: string, readonly type: FieldType }>) {
    this.#collection = collection
    this.#fields = fields
    this.#params = Object.fromEntries(fields.map((f, i) => [`f${i}`, f.name]))
    const newer = (alias: string): string => `${alias}.collection = :c AND ${alias}.key = k.value AND ${alias}.stamp > coalesce(tb.stamp, x'')`
    const joins = fields.map((_, i) => `LEFT JOIN registers r${i} ON ${newer(`r${i}`)} AND r${i}.field = :f${i}`)
    const liveCounter = (i: number): string => `(SELECT n.total FROM counters n WHERE n.collection = :c AND n.key = k.value AND n.field = :f${i} AND n.live > 0)`
    // Where a string's or bytes' payload starts: after the tag and a 1- to 4-byte length varint (values are at most 16 MiB).
    const payload = (v: string): string => `substr(${v}, CASE WHEN hex(substr(${v}, 2, 1)) < '80' THEN 3 WHEN hex(substr(${v}, 3, 1)) < '80' THEN 4 WHEN hex(substr(${v}, 4, 1)) < '80' THEN 5 ELSE 6 END)`
    const tag = (v: string): string => `substr(${v}, 1, 1)`
    // eslint-disable-next-line array-callback-return -- the switch covers every field type: with the `string` return type tsc rejects a missing case
    const cols = fields.map((f, i): string => {
      const v = `r${i}.value`
      switch (f.type) {
        case 'text': return `CASE WHEN ${tag(v)} = ${TAG_STRING} THEN CAST(${payload(v)} AS TEXT) END`
        case 'bytes': return `CASE WHEN ${tag(v)} = ${TAG_BYTES} THEN ${payload(v)} END`
        case 'boolean': return `CASE ${tag(v)} WHEN ${TAG_TRUE} THEN 1 WHEN ${TAG_FALSE} THEN 0 END`
        case 'integer': case 'real': return `CASE WHEN ${tag(v)} = ${TAG_NUMBER} THEN ${v} END`
        case 'json': return v
        case 'counter': return `CASE WHEN r${i}.key IS NULL THEN ${liveCounter(i)} END`
        case 'set': return `CASE WHEN r${i}.key IS NULL AND ${liveCounter(i)} IS NULL THEN 1 ELSE 0 END`
      }
    })
    const anyDeclared = fields.length === 0 ? '0' : fields.map((_, i) => `r${i}.key IS NOT NULL`).join(' OR ')
    // CASE, not OR: its branches run only as far as needed.
    const visible = `CASE WHEN ${anyDeclared} THEN 1
        WHEN EXISTS (SELECT 1 FROM registers r WHERE ${newer('r')}) THEN 1
        WHEN EXISTS (SELECT 1 FROM counters n WHERE n.collection = :c AND n.key = k.value AND n.live > 0) THEN 1
        WHEN EXISTS (SELECT 1 FROM set_adds a WHERE ${newer('a')} AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp)) THEN 1
        ELSE 0 END`
    this.#many = db.prepare(`SELECT k.value, ${visible}${cols.map(c => `,\n        ${c}`).join('')}
      FROM json_each(:keys) k LEFT JOIN tombstones tb ON tb.collection = :c AND tb.key = k.value
      ${joins.join('\n      ')}`).raw()
    this.#elementsOf = db.prepare(`SELECT DISTINCT a.element FROM set_adds a
      LEFT JOIN tombstones t ON t.collection = a.collection AND t.key = a.key
      WHERE a.collection = ? AND a.key = ? AND a.field = ? AND (t.stamp IS NULL OR a.stamp > t.stamp)
        AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp)`).pluck()
  }

  read (keys: readonly string[]): Array<[string, ReadRow]> {
    const out: Array<[string, ReadRow]> = []
    const fields = this.#fields
    for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
      const rows = this.#many.all({ c: this.#collection, keys: JSON.stringify(keys.slice(i, i + KEYS_PER_QUERY)), ...this.#params }) as unknown[][]
      for (const r of rows) {
        const key = r[0] as string
        const values = new Array<SqlValue>(fields.length)
        for (let j = 0; j < fields.length; j++) {
          const f = fields[j]!
          const v = r[j + 2]
          if (v === null) { values[j] = null; continue }
          switch (f.type) {
            case 'integer': { const n = (v as Buffer).readDoubleBE(1); values[j] = Number.isSafeInteger(n) ? n : null; break }
            case 'real': values[j] = (v as Buffer).readDoubleBE(1); break
            case 'json': values[j] = registerColumn('json', decodeValue(v as Uint8Array)); break
            case 'set': values[j] = v === 1 ? setColumn(this.#elements(key, f.name)) : null; break
            default: values[j] = v as SqlValue
          }
        }
        out.push([key, { visible: r[1] === 1, values }])
      }
    }
    return out
  }

  /** The visible elements of a set field, in byte order (as `combineFields` orders them). */
  #elements (key: string, field: string): Uint8Array[] {
    return (this.#elementsOf.all(this.#collection, key, field) as Uint8Array[]).sort(Buffer.compare)
  }
}
