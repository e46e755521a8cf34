/**
 * Values a field can hold, and their canonical binary encoding.
 *
 * The encoding is produced once, by the origin, and then travels and is
 * stored as bytes: receivers never re-encode, so hashes and signatures stay
 * valid and set elements compare by bytes. JSON arrays and objects are opaque
 * values (stored as their JSON text, keys sorted so equal objects encode
 * equally); they are not merged field by field.
 */
import { isUtf8 } from 'node:buffer'
import { InvalidArgumentError, MalformedError } from '../errors.js'
import { ByteReader, ByteWriter } from './bytes.js'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type Value = null | boolean | number | string | Uint8Array | JsonValue[] | { [key: string]: JsonValue }

const enum Tag { Null = 0, False = 1, True = 2, Number = 3, String = 4, Bytes = 5, Json = 6 }

const MAX_JSON_DEPTH = 64
const LONE_SURROGATE = /\p{Cs}/u

function canonicalJson (v: unknown, depth: number, path: string): string {
  if (depth > MAX_JSON_DEPTH) throw new InvalidArgumentError(`value at ${path} nests deeper than ${MAX_JSON_DEPTH} levels`)
  if (v === null) return 'null'
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidArgumentError(`value at ${path} is ${v}; only finite numbers can be stored`)
      return JSON.stringify(Object.is(v, -0) ? 0 : v)
    case 'string': return JSON.stringify(v)
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map((x, i) => canonicalJson(x, depth + 1, `${path}[${i}]`)).join(',') + ']'
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) throw new InvalidArgumentError(`value at ${path} is a ${proto?.constructor?.name ?? 'non-plain'} object; only plain objects, arrays, strings, numbers, booleans, null and Uint8Array can be stored`)
      const keys = Object.keys(v as object).sort()
      return '{' + keys.map(k => JSON.stringify(k) + ':' + canonicalJson((v as Record<string, unknown>)[k], depth + 1, `${path}.${k}`)).join(',') + '}'
    }
    default:
      throw new InvalidArgumentError(`value at ${path} is of type ${typeof v}; only plain objects, arrays, strings, numbers, booleans, null and Uint8Array can be stored`)
  }
}

export function writeValue (w: ByteWriter, v: Value, path = 'value'): void {
  if (v === null) { w.u8(Tag.Null); return }
  if (v === false) { w.u8(Tag.False); return }
  if (v === true) { w.u8(Tag.True); return }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`${path} is ${v}; only finite numbers can be stored`)
    const at = w.u8(Tag.Number).reserve(8)
    new DataView(w.buffer.buffer, w.buffer.byteOffset).setFloat64(at, Object.is(v, -0) ? 0 : v, false)
    return
  }
  if (typeof v === 'string') {
    // UTF-8 cannot carry a lone surrogate: it would come back as U+FFFD.
    if (LONE_SURROGATE.test(v)) throw new InvalidArgumentError(`${path} is not well-formed Unicode (it holds a lone surrogate)`)
    w.u8(Tag.String).string(v)
    return
  }
  if (v instanceof Uint8Array) { w.u8(Tag.Bytes).bytes(v); return }
  if (typeof v === 'object') { w.u8(Tag.Json).string(canonicalJson(v, 0, path)); return }
  throw new InvalidArgumentError(`${path} is of type ${typeof v}; only plain objects, arrays, strings, numbers, booleans, null and Uint8Array can be stored`)
}

export function encodeValue (v: Value, path = 'value'): Uint8Array {
  const w = new ByteWriter(32)
  writeValue(w, v, path)
  return w.finish()
}

export function decodeValue (bytes: Uint8Array, max = Number.MAX_SAFE_INTEGER): Value {
  const r = new ByteReader(bytes, 'value')
  const tag = r.u8('tag')
  let v: Value
  switch (tag) {
    case Tag.Null: v = null; break
    case Tag.False: v = false; break
    case Tag.True: v = true; break
    case Tag.Number: {
      const b = r.raw(8, 'number')
      v = new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false)
      if (!Number.isFinite(v)) throw new MalformedError('value: number is not finite')
      if (Object.is(v, -0)) throw new MalformedError('value: -0 is not canonical (encode it as 0)')
      break
    }
    case Tag.String: v = r.string('string', max); break
    case Tag.Bytes: v = new Uint8Array(r.bytes('bytes', max)); break
    case Tag.Json: {
      const text = r.string('json', max)
      try { v = JSON.parse(text) as Value } catch { throw new MalformedError('value: JSON text does not parse') }
      if (v === null || typeof v !== 'object') throw new MalformedError('value: JSON tag holds a non-container')
      // One encoding per value: otherwise two devices' "equal" objects differ
      // as set elements, and a remove of one never cancels the other.
      let canonical: string
      try { canonical = canonicalJson(v, 0, 'value') } catch { throw new MalformedError('value: JSON value cannot be stored') }
      if (canonical !== text) throw new MalformedError('value: JSON text is not in canonical form (sorted keys, no spaces)')
      break
    }
    default: throw new MalformedError(`value: unknown tag ${tag}`)
  }
  r.end()
  return v
}

/**
 * Throws `MalformedError` unless `bytes` is a well-formed value encoding.
 * Cheaper than `decodeValue` on the hot path: strings are checked, not built.
 */
export function checkValue (bytes: Uint8Array): void {
  const tag = bytes[0]
  if (tag === Tag.Null || tag === Tag.False || tag === Tag.True) {
    if (bytes.length !== 1) throw new MalformedError('value: trailing bytes')
    return
  }
  if (tag === Tag.Number) {
    if (bytes.length !== 9) throw new MalformedError('value: a number is 8 bytes')
    const n = new DataView(bytes.buffer, bytes.byteOffset + 1, 8).getFloat64(0, false)
    if (!Number.isFinite(n)) throw new MalformedError('value: number is not finite')
    if (Object.is(n, -0)) throw new MalformedError('value: -0 is not canonical (encode it as 0)')
    return
  }
  if (tag === Tag.String || tag === Tag.Bytes) {
    const r = new ByteReader(bytes, 'value', 1)
    const b = r.bytes(tag === Tag.String ? 'string' : 'bytes', Number.MAX_SAFE_INTEGER)
    r.end()
    if (tag === Tag.String && !isUtf8(b)) throw new MalformedError('value: string is not valid UTF-8')
    return
  }
  decodeValue(bytes)
}

/** Checks that `bytes` is a well-formed value encoding. */
export function isValidValue (bytes: Uint8Array): boolean {
  try { checkValue(bytes); return true } catch { return false }
}
