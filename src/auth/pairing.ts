/**
 * Pairing: how a new device joins with an invite code, transport-agnostic.
 *
 *   joiner                                  inviter
 *   hello { version, inviteId, name }  ->
 *                                      <-   challenge { nonce }           (invite known, unused, fresh; we are a member)
 *   proof { HMAC(proofKey, ...) }      ->
 *                                      <-   welcome { admission, chain }  (proof checked in constant time; invite claimed)
 *
 * The joiner proves it holds the invite's secret without sending it:
 * proof = HMAC-SHA256(proofKey, "weft/pairing-proof/v1" || 0 || nonce ||
 * joiner || inviter || group), where proofKey = HMAC-SHA256(secret,
 * "weft/invite-proof-key/v1") is what the inviter stored instead of the
 * secret. The fresh nonce makes a recorded proof useless later; the two peer
 * ids bind the proof to this connection, so a man in the middle cannot relay
 * it: the inviter computes it with the peer id the connection authenticated,
 * never one read from a message. That is why both sides take `remotePeer`
 * from the transport (libp2p's noise handshake), and the joiner refuses a peer
 * other than the one the invite names.
 *
 * The invite is claimed (atomically, in the store) before the welcome is
 * sent, so two devices racing with one code cannot both get in. If the
 * welcome is lost, the same device may retry with the same code; any other
 * device gets INVITE_USED. Wrong proofs are counted and burn the invite at
 * MAX_PROOF_FAILURES. Every wait has a step timeout inside an overall one,
 * both under the caller's signal; on failure the side that detects it tells
 * the other with an error message (best effort) and throws `PairingError`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidArgumentError } from '../errors.js'
import { bytesEqual, toHex, utf8 } from '../oplog/bytes.js'
import { deviceIdToString, type DeviceKey } from '../oplog/keys.js'
import { deviceNameProblem, signAdmission, type Admission } from './certificate.js'
import {
  DEFAULT_JOINER_EXPIRY_GRACE_MS, DEFAULT_PAIRING_STEP_TIMEOUT_MS, DEFAULT_PAIRING_TIMEOUT_MS, MAX_PROOF_FAILURES,
  PAIRING_ERROR_SEND_TIMEOUT_MS, PAIRING_NONCE_BYTES, PAIRING_PROOF_DOMAIN, PAIRING_WIRE_VERSION
} from './constants.js'
import { isPairingWireCode, PairingError, toWirePairingError } from './errors.js'
import { groupIdToString } from './group.js'
import { checkInviteFresh, defaultRandomBytes, inviteIdBytes, proofKeyOf, type Invite, type RandomBytes } from './invite.js'
import type { InviteStore } from './invite-store.js'
import { verifyChain } from './chain.js'
import { deadline as runtimeDeadline, type Deadline } from '../runtime/deadline.js'
import type { PairingChannel, PairingMessage } from './pairing-messages.js'

/** The proof a joiner sends: binds the invite's secret to this nonce, both peers and the group. */
export function pairingProof (proofKey: Uint8Array, nonce: Uint8Array, joiner: Uint8Array, inviter: Uint8Array, group: Uint8Array): Uint8Array {
  const h = createHmac('sha256', proofKey).update(utf8(PAIRING_PROOF_DOMAIN)).update(Uint8Array.of(0))
  for (const part of [nonce, joiner, inviter, group]) h.update(part)
  return new Uint8Array(h.digest())
}

/** What pairing needs from the inviter's membership (`Membership` provides it). */
export interface MembershipView {
  readonly groupPub: Uint8Array
  isMember(device: Uint8Array): boolean
  isRevoked(device: Uint8Array): boolean
  chainFor(device: Uint8Array): Admission[] | undefined
}

export interface PairingTimeouts {
  /** Aborts the whole exchange. */
  signal?: AbortSignal
  /** Longest wait for one message in or out. @default DEFAULT_PAIRING_STEP_TIMEOUT_MS (10 s) */
  stepTimeoutMs?: number
  /** Longest whole exchange. @default DEFAULT_PAIRING_TIMEOUT_MS (30 s) */
  timeoutMs?: number
  /** Wall clock in ms. @default Date.now */
  now?: () => number
}

export interface AcceptPairingInit extends PairingTimeouts {
  readonly channel: PairingChannel
  /** This device's key: signs the joiner's admission. */
  readonly deviceKey: DeviceKey
  /** The joiner's public key as the connection authenticated it. */
  readonly remotePeer: Uint8Array
  readonly membership: MembershipView
  readonly invites: InviteStore
  /** @default node:crypto randomBytes */
  readonly randomBytes?: RandomBytes
  /** @default MAX_PROOF_FAILURES (5) */
  readonly maxProofFailures?: number
  /** Name for the joiner's admission. @default the name the joiner asks for in its hello */
  readonly deviceName?: string
}

