/**
 * The sync service: runs `/weft/sync/1.0.0` sessions over libp2p streams, on
 * direct and relayed (limited) connections alike, and keeps per-peer state.
 *
 * Gossip carries the hot path: announcements bring small new ops inline, and
 * `gossip-inbox.ts` applies them without a session, holding the ones that
 * arrive out of order until the ops before them do. Sessions are for gaps:
 * they start when the scheduler says so (new connections, retries after a
 * cut, anti-entropy: see `scheduler.ts`), when the gap tracker finds ops that
 * gossip did not bring (`gap-tracker.ts`: one pull per gap, from one peer,
 * after a delay), or on request (`syncWith`, `syncAll`). At most one outbound
 * session per peer runs at a time with at most one more waiting, and none
 * starts while the peer runs one with us (a session serves both directions).
 * When both open one at once, the side with the larger peer id keeps its own
 * and answers the other's with a `crossed` hello: that stream ends at once,
 * with no error and no retry. Inbound sessions are capped per peer and in
 * total; beyond that a stream is reset and the peer retries later. Relayed
 * connections with a small data budget (a stock relay's 128 KiB) get small
 * pages, so some land before the limit cuts the connection, and runs larger
 * than a page come in fragments that the next session resumes (see
 * protocol/fragments.ts). A node that pulled ops in a session announces its
 * vector a little later, so a neighbour that lacks them (a line A - B - C)
 * pulls them in turn. Per-peer vectors (what `weft status` compares) come from hellos,
 * from the announcements each peer writes, and from our own announcements
 * each peer was sent.
 *
 * Membership: sessions run only with members (`membership`, by peer id, which
 * Noise authenticated). We never start one with anyone else, so our hello and
 * vector go to members only; a non-member's stream is answered with one
 * NOT_MEMBER error frame before anything is read from it. `authorize(peerId,
 * groupId)` is then consulted on every hello (by default: the hello names
 * our group and the peer is a member); a refusal ends the session with
 * NOT_MEMBER on both sides.
 */
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import type { EncodedOp } from '../../oplog/op.js'
import { DEFAULT_FRAGMENT_ABOVE_PAGES, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_PAGE_MAX_BYTES, DEFAULT_PAGE_MAX_OPS, SYNC_PROTOCOL_ID } from '../../protocol/constants.js'
import { RunAssembler, type HeldRunInfo } from '../../protocol/fragments.js'
import { NotMemberError, SessionClosedError, type SyncProtocolError } from '../../protocol/errors.js'
import { FramedChannel } from '../../protocol/framing.js'
import type { SyncStore } from '../../protocol/port.js'
import { runSyncSession, type SessionResult } from '../../protocol/session.js'
import { isAhead } from '../../protocol/vector.js'
import { Announcer, type AnnouncePubSub, type ReceivedAnnouncement } from './announcer.js'
import type { MemberDialer } from '../members/member-dialer.js'
import * as C from '../constants.js'
import { GapTracker, type GapPeer } from './gap-tracker.js'
import { GossipInbox } from './gossip-inbox.js'
import { EVERYONE, type PeerMembership } from '../members/member-gate.js'
import { PeerStates, type PeerSyncState, type SyncTotals } from './peer-state.js'
import { refuseNotMember } from './refuse-stream.js'
import { SyncScheduler, type SessionCause } from './scheduler.js'
import { deadline, linkSignals } from '../../runtime/deadline.js'
import { streamChannel } from '../stream-channel.js'
import type { SyncServiceInit } from './sync-options.js'

export type { ChangeFeed, SyncServiceInit } from './sync-options.js'
export type { SessionCause } from './scheduler.js'

export interface SyncServiceComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  /** Gossipsub, when the node runs it under the service name `pubsub`: enables live announcements. */
  pubsub?: AnnouncePubSub
  /** The member dialer, when the node runs it under the name `memberDialer`: dials members on all their addresses at once. */
  memberDialer?: MemberDialer
}

export interface SyncSessionEvent {
  readonly peerId: string
  readonly direction: 'inbound' | 'outbound'
  /** Why we started it (outbound sessions only: the peer does not say why it started one). */
  readonly cause?: SessionCause
  readonly limited: boolean
  readonly durationMs: number
  /** `result.crossed`: the stream ended at once because the other session between the two devices carries both directions. */
  readonly result: SessionResult
}

export interface AnnounceAppliedEvent {
  readonly peerId: string
  readonly ops: number
  readonly applied: number
}

