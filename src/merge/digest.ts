/**
 * A digest of visible state: SHA-256 over rows in (collection, key) order,
 * fields in name order, each field's materialized value canonically encoded.
 * Two replicas have equal digests iff their visible state is equal, whatever
 * order their ops arrived in. The SQL store and the reference model both
 * feed rows through this one function, so they cannot disagree on the format.
 */
import { createHash } from 'node:crypto'
import { ByteWriter } from '../oplog/bytes.js'

/** How a field's value was produced. */
export type FieldKind = 'register' | 'counter' | 'set'

export interface MaterializedField {
  readonly name: string
  readonly kind: FieldKind
  /** register: the encoded value; set: encoded elements in byte order; counter: unused. */
  readonly values: readonly Uint8Array[]
  /** counter total. */
  readonly total?: number
}

export interface MaterializedRow {
  readonly collection: string
  readonly key: string
  /** Sorted by name. */
  readonly fields: readonly MaterializedField[]
}

const KIND_TAG: Record<FieldKind, number> = { register: 1, counter: 2, set: 3 }

export class StateDigest {
  readonly #hash = createHash('sha256')
  #rows = 0

  add (row: MaterializedRow): void {
    if (row.fields.length === 0) return
    const w = new ByteWriter(128)
    w.string(row.collection).string(row.key).varint(row.fields.length)
    for (const f of row.fields) {
      w.string(f.name).u8(KIND_TAG[f.kind])
      if (f.kind === 'counter') w.string(String(f.total ?? 0))
      else {
        w.varint(f.values.length)
        for (const v of f.values) w.bytes(v)
      }
    }
    const bytes = w.finish()
    this.#hash.update(bytes)
    this.#rows++
  }

  get rows (): number { return this.#rows }

  finish (): string {
    return this.#hash.digest('hex')
  }
}

/**
 * Combines a row's visible contributions into its fields: one kind per name,
 * by the fixed precedence register > counter > set, sorted by name in UTF-8
 * byte order (SQLite's BINARY collation). Shared by the store and the model.
 */
export function combineFields (
  registers: Iterable<readonly [string, Uint8Array]>,
  counters: Iterable<readonly [string, number]>,
  sets: Iterable<readonly [string, readonly Uint8Array[]]>
): MaterializedField[] {
  const fields = new Map<string, MaterializedField>()
  for (const [name, values] of sets) if (values.length > 0) fields.set(name, { name, kind: 'set', values: [...values].sort(Buffer.compare) })
  for (const [name, total] of counters) fields.set(name, { name, kind: 'counter', values: [], total })
  for (const [name, value] of registers) fields.set(name, { name, kind: 'register', values: [value] })
  return [...fields.values()].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
}