export interface Accepted {
  /** The joiner's admission: add it to the membership and persist it. */
  readonly admission: Admission
  readonly joiner: Uint8Array
  readonly inviteId: string
}

export interface JoinGroupInit extends PairingTimeouts {
  readonly channel: PairingChannel
  readonly invite: Invite
  /** This device's public key (its peer id): the key the admission will name. */
  readonly device: Uint8Array
  /** This device's name in the group. */
  readonly name: string
  /** The inviter's public key as the connection authenticated it; must be the invite's inviter. */
  readonly remotePeer: Uint8Array
  /** Skew allowed past the invite's expiry before failing without asking. @default DEFAULT_JOINER_EXPIRY_GRACE_MS (1 min) */
  readonly expiryGraceMs?: number
}

export interface Joined {
  readonly groupPub: Uint8Array
  readonly groupId: string
  /** This device's admission. */
  readonly admission: Admission
  /** Root first, ending with `admission`: what to persist and to present to peers. */
  readonly chain: readonly Admission[]
}

// Its timeouts abort with a PairingError, so a wait that times out says so in pairing's own terms.
const deadline = (ms: number, parent?: AbortSignal): Deadline =>
  runtimeDeadline(ms, parent, { timeout: () => new PairingError('TIMEOUT', `no progress within ${ms} ms`) })

/** One exchange: step deadlines inside an overall one, and the error mapping for waits. */
class Exchange {
  readonly #overall: Deadline
  readonly #caller: AbortSignal | undefined
  readonly #step: number
  readonly #channel: PairingChannel

  constructor (channel: PairingChannel, opts: PairingTimeouts) {
    this.#channel = channel
    this.#caller = opts.signal
    this.#step = opts.stepTimeoutMs ?? DEFAULT_PAIRING_STEP_TIMEOUT_MS
    this.#overall = deadline(opts.timeoutMs ?? DEFAULT_PAIRING_TIMEOUT_MS, opts.signal)
  }

  async #wait<T> (what: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const step = deadline(this.#step, this.#overall.signal)
    try {
      return await op(step.signal)
    } catch (err) {
      if (this.#caller?.aborted === true) throw new PairingError('ABORTED', `pairing aborted while ${what}`, { cause: err })
      if (step.signal.aborted) throw new PairingError('TIMEOUT', `pairing timed out while ${what}`, { cause: err })
      if (err instanceof PairingError) throw err
      throw new PairingError('CLOSED', `pairing channel failed while ${what}: ${(err as Error).message}`, { cause: err })
    } finally {
      step.clear()
    }
  }

  async send (msg: PairingMessage): Promise<void> {
    await this.#wait(`sending ${msg.type}`, async s => { await this.#channel.send(msg, s) })
  }

  /** The next message, which must be of `type`; an error message from the peer is thrown as a remote `PairingError`. */
  async expect<K extends PairingMessage['type']> (type: K): Promise<Extract<PairingMessage, { type: K }>> {
    const msg = await this.#wait(`waiting for ${type}`, async s => await this.#channel.receive(s))
    if (msg.type === 'error') throw new PairingError(msg.code, `peer reported: ${msg.message}`, { remote: true })
    if (msg.type !== type) throw new PairingError('BAD_MESSAGE', `expected ${type}, got ${msg.type}`)
    return msg as Extract<PairingMessage, { type: K }>
  }

