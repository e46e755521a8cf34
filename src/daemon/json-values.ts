/**
 * Values over JSON: everything maps to itself except bytes, which JSON cannot
 * hold; they travel as `{ "$bytes": "<base64>" }` both ways.
 *
 * Incoming base64 is checked strictly (RFC 4648 §4, standard alphabet, with
 * padding): Node's decoder skips characters it does not know, so a typo would
 * otherwise be stored as other bytes than the ones the app meant.
 */
import { InvalidArgumentError } from '../errors.js'
import type { Value } from '../oplog/value.js'

/** A value or row as JSON: bytes as `{ "$bytes": "<base64>" }`. */
export function toJson (v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') }
  if (Array.isArray(v)) return v.map(toJson)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
  return v
}

/** Decodes one `$bytes` string, refusing anything that is not canonical base64 (what `toJson` sends). */
export function decodeBase64 (s: string, path: string): Uint8Array {
  const bytes = Buffer.from(s, 'base64')
  // Re-encoding gives back the input only if every character was in the
  // alphabet, the padding was right and no stray bits were set.
  if (bytes.toString('base64') !== s) {
    const bad = /[^A-Za-z0-9+/=]/.exec(s)
    const why = bad !== null
      ? `${JSON.stringify(bad[0])} at position ${bad.index + 1} is not a base64 character`
      : s.length % 4 !== 0 ? `its length ${s.length} is not a multiple of 4 (is the = padding missing?)` : 'its padding or last character is wrong'
    throw new InvalidArgumentError(`${path}.$bytes is not valid base64 (RFC 4648 §4, with padding): ${why}`)
  }
  return new Uint8Array(bytes)
}

/**
 * JSON from a request to a value. `path` names where the value sits in the
 * request (`fields.photo`), for error messages.
 */
export function fromJson (v: unknown, path = 'value'): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === '$bytes') {
      const b64 = (v as { $bytes: unknown }).$bytes
      if (typeof b64 !== 'string') throw new InvalidArgumentError(`${path}.$bytes must be a base64 string, got ${b64 === null ? 'null' : Array.isArray(b64) ? 'an array' : typeof b64}`)
      return decodeBase64(b64, path)
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJson(x, `${path}.${k}`)]))
  }
  if (Array.isArray(v)) return v.map((x, i) => fromJson(x, `${path}[${i}]`))
  return v
}

/**
 * JSON from a request as the value the store takes, `$bytes` decoded. The
 * store checks every value it writes, nested ones included (finite numbers,
 * well-formed strings, plain objects, depth: oplog/value.ts) and names the
 * path in its errors, so the type is given here rather than checked twice.
 */
export function valueFromJson (v: unknown, path = 'value'): Value {
  return fromJson(v, path) as Value
}

/** The fields of a put, `$bytes` decoded: an object of values (checked by the store as above), or undefined when it is not an object. */
export function fieldsFromJson (v: unknown, path = 'fields'): Record<string, Value> | undefined {
  const fields = fromJson(v, path)
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields) || fields instanceof Uint8Array) return undefined
  return fields as Record<string, Value>
}
