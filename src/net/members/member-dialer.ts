/**
 * Keeps the group's devices connected: every member (and every configured
 * `peers` entry) whose last connection closed is redialled, on every address
 * weft knows for it, with backoff, for as long as it is a member.
 *
 * Why a service of its own: libp2p 3 raises `peer:discovery` only for peers
 * new to its in-memory address book, and that was the only thing weft's
 * dialer reacted to; its keep-alive reconnect gives up after 5 tries. So a
 * member whose connection dropped (a LAN partition, a relay's limits, a
 * restart on either side) was never dialled again.
 *
 * Addresses come from the peer book (persisted by the replica: what worked,
 * when, and what failed), from libp2p's address book (identify, mDNS), from
 * the configuration, and from the configured relays (a member is tried as
 * `<relay>/p2p-circuit/p2p/<member>` through each). They are ranked (see
 * `rankAddresses`) and dialled staggered (`../nat/staggered-dial.ts`): the best one
 * first, the next after `staggerMs` or as soon as one fails, a few at once,
 * and the first connection wins. Each address is dialled on its own, through
 * the transport manager, because libp2p's dial queue folds every dial to one
 * peer into a single job that tries the addresses one after the other, 6 s
 * for each that does not answer: after a relay cut that put a member's dead
 * LAN address ahead of the circuit that had just worked. Results go back to
 * the book, so the next attempt (and the next start) knows.
 *
 * Both ends of a dropped connection notice it at once; the one with the
 * smaller peer id redials at once and the other after `yieldMs`, so one
 * connection is the usual outcome. Explicit `connect` calls (the sync
 * service asking for a connection) never wait.
 */
