/**
 * Membership: which devices belong to a group, and from when to when,
 * computed from a set of admissions and revocations.
 *
 * Records arrive in any order (sync delivers whatever a peer has), so the
 * state is a pure function of the *set* of records: it is recomputed by
 * replaying them in one deterministic order, never by applying them in
 * arrival order. Two devices holding the same records agree on every member,
 * whatever order they learnt them in. A record whose signer is not (yet)
 * known stays pending and takes effect once the signer's admission arrives.
 *
 * The replay order. Each record gets an effective time: a revocation its
 * `at`, an admission `(addedAt, 0)`, but never earlier than one millisecond
 * after its signer's own admission took effect. Records are replayed by
 * (effective time, revocations before admissions, record id); a signer's
 * records join the replay once its admission is replayed. The clamp keeps a
 * chain valid when a member's clock is behind the one that admitted it, and
 * makes cycles impossible (a device cannot act before it exists), so the
 * replay always terminates with one answer.
 *
 * The rules, each checked at a record's turn in the replay:
 * - The group key may always admit and revoke; it is never a device.
 * - An admission counts if its signer is admitted and not revoked at the
 *   admission's effective time (a revocation at the same time wins). So a
 *   revoked member's admissions signed before its revocation stand, later
 *   ones do not. The first counting admission of a device is its admission;
 *   later ones are redundant.
 * - A revocation counts if its signer was ever admitted before it, even if
 *   the signer is itself revoked. Revocations only take power away, and this
 *   way a stolen device that backdates a revocation of the legitimate device
 *   cannot cancel that device's revocation of it: both end up revoked, and
 *   the thief never ends up as the last member standing.
 * - Self-revocation is allowed (`weft leave`, or a device retiring itself).
 * - Revocation is final for a key: the earliest counting revocation sets the
 *   time from which the device's ops are refused, and no later admission
 *   undoes it. A device that is to come back joins with a new key.
 * - `isMember(d, at)`: d is admitted and `at` is before its revocation time.
 *   There is no lower bound: ops a device wrote before it was admitted
 *   (offline, or with a lagging clock) are accepted once it is.
 *
 * Times are the signers' own clocks: a member that is still trusted could
 * backdate an admission to before its revocation. Revocation therefore cuts a
 * device off from every peer that knows the revocation; it cannot undo what
 * a device signed while it could still backdate.
 */
import { compareHlc, type Hlc } from '../hlc/index.js'
import { bytesEqual, compareBytes, toHex } from '../oplog/bytes.js'
import { deviceIdToString, SignatureVerifier } from '../oplog/keys.js'
import { decodeRecord, encodeRecord, recordId, signerOf, verifyRecord, type Admission, type MembershipRecord, type Revocation } from './certificate.js'
import { MAX_MEMBERSHIP_RECORDS } from './constants.js'
import { CertificateError, type CertificateRejectReason } from './errors.js'
import { groupIdToString } from './group.js'

/** What a record did in the replay. */
export type RecordStatus =
  | 'effective' // admitted its device, or set its device's revocation time
  | 'redundant' // counts, but its device was already admitted (or revoked) earlier
  | 'pending' // its signer is not a member (yet): waits for the signer's admission
  | 'signer_revoked' // an admission signed when its signer was already revoked

export type MembershipRejectReason = CertificateRejectReason | 'too_many'

export type AddOutcome =
  | { readonly status: 'added' | 'duplicate', readonly id: string }
  | { readonly status: 'rejected', readonly reason: MembershipRejectReason, readonly message: string }

export interface RejectedRecord {
  /** Index in the batch passed to `addAll` / `addEncoded`. */
  readonly index: number
  readonly reason: MembershipRejectReason
  readonly message: string
}

export interface AddResult {
  readonly added: number
  readonly duplicates: number
  readonly rejected: readonly RejectedRecord[]
}

export interface MemberInfo {
  readonly device: Uint8Array
  /** Device id (`12D3KooW…`). */
  readonly id: string
  readonly name: string
  readonly addedBy: Uint8Array
  /** Device id of the signer, or the group id when the group key signed (genesis). */
  readonly addedById: string
  /** As signed. */
  readonly addedAt: number
  /** When the admission took effect in the replay (addedAt, clamped after the signer's admission). */
  readonly admittedAt: Hlc
  readonly revoked?: {
    /** Effective revocation time: ops stamped at or after it are refused. */
    readonly at: Hlc
    readonly by: Uint8Array
    readonly byId: string
  }
}

export interface MembershipOptions {
  /** Shared verifier, to reuse its key cache. @default a new SignatureVerifier */
  verifier?: SignatureVerifier
  /** @default MAX_MEMBERSHIP_RECORDS (10,000) */
  maxRecords?: number
}

interface DeviceState {
  admission?: Admission
  admittedAt?: Hlc
  revocation?: Revocation
  revokedAt?: Hlc
}

interface Replayed {
  readonly devices: Map<string, DeviceState>
  readonly status: Map<string, RecordStatus>
}