export interface SyncServiceEvents {
  /** A session ended, cleanly or not (see `result.error`). */
  'session:end': CustomEvent<SyncSessionEvent>
  /** Ops from an announcement were applied. */
  'announce:applied': CustomEvent<AnnounceAppliedEvent>
}

export interface SyncService extends TypedEventTarget<SyncServiceEvents> {
  readonly protocol: string
  readonly groupId: string
  /** Runs a session with `peer` now (after any running one), dialing it if needed. Never throws: see `result.error`. */
  syncWith(peer: PeerId | string, options?: { signal?: AbortSignal }): Promise<SessionResult>
  /** Runs a session with every connected peer that speaks the protocol. */
  syncAll(options?: { signal?: AbortSignal }): Promise<Array<{ peerId: string, result: SessionResult }>>
  /** Asks for a session with `peer` soon; coalesces with one already waiting (which keeps its cause). */
  requestSync(peer: PeerId | string, cause?: SessionCause): void
  /** Announces local ops to the group (done automatically when `changes` was given). */
  announce(ops: readonly EncodedOp[]): void
  /** Per-peer state, for the CLI. */
  getPeerStates(): PeerSyncState[]
  getPeerState(peer: PeerId | string): PeerSyncState | undefined
  /** Totals since start, for metrics. */
  getTotals(): SyncTotals
  /** Runs partly received in fragments (large values crossing limited connections), for status. */
  getHeldRuns(): HeldRunInfo[]
}

export class DefaultSyncService extends TypedEventEmitter<SyncServiceEvents> implements SyncService, Startable {
  readonly protocol = SYNC_PROTOCOL_ID
  readonly groupId: string
  readonly #c: SyncServiceComponents
  readonly #init: SyncServiceInit
  readonly #membership: PeerMembership
  readonly #store: SyncStore
  readonly #log: Logger
  readonly #states: PeerStates
  readonly #locks = new Map<string, Promise<unknown>>()
  readonly #queued = new Set<string>()
  readonly #scheduler: SyncScheduler
  readonly #lastSessionStart = new Map<string, number>()
  readonly #inbound = new Map<string, number>()
  #inboundTotal = 0
  /** Peers we run an outbound session with right now. */
  readonly #outboundActive = new Set<string>()
  /** The latest inbound session per peer, kept a while after it ends: a `syncWith` whose stream crossed it returns its result. */
  readonly #inboundRuns = new Map<string, InboundRun>()
  /** `syncWith` calls whose stream crossed a session of the peer's that has not reached us yet. */
  readonly #awaitingInbound = new Map<string, Set<(run?: InboundRun) => void>>()
  readonly #gaps: GapTracker
  #inbox: GossipInbox | undefined
  /** Fragments of large runs, kept across sessions and peers so a cut run resumes (see protocol/fragments.ts). */
  readonly #fragments = new RunAssembler({ now: Date.now })
  #announcer: Announcer | undefined
  #unsubscribe: (() => void) | undefined
  #topologyId: string | undefined
  #shutdown = new AbortController()
  #started = false

