/**
 * Version vectors: per origin, the highest seq held as a contiguous prefix.
 *
 * Sync asks "what do you hold beyond this vector", never "since this
 * timestamp": clocks drift and ops arrive out of HLC order, but a per-origin
 * contiguous prefix is exact, so a session cut off anywhere resumes from
 * the receiver's vector with nothing lost and nothing resent twice.
 *
 * On the wire an origin is its 32-byte public key (a 52-character peer id
 * string in memory).
 */
import { deviceIdToString, parseDeviceId, PUBLIC_KEY_BYTES } from '../oplog/keys.js'
import { MAX_VECTOR_ENTRIES } from './constants.js'
import { BadRequestError, InternalSyncError, TooLargeError } from './errors.js'
import type { VectorEntry } from './pb/sync.js'
import type { VersionVector } from './port.js'

export function vectorToWire (vector: VersionVector): VectorEntry[] {
  const out: VectorEntry[] = []
  for (const [origin, seq] of vector) {
    if (seq <= 0) continue
    let key: Uint8Array
    try {
      key = parseDeviceId(origin)
    } catch (err) {
      throw new InternalSyncError(`the store's vector names an origin that is not a device id: ${origin.slice(0, 80)}`, { cause: err })
    }
    out.push({ origin: key, seq })
  }
  return out
}

/** Validates a vector from the wire. Throws BadRequestError or TooLargeError. */
export function vectorFromWire (entries: readonly VectorEntry[], what = 'vector'): Map<string, number> {
  if (entries.length > MAX_VECTOR_ENTRIES) throw new TooLargeError(`${what} has ${entries.length} entries, over the limit of ${MAX_VECTOR_ENTRIES}`)
  const out = new Map<string, number>()
  for (const { origin, seq } of entries) {
    if (origin.byteLength !== PUBLIC_KEY_BYTES) throw new BadRequestError(`${what}: origin is ${origin.byteLength} bytes, expected ${PUBLIC_KEY_BYTES}`)
    if (!Number.isSafeInteger(seq) || seq < 0) throw new BadRequestError(`${what}: seq ${seq} is not a non-negative safe integer`)
    const id = deviceIdToString(origin)
    if (out.has(id)) throw new BadRequestError(`${what}: origin ${id} appears twice`)
    if (seq > 0) out.set(id, seq)
  }
  return out
}

/** True when `a` holds some op that `b` does not. */
export function isAhead (a: VersionVector, b: VersionVector): boolean {
  for (const [origin, seq] of a) if (seq > (b.get(origin) ?? 0)) return true
  return false
}

/** Ops `a` holds beyond `b`, counted from the vectors alone. */
export function opsBeyond (a: VersionVector, b: VersionVector): number {
  let n = 0
  for (const [origin, seq] of a) n += Math.max(0, seq - (b.get(origin) ?? 0))
  return n
}

/** A plain object copy, for state snapshots and JSON. */
export function vectorToObject (vector: VersionVector): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [origin, seq] of vector) out[origin] = seq
  return out
}

export function vectorsEqual (a: VersionVector, b: VersionVector): boolean {
  return !isAhead(a, b) && !isAhead(b, a)
}