interface Entry { readonly eff: Hlc, readonly rank: 0 | 1, readonly id: string, readonly record: MembershipRecord }

function compareEntries (a: Entry, b: Entry): number {
  return compareHlc(a.eff, b.eff) || a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** A binary min-heap: the replay pops thousands of entries at most, but never sorts twice. */
class Heap<T> {
  readonly #items: T[] = []
  constructor (readonly cmp: (a: T, b: T) => number) {}
  get size (): number { return this.#items.length }
  push (item: T): void {
    const a = this.#items
    a.push(item)
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1
      if (this.cmp(a[i]!, a[p]!) >= 0) break
      ;[a[i], a[p]] = [a[p]!, a[i]!]
      i = p
    }
  }

  pop (): T | undefined {
    const a = this.#items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && this.cmp(a[l]!, a[m]!) < 0) m = l
        if (r < a.length && this.cmp(a[r]!, a[m]!) < 0) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m]!, a[i]!]
        i = m
      }
    }
    return top
  }
}

const ownTime = (r: MembershipRecord): Hlc => r.kind === 'admission' ? { ms: r.addedAt, counter: 0 } : r.at

export class Membership {
  readonly groupPub: Uint8Array
  readonly groupId: string
  readonly #groupHex: string
  readonly #verifier: SignatureVerifier
  readonly #maxRecords: number
  readonly #records = new Map<string, MembershipRecord>()
  #replayed: Replayed | undefined

  constructor (groupPub: Uint8Array, options: MembershipOptions = {}) {
    this.groupId = groupIdToString(groupPub)
    this.groupPub = groupPub.slice()
    this.#groupHex = toHex(groupPub)
    this.#verifier = options.verifier ?? new SignatureVerifier(256)
    this.#maxRecords = options.maxRecords ?? MAX_MEMBERSHIP_RECORDS
  }

  /** Verifies a record on its own (form, group, signature) and keeps it. Never throws for a bad record. */
  add (record: MembershipRecord): AddOutcome {
    let bytes: Uint8Array
    try {
      verifyRecord(record, this.groupPub, this.#verifier)
      bytes = encodeRecord(record)
    } catch (err) {
      if (err instanceof CertificateError) return { status: 'rejected', reason: err.reason, message: err.message }
      return { status: 'rejected', reason: 'malformed', message: err instanceof Error ? err.message : String(err) }
    }
    const id = recordId(record)
    if (this.#records.has(id)) return { status: 'duplicate', id }
    if (this.#records.size >= this.#maxRecords) return { status: 'rejected', reason: 'too_many', message: `membership already holds ${this.#maxRecords} records` }
    // Our own copy: the caller's arrays may be reused or changed after this.
    this.#records.set(id, decodeRecord(bytes))
    this.#replayed = undefined
    return { status: 'added', id }
  }

  addAll (records: Iterable<MembershipRecord>): AddResult {
    return this.#batch(records, r => this.add(r))
  }

  /** Decodes and adds encoded records (as they come from a peer or the store); a record that does not decode is rejected, not thrown. */
  addEncoded (encoded: Iterable<Uint8Array>): AddResult {
    return this.#batch(encoded, bytes => {
      try {
        return this.add(decodeRecord(bytes))
      } catch (err) {
        if (err instanceof CertificateError) return { status: 'rejected', reason: err.reason, message: err.message }
        throw err
      }
    })
  }

  #batch<T> (items: Iterable<T>, one: (item: T) => AddOutcome): AddResult {
    let added = 0
    let duplicates = 0
    const rejected: RejectedRecord[] = []
    let index = 0
    for (const item of items) {
      const out = one(item)
      if (out.status === 'rejected') rejected.push({ index, reason: out.reason, message: out.message })
      else if (out.status === 'added') added++
      else duplicates++
      index++
    }
    return { added, duplicates, rejected }
  }

