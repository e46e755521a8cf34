/**
 * What the sync service knows about each peer: enough for the CLI to answer
 * "is this device syncing, and if not, why" (last session, totals, their
 * vector, last error) without reaching into libp2p. Kept in memory; a node
 * restart starts from empty state and the vectors make that harmless.
 */
import type { SyncErrorCode } from '../protocol/errors.js'
import type { SessionResult } from '../protocol/session.js'
import type { VersionVector } from '../protocol/port.js'
import { opsBeyond, vectorToObject } from '../protocol/vector.js'

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
  /** Their vector when last seen (hello or announcement). */
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
  /** Announced ops from or via this peer that arrived ahead of what we held (pulled instead of applied). */
  readonly opsDeferred: number
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

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
  /** Announced ops that arrived ahead of what we held: not applied (the store would refuse them as a gap), pulled by a session. */
  readonly opsDeferred: number
  /** When the last session that ended cleanly ended (ms since the epoch). */
  readonly lastSyncAt?: number
}

export class PeerStates {
  readonly #totals: Mutable<SyncTotals> = { sessions: 0, sessionErrors: 0, opsSent: 0, opsReceived: 0, opsApplied: 0, bytesSent: 0, bytesReceived: 0, opsDeferred: 0 }

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
      s = { peerId, connected: false, limited: false, sessionActive: false, sessions: 0, opsSent: 0, opsReceived: 0, opsApplied: 0, bytesSent: 0, bytesReceived: 0, opsDeferred: 0, theirVector: {}, theirSchemas: {}, theyAreAheadBy: 0 }
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

  sessionEnded (peerId: string, result: SessionResult, durationMs: number, ourVector: VersionVector): void {
    const s = this.#entry(peerId)
    const now = this.#now()
    // sessions with one peer can overlap (one each way): active until the last one ends
    const active = (this.#active.get(peerId) ?? 1) - 1
    if (active > 0) this.#active.set(peerId, active)
    else this.#active.delete(peerId)
    s.sessionActive = active > 0
    s.sessions++
    s.lastSessionAt = now
    s.lastSessionMs = durationMs
    s.lastSessionOk = result.ok
    if (result.ok) s.lastSuccessAt = now
    const t = this.#totals
    t.sessions++
    if (!result.ok) t.sessionErrors++
    else t.lastSyncAt = now
    t.opsSent += result.opsSent
    t.opsReceived += result.opsReceived
    t.opsApplied += result.applied
    t.bytesSent += result.bytesSent
    t.bytesReceived += result.bytesReceived
    s.opsSent += result.opsSent
    s.opsReceived += result.opsReceived
    s.opsApplied += result.applied
    s.bytesSent += result.bytesSent
    s.bytesReceived += result.bytesReceived
    if (result.remoteVector !== undefined) this.vector(peerId, result.remoteVector, ourVector)
    if (result.error !== undefined) s.lastError = { code: result.error.code, message: result.error.message, remote: result.error.remote, at: now }
    if (result.error?.code === 'VERSION_MISMATCH') s.versionMismatch = { via: 'sync', message: result.error.message, at: now }
    else if (result.ok) delete s.versionMismatch
    const r = result.rejections[0]
    if (r !== undefined) s.lastRejection = { reason: r.reason, message: r.message, at: now }
  }

  vector (peerId: string, theirs: VersionVector, ours: VersionVector): void {
    const s = this.#entry(peerId)
    s.theirVector = vectorToObject(theirs)
    s.theyAreAheadBy = opsBeyond(theirs, ours)
  }

  /** The schema versions from the peer's hello. */
  schemas (peerId: string, theirs: ReadonlyMap<string, number>): void {
    this.#entry(peerId).theirSchemas = Object.fromEntries(theirs)
  }

  announced (peerId: string, ops: number, applied: number, bytes: number, deferred = 0): void {
    const s = this.#entry(peerId)
    s.opsReceived += ops
    s.opsApplied += applied
    s.bytesReceived += bytes
    s.opsDeferred += deferred
    this.#totals.opsReceived += ops
    this.#totals.opsApplied += applied
    this.#totals.bytesReceived += bytes
    this.#totals.opsDeferred += deferred
  }

  /** We published an announcement of `ops` ops that went to this peer. */
  published (peerId: string, ops: number, bytes: number): void {
    const s = this.#entry(peerId)
    s.opsSent += ops
    s.bytesSent += bytes
    this.#totals.opsSent += ops
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
