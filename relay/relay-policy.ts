/**
 * Per-peer limits and accounting on top of js-libp2p's circuit relay v2
 * server, which itself knows one limit for everyone.
 *
 * The policy: a reservation carries the group limits while its holder is
 * admitted (relay-auth), else the default limits; with `others: 'deny'` a
 * peer that is not admitted gets no reservation at all. A relayed connection
 * gets the group limits only when both ends are admitted: a stranger dialing
 * a member through the relay gets the default limits, so the long limits
 * cannot be borrowed by knowing a member's peer id.
 *
 * How, against @libp2p/circuit-relay-v2 4.2.13 (pinned): the server reads a
 * connection's limit from the destination's reservation object, which the
 * store creates once and reuses on refresh. So (1) `reserve` is wrapped to set
 * `limit` on the reservation after every accepted request and to count the
 * result; (2) admission changes rewrite `limit` in place; (3) `handleConnect`
 * is wrapped: in its synchronous prologue it looks the destination up with
 * `reservationStore.get`, and for that one lookup we return a copy with the
 * default limit when the source is not admitted; (4) `stopHop` is wrapped: it
 * returns the destination's stream of each new relayed connection, on which
 * we count the connection and the bytes in both directions. These touch private
 * fields: `test/e2e/relay-limits.test.ts` fails if an upgrade moves them.
 * The reservation gate uses the public connection gater hook.
 */
import { circuitRelayServer, type CircuitRelayService, type Limit } from '@libp2p/circuit-relay-v2'
import type { Connection, ConnectionGater, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { RelayAuth } from './auth/service.js'
import type { CloseReason, LimitClass, RelayStats } from './stats.js'

export interface RelayPolicyInit {
  maxReservations: number
  reservationTtlMs: number
  /** Limits for peers not admitted (ms and bytes). */
  defaultLimit: { durationMs: number, dataBytes: number }
  /** Limits when both ends are admitted. */
  groupLimit: { durationMs: number, dataBytes: number }
  others: 'limited' | 'deny'
  stats: RelayStats
}

/** The parts of the server and its reservation store that the policy reaches into. */
interface Reservation { limit?: Limit, [k: string]: unknown }
interface ReserveResult { status: string, expire?: number }
interface ReservationStoreInternals {
  reserve(peer: PeerId, addr: unknown, limit?: Limit): ReserveResult
  get(peer: PeerId): Reservation | undefined
}
interface HopOptions { connection: Connection, request: { peer?: { id: Uint8Array } } }
interface ServerInternals {
  reservationStore: ReservationStoreInternals
  handleConnect(opts: HopOptions, options: unknown): Promise<void>
  stopHop(opts: unknown, options: unknown): Promise<Stream | undefined>
}

const toLimit = (l: { durationMs: number, dataBytes: number }): Limit => ({ duration: l.durationMs, data: BigInt(l.dataBytes) })

export class RelayPolicy {
  readonly #init: RelayPolicyInit
  readonly #groupLimit: Limit
  readonly #defaultLimit: Limit
  #auth: RelayAuth | undefined
  #server: (CircuitRelayService & ServerInternals) | undefined

  constructor (init: RelayPolicyInit) {
    this.#init = init
    this.#groupLimit = toLimit(init.groupLimit)
    this.#defaultLimit = toLimit(init.defaultLimit)
  }

  /** The relay server service factory, with the policy installed. */
  serverFactory (): ReturnType<typeof circuitRelayServer> {
    const inner = circuitRelayServer({
      reservations: {
        maxReservations: this.#init.maxReservations,
        reservationTtl: this.#init.reservationTtlMs,
        applyDefaultLimit: true,
        defaultDurationLimit: this.#init.defaultLimit.durationMs,
        defaultDataLimit: BigInt(this.#init.defaultLimit.dataBytes)
      }
    })
    return (components) => {
      const server = inner(components) as CircuitRelayService & ServerInternals
      this.#install(server)
      this.#server = server
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

  /** Follows admissions: raises or lowers the limits of the peer's reservation at once. */
  bindAuth (auth: RelayAuth): void {
    this.#auth = auth
    auth.addEventListener('admission', (evt) => {
      const r = this.#server?.reservationStore.get(evt.detail.peer)
      if (r !== undefined) r.limit = this.#limitFor(evt.detail.peer)
    })
  }

  /** How many held reservations carry the group limits. */
  groupReservations (): number {
    let n = 0
    for (const [, r] of this.#server?.reservations ?? []) if (r.limit === this.#groupLimit) n++
    return n
  }

  #admitted (peer: PeerId): boolean {
    return this.#auth?.admission(peer) !== undefined
  }

  #limitFor (peer: PeerId): Limit {
    return this.#admitted(peer) ? this.#groupLimit : this.#defaultLimit
  }

  #install (server: CircuitRelayService & ServerInternals): void {
    const stats = this.#init.stats
    const store = server.reservationStore
    if (typeof store?.reserve !== 'function' || typeof store.get !== 'function' || typeof server.handleConnect !== 'function' || typeof server.stopHop !== 'function') {
      throw new Error('@libp2p/circuit-relay-v2 internals changed: the relay policy cannot be installed (see relay/relay-policy.ts)')
    }

    const reserve = store.reserve.bind(store)
    store.reserve = (peer, addr, limit) => {
      const result = reserve(peer, addr, limit)
      if (result.status === 'OK') {
        stats.reservationsAccepted++
        const r = store.get(peer)
        if (r !== undefined) r.limit = this.#limitFor(peer)
      } else {
        stats.reservationsRefused.full++
      }
      return result
    }

    // One-shot override for the destination lookup in handleConnect's synchronous prologue.
    let override: { peer: PeerId, limit: Limit } | undefined
    const get = store.get.bind(store)
    store.get = (peer) => {
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
