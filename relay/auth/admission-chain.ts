/**
 * Verifier of scheme `admission-chain/1`: a weft device proves group
 * membership with the same signed admissions it syncs with (src/auth), so the
 * relay's allow-list needs only the group's public key and a device needs
 * nothing it does not already hold. The credential's codec is shared with the
 * client (src/net/relay-auth/admission-chain.ts).
 *
 * The relay checks that the chain leads from a configured group key to the
 * peer on this Noise-authenticated connection (a copied chain is useless to
 * anyone else). It cannot see revocations: a revoked device keeps long
 * limits on this relay until it is removed from the group's devices here or
 * the group key leaves the config. The admission lasts while the connection
 * does (and at most ADMISSION_CHAIN_VALIDITY_MS before the device must prove
 * it again).
 */
import type { PeerId } from '@libp2p/interface'
import type { Admission } from '../../src/auth/certificate.js'
import { verifyChain } from '../../src/auth/chain.js'
import { ADMISSION_CHAIN_SCHEME, decodeAdmissionChain } from '../../src/net/relay-auth/admission-chain.js'
import type { AdmissionVerifier, AllowedGroup, VerifyResult } from './verifier.js'

export const ADMISSION_CHAIN_VALIDITY_MS = 24 * 3600 * 1000

export function admissionChainVerifier (groups: readonly AllowedGroup[]): AdmissionVerifier {
  return {
    scheme: ADMISSION_CHAIN_SCHEME,
    async verify (credential: Uint8Array, peer: PeerId, nowMs: number): Promise<VerifyResult> {
      let chain: Admission[]
      try { chain = decodeAdmissionChain(credential) } catch (err) { return { ok: false, failure: 'MALFORMED', detail: (err as Error).message } }
      const device = peer.publicKey?.raw
      if (device === undefined || peer.publicKey?.type !== 'Ed25519') return { ok: false, failure: 'WRONG_PEER', detail: 'the peer has no Ed25519 key' }
      const group = groups.find(g => Buffer.compare(Buffer.from(g.publicKey), Buffer.from(chain[0]!.group)) === 0)
      if (group === undefined) return { ok: false, failure: 'UNKNOWN_GROUP', detail: 'the chain\'s group key is not in this relay\'s allow-list' }
      const verdict = verifyChain(group.publicKey, chain, device)
      if (!verdict.ok) return { ok: false, failure: verdict.reason === 'not_member' ? 'WRONG_PEER' : 'BAD_SIGNATURE', detail: verdict.message }
      return { ok: true, admission: { group: group.name, validUntilMs: nowMs + ADMISSION_CHAIN_VALIDITY_MS } }
    }
  }
}
