/**
 * An op's header read from its body alone: the origin key and seq, the first
 * fields of the canonical encoding (format version byte, 32-byte origin key,
 * varint seq; see `op.ts`), without decoding or verifying the rest.
 *
 * The sync protocol uses it to see where a page or an announcement leaves a
 * peer before the store has checked anything (protocol/op-header.ts), so it
 * lives with the op format it reads: a change to the encoding changes this
 * file too. Nothing read here is trusted; the store still verifies every op.
 */
import { PUBLIC_KEY_BYTES } from './keys.js'
import { OP_FORMAT_VERSION } from './op.js'

/** Version byte, origin key, and at least one varint byte. */
const HEADER_MIN_BYTES = 1 + PUBLIC_KEY_BYTES + 1

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
