/**
 * Materialized state in SQL: the merge rules of `src/merge` as guarded
 * upserts, and the reads that serve `get`, `list` and `digest`.
 *
 * Each applier runs once per newly inserted op (the oplog insert decides
 * that), so counters never double-count and replays are harmless.
 */
import { combineFields, StateDigest, type MaterializedField, type MaterializedRow } from '../merge/digest.js'
import { decodeValue } from '../oplog/value.js'
import { stampOf, type Op } from '../oplog/op.js'
import type { Db, Statement } from './sqlite.js'

export class StateTables {
  readonly #setRegister: Statement
  readonly #setTomb: Statement
  readonly #getTomb: Statement
  readonly #recountRow: Statement
  readonly #insertInc: Statement
  readonly #bumpCounter: Statement
  readonly #insertAdd: Statement
  readonly #insertRemoved: Statement
  readonly #rowRegisters: Statement
  readonly #rowCounters: Statement
  readonly #rowSets: Statement
  readonly #visibleAdds: Statement
  readonly #listKeys: Statement
  readonly #allKeys: Statement
  readonly #collections: Statement

  constructor (db: Db) {
    this.#setRegister = db.prepare(`INSERT INTO registers (collection, key, field, stamp, value) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (collection, key, field) DO UPDATE SET stamp = excluded.stamp, value = excluded.value WHERE excluded.stamp > registers.stamp`)
    this.#setTomb = db.prepare(`INSERT INTO tombstones (collection, key, stamp) VALUES (?, ?, ?)
      ON CONFLICT (collection, key) DO UPDATE SET stamp = excluded.stamp WHERE excluded.stamp > tombstones.stamp`)
    this.#getTomb = db.prepare('SELECT stamp FROM tombstones WHERE collection = ? AND key = ?').pluck()
    this.#recountRow = db.prepare(`UPDATE counters SET
        total = (SELECT coalesce(sum(i.amount), 0) FROM increments i WHERE i.collection = counters.collection AND i.key = counters.key AND i.field = counters.field AND i.stamp > :tomb),
        live = (SELECT count(*) FROM increments i WHERE i.collection = counters.collection AND i.key = counters.key AND i.field = counters.field AND i.stamp > :tomb)
      WHERE collection = :collection AND key = :key`)
    this.#insertInc = db.prepare('INSERT OR IGNORE INTO increments (collection, key, field, stamp, amount) VALUES (?, ?, ?, ?, ?)')
    this.#bumpCounter = db.prepare(`INSERT INTO counters (collection, key, field, total, live) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT (collection, key, field) DO UPDATE SET total = total + excluded.total, live = live + 1`)
    this.#insertAdd = db.prepare('INSERT OR IGNORE INTO set_adds (collection, key, field, element, stamp) VALUES (?, ?, ?, ?, ?)')
    this.#insertRemoved = db.prepare('INSERT OR IGNORE INTO set_removed (stamp) VALUES (?)')
    this.#rowRegisters = db.prepare(`SELECT r.field, r.value FROM registers r
      LEFT JOIN tombstones t ON t.collection = r.collection AND t.key = r.key
      WHERE r.collection = ? AND r.key = ? AND (t.stamp IS NULL OR r.stamp > t.stamp)`).raw()
    this.#rowCounters = db.prepare('SELECT field, total FROM counters WHERE collection = ? AND key = ? AND live > 0').raw()
    this.#rowSets = db.prepare(`SELECT a.field, a.element FROM set_adds a
      LEFT JOIN tombstones t ON t.collection = a.collection AND t.key = a.key
      WHERE a.collection = ? AND a.key = ? AND (t.stamp IS NULL OR a.stamp > t.stamp)
        AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp)
      GROUP BY a.field, a.element`).raw()
    this.#visibleAdds = db.prepare(`SELECT a.stamp FROM set_adds a
      LEFT JOIN tombstones t ON t.collection = a.collection AND t.key = a.key
      WHERE a.collection = ? AND a.key = ? AND a.field = ? AND a.element = ? AND (t.stamp IS NULL OR a.stamp > t.stamp)
        AND NOT EXISTS (SELECT 1 FROM set_removed x WHERE x.stamp = a.stamp)`).pluck()
    const keysOf = (table: string): string => `SELECT key FROM ${table} WHERE collection = :collection AND key > :after`
    this.#listKeys = db.prepare(`SELECT key FROM (${keysOf('registers')} UNION ${keysOf('counters')} UNION ${keysOf('set_adds')}) ORDER BY key LIMIT :limit`).pluck()
    const pairsOf = (table: string): string => `SELECT collection, key FROM ${table} WHERE collection > :c OR (collection = :c AND key > :k)`
    this.#allKeys = db.prepare(`${pairsOf('registers')} UNION ${pairsOf('counters')} UNION ${pairsOf('set_adds')} ORDER BY 1, 2 LIMIT :limit`).raw()
    this.#collections = db.prepare('SELECT collection FROM registers UNION SELECT collection FROM counters UNION SELECT collection FROM set_adds ORDER BY 1').pluck()
  }

  /** Applies one op that was just inserted into the oplog. Must run inside the caller's transaction. */
  apply (op: Op): void {
    const stamp = stampOf(op)
    switch (op.kind) {
      case 'set':
        this.#setRegister.run(op.collection, op.key, op.field, stamp, op.value)
        break
      case 'delete': {
        const changed = this.#setTomb.run(op.collection, op.key, stamp).changes > 0
        if (changed) this.#recountRow.run({ tomb: stamp, collection: op.collection, key: op.key })
        break
      }
      case 'increment': {
        const amount = decodeValue(op.value) as number
        if (this.#insertInc.run(op.collection, op.key, op.field, stamp, amount).changes === 0) break
        const tomb = this.#getTomb.get(op.collection, op.key) as Uint8Array | undefined
        if (tomb === undefined || Buffer.compare(stamp, tomb) > 0) this.#bumpCounter.run(op.collection, op.key, op.field, amount)
        break
      }
      case 'add':
        this.#insertAdd.run(op.collection, op.key, op.field, op.value, stamp)
        break
      case 'remove':
        for (const t of op.tags) this.#insertRemoved.run(t)
        break
    }
  }

  /**
   * Applies a batch of newly inserted ops. Same result as `apply` on each in
   * any order (the rules commute); sets to one field within the batch are
   * first reduced to their winner, so a history that rewrote a field many
   * times costs one upsert per field, not one per write.
   */
  applyMany (ops: readonly Op[]): void {
    const winners = new Map<string, { op: Op, stamp: Uint8Array }>()
    for (const op of ops) {
      if (op.kind !== 'set') { this.apply(op); continue }
      const id = `${op.collection}\u0000${op.key}\u0000${op.field}`
      const stamp = stampOf(op)
      const cur = winners.get(id)
      if (cur === undefined || Buffer.compare(stamp, cur.stamp) > 0) winners.set(id, { op, stamp })
    }
    for (const { op, stamp } of winners.values()) this.#setRegister.run(op.collection, op.key, op.field, stamp, op.value)
  }

  /** Stamps of the visible adds of `element`: what a local remove must cancel. */
  observedAdds (collection: string, key: string, field: string, element: Uint8Array): Uint8Array[] {
    return this.#visibleAdds.all(collection, key, field, element) as Uint8Array[]
  }

  row (collection: string, key: string): MaterializedField[] {
    const registers = this.#rowRegisters.all(collection, key) as Array<[string, Uint8Array]>
    const counters = this.#rowCounters.all(collection, key) as Array<[string, number]>
    const sets = new Map<string, Uint8Array[]>()
    for (const [field, element] of this.#rowSets.all(collection, key) as Array<[string, Uint8Array]>) {
      const list = sets.get(field)
      if (list === undefined) sets.set(field, [element])
      else list.push(element)
    }
    return combineFields(registers, counters, sets)
  }

  /** Keys of `collection` after `after`, in order, with at least one visible field. */
  keys (collection: string, after: string, limit: number): string[] {
    const out: string[] = []
    let cursor = after
    while (out.length < limit) {
      const batch = this.#listKeys.all({ collection, after: cursor, limit: limit - out.length }) as string[]
      if (batch.length === 0) break
      for (const key of batch) if (this.row(collection, key).length > 0) out.push(key)
      cursor = batch[batch.length - 1]!
    }
    return out
  }

  /** Collections with at least one visible row. */
  collections (): string[] {
    // The tables also keep hidden contributions (a counter row zeroed by a
    // tombstone exists or not depending on arrival order), so check visibility.
    return (this.#collections.all() as string[]).filter(c => this.keys(c, '', 1).length > 0)
  }

  /** Visible rows in (collection, key) order, read in pages of keys. */
  * rows (collection?: string): Generator<MaterializedRow> {
    // better-sqlite3 cannot run a statement while another one is iterating,
    // so read keys a page at a time and materialize between pages.
    const page = 1000
    let after: [string, string] = ['', '']
    for (;;) {
      const keys = this.#allKeys.all({ c: after[0], k: after[1], limit: page }) as Array<[string, string]>
      for (const [c, key] of keys) {
        if (collection !== undefined && c !== collection) continue
        const fields = this.row(c, key)
        if (fields.length > 0) yield { collection: c, key, fields }
      }
      if (keys.length < page) return
      after = keys[keys.length - 1]!
    }
  }

  digest (collection?: string): string {
    const d = new StateDigest()
    for (const r of this.rows(collection)) d.add(r)
    return d.finish()
  }
}

export function fieldToValue (f: MaterializedField): unknown {
  if (f.kind === 'counter') return f.total ?? 0
  if (f.kind === 'set') return f.values.map(v => decodeValue(v))
  return decodeValue(f.values[0]!)
}