  has (id: string): boolean { return this.#records.has(id) }

  /** A copy to add records to without changing this one (what a plan that must write nothing needs). */
  fork (): Membership {
    const copy = new Membership(this.groupPub, { verifier: this.#verifier, maxRecords: this.#maxRecords })
    for (const [id, record] of this.#records) copy.#records.set(id, record)
    return copy
  }

  get size (): number { return this.#records.size }

  /** Every record held (valid on its own, whatever its status), by id: what to persist and to offer peers. */
  records (): MembershipRecord[] {
    return [...this.#records.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, r]) => r)
  }

  /** What a held record did in the replay; undefined for a record not held. */
  status (record: MembershipRecord): RecordStatus | undefined {
    return this.#replay().status.get(recordId(record))
  }

  /** Records waiting for their signer's admission. */
  pending (): MembershipRecord[] {
    const { status } = this.#replay()
    return this.records().filter(r => status.get(recordId(r)) === 'pending')
  }

  /**
   * True when `device` is admitted and, with `at`, not revoked at or before
   * `at`; without `at`, not revoked at all. The group key is never a member.
   */
  isMember (device: Uint8Array, at?: Hlc): boolean {
    const state = this.#replay().devices.get(toHex(device))
    if (state?.admission === undefined) return false
    if (state.revokedAt === undefined) return true
    return at !== undefined && compareHlc(at, state.revokedAt) < 0
  }

  /** True when a counting revocation names `device`, admitted or not (revocation is final for a key). */
  isRevoked (device: Uint8Array): boolean {
    return this.#replay().devices.get(toHex(device))?.revokedAt !== undefined
  }

  member (device: Uint8Array): MemberInfo | undefined {
    const state = this.#replay().devices.get(toHex(device))
    return state === undefined ? undefined : this.#info(state)
  }

  /** Admitted devices, revoked ones included (see `revoked`), in order of admission. */
  members (): MemberInfo[] {
    const out: MemberInfo[] = []
    for (const state of this.#replay().devices.values()) {
      const info = this.#info(state)
      if (info !== undefined) out.push(info)
    }
    return out.sort((a, b) => compareHlc(a.admittedAt, b.admittedAt) || compareBytes(a.device, b.device))
  }

  /**
   * The admissions that prove `device`'s membership, root first: the genesis
   * (signed by the group key) down to the device's own admission. What a
   * device presents to a peer that has not synced the member list yet.
   * Undefined when the device is not admitted.
   */
  chainFor (device: Uint8Array): Admission[] | undefined {
    const { devices } = this.#replay()
    const chain: Admission[] = []
    let state = devices.get(toHex(device))
    while (state?.admission !== undefined) {
      chain.unshift(state.admission)
      const signer = state.admission.addedBy
      if (bytesEqual(signer, this.groupPub)) return chain
      // Effective times strictly grow down a chain, so it ends; the bound is a backstop.
      if (chain.length > this.#records.size) break
      state = devices.get(toHex(signer))
    }
    return undefined
  }

  #info (state: DeviceState): MemberInfo | undefined {
    const a = state.admission
    if (a === undefined || state.admittedAt === undefined) return undefined
    const idOf = (key: Uint8Array): string => bytesEqual(key, this.groupPub) ? this.groupId : deviceIdToString(key)
    const base = {
      device: a.device,
      id: deviceIdToString(a.device),
      name: a.name,
      addedBy: a.addedBy,
      addedById: idOf(a.addedBy),
      addedAt: a.addedAt,
      admittedAt: state.admittedAt
    }
    if (state.revocation === undefined || state.revokedAt === undefined) return base
    return { ...base, revoked: { at: state.revokedAt, by: state.revocation.revokedBy, byId: idOf(state.revocation.revokedBy) } }
  }

  #replay (): Replayed {
    if (this.#replayed !== undefined) return this.#replayed
    const bySigner = new Map<string, Array<{ id: string, record: MembershipRecord }>>()
    for (const [id, record] of this.#records) {
      const key = toHex(signerOf(record))
      let list = bySigner.get(key)
      if (list === undefined) bySigner.set(key, list = [])
      list.push({ id, record })
    }
    const devices = new Map<string, DeviceState>()
    const status = new Map<string, RecordStatus>()
    const heap = new Heap<Entry>(compareEntries)
    const release = (signer: string, after?: Hlc): void => {
      for (const { id, record } of bySigner.get(signer) ?? []) {
        const own = ownTime(record)
        const floor: Hlc | undefined = after === undefined ? undefined : { ms: after.ms + 1, counter: 0 }
        const eff = floor !== undefined && compareHlc(own, floor) < 0 ? floor : own
        heap.push({ eff, rank: record.kind === 'revocation' ? 0 : 1, id, record })
      }
    }
    const stateOf = (key: string): DeviceState => {
      let s = devices.get(key)
      if (s === undefined) devices.set(key, s = {})
      return s
    }
    release(this.#groupHex)
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
      const target = stateOf(toHex(e.record.device))
      if (e.record.kind === 'revocation') {
        // Its signer was admitted to get here; its own revocation does not matter (see the module doc).
        if (target.revokedAt === undefined) {
          target.revokedAt = e.eff
          target.revocation = e.record
          status.set(e.id, 'effective')
        } else {
          status.set(e.id, 'redundant')
        }
        continue
      }
      const signer = toHex(e.record.addedBy)
      const signerRevokedAt = signer === this.#groupHex ? undefined : devices.get(signer)?.revokedAt
      if (signerRevokedAt !== undefined && compareHlc(signerRevokedAt, e.eff) <= 0) {
        status.set(e.id, 'signer_revoked')
      } else if (target.admission !== undefined) {
        status.set(e.id, 'redundant')
      } else {
        target.admission = e.record
        target.admittedAt = e.eff
        status.set(e.id, 'effective')
        release(toHex(e.record.device), e.eff)
      }
    }
    for (const id of this.#records.keys()) if (!status.has(id)) status.set(id, 'pending')
    this.#replayed = { devices, status }
    return this.#replayed
  }
}
