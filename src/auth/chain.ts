/**
 * Chains: how a device proves its membership to a peer that has not synced
 * the member list yet. `Membership.chainFor` gives the admissions from the
 * genesis down to the device; `verifyChain` is the receiving side. A chain is
 * checked with the same replay as the full membership (so the two can never
 * disagree on what a chain proves), with the verifier's own revocations
 * added when it knows any.
 */
import { formatHlc, type Hlc } from '../hlc/index.js'
import { bytesEqual } from '../oplog/bytes.js'
import { deviceIdToString, type SignatureVerifier } from '../oplog/keys.js'
import type { Admission, MembershipRecord, Revocation } from './certificate.js'
import { MAX_CHAIN_LENGTH } from './constants.js'
import { Membership, type MemberInfo, type MembershipRejectReason } from './membership.js'

export type ChainRejectReason = MembershipRejectReason | 'too_long' | 'not_member'

export type ChainVerdict =
  | { readonly ok: true, readonly member: MemberInfo }
  | { readonly ok: false, readonly reason: ChainRejectReason, readonly message: string }

export interface VerifyChainOptions {
  /** Revocations the verifier knows; a revoked signer or device then fails the chain. */
  revocations?: readonly Revocation[]
  /** Check membership at this HLC instead of "not revoked at all". */
  at?: Hlc
  verifier?: SignatureVerifier
}

/**
 * The receiving side of `chainFor`: does this list of admissions prove that
 * `device` is a member of the group? Checks the length before any signature,
 * then every admission on its own, then the chain's logic. Never throws for
 * bad input. To also keep the admissions, add them to the local `Membership`
 * and ask it instead.
 */
export function verifyChain (groupPub: Uint8Array, admissions: readonly Admission[], device: Uint8Array, options: VerifyChainOptions = {}): ChainVerdict {
  if (admissions.length > MAX_CHAIN_LENGTH) return { ok: false, reason: 'too_long', message: `a chain of ${admissions.length} admissions is over the ${MAX_CHAIN_LENGTH} limit` }
  const m = new Membership(groupPub, options.verifier === undefined ? {} : { verifier: options.verifier })
  for (const [i, a] of admissions.entries()) {
    if ((a as MembershipRecord).kind !== 'admission') return { ok: false, reason: 'malformed', message: `chain entry ${i} is not an admission` }
    const out = m.add(a)
    if (out.status === 'rejected') return { ok: false, reason: out.reason, message: `chain entry ${i}: ${out.message}` }
  }
  // The verifier's own knowledge: one that does not verify simply does not count.
  for (const r of options.revocations ?? []) m.add(r)
  const info = m.member(device)
  const id = deviceIdToString(device)
  if (info === undefined) {
    const own = admissions.find(a => bytesEqual(a.device, device))
    const why = own === undefined
      ? 'the chain holds no admission of it'
      : m.status(own) === 'signer_revoked' ? 'its admission was signed after its signer was revoked' : 'its admission does not lead back to the group key'
    return { ok: false, reason: 'not_member', message: `${id} is not a member: ${why}` }
  }
  if (!m.isMember(device, options.at)) {
    return { ok: false, reason: 'not_member', message: `${id} was revoked at ${formatHlc(info.revoked!.at)}` }
  }
  return { ok: true, member: info }
}
