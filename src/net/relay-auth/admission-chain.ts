/**
 * The credential of scheme `admission-chain/1`: a weft device proves group
 * membership to a relay with the same signed admissions it syncs with
 * (src/auth). Credential: a varint count, then each admission (root first,
 * the device's own last) as varint length + encoding, at most
 * MAX_CHAIN_CREDENTIAL_BYTES in all.
 *
 * The client encodes it here; the relay decodes and verifies it
 * (relay/auth/admission-chain.ts).
 */
import { decodeAdmission, encodeAdmission, type Admission } from '../../auth/certificate.js'
import { ByteReader, ByteWriter } from '../../oplog/bytes.js'

export const ADMISSION_CHAIN_SCHEME = 'admission-chain/1'
export const MAX_CHAIN_CREDENTIAL_BYTES = 3 * 1024
const MAX_CHAIN = 16

export function encodeAdmissionChain (chain: readonly Admission[]): Uint8Array {
  const w = new ByteWriter(512)
  w.varint(chain.length)
  for (const a of chain) w.bytes(encodeAdmission(a))
  return w.finish()
}

export function decodeAdmissionChain (bytes: Uint8Array): Admission[] {
  if (bytes.length > MAX_CHAIN_CREDENTIAL_BYTES) throw new RangeError(`chain credential is over ${MAX_CHAIN_CREDENTIAL_BYTES} bytes`)
  const r = new ByteReader(bytes, 'admission chain')
  const n = r.varint('count')
  if (n < 1 || n > MAX_CHAIN) throw new RangeError(`a chain holds 1 to ${MAX_CHAIN} admissions, not ${n}`)
  const out: Admission[] = []
  for (let i = 0; i < n; i++) out.push(decodeAdmission(r.bytes('admission', 1024)))
  r.end()
  return out
}
