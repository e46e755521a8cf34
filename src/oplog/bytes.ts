/**
 * Minimal byte writer/reader for the canonical encodings. Unsigned LEB128
 * varints for lengths and sequence numbers; every read is bounds-checked and
 * throws `MalformedError`, so a truncated or hostile buffer never reads past
 * its end.
 */
import { isUtf8 } from 'node:buffer'
import { MalformedError } from '../errors.js'

const textEncoder = new TextEncoder()

export function utf8 (s: string): Uint8Array { return textEncoder.encode(s) }

export function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

export class ByteWriter {
  #buf: Uint8Array
  #pos = 0

  constructor (initial = 256) { this.#buf = new Uint8Array(initial) }

  #ensure (n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#pos))
    this.#buf = next
  }

  u8 (n: number): this { this.#ensure(1); this.#buf[this.#pos++] = n & 0xff; return this }

  varint (n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new MalformedError(`cannot encode ${n} as an unsigned varint`)
    this.#ensure(10)
    while (n >= 0x80) {
      this.#buf[this.#pos++] = (n % 128) | 0x80
      n = Math.floor(n / 128)
    }
    this.#buf[this.#pos++] = n
    return this
  }

  raw (bytes: Uint8Array): this { this.#ensure(bytes.length); this.#buf.set(bytes, this.#pos); this.#pos += bytes.length; return this }

  /** Length-prefixed bytes. */
  bytes (bytes: Uint8Array): this { return this.varint(bytes.length).raw(bytes) }

  /** Length-prefixed UTF-8. */
  string (s: string): this { return this.bytes(utf8(s)) }

  /** Reserves `n` bytes and returns their offset, for fields filled in place. */
  reserve (n: number): number { this.#ensure(n); const at = this.#pos; this.#pos += n; return at }

  get buffer (): Uint8Array { return this.#buf }

  finish (): Uint8Array { return this.#buf.slice(0, this.#pos) }
}

export class ByteReader {
  readonly #buf: Uint8Array
  #pos: number
  readonly #what: string

  constructor (buf: Uint8Array, what: string, offset = 0) { this.#buf = buf; this.#pos = offset; this.#what = what }

  get offset (): number { return this.#pos }
  get remaining (): number { return this.#buf.length - this.#pos }

  #need (n: number, field: string): void {
    if (this.#pos + n > this.#buf.length) throw new MalformedError(`${this.#what}: truncated while reading ${field}`)
  }

  u8 (field: string): number { this.#need(1, field); return this.#buf[this.#pos++]! }

  varint (field: string): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      this.#need(1, field)
      const b = this.#buf[this.#pos++]!
      result += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new MalformedError(`${this.#what}: non-minimal varint in ${field}`)
        if (!Number.isSafeInteger(result)) throw new MalformedError(`${this.#what}: ${field} is out of range`)
        return result
      }
      scale *= 128
    }
    throw new MalformedError(`${this.#what}: varint too long in ${field}`)
  }

  raw (n: number, field: string): Uint8Array {
    this.#need(n, field)
    const out = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  bytes (field: string, max: number): Uint8Array {
    const len = this.varint(field)
    if (len > max) throw new MalformedError(`${this.#what}: ${field} is ${len} bytes, over the ${max}-byte limit`)
    return this.raw(len, field)
  }

  string (field: string, max: number): string {
    const b = this.bytes(field, max)
    const ascii = shortAscii(b)
    if (ascii !== undefined) return ascii
    // isUtf8 plus Buffer's decoder is several times faster than a fatal
    // TextDecoder on the short strings ops are made of.
    if (!isUtf8(b)) throw new MalformedError(`${this.#what}: ${field} is not valid UTF-8`)
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
  }

  end (): void {
    if (this.#pos !== this.#buf.length) throw new MalformedError(`${this.#what}: ${this.#buf.length - this.#pos} trailing bytes`)
  }
}

/** Longest string decoded by `shortAscii`; longer ones go to the native decoder, which wins there. */
const SHORT_ASCII_BYTES = 32

/**
 * The string of `b` if it is short and all ASCII (valid UTF-8 that decodes
 * byte for byte), else undefined. Collection, key and field names mostly
 * are; this skips the three native calls of the general path, which cost
 * more than the decoding itself on a few bytes.
 */
function shortAscii (b: Uint8Array): string | undefined {
  const n = b.length
  if (n > SHORT_ASCII_BYTES) return undefined
  for (let i = 0; i < n; i++) if (b[i]! > 0x7f) return undefined
  return String.fromCharCode.apply(null, b as unknown as number[])
}

export function toHex (b: Uint8Array): string { return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') }

export function fromHex (s: string): Uint8Array { return new Uint8Array(Buffer.from(s, 'hex')) }

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
