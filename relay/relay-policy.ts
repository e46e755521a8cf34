/**
 * Per-peer limits, reservation classes and accounting on top of js-libp2p's
 * circuit relay v2 server, which itself knows one limit and one class for
 * everyone.
 *
 * The policy: a peer admitted by relay-auth is a member, anyone else a
 * stranger. Reservations are kept in the relay's own book
 * (`reservations.ts`): members always get one (strangers are evicted for
 * them), strangers share a bounded part of the slots with a per-IP bound and
 * a short TTL, and every reservation ends when its holder disconnects. A
 * member's reservation carries the group limits, a stranger's the default
 * limits; with `others: 'deny'` a stranger gets no reservation at all. A
 * relayed connection gets the group limits only when both ends are admitted:
 * a stranger dialing a member through the relay gets the default limits, so
 * the long limits cannot be borrowed by knowing a member's peer id.
 *
 * How, against @libp2p/circuit-relay-v2 4.2.13 (pinned): (1) the server's
 * `reservationStore` is replaced by the book, which has the same methods the
 * server calls (`reserve`, `get`, `removeReservation`, `clear`,
 * `reservations`); (2) admission changes and disconnections go to the book;
 * (3) `handleConnect` is wrapped: in its synchronous prologue it looks the
 * destination up with `reservationStore.get`, and for that one lookup we
 * return a copy with the default limit when the source is not admitted; (4)
 * `stopHop` is wrapped: it returns the destination's stream of each new
 * relayed connection, on which we count the connection and the bytes in both
 * directions. These touch private fields: `test/e2e/relay-limits.test.ts`
 * fails if an upgrade moves them. The reservation gate for `deny` uses the
 * public connection gater hook.
 */
import { circuitRelayServer, type CircuitRelayService, type Limit } from '@libp2p/circuit-relay-v2'
import type { Connection, ConnectionGater, Libp2pEvents, PeerId, Stream, TypedEventTarget } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { RelayAuth } from './auth/service.js'
import { ReservationBook, type ReservationClass } from './reservations.js'
import type { CloseReason, LimitClass, RelayStats } from './stats.js'

export interface RelayPolicyInit {
  maxReservations: number
  /** Members' reservation lifetime. */
  reservationTtlMs: number
  /** Slots strangers may hold at once, in all and from one IP (one /64 for IPv6). */
  maxStrangerReservations: number
  maxStrangerReservationsPerIp: number
  /** Strangers' reservation lifetime. */
  strangerReservationTtlMs: number
  /** Limits for peers not admitted (ms and bytes). */
  defaultLimit: { durationMs: number, dataBytes: number }
  /** Limits when both ends are admitted. */
  groupLimit: { durationMs: number, dataBytes: number }
  others: 'limited' | 'deny'
  stats: RelayStats
}

/** The parts of the server that the policy reaches into. */
interface HopOptions { connection: Connection, request: { peer?: { id: Uint8Array } } }
interface ServerInternals {
  reservationStore: unknown
  components: { events: TypedEventTarget<Libp2pEvents> }
  handleConnect(opts: HopOptions, options: unknown): Promise<void>
  stopHop(opts: unknown, options: unknown): Promise<Stream | undefined>
}

const toLimit = (l: { durationMs: number, dataBytes: number }): Limit => ({ duration: l.durationMs, data: BigInt(l.dataBytes) })

export class RelayPolicy {
  readonly #init: RelayPolicyInit
  readonly #groupLimit: Limit
  readonly #defaultLimit: Limit
  readonly #book: ReservationBook
  #auth: RelayAuth | undefined

