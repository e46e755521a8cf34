/**
 * Who may use the relay's long limits: the pluggable verifier behind
 * `/weft/relay-auth/1.0.0`, and its first implementation.
 *
 * A verifier reads one credential scheme. The relay hands it the credential
 * bytes, the peer id the connection authenticated (Noise proves the peer holds
 * that key), and the time; it answers with the group admitted and until when,
 * or a failure code. Weft daemons use `admission-chain/1` (admission-chain.ts),
 * which plugged in this way without touching the protocol or the limit policy.
 *
 * Scheme `group-statement/1` (this file) is deliberately simple. The relay's
 * config lists group public keys (Ed25519, 32 bytes). A credential is a
 * `GroupStatement`: the group key signs "peer P may use relays from
 * not_before to not_after". The relay checks, in this order:
 *  1. the protobuf decodes, the key is 32 bytes, the signature 64 bytes, the
 *     peer field is a peer id, not_before < not_after;
 *  2. the group key is one of the configured keys (else UNKNOWN_GROUP);
 *  3. the signature verifies over `statementSigningBytes` (else BAD_SIGNATURE);
 *  4. the statement names the peer on the other end of this connection (else
 *     WRONG_PEER), so a statement copied off the wire is useless to anyone else;
 *  5. now >= not_before - MAX_CLOCK_SKEW_MS (else NOT_YET_VALID), now < not_after
 *     (else EXPIRED), and not_after - not_before <= MAX_STATEMENT_VALIDITY_MS
 *     (else MALFORMED).
 * What it does not do: revocation (a leaked statement or group key is good
 * until not_after, or until the key is removed from the config), binding to
 * one relay (any relay that trusts the group accepts it), or rate limiting.
 */
