/**
 * Where a page leaves the requester, read from the op bodies themselves.
 *
 * To keep a server busy while the requester applies a page, the requester
 * asks for the next page before applying this one. It needs the vector "after
 * this page" for that, so it reads each body's origin and seq: the first
 * fields of the canonical encoding (format version byte, 32-byte origin key,
 * varint seq; see `oplog/op.ts`). Nothing else of the body is touched, and
 * nothing here is trusted: the store still verifies every op, and a page the
 * store refuses any of turns pipelining off for the rest of the session.
 */
import { deviceIdToString, PUBLIC_KEY_BYTES } from '../oplog/keys.js'
import { OP_FORMAT_VERSION, type EncodedOp } from '../oplog/op.js'
import type { VersionVector } from './port.js'

/** Version byte, origin key, and at least one varint byte. */
const HEADER_MIN_BYTES = 1 + PUBLIC_KEY_BYTES + 1

/** memcmp through a Buffer view (no copy): ops of one origin come in runs, so this is mostly equal keys. */
function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/**
 * `vector` advanced by the ops of a page, or undefined when a body cannot be
 * read (another format version, truncated): the caller then falls back to
 * asking with its store's vector after applying.
 */
export function vectorAfter (vector: VersionVector, ops: readonly EncodedOp[]): Map<string, number> | undefined {
  const out = new Map(vector)
  let lastKey: Uint8Array | undefined
  let lastId = ''
  for (const { body } of ops) {
    if (body.byteLength < HEADER_MIN_BYTES || body[0] !== OP_FORMAT_VERSION) return undefined
    const key = body.subarray(1, 1 + PUBLIC_KEY_BYTES)
    let seq = 0
    let scale = 1
    let at = 1 + PUBLIC_KEY_BYTES
    for (let i = 0; ; i++) {
      if (i >= 8 || at >= body.byteLength) return undefined
      const b = body[at++]!
      seq += (b & 0x7f) * scale
      if ((b & 0x80) === 0) break
      scale *= 128
    }
    if (lastKey === undefined || !sameBytes(key, lastKey)) {
      lastKey = key
      lastId = deviceIdToString(key)
    }
    if (seq > (out.get(lastId) ?? 0)) out.set(lastId, seq)
  }
  return out
}

/** Origin key and seq of one op body, read from its first fields; undefined when the body cannot be read that far. */
export function readOpHeader (body: Uint8Array): { originKey: Uint8Array, seq: number } | undefined {
  if (body.byteLength < HEADER_MIN_BYTES || body[0] !== OP_FORMAT_VERSION) return undefined
  let seq = 0
  let scale = 1
  let at = 1 + PUBLIC_KEY_BYTES
  for (let i = 0; ; i++) {
    if (i >= 8 || at >= body.byteLength) return undefined
    const b = body[at++]!
    seq += (b & 0x7f) * scale
    if ((b & 0x80) === 0) break
    scale *= 128
  }
  return { originKey: body.subarray(1, 1 + PUBLIC_KEY_BYTES), seq }
}