  constructor (init: RelayPolicyInit) {
    this.#init = init
    this.#groupLimit = toLimit(init.groupLimit)
    this.#defaultLimit = toLimit(init.defaultLimit)
    const stats = init.stats
    this.#book = new ReservationBook({
      maxReservations: init.maxReservations,
      maxStrangerReservations: init.maxStrangerReservations,
      maxStrangerReservationsPerIp: init.maxStrangerReservationsPerIp,
      memberTtlMs: init.reservationTtlMs,
      strangerTtlMs: init.strangerReservationTtlMs,
      memberLimit: this.#groupLimit,
      strangerLimit: this.#defaultLimit,
      classify: (peer) => this.#admitted(peer) ? 'member' : 'stranger',
      onAccepted: (cls) => { stats.reservationsAccepted[cls]++ },
      onRefused: (reason) => { stats.reservationsRefused[reason]++ },
      onEnded: (cls, reason) => { stats.reservationsEnded[cls][reason]++ }
    })
  }

  /** The relay server service factory, with the policy installed. */
  serverFactory (): ReturnType<typeof circuitRelayServer> {
    // the book decides and applies limits; these only size the store the server builds and we replace
    const inner = circuitRelayServer({ reservations: { maxReservations: this.#init.maxReservations, applyDefaultLimit: true } })
    return (components) => {
      const server = inner(components) as CircuitRelayService & ServerInternals
      this.#install(server)
      return server
    }
  }

  /** The connection gater: refuses reservations to peers not admitted when `others` is 'deny'. */
  gater (): ConnectionGater {
    return {
      denyInboundRelayReservation: async (peer: PeerId) => {
        if (this.#init.others !== 'deny' || this.#admitted(peer)) return false
        this.#init.stats.reservationsRefused.not_admitted++
        return true
      }
    }
  }

  /** Follows admissions: the peer's reservation changes class (and limits) at once. */
  bindAuth (auth: RelayAuth): void {
    this.#auth = auth
    auth.addEventListener('admission', (evt) => { this.#book.reclassify(evt.detail.peer) })
  }

  /** Reservations held now, by class. */
  reservationsByClass (): Record<ReservationClass, number> {
    return this.#book.counts()
  }

  #admitted (peer: PeerId): boolean {
    return this.#auth?.admission(peer) !== undefined
  }

  #install (server: CircuitRelayService & ServerInternals): void {
    if (server.reservationStore == null || server.components?.events == null || typeof server.handleConnect !== 'function' || typeof server.stopHop !== 'function') {
      throw new Error('@libp2p/circuit-relay-v2 internals changed: the relay policy cannot be installed (see relay/relay-policy.ts)')
    }
    const book = this.#book
    server.reservationStore = book
    // a reservation is only good while its holder is connected: the relay reaches it over that connection
    server.components.events.addEventListener('peer:disconnect', (evt) => { book.end(evt.detail, 'disconnected') })

    // One-shot override for the destination lookup in handleConnect's synchronous prologue.
    let override: { peer: PeerId, limit: Limit } | undefined
    const get = book.get.bind(book)
    book.get = (peer) => {
      const r = get(peer)
      if (r === undefined || override === undefined || !override.peer.equals(peer)) return r
      const copy = { ...r, limit: override.limit }
      override = undefined
      return copy
    }

    const handleConnect = server.handleConnect.bind(server)
    server.handleConnect = async (opts, options) => {
      const src = opts.connection.remotePeer
      const dst = destinationOf(opts)
      if (dst !== undefined && !(this.#admitted(src) && this.#admitted(dst))) override = { peer: dst, limit: this.#defaultLimit }
      let pending: Promise<void>
      try {
        pending = handleConnect(opts, options)
      } finally {
        override = undefined
      }
      await pending
    }

    // stopHop returns the destination's end of a new relayed connection, and its STOP request carries the limit chosen.
    const stopHop = server.stopHop.bind(server)
    server.stopHop = async (opts, options) => {
      const dst = await stopHop(opts, options)
      if (dst !== undefined) this.#track((opts as { request: { limit?: Limit } }).request.limit === this.#groupLimit ? 'group' : 'default', dst)
      return dst
    }
  }

  /** Counts one relayed connection on the destination's stream: what it sends (to the source) and what is sent to it. */
  #track (cls: LimitClass, dst: Stream): void {
    const stats = this.#init.stats
    stats.connectionsOpened[cls]++
    stats.connectionsActive++
    dst.addEventListener('message', (evt) => { stats.bytesRelayed += evt.data.byteLength })
    const send = dst.send.bind(dst)
    dst.send = (data) => {
      stats.bytesRelayed += data.byteLength
      return send(data)
    }
    dst.addEventListener('close', (evt) => {
      stats.connectionsActive--
      stats.connectionsClosed[closeReason(evt.error)]++
    }, { once: true })
  }
}

function destinationOf (opts: HopOptions): PeerId | undefined {
  try {
    const id = opts.request.peer?.id
    return id === undefined ? undefined : peerIdFromMultihash(Digest.decode(id))
  } catch {
    return undefined
  }
}

function closeReason (err: Error | undefined): CloseReason {
  if (err?.name === 'TransferLimitError') return 'data_limit'
  if (err?.name === 'DurationLimitError') return 'duration_limit'
  if (err !== undefined && /reservation|aborted/i.test(err.message)) return 'reservation_ended'
  return 'closed'
}