import { generateKeyPair, privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { MAX_CLOCK_SKEW_MS, MAX_STATEMENT_VALIDITY_MS } from '../constants.js'
import { GroupStatement } from '../../src/net/relay-auth/pb/relay-auth.js'

export const GROUP_STATEMENT_SCHEME = 'group-statement/1'
export const GROUP_KEY_BYTES = 32
export const GROUP_PRIVATE_KEY_BYTES = 64
const SIGNATURE_BYTES = 64
/** Domain separation: a signature made for anything else can never pass as a statement. */
const STATEMENT_DOMAIN = new TextEncoder().encode('weft relay admission statement v1\n')

export type AdmissionFailure = 'UNKNOWN_SCHEME' | 'MALFORMED' | 'UNKNOWN_GROUP' | 'BAD_SIGNATURE' | 'WRONG_PEER' | 'NOT_YET_VALID' | 'EXPIRED'

export interface Admission {
  /** The group's name in the relay's config. */
  readonly group: string
  /** Unix ms when the admission ends. */
  readonly validUntilMs: number
}

export type VerifyResult = { ok: true, admission: Admission } | { ok: false, failure: AdmissionFailure, detail: string }

export interface AdmissionVerifier {
  /** The credential scheme this verifier reads. */
  readonly scheme: string
  /**
   * Checks `credential` presented by `peer` (the connection's authenticated
   * remote peer) at `nowMs`. Bad input is a failure result, never a throw.
   */
  verify(credential: Uint8Array, peer: PeerId, nowMs: number): Promise<VerifyResult>
}

export interface AllowedGroup {
  /** Shown in logs, metrics and the auth response. */
  readonly name: string
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
}

/** The exact bytes the group key signs. Fixed-width fields: no two statements share an encoding. */
export function statementSigningBytes (groupKey: Uint8Array, peer: Uint8Array, notBeforeMs: number, notAfterMs: number): Uint8Array {
  const out = new Uint8Array(STATEMENT_DOMAIN.length + GROUP_KEY_BYTES + 2 + peer.length + 16)
  const view = new DataView(out.buffer)
  let o = 0
  out.set(STATEMENT_DOMAIN, o); o += STATEMENT_DOMAIN.length
  out.set(groupKey, o); o += GROUP_KEY_BYTES
  view.setUint16(o, peer.length); o += 2
  out.set(peer, o); o += peer.length
  view.setBigUint64(o, BigInt(notBeforeMs)); o += 8
  view.setBigUint64(o, BigInt(notAfterMs))
  return out
}

const fail = (failure: AdmissionFailure, detail: string): VerifyResult => ({ ok: false, failure, detail })
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** The `group-statement/1` verifier over a fixed list of allowed group keys. */
export function groupStatementVerifier (groups: readonly AllowedGroup[]): AdmissionVerifier {
  const byKey = new Map(groups.map(g => [hex(g.publicKey), g]))
  return {
    scheme: GROUP_STATEMENT_SCHEME,
    async verify (credential, peer, nowMs) {
      let s: GroupStatement
      let statedPeer: PeerId
      try {
        s = GroupStatement.decode(credential)
        statedPeer = peerIdFromMultihash(Digest.decode(s.peer))
      } catch (err) {
        return fail('MALFORMED', `statement does not decode: ${(err as Error).message}`)
      }
      if (s.groupKey.length !== GROUP_KEY_BYTES || s.signature.length !== SIGNATURE_BYTES) return fail('MALFORMED', 'group key must be 32 bytes and signature 64 bytes')
      if (!(s.notBeforeMs < s.notAfterMs)) return fail('MALFORMED', 'not_before must be before not_after')
      if (s.notAfterMs - s.notBeforeMs > MAX_STATEMENT_VALIDITY_MS) return fail('MALFORMED', `valid for more than ${MAX_STATEMENT_VALIDITY_MS} ms`)
      const group = byKey.get(hex(s.groupKey))
      if (group === undefined) return fail('UNKNOWN_GROUP', 'the group key is not in this relay\'s allow-list')
      let valid = false
      try {
        valid = await publicKeyFromRaw(s.groupKey).verify(statementSigningBytes(s.groupKey, s.peer, s.notBeforeMs, s.notAfterMs), s.signature)
      } catch {}
      if (!valid) return fail('BAD_SIGNATURE', `signature does not verify with the key of group ${group.name}`)
      if (!statedPeer.equals(peer)) return fail('WRONG_PEER', `statement names ${statedPeer.toString()}, not this connection's peer`)
      if (nowMs < s.notBeforeMs - MAX_CLOCK_SKEW_MS) return fail('NOT_YET_VALID', `valid from ${new Date(s.notBeforeMs).toISOString()}`)
      if (nowMs >= s.notAfterMs) return fail('EXPIRED', `expired at ${new Date(s.notAfterMs).toISOString()}`)
      return { ok: true, admission: { group: group.name, validUntilMs: s.notAfterMs } }
    }
  }
}

/** A new group key: 64 raw bytes (seed then public key). */
export async function generateGroupKey (): Promise<{ privateKey: Uint8Array, publicKey: Uint8Array }> {
  const key = await generateKeyPair('Ed25519')
  return { privateKey: key.raw, publicKey: key.publicKey.raw }
}

/** Signs a `group-statement/1` credential for `peer` with the group's 64-byte private key. */
export async function signGroupStatement (groupPrivateKey: Uint8Array, peer: PeerId, notBeforeMs: number, notAfterMs: number): Promise<Uint8Array> {
  const key = privateKeyFromRaw(groupPrivateKey)
  if (key.type !== 'Ed25519') throw new TypeError('a group key is an Ed25519 key')
  const groupKey = key.publicKey.raw
  const peerBytes = peer.toMultihash().bytes
  const signature = await key.sign(statementSigningBytes(groupKey, peerBytes, notBeforeMs, notAfterMs))
  return GroupStatement.encode({ groupKey, peer: peerBytes, notBeforeMs, notAfterMs, signature })
}
