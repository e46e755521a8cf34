/**
 * The merge rules of weft, as a pure reference model.
 *
 * The SQL store implements the same rules with guarded upserts; property
 * tests run random op histories through both and require identical state.
 * The rules (all commutative, associative and idempotent per op, so replicas
 * that hold the same set of ops hold the same state):
 *
 * - set: last-writer-wins per (collection, key, field), ordered by stamp
 *   (HLC, then origin public key bytes).
 * - delete: a row tombstone at the op's stamp; the newest tombstone hides
 *   every contribution to the row stamped before it (register values,
 *   counter increments, set adds). Writes stamped after it revive the row
 *   with just those writes.
 * - increment: a PN-counter; the value is the sum of increments stamped after
 *   the row's tombstone. A counter with no such increment is absent.
 * - add / remove: an add-wins observed-remove set. Each add is tagged by its
 *   stamp; a remove carries the tags of the adds it observed and cancels only
 *   those, so an add concurrent with a remove survives. An element is present
 *   while some add of it after the tombstone is not cancelled; a set field
 *   with no present element is absent.
 * - A field name used with several kinds shows one, by fixed precedence
 *   register > counter > set (deterministic on every replica).
 */
import { compareBytes, toHex } from '../oplog/bytes.js'
import { stampOf, type Op } from '../oplog/op.js'
import { decodeValue } from '../oplog/value.js'
import type { MaterializedField, MaterializedRow } from './digest.js'
import { StateDigest, combineFields } from './digest.js'

interface ModelRow {
  tomb: Uint8Array | undefined
  registers: Map<string, { stamp: Uint8Array, value: Uint8Array }>
  increments: Map<string, Array<{ stamp: Uint8Array, amount: number }>>
  adds: Map<string, Array<{ element: Uint8Array, stamp: Uint8Array }>>
}

const after = (stamp: Uint8Array, tomb: Uint8Array | undefined): boolean => tomb === undefined || compareBytes(stamp, tomb) > 0

export class MergeModel {
  readonly #rows = new Map<string, ModelRow>()
  readonly #removed = new Set<string>()
  readonly #seen = new Set<string>()

  #row (collection: string, key: string): ModelRow {
    const k = JSON.stringify([collection, key])
    let row = this.#rows.get(k)
    if (row === undefined) {
      row = { tomb: undefined, registers: new Map(), increments: new Map(), adds: new Map() }
      this.#rows.set(k, row)
    }
    return row
  }

  /** Applies one (already verified) op. Applying the same op twice is a no-op. */
  apply (op: Op): void {
    const id = toHex(op.hash)
    if (this.#seen.has(id)) return
    this.#seen.add(id)
    const stamp = stampOf(op)
    const row = this.#row(op.collection, op.key)
    switch (op.kind) {
      case 'set': {
        const cur = row.registers.get(op.field)
        if (cur === undefined || compareBytes(stamp, cur.stamp) > 0) row.registers.set(op.field, { stamp, value: op.value })
        break
      }
      case 'delete':
        if (row.tomb === undefined || compareBytes(stamp, row.tomb) > 0) row.tomb = stamp
        break
      case 'increment': {
        const list = row.increments.get(op.field) ?? []
        list.push({ stamp, amount: decodeValue(op.value) as number })
        row.increments.set(op.field, list)
        break
      }
      case 'add': {
        const list = row.adds.get(op.field) ?? []
        list.push({ element: op.value, stamp })
        row.adds.set(op.field, list)
        break
      }
      case 'remove':
        for (const t of op.tags) this.#removed.add(toHex(t))
        break
    }
  }

  #materialize (row: ModelRow): MaterializedField[] {
    const sets: Array<[string, Uint8Array[]]> = []
    for (const [name, list] of row.adds) {
      const present = new Map<string, Uint8Array>()
      for (const a of list) {
        if (after(a.stamp, row.tomb) && !this.#removed.has(toHex(a.stamp))) present.set(toHex(a.element), a.element)
      }
      sets.push([name, [...present.values()]])
    }
    const counters: Array<[string, number]> = []
    for (const [name, list] of row.increments) {
      const live = list.filter(i => after(i.stamp, row.tomb))
      if (live.length > 0) counters.push([name, live.reduce((s, i) => s + i.amount, 0)])
    }
    const registers: Array<[string, Uint8Array]> = []
    for (const [name, reg] of row.registers) if (after(reg.stamp, row.tomb)) registers.push([name, reg.value])
    return combineFields(registers, counters, sets)
  }

  rows (): MaterializedRow[] {
    const out: MaterializedRow[] = []
    for (const [k, row] of this.#rows) {
      const [collection, key] = JSON.parse(k) as [string, string]
      const fields = this.#materialize(row)
      if (fields.length > 0) out.push({ collection, key, fields })
    }
    return out.sort((a, b) => cmpStr(a.collection, b.collection) || cmpStr(a.key, b.key))
  }

  digest (): string {
    const d = new StateDigest()
    for (const r of this.rows()) d.add(r)
    return d.finish()
  }
}

/** Code-unit order is not SQLite's BINARY (UTF-8 byte) order for astral characters; compare by UTF-8 bytes. */
export function cmpStr (a: string, b: string): number {
  if (a === b) return 0
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