  /** Tells the peer why we stop (best effort: the channel may be gone), then closes the deadlines. */
  async fail (err: unknown): Promise<never> {
    // Our own bugs go out as INTERNAL; timeouts, a closed channel or the peer's own error are not worth a message.
    if (!(err instanceof PairingError) || (!err.remote && isPairingWireCode(err.code))) {
      const { code, message } = toWirePairingError(err)
      const d = deadline(PAIRING_ERROR_SEND_TIMEOUT_MS)
      try { await this.#channel.send({ type: 'error', code, message }, d.signal) } catch {} finally { d.clear() }
    }
    this.close()
    // A store or signing failure still reaches the caller typed, with the original as cause.
    if (err instanceof PairingError) throw err
    throw new PairingError('INTERNAL', `pairing failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }

  close (): void { this.#overall.clear() }
}

/** The inviter's side: answers one joiner on one channel. Resolves with the admission it signed; throws `PairingError`. */
export async function acceptPairing (init: AcceptPairingInit): Promise<Accepted> {
  const ex = new Exchange(init.channel, init)
  const now = init.now ?? Date.now
  const maxFailures = init.maxProofFailures ?? MAX_PROOF_FAILURES
  const { membership, invites, remotePeer } = init
  const local = init.deviceKey.publicKey
  try {
    const hello = await ex.expect('hello')
    if (hello.version !== PAIRING_WIRE_VERSION) throw new PairingError('BAD_MESSAGE', `pairing version ${hello.version} is not supported (this device speaks ${PAIRING_WIRE_VERSION})`)
    const nameProblem = deviceNameProblem(hello.name)
    if (nameProblem !== undefined) throw new PairingError('BAD_MESSAGE', nameProblem)
    const id = toHex(hello.inviteId)
    const invite = await invites.get(id)
    if (invite === undefined || !bytesEqual(invite.group, membership.groupPub)) {
      throw new PairingError('INVITE_WRONG', 'this device issued no such invite: check the code, or use the device that printed it')
    }
    if (invite.failures >= maxFailures) throw new PairingError('INVITE_BURNED', `the invite was disabled after ${invite.failures} wrong proofs: create a new one`)
    if (invite.usedBy !== undefined && !bytesEqual(invite.usedBy, remotePeer)) throw new PairingError('INVITE_USED', 'the invite was already used by another device: create a new one')
    if (now() > invite.expiresAt) throw new PairingError('INVITE_EXPIRED', 'the invite has expired: create a new one')
    if (membership.isRevoked(remotePeer)) throw new PairingError('NOT_MEMBER', `device ${deviceIdToString(remotePeer)} was revoked from the group: it must join with a new key`)
    const chain = membership.isMember(local) ? membership.chainFor(local) : undefined
    if (chain === undefined) throw new PairingError('NOT_MEMBER', 'the inviting device is no longer a member of the group')

    const nonce = (init.randomBytes ?? defaultRandomBytes)(PAIRING_NONCE_BYTES)
    await ex.send({ type: 'challenge', nonce })
    const { proof } = await ex.expect('proof')
    const expected = pairingProof(invite.proofKey, nonce, remotePeer, local, membership.groupPub)
    if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
      const failures = await invites.recordFailure(id)
      if (failures >= maxFailures) throw new PairingError('INVITE_BURNED', `wrong invite proof; the invite is now disabled after ${failures} wrong proofs`)
      throw new PairingError('INVITE_WRONG', 'the proof does not match the invite: the code is wrong')
    }
    if (now() > invite.expiresAt) throw new PairingError('INVITE_EXPIRED', 'the invite expired during pairing: create a new one')
    const claim = await invites.claim(id, remotePeer, now())
    if (claim === 'used') throw new PairingError('INVITE_USED', 'the invite was already used by another device: create a new one')
    if (claim === 'unknown') throw new PairingError('INVITE_WRONG', 'the invite was withdrawn')

    const admission = signAdmission({ group: membership.groupPub, device: remotePeer, name: init.deviceName ?? hello.name, addedAt: now() }, init.deviceKey)
    await ex.send({ type: 'welcome', admission, chain })
    ex.close()
    return { admission, joiner: remotePeer.slice(), inviteId: id }
  } catch (err) {
    return await ex.fail(err)
  }
}

/** The joiner's side: proves the invite, and verifies the admission it gets back. Throws `PairingError`. */
export async function joinGroup (init: JoinGroupInit): Promise<Joined> {
  const { invite, device, remotePeer } = init
  checkInviteFresh(invite, (init.now ?? Date.now)(), init.expiryGraceMs ?? DEFAULT_JOINER_EXPIRY_GRACE_MS)
  if (!bytesEqual(remotePeer, invite.inviter)) {
    throw new PairingError('WRONG_PEER', `reached ${deviceIdToString(remotePeer)}, but the invite is from ${deviceIdToString(invite.inviter)}`)
  }
  const nameProblem = deviceNameProblem(init.name)
  if (nameProblem !== undefined) throw new InvalidArgumentError(nameProblem)
  const ex = new Exchange(init.channel, init)
  try {
    await ex.send({ type: 'hello', version: PAIRING_WIRE_VERSION, inviteId: inviteIdBytes(invite.secret), name: init.name })
    const { nonce } = await ex.expect('challenge')
    await ex.send({ type: 'proof', proof: pairingProof(proofKeyOf(invite.secret), nonce, device, invite.inviter, invite.group) })
    const welcome = await ex.expect('welcome')
    const { admission } = welcome
    if (!bytesEqual(admission.device, device) || !bytesEqual(admission.group, invite.group) || !bytesEqual(admission.addedBy, invite.inviter)) {
      throw new PairingError('BAD_MESSAGE', 'the welcome admits another device, or is for another group, or is not signed by the inviter')
    }
    const chain = [...welcome.chain, admission]
    const verdict = verifyChain(invite.group, chain, device)
    if (!verdict.ok) throw new PairingError('NOT_MEMBER', `the inviter's admission chain does not verify: ${verdict.message}`)
    ex.close()
    return { groupPub: invite.group.slice(), groupId: groupIdToString(invite.group), admission, chain }
  } catch (err) {
    return await ex.fail(err)
  }
}
