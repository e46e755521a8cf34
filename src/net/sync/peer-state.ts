/**
 * What the sync service knows about each peer: enough for the CLI to answer
 * "is this device syncing, and if not, why" (last session, totals, their
 * vector, last error) without reaching into libp2p. Kept in memory; a node
 * restart starts from empty state and the vectors make that harmless.
 */
import type { SyncErrorCode } from '../../protocol/errors.js'
import type { SessionResult } from '../../protocol/session.js'
import type { VersionVector } from '../../protocol/port.js'
import { opsBeyond, vectorToObject } from '../../protocol/vector.js'

export interface PeerSyncError {
  readonly code: SyncErrorCode
  readonly message: string
  /** True when the peer reported it; false when we detected it. */
  readonly remote: boolean
  /** Milliseconds since the Unix epoch. */
  readonly at: number
}

export interface PeerSyncState {
  readonly peerId: string
  /** An open connection to the peer exists. */
  readonly connected: boolean
  /** The open connection is relayed (limited). */
  readonly limited: boolean
  readonly sessionActive: boolean
  /** Sessions finished (cleanly or not). */
  readonly sessions: number
  readonly lastSessionAt?: number
  readonly lastSessionMs?: number
  readonly lastSessionOk?: boolean
  readonly lastSuccessAt?: number
  /** Totals over sessions and announcements. */
  readonly opsSent: number
  readonly opsReceived: number
  readonly opsApplied: number
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Their vector as last seen: their hello or session, merged with their announcements since. */
  readonly theirVector: Readonly<Record<string, number>>
  /** Collection -> version of the schemas their app declared, from their last hello. */
  readonly theirSchemas: Readonly<Record<string, number>>
  /** Ops they held beyond us at that time. */
  readonly theyAreAheadBy: number
  readonly lastError?: PeerSyncError
  readonly lastRejection?: { readonly reason: string, readonly message: string, readonly at: number }
  /**
   * The peer speaks another sync protocol or op format version: seen in its
   * hello (`via: 'sync'`) or in an announcement it wrote (`via: 'gossip'`).
   * Cleared by the next clean session or matching announcement.
   */
  readonly versionMismatch?: { readonly via: 'sync' | 'gossip', readonly message: string, readonly at: number }
  /**
   * Announced ops via this peer that were not applied from the announcement (they arrived ahead of what we
   * held and the hold expired, or it was full): pulled by a session instead.
   */
  readonly opsDeferred: number
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** `known` raised, per origin, to the higher seq of each vector; undefined when none is higher anywhere. */
function raised (known: Readonly<Record<string, number>>, ...vectors: Array<VersionVector | undefined>): Map<string, number> | undefined {
  const merged = new Map(Object.entries(known))
  let changed = false
  for (const v of vectors) {
    if (v === undefined) continue
    for (const [origin, seq] of v) {
      if (seq > (merged.get(origin) ?? 0)) { merged.set(origin, seq); changed = true }
    }
  }
  return changed ? merged : undefined
}

/** Totals over all peers since start, for metrics. */
export interface SyncTotals {
  /** Sessions that ended, cleanly or not, including attempts that failed before the first frame. */
  readonly sessions: number
  /** Sessions that ended in an error (each failed session counts, not each failing peer). */
  readonly sessionErrors: number
  /** Ops sent to peers: served in sessions, and published in announcements (counted once per recipient). */
  readonly opsSent: number
  readonly opsReceived: number
  readonly opsApplied: number
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Announced ops that were not applied from their announcement (see PeerSyncState.opsDeferred): pulled by a session. */
  readonly opsDeferred: number
  /** Sessions that ended, by who opened them (crossed ones not counted: see sessionsCrossed). */
  readonly sessionsOutbound: number
  readonly sessionsInbound: number
  /** Sessions that crossed one the other side opened at the same time, and ended at once (that one served both sides). */
  readonly sessionsCrossed: number
  /** Of opsSent: served in sessions, and published in announcements (once per recipient). */
  readonly opsSentInSessions: number
  readonly opsSentInAnnouncements: number
  /** Of opsApplied: applied from sessions and from announcements (held ones included). */
  readonly opsAppliedFromSessions: number
  readonly opsAppliedFromAnnouncements: number
  /** Announced ops that arrived ahead of what we held and were held for order. */
  readonly opsHeld: number
  /** Our announcements published a second time, unmarked, because the first missed a subscribed member. */
  readonly announcementsRepublished: number
  /** When the last session that ended cleanly ended (ms since the epoch). */
  readonly lastSyncAt?: number
}

export class PeerStates {
  readonly #totals: Mutable<SyncTotals> = {
    sessions: 0,
    sessionErrors: 0,
    opsSent: 0,
    opsReceived: 0,
    opsApplied: 0,
    bytesSent: 0,
    bytesReceived: 0,
    opsDeferred: 0,
    sessionsOutbound: 0,
    sessionsInbound: 0,
    sessionsCrossed: 0,
    opsSentInSessions: 0,
    opsSentInAnnouncements: 0,
    opsAppliedFromSessions: 0,
    opsAppliedFromAnnouncements: 0,
    opsHeld: 0,
    announcementsRepublished: 0
  }

