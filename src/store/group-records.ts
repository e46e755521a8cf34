/**
 * The group lifecycle as the store sees it: which group this replica is in,
 * the membership records (admissions, revocations) it holds, and the
 * records and succession statements it writes.
 *
 * Records are self-certifying (auth/certificate.ts), so they travel as
 * ordinary ops in MEMBERS_COLLECTION and are kept whoever sent them. The
 * group key and membership live in `trust-tables.ts`; this module keeps the
 * in-memory `Membership` in step with them.
 */
import { compareHlc, MAX_COUNTER, type Hlc, type HybridClock } from '../hlc/index.js'
import { InvalidArgumentError } from '../errors.js'
import { bytesEqual } from '../oplog/bytes.js'
import { deviceIdToString, type DeviceKey } from '../oplog/keys.js'
import type { Op } from '../oplog/op.js'
import { decodeValue, encodeValue } from '../oplog/value.js'
import { createGroup, groupIdToString } from '../auth/group.js'
import { decodeRecord, encodeRecord, recordId, signAdmission, signRevocation, type Admission, type MembershipRecord, type Revocation } from '../auth/certificate.js'
import { Membership, type AddResult } from '../auth/membership.js'
import { decodeSuccession, encodeSuccession, signSuccession, verifySuccession } from '../auth/succession.js'
import type { InviteStore } from '../auth/invite-store.js'
import type { MembershipView, OriginKeyAuthorizer } from './apply-remote.js'
import type { Intent } from './local-writes.js'
import type { OplogTables } from './oplog-store.js'
import { fieldToValue, type StateTables } from './state.js'
import type { TrustTables } from './trust-tables.js'

export const MEMBERS_COLLECTION = '_weft.members'
/** Keys of succession statements in MEMBERS_COLLECTION: this prefix and the old device's id. */
export const SUCCESSION_KEY_PREFIX = 'succession-'

/** The membership records `ops` carry (from any origin: each record proves itself). */
export function membershipRecordsIn (ops: readonly Op[]): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const op of ops) {
    if (op.collection !== MEMBERS_COLLECTION || op.kind !== 'set' || op.field !== 'record') continue
    let bytes: unknown
    try { bytes = decodeValue(op.value) } catch { continue }
    if (bytes instanceof Uint8Array) out.push(bytes)
  }
  return out
}

export interface GroupRecordsInit {
  readonly trust: TrustTables
  readonly state: StateTables
  readonly oplog: OplogTables
  readonly clock: HybridClock
  readonly key: DeviceKey
  /** Runs `fn` in one transaction, restoring the caches if it throws. */
  readonly transact: <T>(fn: () => T) => T
  /** Writes weft's own ops (local-writes.ts `commit`). */
  readonly commit: (intents: Intent[]) => void
}

export class GroupRecords implements MembershipView {
  readonly #init: GroupRecordsInit
  #membership: Membership | undefined

  constructor (init: GroupRecordsInit) {
    this.#init = init
    this.reload()
  }

