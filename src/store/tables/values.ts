/**
 * Values between the merged state and typed columns, and back out of query
 * results. Pure.
 *
 * Each declared type reads the one kind of field it names: `counter` the
 * counter's total, `set` the set's elements, every other type the register's
 * value. A value of another kind or type (a number in a text field, a
 * register where a counter is declared: the merge's precedence register >
 * counter > set decides which one a field shows) reads as NULL in the table;
 * the merged state keeps it whole, `get` still returns it, and a schema that
 * declares the field with the right type shows it.
 */
import type { MaterializedField } from '../../merge/digest.js'
import { decodeValue } from '../../oplog/value.js'
import type { FieldType } from './schema.js'

export type SqlValue = null | number | bigint | string | Uint8Array

/**
 * JSON text of a stored value; bytes travel as `{ "$bytes": "<base64>" }`, as
 * on the control API (and BigInts, which only query results hold, as strings).
 */
export function jsonText (v: unknown): string {
  // The holder's own value: JSON.stringify hands the replacer a Buffer's toJSON() output, not the Buffer.
  return JSON.stringify(v, function (this: Record<string, unknown>, k: string, x: unknown) {
    const own = this[k]
    if (own instanceof Uint8Array) return { $bytes: Buffer.from(own.buffer, own.byteOffset, own.byteLength).toString('base64') }
    return typeof x === 'bigint' ? x.toString() : x
  })
}

/** Parses what `jsonText` wrote, turning `{ "$bytes": … }` back into bytes. */
export function parseJsonText (text: string): unknown {
  return JSON.parse(text, (_k, x: unknown) => {
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
      const keys = Object.keys(x)
      if (keys.length === 1 && keys[0] === '$bytes' && typeof (x as { $bytes: unknown }).$bytes === 'string') return new Uint8Array(Buffer.from((x as { $bytes: string }).$bytes, 'base64'))
    }
    return x
  })
}

/** The column value of a declared field, from the row's merged field of that name (undefined: the row has none). */
export function columnValue (type: FieldType, f: MaterializedField | undefined): SqlValue {
  if (f === undefined) return null
  if (type === 'counter') return f.kind === 'counter' ? (f.total ?? 0) : null
  if (type === 'set') return f.kind === 'set' ? setColumn(f.values) : null
  if (f.kind !== 'register') return null
  return registerColumn(type, decodeValue(f.values[0]!))
}

/** A register's decoded value in a column of a register type (text, integer, real, boolean, bytes, json). */
export function registerColumn (type: FieldType, v: unknown): SqlValue {
  if (v === null) return null
  switch (type) {
    case 'text': return typeof v === 'string' ? v : null
    case 'integer': return typeof v === 'number' && Number.isSafeInteger(v) ? v : null
    case 'real': return typeof v === 'number' ? v : null
    case 'boolean': return typeof v === 'boolean' ? (v ? 1 : 0) : null
    case 'bytes': return v instanceof Uint8Array ? v : null
    case 'json': return jsonText(v)
    default: return null
  }
}

/** Elements of a set as its column holds them: a JSON array in byte order, NULL when empty. */
export function setColumn (elements: readonly Uint8Array[]): SqlValue {
  return elements.length === 0 ? null : jsonText(elements.map(e => decodeValue(e)))
}

/**
 * What a result column holds, from the declared SQL type of the table column
 * it comes from (`COLUMN_TYPES`); undefined for expressions and plain types.
 */
export type ColumnDecoder = 'boolean' | 'json' | undefined

export function decoderFor (declaredType: string | null | undefined): ColumnDecoder {
  if (declaredType === 'BOOLEAN INTEGER') return 'boolean'
  if (declaredType === 'JSON TEXT' || declaredType === 'JSON_SET TEXT') return 'json'
  return undefined
}

/** A value out of SQLite, as the library returns it: safe integers as numbers, json and set columns parsed, booleans as booleans. */
export function resultValue (v: unknown, decoder: ColumnDecoder): unknown {
  if (typeof v === 'bigint') {
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) v = Number(v)
    else return v
  }
  if (v === null || decoder === undefined) return v
  if (decoder === 'boolean') return typeof v === 'number' ? v !== 0 : v
  if (typeof v !== 'string') return v
  try { return parseJsonText(v) } catch { return v }
}