  readonly #peers = new Map<string, Mutable<PeerSyncState>>()
  /** Sessions under way per peer. */
  readonly #active = new Map<string, number>()
  readonly #now: () => number
  readonly #max: number

  constructor (now: () => number = Date.now, maxPeers = 1024) {
    this.#now = now
    this.#max = maxPeers
  }

  totals (): SyncTotals { return { ...this.#totals } }

  get (peerId: string): PeerSyncState | undefined {
    const s = this.#peers.get(peerId)
    return s === undefined ? undefined : { ...s, theirVector: { ...s.theirVector }, theirSchemas: { ...s.theirSchemas } }
  }

  all (): PeerSyncState[] {
    return [...this.#peers.keys()].map(id => this.get(id)!)
  }

  #entry (peerId: string): Mutable<PeerSyncState> {
    let s = this.#peers.get(peerId)
    if (s === undefined) {
      if (this.#peers.size >= this.#max) this.#evict()
      s = {
        peerId, connected: false, limited: false, sessionActive: false, sessions: 0, opsSent: 0, opsReceived: 0, opsApplied: 0,
        bytesSent: 0, bytesReceived: 0, opsDeferred: 0, theirVector: {}, theirSchemas: {}, theyAreAheadBy: 0
      }
      this.#peers.set(peerId, s)
    }
    return s
  }

  /** Drops the oldest disconnected peer, so a stream of strangers cannot grow the table. */
  #evict (): void {
    for (const [id, s] of this.#peers) if (!s.connected && !s.sessionActive) { this.#peers.delete(id); return }
  }

  connection (peerId: string, connected: boolean, limited: boolean): void {
    const s = this.#entry(peerId)
    s.connected = connected
    s.limited = connected && limited
  }

  sessionStarted (peerId: string): void {
    this.#active.set(peerId, (this.#active.get(peerId) ?? 0) + 1)
    this.#entry(peerId).sessionActive = true
  }

  /** Sessions with one peer can overlap (one each way): active until the last one ends. */
  #ended (peerId: string, s: Mutable<PeerSyncState>): void {
    const active = (this.#active.get(peerId) ?? 1) - 1
    if (active > 0) this.#active.set(peerId, active)
    else this.#active.delete(peerId)
    s.sessionActive = active > 0
  }

  /** A session that crossed another with the same peer ended (nothing moved on it): not counted as a session. */
  sessionCrossed (peerId: string): void {
    this.#ended(peerId, this.#entry(peerId))
    this.#totals.sessionsCrossed++
  }

  sessionEnded (peerId: string, result: SessionResult, durationMs: number, ourVector: VersionVector): void {
    const s = this.#entry(peerId)
    const now = this.#now()
    this.#ended(peerId, s)
    s.sessions++
    s.lastSessionAt = now
    s.lastSessionMs = durationMs
    s.lastSessionOk = result.ok
    if (result.ok) s.lastSuccessAt = now
    const t = this.#totals
    t.sessions++
    if (result.initiator) t.sessionsOutbound++
    else t.sessionsInbound++
    if (!result.ok) t.sessionErrors++
    else t.lastSyncAt = now
    t.opsSent += result.opsSent
    t.opsSentInSessions += result.opsSent
    t.opsReceived += result.opsReceived
    t.opsApplied += result.applied
    t.opsAppliedFromSessions += result.applied
    t.bytesSent += result.bytesSent
    t.bytesReceived += result.bytesReceived
    s.opsSent += result.opsSent
    s.opsReceived += result.opsReceived
    s.opsApplied += result.applied
    s.bytesSent += result.bytesSent
    s.bytesReceived += result.bytesReceived
    if (result.remoteVector !== undefined) this.#sessionVector(s, result.remoteVector, result.remoteDoneVector, ourVector)
    if (result.error !== undefined) s.lastError = { code: result.error.code, message: result.error.message, remote: result.error.remote, at: now }
    if (result.error?.code === 'VERSION_MISMATCH') s.versionMismatch = { via: 'sync', message: result.error.message, at: now }
    else if (result.ok) delete s.versionMismatch
    const r = result.rejections[0]
    if (r !== undefined) s.lastRejection = { reason: r.reason, message: r.message, at: now }
  }

  /** Their vector from their hello: what they hold now. */
  vector (peerId: string, theirs: VersionVector, ours: VersionVector): void {
    const s = this.#entry(peerId)
    s.theirVector = vectorToObject(theirs)
    s.theyAreAheadBy = opsBeyond(theirs, ours)
  }

  /**
   * Their vector at the end of a session: what their hello said (set when it
   * came, `vector`) and what announcements added since, raised to their Done's
   * vector, which is what they held once they applied what they pulled (a
   * peer that predates it sends none, and their view stays the hello's until
   * their next announcement or hello). Merged per origin rather than set: an
   * announcement handled after their Done may be newer than it.
   */
  #sessionVector (s: Mutable<PeerSyncState>, hello: VersionVector, done: VersionVector | undefined, ours: VersionVector): void {
    const merged = raised(s.theirVector, hello, done)
    if (merged !== undefined) s.theirVector = vectorToObject(merged)
    // Recounted even when unchanged: our own vector moved during the session.
    s.theyAreAheadBy = opsBeyond(merged ?? new Map(Object.entries(s.theirVector)), ours)
  }

  /**
   * Their vector from an announcement they wrote: merged (per origin, the
   * higher seq) into what we knew, since a delayed announcement may be older
   * than their last hello. Only for peers we have an entry for (a writer two
   * hops away gets none).
   */
  announcedVector (peerId: string, theirs: VersionVector, ours: VersionVector): void {
    const s = this.#peers.get(peerId)
    if (s === undefined) return
    const merged = raised(s.theirVector, theirs)
    if (merged === undefined) return
    s.theirVector = vectorToObject(merged)
    s.theyAreAheadBy = opsBeyond(merged, ours)
  }

  /**
   * We sent the peer an announcement of `origin`'s ops `first`..`last` (our
   * own): once it holds everything before `first`, it holds them too, as far
   * as we can know without asking (a peer that lost the message pulls it as a
   * gap within a second, and its next hello or announcement corrects this).
   */
  sentOwnOps (peerId: string, origin: string, first: number, last: number): void {
    const s = this.#peers.get(peerId)
    if (s === undefined) return
    const held = s.theirVector[origin] ?? 0
    if (held < first - 1 || held >= last) return
    s.theirVector = { ...s.theirVector, [origin]: last }
  }

  /** Their vector as we know it (for pulling gaps), or undefined. */
  knownVector (peerId: string): ReadonlyMap<string, number> | undefined {
    const s = this.#peers.get(peerId)
    return s === undefined ? undefined : new Map(Object.entries(s.theirVector))
  }

  /** The schema versions from the peer's hello. */
  schemas (peerId: string, theirs: ReadonlyMap<string, number>): void {
    this.#entry(peerId).theirSchemas = Object.fromEntries(theirs)
  }

  /** An announcement via this peer: `held` of its ops arrived ahead of what we held, `deferred` could not be applied or held. */
  announced (peerId: string, ops: number, applied: number, bytes: number, deferred = 0, held = 0): void {
    const s = this.#entry(peerId)
    s.opsReceived += ops
    s.opsApplied += applied
    s.bytesReceived += bytes
    s.opsDeferred += deferred
    const t = this.#totals
    t.opsReceived += ops
    t.opsApplied += applied
    t.opsAppliedFromAnnouncements += applied
    t.bytesReceived += bytes
    t.opsDeferred += deferred
    t.opsHeld += held
  }

  /** Held ops via this peer expired before the ops before them arrived: a pull brings them. */
  deferred (peerId: string, ops: number): void {
    const s = this.#peers.get(peerId)
    if (s !== undefined) s.opsDeferred += ops
    this.#totals.opsDeferred += ops
  }

  /** An announcement of ours missed a subscribed member and was published again for forwarding. */
  republished (): void {
    this.#totals.announcementsRepublished++
  }

  /** We published an announcement of `ops` ops that went to this peer. */
  published (peerId: string, ops: number, bytes: number): void {
    const s = this.#entry(peerId)
    s.opsSent += ops
    s.bytesSent += bytes
    this.#totals.opsSent += ops
    this.#totals.opsSentInAnnouncements += ops
    this.#totals.bytesSent += bytes
  }

  /** What the versions in the peer's latest announcement say (undefined: they match ours). */
  announcedVersions (peerId: string, mismatch: string | undefined): void {
    if (mismatch !== undefined) {
      this.#entry(peerId).versionMismatch = { via: 'gossip', message: mismatch, at: this.#now() }
      return
    }
    // Matching versions are the common case: touch only peers that had a mismatch (no entries for far writers).
    const s = this.#peers.get(peerId)
    if (s?.versionMismatch?.via === 'gossip') delete s.versionMismatch
  }

  error (peerId: string, code: SyncErrorCode, message: string, remote = false): void {
    this.#entry(peerId).lastError = { code, message, remote, at: this.#now() }
  }

  /** A session that failed before it began (no stream, or refused at once): counted as a failed session. */
  sessionFailed (peerId: string, code: SyncErrorCode, message: string, remote = false): void {
    this.error(peerId, code, message, remote)
    this.#totals.sessions++
    this.#totals.sessionErrors++
  }
}