  constructor (components: SyncServiceComponents, init: SyncServiceInit) {
    super()
    this.#c = components
    this.#init = init
    this.#membership = init.membership ?? EVERYONE
    this.#store = init.store
    this.groupId = init.groupId ?? C.DEFAULT_GROUP_ID
    this.#log = components.logger.forComponent(C.LOG_SYNC)
    this.#states = new PeerStates()
    this.#scheduler = new SyncScheduler({
      requestSync: (peer, cause) => { this.requestSync(peer, cause) },
      lastSessionStart: peer => this.#lastSessionStart.get(peer) ?? 0,
      idlePeers: () => this.#states.all().map(s => s.peerId).filter(id => this.#isMember(id) && this.#liveConnection(id).connected && !this.#locks.has(id)),
      ourVector: () => this.#store.versionVector(),
      log: this.#log
    }, init)
    this.#gaps = new GapTracker({
      ourVector: () => this.#store.versionVector(),
      peers: () => this.#pullablePeers(),
      pull: peer => { this.requestSync(peer, 'gap') },
      log: this.#log
    }, init.gapPullDelayMs === undefined ? {} : { delayMs: init.gapPullDelayMs })
  }

  /** Connected members, with what we know they hold, for the gap tracker. */
  #pullablePeers (): GapPeer[] {
    const out: GapPeer[] = []
    for (const s of this.#states.all()) {
      if (!this.#isMember(s.peerId) || !this.#liveConnection(s.peerId).connected) continue
      out.push({ peerId: s.peerId, vector: new Map(Object.entries(s.theirVector)), busy: s.sessionActive || this.#locks.has(s.peerId) })
    }
    return out
  }

  readonly [Symbol.toStringTag] = 'weft:sync'

  #isMember (peer: PeerId | string): boolean {
    try {
      return this.#membership.isMember(peer.toString())
    } catch {
      return false
    }
  }

  /** Hello check: our group, and a member. */
  #authorize (peerId: string, groupId: string): boolean | Promise<boolean> {
    if (this.#init.authorize !== undefined) return this.#init.authorize(peerId, groupId)
    return groupId === this.groupId && this.#isMember(peerId)
  }

  isStarted (): boolean { return this.#started }

  async start (): Promise<void> {
    this.#shutdown = new AbortController()
    await this.#c.registrar.handle(SYNC_PROTOCOL_ID, this.#onStream, {
      maxInboundStreams: this.#init.maxInboundStreams ?? C.DEFAULT_MAX_INBOUND_SYNC_STREAMS,
      maxOutboundStreams: this.#init.maxOutboundStreams ?? C.DEFAULT_MAX_OUTBOUND_SYNC_STREAMS,
      runOnLimitedConnection: true
    })
    this.#topologyId = await this.#c.registrar.register(SYNC_PROTOCOL_ID, {
      notifyOnLimitedConnection: true,
      onConnect: (peerId, conn) => { this.#connected(peerId, conn) }
    })
    this.#c.events.addEventListener('connection:open', this.#onConnectionOpen)
    this.#c.events.addEventListener('connection:close', this.#onConnectionClose)
    this.#started = true
  }

  /** Gossip starts once every service (gossipsub included) has started. */
  afterStart (): void {
    const pubsub = this.#init.gossip === false ? undefined : this.#c.pubsub
    this.#gaps.start()
    if (pubsub !== undefined) {
      const gossipLog = this.#c.logger.forComponent(C.LOG_GOSSIP)
      this.#inbox = new GossipInbox({
        store: this.#store,
        log: gossipLog,
        // The pull for what is missing starts as the hold expires.
        holdMs: this.#init.gapPullDelayMs ?? C.DEFAULT_GAP_PULL_DELAY_MS,
        onExpired: dropped => { for (const [peer, n] of dropped) this.#states.deferred(peer, n) }
      })
      this.#announcer = new Announcer({
        pubsub,
        store: this.#store,
        groupId: this.groupId,
        log: gossipLog,
        authorize: (peerId, groupId) => this.#authorize(peerId, groupId),
        ...(this.#init.members === undefined ? {} : { members: this.#init.members }),
        ...(this.#init.announceDelayMs === undefined ? {} : { delayMs: this.#init.announceDelayMs }),
        peerMayLack: peer => this.#peerMayLack(peer),
        onAnnouncement: async a => { await this.#onAnnouncement(a) },
        onPublished: (recipients, ops, bytes, seqs) => {
          const self = this.#store.deviceId
          for (const p of recipients) {
            this.#states.published(p.toString(), ops, bytes)
            if (seqs !== undefined) this.#states.sentOwnOps(p.toString(), self, seqs.first, seqs.last)
          }
        },
        onRepublished: () => { this.#states.republished() },
        onVersions: (writer, mismatch) => {
          if (mismatch !== undefined) gossipLog('announcement from %p not applied: it %s', writer, mismatch)
          this.#states.announcedVersions(writer.toString(), mismatch)
        }
      })
      this.#announcer.start()
    }
    const unsubscribe = this.#init.changes?.subscribe(event => {
      if (event.source === 'local' && event.ops.length > 0) this.announce(event.ops)
    })
    if (typeof unsubscribe === 'function') this.#unsubscribe = unsubscribe as () => void
    this.#scheduler.start()
  }

  async stop (): Promise<void> {
    this.#started = false
    this.#shutdown.abort()
    this.#scheduler.stop()
    this.#gaps.stop()
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    await this.#announcer?.stop()
    this.#announcer = undefined
    await this.#inbox?.stop()
    this.#inbox = undefined
    this.#c.events.removeEventListener('connection:open', this.#onConnectionOpen)
    this.#c.events.removeEventListener('connection:close', this.#onConnectionClose)
    if (this.#topologyId !== undefined) this.#c.registrar.unregister(this.#topologyId)
    await this.#c.registrar.unhandle(SYNC_PROTOCOL_ID)
    await Promise.allSettled([...this.#locks.values()])
  }

  announce (ops: readonly EncodedOp[]): void {
    this.#announcer?.announce(ops)
  }

  /**
   * An announcement (of our versions, from a member): its writer's vector
   * updates what we know the writer holds, its ops are applied (or held for
   * order), and whatever it shows we still lack opens a gap, pulled later if
   * gossip does not close it.
   */
  async #onAnnouncement (a: ReceivedAnnouncement): Promise<void> {
    const forwarder = a.forwarder.toString()
    this.#states.announcedVector(a.writer.toString(), a.vector, this.#store.versionVector())
    const r = a.ops.length > 0 && this.#inbox !== undefined
      ? await this.#inbox.receive(forwarder, a.ops, a.bytes)
      : { applied: 0, fromHold: 0, held: 0, deferred: 0, rejected: 0 }
    this.#states.announced(forwarder, a.ops.length, r.applied, a.bytes, r.deferred, r.held)
    if (r.applied > 0) this.safeDispatchEvent('announce:applied', { detail: { peerId: forwarder, ops: a.ops.length, applied: r.applied } })
    this.#gaps.observe(a.vector, forwarder)
  }

  /** Whether `peer`, a member, may lack ops we hold: its vector is unknown, or behind ours for some origin. */
  #peerMayLack (peer: string): boolean {
    if (!this.#isMember(peer)) return false
    const theirs = this.#states.knownVector(peer)
    return theirs === undefined || isAhead(this.#store.versionVector(), theirs)
  }

  getPeerStates (): PeerSyncState[] {
    return this.#states.all().map(s => ({ ...s, ...this.#liveConnection(s.peerId) }))
  }

  getPeerState (peer: PeerId | string): PeerSyncState | undefined {
    const s = this.#states.get(peer.toString())
    return s === undefined ? undefined : { ...s, ...this.#liveConnection(s.peerId) }
  }

  #liveConnection (peerId: string): { connected: boolean, limited: boolean } {
    const conns = this.#c.connectionManager.getConnections(peerIdFromString(peerId)).filter(c => c.status === 'open')
    return { connected: conns.length > 0, limited: conns.length > 0 && conns.every(c => c.limits != null) }
  }

  getTotals (): SyncTotals { return this.#states.totals() }

  getHeldRuns (): HeldRunInfo[] { return this.#fragments.held() }

  /** The member dialer, if the node runs one (a missing libp2p service throws on access). */
  #dialer (): MemberDialer | undefined {
    try { return this.#c.memberDialer } catch { return undefined }
  }

  async syncWith (peer: PeerId | string, options: { signal?: AbortSignal } = {}): Promise<SessionResult> {
    const peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const key = peerId.toString()
    let startedAt = 0
    const result = await this.#exclusive(key, async () => {
      startedAt = performance.now()
      return await this.#outbound(peerId, 'request', options.signal)
    })
    if (result.crossed !== true) return result
    // The peer's session crossed ours and carries both directions: its result is the answer.
    const kept = await this.#keptSession(key, startedAt, options.signal)
    return kept === undefined ? result : await kept.result.catch(() => result)
  }

  /**
   * The inbound session our crossed stream gave way to: the peer's latest,
   * running or ended since our stream started (a small session often ends
   * before the crossed stream does). If it has not reached us yet (the peer
   * opened it as it answered ours), the next one, waited for a while.
   */
  async #keptSession (key: string, since: number, signal?: AbortSignal): Promise<InboundRun | undefined> {
    const latest = this.#inboundRuns.get(key)
    if (latest !== undefined && (latest.endedAt === undefined || latest.endedAt >= since)) return latest
    if (!this.#started) return undefined
    return await new Promise<InboundRun | undefined>(resolve => {
      const waiters = this.#awaitingInbound.get(key) ?? new Set()
      this.#awaitingInbound.set(key, waiters)
      const stop = linkSignals(this.#shutdown.signal, signal)
      const done = (run?: InboundRun): void => {
        clearTimeout(timer)
        stop.signal.removeEventListener('abort', onAbort)
        stop.clear()
        waiters.delete(done)
        if (waiters.size === 0 && this.#awaitingInbound.get(key) === waiters) this.#awaitingInbound.delete(key)
        resolve(run)
      }
      const onAbort = (): void => { done() }
      const timer = setTimeout(done, this.#init.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS)
      waiters.add(done)
      if (stop.signal.aborted) done()
      else stop.signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  async syncAll (options: { signal?: AbortSignal } = {}): Promise<Array<{ peerId: string, result: SessionResult }>> {
    const peers = this.#states.all().map(s => s.peerId).filter(id => this.#isMember(id) && this.#liveConnection(id).connected)
    return Promise.all(peers.map(async peerId => ({ peerId, result: await this.syncWith(peerId, options) })))
  }

  requestSync (peer: PeerId | string, cause: SessionCause = 'request'): void {
    if (!this.#started) return
    const peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const key = peerId.toString()
    if (key === this.#c.peerId.toString() || this.#queued.has(key)) return
    this.#queued.add(key)
    this.#exclusive(key, async () => {
      this.#queued.delete(key)
      try {
        // The peer is already running a session with us: it serves our pulls too.
        if (this.#inbound.has(key)) return
        return await this.#outbound(peerId, cause)
      } finally {
        // A pull the gap tracker asked for is over, whether or not a session ran (no stream, not a member).
        this.#gaps.sessionEnded(key)
      }
    }).catch(err => { this.#log.error('sync with %p failed - %e', peerId, err) })
  }

  /** Runs `fn` after every earlier task for the same peer (one outbound session per peer at a time). */
  async #exclusive<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve()
    const next = prev.catch(() => {}).then(fn)
    this.#locks.set(key, next)
    try {
      return await next
    } finally {
      if (this.#locks.get(key) === next) this.#locks.delete(key)
    }
  }

  async #outbound (peerId: PeerId, cause: SessionCause, cancel?: AbortSignal): Promise<SessionResult> {
    const key = peerId.toString()
    if (!this.#started) return failed(true, new SessionClosedError('the sync service is stopped'))
    // Our hello carries our vector: it goes to members only.
    if (!this.#isMember(peerId)) return failed(true, new NotMemberError(`${key} is not a member of this group: no session started`))
    let conn: Connection
    let stream: Stream
    const stop = linkSignals(this.#shutdown.signal, cancel)
    const limit = deadline(this.#init.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS, stop.signal)
    // from here on a session of the peer's crosses ours (see #onStream)
    this.#outboundActive.add(key)
    try {
      conn = await this.#connection(peerId, limit.signal)
      stream = await conn.newStream(SYNC_PROTOCOL_ID, { runOnLimitedConnection: true, signal: limit.signal })
    } catch (err) {
      const result = failed(true, new SessionClosedError(`no sync stream to the peer: ${(err as Error).message}`, { cause: err }))
      this.#states.sessionFailed(key, 'CLOSED', result.error!.message)
      this.#log('could not open a sync stream to %p: %s', peerId, (err as Error).message)
      // A peer that does not speak the protocol will not start to on a retry.
      if ((err as Error).name !== 'UnsupportedProtocolError') this.#scheduler.sessionEnded(peerId, result)
      this.#outboundActive.delete(key)
      stop.clear()
      return result
    } finally {
      limit.clear()
    }
    try {
      return await this.#session(stream, conn, cause, stop.signal)
    } finally {
      this.#outboundActive.delete(key)
      stop.clear()
    }
  }

  /** An open connection to the peer, direct preferred; dials when there is none. */
  async #connection (peerId: PeerId, signal: AbortSignal): Promise<Connection> {
    const open = this.#c.connectionManager.getConnections(peerId).filter(c => c.status === 'open')
    const direct = open.find(c => c.limits == null)
    if (direct !== undefined) return direct
    if (open[0] !== undefined) return open[0]
    // The member dialer tries every known address, staggered, instead of libp2p's one-at-a-time dial.
    const dialer = this.#dialer()
    if (dialer?.keeps(peerId.toString()) === true) return await dialer.connect(peerId, { signal })
    return this.#c.connectionManager.openConnection(peerId, { signal })
  }

  readonly #onStream = (stream: Stream, conn: Connection): void => {
    const key = conn.remotePeer.toString()
    if (!this.#isMember(conn.remotePeer)) {
      const message = 'this device syncs only with members of its group'
      this.#log('refusing a sync stream from %p: not a member', conn.remotePeer)
      this.#states.sessionFailed(key, 'NOT_MEMBER', message)
      void refuseNotMember(stream, message, C.NOT_MEMBER_REPLY_TIMEOUT_MS, this.#shutdown.signal)
      return
    }
    const fromPeer = this.#inbound.get(key) ?? 0
    const max = this.#init.maxConcurrentInboundSessions ?? C.DEFAULT_MAX_CONCURRENT_INBOUND_SESSIONS
    if (!this.#started || this.#inboundTotal >= max || fromPeer >= C.MAX_INBOUND_SESSIONS_PER_PEER) {
      this.#log('refusing a sync stream from %p: %d sessions running', conn.remotePeer, this.#inboundTotal)
      stream.abort(new Error('too many sync sessions'))
      return
    }
    // Both sides started a session at once (the dialer at connect, the other after its grace period; two gap
    // pulls): each would carry the same ops. A session serves both directions, so one is enough: the side
    // with the larger peer id keeps its own and answers the other's with a crossed hello, after which neither
    // side pulls on that stream and it ends cleanly (no error, nothing to retry).
    const crossed = this.#outboundActive.has(key) && this.#c.peerId.toString() > key
    if (crossed) this.#log('crossed sync sessions with %p: keeping ours', conn.remotePeer)
    this.#inboundTotal++
    this.#inbound.set(key, fromPeer + 1)
    const run = this.#session(stream, conn, undefined, this.#shutdown.signal, crossed)
    const entry: InboundRun = { result: run }
    if (!crossed) {
      this.#inboundRuns.set(key, entry)
      for (const wake of this.#awaitingInbound.get(key) ?? []) wake(entry)
    }
    void run
      .catch(err => { this.#log.error('inbound session from %p failed - %e', conn.remotePeer, err) })
      .finally(() => {
        this.#inboundTotal--
        const n = (this.#inbound.get(key) ?? 1) - 1
        if (n <= 0) this.#inbound.delete(key)
        else this.#inbound.set(key, n)
        entry.endedAt = performance.now()
        // Kept for a crossed `syncWith` that ends after it; one per peer, and none older than a minute.
        for (const [peer, r] of this.#inboundRuns) {
          if (r.endedAt !== undefined && entry.endedAt - r.endedAt > INBOUND_RUN_KEEP_MS) this.#inboundRuns.delete(peer)
        }
      })
  }

  /** Runs a session on `stream`: ours when `cause` says why we started it, the peer's when it is undefined. */
  async #session (
    stream: Stream, conn: Connection, cause: SessionCause | undefined, signal: AbortSignal = this.#shutdown.signal, crossed = false
  ): Promise<SessionResult> {
    const initiator = cause !== undefined
    const peerId = conn.remotePeer
    const key = peerId.toString()
    const limited = conn.limits != null
    // Small pages only where the relay's budget is small (a stock relay's 128 KiB), not on every relayed connection.
    const budget = conn.limits?.bytes
    const small = limited && budget !== undefined && budget < BigInt(C.SMALL_PAGES_BELOW_RELAY_BYTES)
    const init = this.#init
    stream.maxReadBufferLength = C.DEFAULT_MAX_STREAM_READ_BUFFER_BYTES
    this.#states.sessionStarted(key)
    this.#lastSessionStart.set(key, Date.now())
    const started = performance.now()
    const io = new FramedChannel(streamChannel(stream), init.maxFrameBytes === undefined ? {} : { maxFrameBytes: init.maxFrameBytes })
    const pageMaxBytes = small ? (init.limitedPageMaxBytes ?? C.LIMITED_PAGE_MAX_BYTES) : (init.pageMaxBytes ?? DEFAULT_PAGE_MAX_BYTES)
    const result = await runSyncSession(io, this.#store, {
      initiator,
      groupId: this.groupId,
      expectedDeviceId: key,
      pageMaxOps: small ? (init.limitedPageMaxOps ?? C.LIMITED_PAGE_MAX_OPS) : (init.pageMaxOps ?? DEFAULT_PAGE_MAX_OPS),
      pageMaxBytes,
      fragmentAboveBytes: DEFAULT_FRAGMENT_ABOVE_PAGES * pageMaxBytes,
      fragments: this.#fragments,
      ...(init.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: init.helloTimeoutMs }),
      ...(init.readTimeoutMs === undefined ? {} : { readTimeoutMs: init.readTimeoutMs }),
      ...(init.writeTimeoutMs === undefined ? {} : { writeTimeoutMs: init.writeTimeoutMs }),
      ...(init.compressionLevel === undefined ? {} : { compressionLevel: init.compressionLevel }),
      ...(crossed ? { crossed } : {}),
      signal,
      log: this.#log,
      authorize: (peerId, groupId) => this.#authorize(peerId, groupId),
      onHello: remote => {
        this.#states.vector(key, remote.vector, this.#store.versionVector())
        this.#states.schemas(key, remote.schemas)
      },
      onPage: page => { if (page.applied > 0) this.#gaps.progress(key) }
    })
    const durationMs = performance.now() - started
    const ended: SyncSessionEvent = { peerId: key, direction: initiator ? 'outbound' : 'inbound', ...(cause === undefined ? {} : { cause }), limited, durationMs, result }
    if (result.crossed === true && result.error === undefined) {
      // Nothing moved here: the other session between us carries both directions. Not a session of its own.
      this.#states.sessionCrossed(key)
      this.#log.trace('%s sync stream with %p crossed the peer\'s session: ended at once', initiator ? 'outbound' : 'inbound', peerId)
      this.safeDispatchEvent('session:end', { detail: ended })
      return result
    }
    this.#states.sessionEnded(key, result, durationMs, this.#store.versionVector())
    if (result.error === undefined) {
      this.#log('%s session with %p%s: pulled %d ops (%d new), sent %d, %d/%d bytes in/out, %d ms%s', initiator ? 'outbound' : 'inbound', peerId, cause === undefined ? '' : ` (${cause})`,
        result.opsReceived, result.applied, result.opsSent, result.bytesReceived, result.bytesSent, Math.round(durationMs), limited ? ' (relayed)' : '')
    } else {
      this.#log.error('%s session with %p ended with %s%s: %s', initiator ? 'outbound' : 'inbound', peerId, result.error.code, result.error.remote ? ' (from peer)' : '', result.error.message)
    }
    this.safeDispatchEvent('session:end', { detail: ended })
    // Ops pulled here are news to our other neighbours (a line A - B - C): our vector tells them, a little
    // later and once for many sessions; the ones that lack the ops pull them as a gap.
    if (result.applied > 0) this.#announcer?.announceVector()
    this.#gaps.sessionEnded(key)
    this.#scheduler.sessionEnded(peerId, result)
    return result
  }

  #connected (peerId: PeerId, conn: Connection): void {
    // A non-member gets no session from us (and no entry among our peers).
    if (!this.#isMember(peerId)) return
    this.#states.connection(peerId.toString(), true, conn.limits != null)
    this.#scheduler.connected(peerId, conn)
  }

  /**
   * A connection we opened to a member, or to a peer already known to speak
   * the protocol (from an earlier identify): start at once instead of waiting
   * for this connection's identify, a round trip or more on the catch-up
   * path (and after a restart libp2p knows no peer's protocols).
   */
  readonly #onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (conn.direction !== 'outbound' || !this.#started) return
    if (this.#dialer()?.keeps(conn.remotePeer.toString()) === true) {
      this.#connected(conn.remotePeer, conn)
      return
    }
    this.#c.peerStore.get(conn.remotePeer)
      .then(peer => { if (peer.protocols.includes(SYNC_PROTOCOL_ID) && conn.status === 'open') this.#connected(conn.remotePeer, conn) })
      .catch(() => {}) // not in the peer store yet: identify will tell
  }

  readonly #onConnectionClose = (evt: CustomEvent<Connection>): void => {
    this.#scheduler.connectionClosed(evt.detail.id)
  }
}

/** An inbound session, and when it ended (performance clock). */
interface InboundRun { readonly result: Promise<SessionResult>, endedAt?: number }

/** How long an ended inbound session's result is kept for a crossed `syncWith` (which ends within its own timeouts). */
const INBOUND_RUN_KEEP_MS = 60_000

function failed (initiator: boolean, error: SyncProtocolError): SessionResult {
  return {
    initiator, ok: false, complete: false, error, rejections: [], bytesSent: 0, bytesReceived: 0, pagesSent: 0, opsSent: 0,
    pagesReceived: 0, opsReceived: 0, applied: 0, duplicates: 0, rejected: 0, fragmentsSent: 0, fragmentsReceived: 0
  }
}

export function weftSync (init: SyncServiceInit): (components: SyncServiceComponents) => SyncService {
  return (components) => new DefaultSyncService(components, init)
}
