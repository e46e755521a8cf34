/**
 * The port pairing needs to remember issued invites, and an in-memory
 * implementation (tests, and the reference for the persistent one).
 *
 * Declared here by its consumer, as `protocol` declares `SyncStore`. The
 * daemon's implementation persists it so an invite survives a restart within
 * its ten minutes, and so "used" stays used.
 *
 * What is stored is derived from the invite's secret, never the secret: the
 * id (to look the invite up) and the proof key (to check a joiner's proof).
 * The proof key is what a proof is MACed with, so it is as sensitive as the
 * invite itself until the invite expires: keep it where the device key is,
 * and prune expired invites.
 *
 * `claim` must be atomic (check-and-set in one transaction): two joiners
 * racing with the same code must not both get in.
 */
import { bytesEqual } from '../oplog/bytes.js'

export interface IssuedInvite {
  /** `inviteIdOf(secret)`: 32 hex characters. */
  readonly id: string
  readonly group: Uint8Array
  /** `proofKeyOf(secret)`: 32 bytes. */
  readonly proofKey: Uint8Array
  readonly createdAt: number
  readonly expiresAt: number
  /** Wrong proofs so far; at MAX_PROOF_FAILURES the invite is burned. */
  readonly failures: number
  /** The device that used the invite; absent while unused. */
  readonly usedBy?: Uint8Array
  readonly usedAt?: number
}

export type ClaimResult =
  | 'claimed' // now used by `by` (or already was: a retry by the same device)
  | 'used' // used by another device
  | 'unknown'

export interface InviteStore {
  add(invite: IssuedInvite): Promise<void>
  get(id: string): Promise<IssuedInvite | undefined>
  /** Atomically marks the invite used by `by`, unless another device already used it. */
  claim(id: string, by: Uint8Array, at: number): Promise<ClaimResult>
  /** Counts one wrong proof; resolves to the new count (0 for an unknown id). */
  recordFailure(id: string): Promise<number>
  delete(id: string): Promise<void>
  /** Every invite held, for `weft invite --list`. */
  list(): Promise<IssuedInvite[]>
  /** Deletes invites that expired before `now`; resolves to how many. */
  prune(now: number): Promise<number>
}

export class MemoryInviteStore implements InviteStore {
  readonly #invites = new Map<string, IssuedInvite>()

  async add (invite: IssuedInvite): Promise<void> {
    this.#invites.set(invite.id, { ...invite, group: invite.group.slice(), proofKey: invite.proofKey.slice() })
  }

  async get (id: string): Promise<IssuedInvite | undefined> {
    return this.#invites.get(id)
  }

  async claim (id: string, by: Uint8Array, at: number): Promise<ClaimResult> {
    const invite = this.#invites.get(id)
    if (invite === undefined) return 'unknown'
    if (invite.usedBy !== undefined) return bytesEqual(invite.usedBy, by) ? 'claimed' : 'used'
    this.#invites.set(id, { ...invite, usedBy: by.slice(), usedAt: at })
    return 'claimed'
  }

  async recordFailure (id: string): Promise<number> {
    const invite = this.#invites.get(id)
    if (invite === undefined) return 0
    const failures = invite.failures + 1
    this.#invites.set(id, { ...invite, failures })
    return failures
  }

  async delete (id: string): Promise<void> {
    this.#invites.delete(id)
  }

  async list (): Promise<IssuedInvite[]> {
    return [...this.#invites.values()]
  }

  async prune (now: number): Promise<number> {
    let n = 0
    for (const [id, invite] of this.#invites) {
      if (invite.expiresAt < now) { this.#invites.delete(id); n++ }
    }
    return n
  }
}