import type { ComponentLogger, Connection, ConnectionGater, IdentifyResult, Libp2pEvents, Logger, PeerId, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { WeftError } from '../../errors.js'
import * as C from '../constants.js'
import { classifyAddress, dialFailure, MemoryPeerBook, rankAddresses, type AttemptOutcome, type BookAddress, type BookEntry, type PeerBook } from './peer-book.js'

export type { AttemptOutcome } from './peer-book.js'
import { parseRelayAddress } from '../nat/relay-keeper.js'
import { deadline } from '../../runtime/deadline.js'
import { AllDialsFailedError, staggeredDial } from '../nat/staggered-dial.js'

export interface MemberDialerInit {
  /** Configured peers (`--peer`, `peers`), each a multiaddr ending in /p2p/<id>: kept connected like members. @default [] */
  peers?: string[]
  /** The node's relays: every member is also tried through each of them. @default [] */
  relays?: string[]
  /**
   * The devices to keep connected: the group's members (this device and
   * revoked ones are skipped). Only these and configured peers are ever
   * dialled, and only their addresses are recorded.
   * @default the devices the peer book holds (each proved membership in a sync hello first)
   */
  members?: () => Iterable<string>
  /** Where addresses and dial results are kept. @default a MemoryPeerBook (lost at stop) */
  book?: PeerBook
  /** First redial after a failed attempt; doubles (with jitter) per failure. @default DEFAULT_REDIAL_MIN_MS (500 ms) */
  redialMinMs?: number
  /** @default DEFAULT_REDIAL_MAX_MS (10 s) */
  redialMaxMs?: number
  /** How long the peer with the larger id waits before redialling a dropped connection. @default DEFAULT_REDIAL_YIELD_MS (1 s) */
  yieldMs?: number
  /** Pause before the next address of an attempt is dialled alongside the ones still running. @default DEFAULT_DIAL_STAGGER_MS (250 ms) */
  staggerMs?: number
  /** @default DEFAULT_ADDRESS_DIAL_TIMEOUT_MS (5 s) */
  addressTimeoutMs?: number
  /** One whole attempt. @default DEFAULT_DIAL_TIMEOUT_MS (10 s) */
  dialTimeoutMs?: number
  /**
   * Every so often the dialer checks for members that are neither connected nor scheduled (new members, for one).
   * @default DEFAULT_MEMBER_CHECK_INTERVAL_MS (5 s)
   */
  checkIntervalMs?: number
}

export interface MemberDialerComponents {
  peerId: PeerId
  connectionManager: ConnectionManager
  transportManager: TransportManager
  connectionGater: ConnectionGater
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface KeptPeerStatus {
  readonly peer: string
  readonly configured: boolean
  readonly connected: boolean
  /** Consecutive failed attempts. */
  readonly failures: number
  readonly lastAttemptAt?: number
  readonly nextAttemptAt?: number
  /** The last attempt, address by address (absent before the first). */
  readonly lastAttempt?: readonly AttemptOutcome[]
}

export interface MemberDialer {
  /** An open connection to `peer` (direct preferred), or a new one from a staggered dial of its addresses. */
  connect(peer: PeerId | string, options?: { signal?: AbortSignal }): Promise<Connection>
  /** Whether the dialer keeps `peer` connected (a member or a configured peer). */
  keeps(peer: string): boolean
  /** The peers kept connected and how the last attempt to reach each went. */
  status(): KeptPeerStatus[]
  /** The peer book this dialer reads and writes. */
  readonly book: PeerBook
  /** A discovery mechanism (mDNS) saw `peer` now: a disconnected member is dialled at once. */
  sighted(peer: PeerId, addrs: readonly Multiaddr[]): void
  /**
   * A sync hello from `peer` was accepted. Without a `members` list this is
   * what makes a peer one of ours: its addresses go into the book and it is
   * kept connected from then on.
   */
  proved(peer: PeerId): void
}

export class NoAddressError extends WeftError {
  static override name = 'NoAddressError'
  constructor (message: string) { super(message, 'NO_ADDRESS') }
}

export class DialFailedError extends WeftError {
  static override name = 'DialFailedError'
  readonly outcomes: readonly AttemptOutcome[]
  constructor (message: string, outcomes: readonly AttemptOutcome[]) { super(message, 'UNREACHABLE'); this.outcomes = outcomes }
}

interface Kept {
  readonly id: string
  readonly peer: PeerId
  failures: number
  timer?: ReturnType<typeof setTimeout> | undefined
  nextAt?: number | undefined
  lastAttemptAt?: number
  lastAttempt?: AttemptOutcome[]
}

interface Candidate extends BookEntry { readonly full: Multiaddr }

const jitter = (ms: number): number => ms * (0.75 + Math.random() / 4)

class DefaultMemberDialer implements MemberDialer, Startable {
  readonly #c: MemberDialerComponents
  readonly #init: MemberDialerInit
  readonly #log: Logger
  readonly book: PeerBook
  readonly #kept = new Map<string, Kept>()
  readonly #configured = new Map<string, BookAddress[]>()
  readonly #relays: Array<{ addr: Multiaddr, id: string }>
  /** Configured peers given without a peer id: dialled once at start, then kept as the peer that answered. */
  readonly #anonymous: Multiaddr[] = []
  readonly #attempts = new Map<string, Promise<Connection>>()
  #interval: ReturnType<typeof setInterval> | undefined
  #shutdown = new AbortController()
  #started = false

  constructor (components: MemberDialerComponents, init: MemberDialerInit) {
    this.#c = components
    this.#init = init
    this.#log = components.logger.forComponent(C.LOG_MEMBERS)
    this.book = init.book ?? new MemoryPeerBook()
    this.#relays = (init.relays ?? []).map(r => { const { addr, peerId } = parseRelayAddress(r); return { addr, id: peerId.toString() } })
    for (const p of init.peers ?? []) {
      const ma = multiaddr(p)
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) { this.#anonymous.push(ma); continue }
      const a = classifyAddress(ma, id)
      const list = this.#configured.get(id) ?? []
      if (a !== undefined) list.push(a)
      this.#configured.set(id, list)
    }
  }

  readonly [Symbol.toStringTag] = 'weft:member-dialer'

  isStarted (): boolean { return this.#started }

  start (): void {
    this.#shutdown = new AbortController()
    this.#started = true
    const ev = this.#c.events
    ev.addEventListener('connection:open', this.#onOpen)
    ev.addEventListener('connection:close', this.#onClose)
    ev.addEventListener('peer:identify', this.#onIdentify)
  }

  afterStart (): void {
    // Devices that left the group (revoked, or of a group this device left) are not dialled, and their addresses go.
    if (this.#init.members !== undefined) {
      const members = this.#memberSet()
      for (const p of this.book.peers()) if (!members.has(p) && !this.#configured.has(p)) this.book.forget(p)
    }
    for (const ma of this.#anonymous) {
      const limit = deadline(this.#init.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS, this.#shutdown.signal)
      this.#c.connectionManager.openConnection(ma, { signal: limit.signal })
        .then(conn => {
          const id = conn.remotePeer.toString()
          const a = classifyAddress(ma, id)
          this.#configured.set(id, [...(this.#configured.get(id) ?? []), ...(a === undefined ? [] : [a])])
          this.#keep(id)
        })
        .catch(err => { this.#log('could not dial configured peer %a - %e', ma, err) })
        .finally(() => { limit.clear() })
    }
    this.#refresh(true)
    this.#interval = setInterval(() => { this.#refresh(false) }, this.#init.checkIntervalMs ?? C.DEFAULT_MEMBER_CHECK_INTERVAL_MS)
  }

  stop (): void {
    this.#started = false
    this.#shutdown.abort()
    clearInterval(this.#interval)
    for (const k of this.#kept.values()) clearTimeout(k.timer)
    this.#kept.clear()
    const ev = this.#c.events
    ev.removeEventListener('connection:open', this.#onOpen)
    ev.removeEventListener('connection:close', this.#onClose)
    ev.removeEventListener('peer:identify', this.#onIdentify)
  }

  keeps (peer: string): boolean {
    return peer !== this.#c.peerId.toString() && (this.#configured.has(peer) || this.#memberSet().has(peer))
  }

  status (): KeptPeerStatus[] {
    this.#refresh(false)
    return [...this.#kept.values()].map(k => ({
      peer: k.id,
      configured: this.#configured.has(k.id),
      connected: this.#open(k.peer).length > 0,
      failures: k.failures,
      ...(k.lastAttemptAt === undefined ? {} : { lastAttemptAt: k.lastAttemptAt }),
      ...(k.nextAt === undefined ? {} : { nextAttemptAt: k.nextAt }),
      ...(k.lastAttempt === undefined ? {} : { lastAttempt: k.lastAttempt })
    }))
  }

  sighted (peer: PeerId, addrs: readonly Multiaddr[]): void {
    const id = peer.toString()
    if (!this.#started || !this.keeps(id)) return
    const learnt = addrs.map(a => classifyAddress(a, id)).filter((a): a is BookAddress => a !== undefined)
    if (learnt.length > 0) this.#record(() => { this.book.seen(id, learnt, Date.now()) })
    const k = this.#keep(id)
    if (this.#open(k.peer).length === 0 && !this.#attempts.has(id)) this.#schedule(k, 0, true)
  }

  proved (peer: PeerId): void {
    const id = peer.toString()
    if (!this.#started || this.#init.members !== undefined || id === this.#c.peerId.toString()) return
    const now = Date.now()
    const known = this.book.peers().includes(id)
    for (const conn of this.#open(peer)) {
      const a = classifyAddress(conn.remoteAddr, id)
      if (a !== undefined && conn.direction === 'outbound') this.#record(() => { this.book.succeeded(id, a, now) })
    }
    if (known) return
    void this.#c.peerStore.get(peer).then(p => {
      const learnt = p.addresses.map(a => classifyAddress(a.multiaddr, id)).filter((a): a is BookAddress => a !== undefined)
      if (learnt.length > 0) this.#record(() => { this.book.seen(id, learnt, now) })
    }, () => {})
    this.#keep(id)
  }

  async connect (peer: PeerId | string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    const peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const open = this.#open(peerId)
    const existing = open.find(c => c.limits == null) ?? open[0]
    if (existing !== undefined) return existing
    const id = peerId.toString()
    let attempt = this.#attempts.get(id)
    if (attempt === undefined) {
      attempt = this.#attempt(peerId).finally(() => { this.#attempts.delete(id) })
      this.#attempts.set(id, attempt)
    }
    return await abortable(attempt, options.signal)
  }

  // ---- keeping members connected

  #memberSet (): Set<string> {
    const self = this.#c.peerId.toString()
    const out = new Set<string>()
    const source = this.#init.members?.() ?? this.book.peers()
    for (const p of source) if (p !== self) out.add(p)
    return out
  }

  #keep (id: string): Kept {
    let k = this.#kept.get(id)
    if (k === undefined) {
      k = { id, peer: peerIdFromString(id), failures: 0 }
      this.#kept.set(id, k)
    }
    return k
  }

  /** Brings the kept set in line with membership; schedules whoever is neither connected nor scheduled. */
  #refresh (atStart: boolean): void {
    if (!this.#started) return
    const wanted = new Set([...this.#configured.keys(), ...this.#memberSet()])
    wanted.delete(this.#c.peerId.toString())
    for (const [id, k] of this.#kept) {
      if (!wanted.has(id)) { clearTimeout(k.timer); this.#kept.delete(id) }
    }
    for (const id of wanted) {
      let k: Kept
      try { k = this.#keep(id) } catch { continue } // not a peer id
      if (k.timer !== undefined || this.#attempts.has(id) || this.#open(k.peer).length > 0) continue
      this.#schedule(k, atStart ? 0 : this.#backoff(k), true)
    }
  }

  #backoff (k: Kept): number {
    if (k.failures === 0) return 0
    const min = this.#init.redialMinMs ?? C.DEFAULT_REDIAL_MIN_MS
    const max = this.#init.redialMaxMs ?? C.DEFAULT_REDIAL_MAX_MS
    return jitter(Math.min(max, min * 2 ** Math.min(k.failures - 1, 20)))
  }

  /** Runs an attempt after `delayMs`, unless one is due sooner (or `replace` says this one wins). */
  #schedule (k: Kept, delayMs: number, replace: boolean): void {
    if (!this.#started) return
    const at = Date.now() + delayMs
    if (k.timer !== undefined) {
      if (!replace || (k.nextAt ?? 0) <= at) return
      clearTimeout(k.timer)
    }
    k.nextAt = at
    k.timer = setTimeout(() => {
      k.timer = undefined
      k.nextAt = undefined
      void this.#redial(k)
    }, delayMs)
  }

  async #redial (k: Kept): Promise<void> {
    if (!this.#started || !this.#kept.has(k.id)) return
    if (this.#open(k.peer).length > 0) { k.failures = 0; return }
    try {
      await this.connect(k.peer)
      k.failures = 0
    } catch (err) {
      if (!this.#started) return
      k.failures++
      this.#log('member %p unreachable (attempt %d): %s', k.peer, k.failures, (err as Error).message)
      if (this.#kept.has(k.id)) this.#schedule(k, this.#backoff(k), false)
    }
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    const id = conn.remotePeer.toString()
    if (!this.keeps(id)) return
    const k = this.#keep(id)
    k.failures = 0
    clearTimeout(k.timer)
    k.timer = undefined
    k.nextAt = undefined
    const a = classifyAddress(conn.remoteAddr, id)
    if (a === undefined) return
    // An outbound connection's address is one we can dial; an inbound relayed one names the circuit the peer came in on.
    if (conn.direction === 'outbound') this.#record(() => { this.book.succeeded(id, a, Date.now()) })
    else if (a.kind === 'relay') this.#record(() => { this.book.seen(id, [a], Date.now()) })
  }

  readonly #onClose = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    const id = conn.remotePeer.toString()
    if (!this.#started || !this.keeps(id)) return
    if (this.#open(conn.remotePeer).length > 0) return
    const k = this.#keep(id)
    // Both ends see the close; the smaller id redials first (see the module doc).
    const delay = this.#c.peerId.toString() < id ? 0 : (this.#init.yieldMs ?? C.DEFAULT_REDIAL_YIELD_MS)
    this.#log.trace('connection to member %p closed, redialling in %d ms', conn.remotePeer, delay)
    this.#schedule(k, delay, true)
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs } = evt.detail
    const id = peerId.toString()
    if (!this.keeps(id)) return
    const learnt = listenAddrs.map(a => classifyAddress(a, id)).filter((a): a is BookAddress => a !== undefined)
    if (learnt.length > 0) this.#record(() => { this.book.seen(id, learnt, Date.now()) })
  }

  // ---- one attempt

  #open (peer: PeerId): Connection[] {
    return this.#c.connectionManager.getConnections(peer).filter(c => c.status === 'open')
  }

  #relayConnected (relayId: string): boolean | undefined {
    try {
      return this.#c.connectionManager.getConnections(peerIdFromString(relayId)).some(c => c.status === 'open' && c.limits == null)
    } catch { return undefined }
  }

  async #candidates (peer: PeerId): Promise<Candidate[]> {
    const id = peer.toString()
    const now = Date.now()
    const byAddr = new Map<string, BookEntry>()
    const add = (a: BookAddress | undefined): void => {
      if (a !== undefined && !byAddr.has(a.addr)) byAddr.set(a.addr, { ...a, peer: id, seenAt: now, failures: 0 })
    }
    for (const e of this.book.entries(id)) byAddr.set(e.addr, e)
    for (const a of this.#configured.get(id) ?? []) add(a)
    try {
      for (const { multiaddr: ma } of (await this.#c.peerStore.get(peer)).addresses) add(classifyAddress(ma, id))
    } catch {} // not in libp2p's address book: the peer book and the relays still know ways
    for (const r of this.#relays) add({ addr: r.addr.encapsulate('/p2p-circuit').toString(), kind: 'relay', relay: r.id })
    const ranked = rankAddresses([...byAddr.values()], { relayConnected: r => this.#relayConnected(r) })
    const out: Candidate[] = []
    for (const e of ranked) {
      if (out.length >= C.MAX_ADDRESSES_PER_ATTEMPT) break
      let full: Multiaddr
      try { full = multiaddr(`${e.addr}/p2p/${id}`) } catch { continue }
      if (this.#c.transportManager.dialTransportForMultiaddr(full) == null) continue
      out.push({ ...e, full })
    }
    return out
  }

  async #attempt (peer: PeerId): Promise<Connection> {
    const id = peer.toString()
    if (!this.#started) throw new DialFailedError('the node is stopped', [])
    if (await this.#c.connectionGater.denyDialPeer?.(peer) === true) throw new DialFailedError(`dialing ${id} is denied (revoked?)`, [])
    const candidates = await this.#candidates(peer)
    if (candidates.length === 0) throw new NoAddressError(`no address known for ${id}, and no relay configured to try`)
    const k = this.#kept.get(id)
    const outcomes: AttemptOutcome[] = []
    if (k !== undefined) { k.lastAttemptAt = Date.now(); k.lastAttempt = outcomes }
    const describe = (c: Candidate): Pick<AttemptOutcome, 'addr' | 'kind' | 'relay'> => ({ addr: c.addr, kind: c.kind, ...(c.relay === undefined ? {} : { relay: c.relay }) })
    try {
      const { winner, result } = await staggeredDial({
        candidates,
        dial: async (c, signal) => await this.#dialOne(peer, c, signal),
        onFailure: (c, err, timedOut) => {
          const circuit = c.kind === 'relay'
          const category = dialFailure(err, { timedOut, circuit, relayConnected: circuit && c.relay !== undefined ? this.#relayConnected(c.relay) : undefined })
          const message = timedOut ? 'no answer in time' : (err.message ?? String(err)).split('\n')[0]!.slice(0, 200)
          outcomes.push({ ...describe(c), result: category, message })
          this.#log.trace('dial to %p over %s failed: %s %s', peer, c.addr, category, message)
          this.#record(() => { this.book.failed(id, c, Date.now(), `${category}: ${message}`) })
        },
        // A slower address also connected: keep a direct connection, drop a relayed one (it holds a relay slot).
        onLate: (c, conn) => {
          outcomes.push({ ...describe(c), result: 'connected' })
          if (conn.limits != null) void conn.close().catch(() => {})
        },
        staggerMs: this.#init.staggerMs ?? C.DEFAULT_DIAL_STAGGER_MS,
        maxParallel: C.MAX_PARALLEL_ADDRESS_DIALS,
        candidateTimeoutMs: this.#init.addressTimeoutMs ?? C.DEFAULT_ADDRESS_DIAL_TIMEOUT_MS,
        deadlineMs: this.#init.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS,
        signal: this.#shutdown.signal
      })
      outcomes.push({ ...describe(winner), result: 'connected' })
      this.#log('connected to %p over %s', peer, winner.addr)
      return result
    } catch (err) {
      const why = err instanceof AllDialsFailedError ? (err.why === 'aborted' ? 'the node stopped' : err.message) : (err as Error).message
      const summary = outcomes.map(o => `${o.addr}: ${o.result}`).join('; ')
      throw new DialFailedError(`could not reach ${id}: ${why}${summary === '' ? '' : ` (${summary})`}`, outcomes)
    }
  }

  async #dialOne (peer: PeerId, cand: Candidate, signal: AbortSignal): Promise<Connection> {
    if (await this.#c.connectionGater.denyDialMultiaddr?.(cand.full) === true) throw new WeftError(`the connection gater denied ${cand.full.toString()}`, 'DENIED')
    const conn = await this.#c.transportManager.dial(cand.full, { signal })
    if (!conn.remotePeer.equals(peer)) {
      conn.abort(new Error('wrong peer'))
      throw new WeftError(`wrong peer at ${cand.addr}: ${conn.remotePeer.toString()}`, 'WRONG_PEER')
    }
    return conn
  }

  /** Book writes never break dialing (a closed replica at shutdown, a full disk). */
  #record (write: () => void): void {
    try { write() } catch (err) { this.#log.error('could not update the peer book - %e', err) }
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself runs on). */
async function abortable<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

export function memberDialer (init: MemberDialerInit = {}): (components: MemberDialerComponents) => MemberDialer {
  return (components) => new DefaultMemberDialer(components, init)
}