  /** Rebuilds the membership from the saved group and records. */
  reload (): void {
    const group = this.#init.trust.group()
    if (group === undefined) { this.#membership = undefined; return }
    this.#membership = new Membership(group)
    this.#membership.addEncoded(this.#init.trust.records())
  }

  get membership (): Membership | undefined { return this.#membership }

  /** The group this replica belongs to, if any. */
  get group (): { pub: Uint8Array, id: string } | undefined {
    const pub = this.#membership === undefined ? undefined : this.#init.trust.group()
    return pub === undefined ? undefined : { pub, id: groupIdToString(pub) }
  }

  get invites (): InviteStore { return this.#init.trust }

  recordsIn (ops: readonly Op[]): Uint8Array[] { return membershipRecordsIn(ops) }

  /**
   * Who may write when, counting `records` (a batch's own) as if saved: a
   * new device's ops in the same batch as its admission are accepted.
   * Changes nothing: new records go into a copy of the membership.
   */
  authorizer (records: readonly Uint8Array[]): OriginKeyAuthorizer {
    let m = this.#membership
    if (m !== undefined && records.some(bytes => !isHeld(m!, bytes))) {
      m = m.fork()
      m.addEncoded(records)
    }
    return (origin, hlc) => m === undefined || m.isMember(origin, hlc)
  }

  /**
   * Adds signed membership records (from a peer's chain, or carried by
   * ops); the new ones are saved. Never throws for bad records.
   */
  add (encoded: readonly Uint8Array[]): AddResult {
    const m = this.#membership
    if (m === undefined) return { added: 0, duplicates: 0, rejected: encoded.map((_, index) => ({ index, reason: 'wrong_group' as never, message: 'this replica is in no group' })) }
    const result = m.addEncoded(encoded)
    if (result.added > 0) {
      const fresh = new Set(m.records().map(r => recordId(r)))
      for (const bytes of encoded) {
        try {
          const id = recordId(decodeRecord(bytes))
          if (fresh.has(id)) this.#init.trust.saveRecord(id, bytes)
        } catch {}
      }
    }
    return result
  }

  /** Writes a membership record (one we created, or a joiner's admission from pairing) as an op, so it replicates like any data. */
  publish (record: MembershipRecord): void {
    if (this.#membership === undefined) throw new InvalidArgumentError('this device is in no group')
    const bytes = encodeRecord(record)
    this.#init.transact(() => this.#init.trust.saveRecord(recordId(record), bytes))
    this.#membership.add(record)
    this.#init.commit([{ kind: 'set', collection: MEMBERS_COLLECTION, key: recordId(record), field: 'record', value: encodeValue(bytes) }])
  }

  /** Creates a group with this device as its first member; the group key is returned, not stored. */
  create (deviceName: string): { groupId: string, groupKey: DeviceKey } {
    if (this.#membership !== undefined) throw new InvalidArgumentError(`this device is already in group ${this.group!.id}`)
    const g = createGroup({ device: this.#init.key.publicKey, name: deviceName, now: this.#init.clock.wall() })
    this.#init.transact(() => this.#init.trust.setGroup(g.groupPub))
    this.reload()
    this.publish(g.genesis)
    return { groupId: g.groupId, groupKey: g.groupKey }
  }

  /** Switches to another group (after pairing): the chain proves our admission. */
  join (groupPub: Uint8Array, chain: readonly Uint8Array[]): void {
    const m = new Membership(groupPub)
    m.addEncoded(chain)
    if (!m.isMember(this.#init.key.publicKey)) throw new InvalidArgumentError('the admission chain does not make this device a member of the group')
    this.#init.transact(() => {
      this.#init.trust.setGroup(groupPub)
      for (const r of m.records()) this.#init.trust.saveRecord(recordId(r), encodeRecord(r))
    })
    this.reload()
  }

  /** Admits another device (the inviter's side of pairing). */
  admit (device: Uint8Array, name: string): Admission {
    const g = this.group
    if (g === undefined) throw new InvalidArgumentError('this device is in no group; run weft init first')
    const a = signAdmission({ group: g.pub, device, name, addedAt: this.#init.clock.wall() }, this.#init.key)
    this.publish(a)
    return a
  }

  /** Revokes a device: its ops stamped from now on are refused by every member once this syncs. */
  revoke (device: Uint8Array): Revocation {
    const g = this.group
    if (g === undefined) throw new InvalidArgumentError('this device is in no group')
    if (this.#membership!.member(device) === undefined) throw new InvalidArgumentError(`${deviceIdToString(device)} is not a member of this group`)
    const r = signRevocation({ group: g.pub, device, at: this.#init.clock.now() }, this.#init.key)
    this.publish(r)
    return r
  }

  /** Retires `old`, this device's predecessor (see `Replica.retirePredecessor`). */
  retirePredecessor (old: DeviceKey): { at: Hlc } {
    const { clock, key } = this.#init
    const g = this.group
    if (g === undefined) throw new InvalidArgumentError('this device is in no group')
    if (bytesEqual(old.publicKey, key.publicKey)) throw new InvalidArgumentError('a device cannot retire itself as its own predecessor')
    if (this.#membership!.member(old.publicKey) === undefined) throw new InvalidArgumentError(`${old.id} was never a member of group ${g.id}: nothing to retire`)
    let at = clock.now()
    const head = this.#init.oplog.origin(old.publicKey)?.hlc
    if (head !== undefined && compareHlc(head, at) >= 0) {
      at = head.counter < MAX_COUNTER ? { ms: head.ms, counter: head.counter + 1 } : { ms: head.ms + 1, counter: 0 }
    }
    this.publish(signRevocation({ group: g.pub, device: old.publicKey, at }, old))
    const statement = encodeSuccession(signSuccession({ group: g.pub, successor: key.publicKey, at }, old))
    this.#init.commit([{ kind: 'set', collection: MEMBERS_COLLECTION, key: `${SUCCESSION_KEY_PREFIX}${old.id}`, field: 'statement', value: encodeValue(statement) }])
    return { at }
  }

  /** Verified succession statements of this group: old device id to its successor's. */
  successors (): Map<string, string> {
    const out = new Map<string, string>()
    const g = this.group
    if (g === undefined) return out
    const state = this.#init.state
    for (const key of state.keys(MEMBERS_COLLECTION, SUCCESSION_KEY_PREFIX, 10_000)) {
      if (!key.startsWith(SUCCESSION_KEY_PREFIX)) break
      const field = state.row(MEMBERS_COLLECTION, key).find(f => f.name === 'statement')
      const bytes = field === undefined ? undefined : fieldToValue(field)
      if (!(bytes instanceof Uint8Array)) continue
      try {
        const s = decodeSuccession(bytes)
        verifySuccession(s, g.pub)
        out.set(deviceIdToString(s.old), deviceIdToString(s.successor))
      } catch {}
    }
    return out
  }
}

function isHeld (m: Membership, bytes: Uint8Array): boolean {
  try { return m.has(recordId(decodeRecord(bytes))) } catch { return true }
}
