/**
 * Connection liveness: every open connection is pinged on its muxer every
 * DEFAULT_LIVENESS_INTERVAL_MS, and one that does not answer in time is
 * aborted. A peer that vanished without closing (Wi-Fi gone, a laptop asleep,
 * a NAT that dropped its mapping) then shows as gone, and the member dialer
 * reaches it again once it can, instead of both sides holding a connection
 * that carries nothing.
 *
 * libp2p's connection monitor does the same (the same interval and the same
 * adaptive timeout) with the ping protocol: a new stream per connection per
 * ping, negotiated with multistream-select, and a peer store write at each
 * stream's opening on both sides. In a group of ten daemons on one machine
 * that was about two thirds of an idle daemon's CPU. A yamux PING frame, 12
 * bytes each way that any yamux peer's muxer answers (stock js-libp2p and
 * go-libp2p alike), shows the same thing, that the peer still reads this
 * connection, without a stream. So the node turns the monitor off and runs
 * this service instead, and turns off yamux's own keep-alive too (a ping
 * every 30 s that aborts nothing): these pings keep NAT mappings open as well.
 *
 * The ping protocol is still answered (the `ping` service): stock peers'
 * monitors use it, and so does `weft peers` for its round-trip times.
 */
import type { ComponentLogger, Connection, Logger, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { AdaptiveTimeout } from '@libp2p/utils'
import { DEFAULT_LIVENESS_INTERVAL_MS, DEFAULT_LIVENESS_MIN_TIMEOUT_MS, LOG_LIVENESS } from './constants.js'

export interface LivenessInit {
  /** Ping each open connection this often; 0 turns the pings off. @default DEFAULT_LIVENESS_INTERVAL_MS (10 s) */
  intervalMs?: number
  /**
   * The least time a ping is given (the timeout adapts upwards to the round-trip times seen, as libp2p's monitor's does).
   * @default DEFAULT_LIVENESS_MIN_TIMEOUT_MS (5 s)
   */
  minTimeoutMs?: number
}

export interface LivenessComponents {
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface Liveness {
  /** Connections aborted since start because a ping went unanswered in time or failed. */
  readonly aborted: number
}

/** What a connection's muxer offers for this (yamux's `ping` resolves with the round-trip time in ms). */
interface PingingMuxer { ping(options?: { signal?: AbortSignal }): Promise<number> }

function muxerOf (conn: Connection): PingingMuxer | undefined {
  const muxer = (conn as Connection & { muxer?: Partial<PingingMuxer> }).muxer
  return typeof muxer?.ping === 'function' ? muxer as PingingMuxer : undefined
}

class DefaultLiveness implements Liveness, Startable {
  readonly #c: LivenessComponents
  readonly #log: Logger
  readonly #intervalMs: number
  readonly #timeout: AdaptiveTimeout
  /** Connections with a ping in flight: a slow one is not pinged again on top of it. */
  readonly #inFlight = new WeakSet<Connection>()
  /** Connections whose muxer cannot ping, logged once each. */
  readonly #cannot = new WeakSet<Connection>()
  #timer: ReturnType<typeof setInterval> | undefined
  #stopping: AbortController | undefined
  #aborted = 0

  constructor (components: LivenessComponents, init: LivenessInit) {
    this.#c = components
    this.#log = components.logger.forComponent(LOG_LIVENESS)
    this.#intervalMs = init.intervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS
    this.#timeout = new AdaptiveTimeout({ minTimeout: init.minTimeoutMs ?? DEFAULT_LIVENESS_MIN_TIMEOUT_MS })
  }

  readonly [Symbol.toStringTag] = 'weft/liveness'

  get aborted (): number { return this.#aborted }

  start (): void {
    if (this.#intervalMs <= 0) return
    this.#stopping = new AbortController()
    this.#timer = setInterval(() => {
      for (const conn of this.#c.connectionManager.getConnections()) this.#ping(conn)
    }, this.#intervalMs)
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#stopping?.abort()
  }

  #ping (conn: Connection): void {
    if (conn.status !== 'open' || this.#inFlight.has(conn)) return
    const muxer = muxerOf(conn)
    if (muxer === undefined) {
      // weft's node multiplexes with yamux only, which pings; say so if that ever changes.
      if (!this.#cannot.has(conn)) { this.#cannot.add(conn); this.#log('the muxer of connection %s to %p cannot ping; its liveness is not checked', conn.id, conn.remotePeer) }
      return
    }
    const stopping = this.#stopping!.signal
    const signal = this.#timeout.getTimeoutSignal({ signal: stopping })
    this.#inFlight.add(conn)
    muxer.ping({ signal }).then(rtt => {
      conn.rtt = rtt
    }, (err: Error) => {
      if (stopping.aborted || conn.status !== 'open') return
      this.#aborted++
      const why = signal.aborted ? new PingTimeoutError(`no answer to a ping within ${signal.timeout} ms`) : err
      this.#log('aborting connection %s to %p: %s', conn.id, conn.remotePeer, why.message)
      conn.abort(why)
    }).finally(() => {
      this.#timeout.cleanUp(signal)
      this.#inFlight.delete(conn)
    })
  }
}

/** The error a connection is aborted with when its peer did not answer a ping in time (any other failure of the ping aborts it with that failure). */
export class PingTimeoutError extends Error {
  override readonly name = 'PingTimeoutError'
}

export function liveness (init: LivenessInit = {}): (components: LivenessComponents) => Liveness {
  return (components) => new DefaultLiveness(components, init)
}
