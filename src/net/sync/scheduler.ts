/**
 * When sessions run, apart from explicit requests: on new connections, after
 * a session that was cut off, and periodically (anti-entropy).
 *
 * New connection: the dialer starts a session at once; the dialed side starts
 * one only if none has begun within a grace period. Both starting at once
 * would pull the same ops over two sessions.
 *
 * After a cut (a relay's data limit, DCUtR closing the relayed connection, a
 * timeout) or an unfinished session: the side still missing ops retries,
 * with jittered exponential backoff, dialing again if needed; the side that
 * was only sending retries later, and only if no session has begun since, in
 * case the other side cannot dial it. Each retry resumes from the vector.
 *
 * Anti-entropy: every interval, one session with a random connected peer, in
 * case an announcement was lost.
 */
import type { Connection, Logger, PeerId } from '@libp2p/interface'
import type { SessionResult } from '../../protocol/session.js'
import type { VersionVector } from '../../protocol/port.js'
import { isAhead } from '../../protocol/vector.js'
import * as C from '../constants.js'

export interface SchedulerHooks {
  requestSync(peer: PeerId | string, cause: SessionCause): void
  /** When the last session with the peer (either direction) began, ms since the epoch, or 0. */
  lastSessionStart(peer: string): number
  /** Connected peers that speak the protocol and have no session running. */
  idlePeers(): string[]
  ourVector(): VersionVector
  log: Logger
}

export interface SchedulerOptions {
  syncIntervalMs?: number
  connectGraceMs?: number
  retryMinMs?: number
  retryMaxMs?: number
}

/**
 * Why this device started a session: asked for (`syncWith`, `weft sync`),
 * a new connection, a retry after a cut or unfinished session, the periodic
 * anti-entropy round, or a pull of ops the gap tracker knows we lack.
 */
export type SessionCause = 'request' | 'connected' | 'retry' | 'anti-entropy' | 'gap'

interface Retry { attempts: number, timer?: ReturnType<typeof setTimeout> | undefined }

export class SyncScheduler {
  readonly #hooks: SchedulerHooks
  readonly #opts: SchedulerOptions
  readonly #retries = new Map<string, Retry>()
  readonly #graceTimers = new Set<ReturnType<typeof setTimeout>>()
  readonly #seenConnections = new Set<string>()
  #interval: ReturnType<typeof setInterval> | undefined
  #running = false

  constructor (hooks: SchedulerHooks, options: SchedulerOptions) {
    this.#hooks = hooks
    this.#opts = options
  }

  start (): void {
    this.#running = true
    const interval = this.#opts.syncIntervalMs ?? C.DEFAULT_SYNC_INTERVAL_MS
    if (interval > 0) this.#interval = setInterval(() => { this.#antiEntropy() }, interval)
  }

  stop (): void {
    this.#running = false
    clearInterval(this.#interval)
    for (const t of this.#graceTimers) clearTimeout(t)
    this.#graceTimers.clear()
    for (const r of this.#retries.values()) clearTimeout(r.timer)
    this.#retries.clear()
    this.#seenConnections.clear()
  }

  /** A connection to a peer that speaks the protocol (called after identify, once per connection). */
  connected (peerId: PeerId, conn: Connection): void {
    if (!this.#running || this.#seenConnections.has(conn.id)) return
    this.#seenConnections.add(conn.id)
    if (conn.direction === 'outbound') {
      this.#hooks.requestSync(peerId, 'connected')
      return
    }
    const key = peerId.toString()
    // Since the connection opened, not since we heard of it: the dialer's session often arrives before our identify
    // of the connection completes, and counting from then started a second, redundant session after the grace period.
    const since = Math.min(Date.now(), conn.timeline?.open ?? Infinity)
    const timer = setTimeout(() => {
      this.#graceTimers.delete(timer)
      if (this.#hooks.lastSessionStart(key) < since) this.#hooks.requestSync(peerId, 'connected')
    }, this.#opts.connectGraceMs ?? C.DEFAULT_CONNECT_GRACE_MS)
    this.#graceTimers.add(timer)
  }

  connectionClosed (connectionId: string): void {
    this.#seenConnections.delete(connectionId)
  }

  /** Decides whether (and how soon) to retry after a session ended. */
  sessionEnded (peerId: PeerId, result: SessionResult): void {
    if (!this.#running) return
    const key = peerId.toString()
    const retry = this.#retries.get(key) ?? { attempts: 0 }
    clearTimeout(retry.timer)
    // A peer that never said hello to our inbound stream is not known to be one of ours: do not dial it.
    if (!result.initiator && result.remoteVector === undefined) return
    const cut = result.error !== undefined && (result.error.code === 'CLOSED' || result.error.code === 'TIMEOUT')
    // An unfinished session that stopped on refused ops would only be refused again.
    const weAreBehind = !result.complete && (cut || (result.error === undefined && result.rejections.length === 0))
    const theyAreBehind = cut && result.remoteVector !== undefined && isAhead(this.#hooks.ourVector(), result.remoteVector)
    if (!weAreBehind && !theyAreBehind) {
      this.#retries.delete(key)
      return
    }
    if (result.applied > 0 || result.opsSent > 0) retry.attempts = 0
    if (retry.attempts >= C.MAX_RETRY_ATTEMPTS) {
      this.#hooks.log('giving up retrying %p after %d attempts; the next connection will sync', peerId, retry.attempts)
      this.#retries.delete(key)
      return
    }
    const min = this.#opts.retryMinMs ?? C.DEFAULT_RETRY_MIN_MS
    const max = this.#opts.retryMaxMs ?? C.DEFAULT_RETRY_MAX_MS
    const delay = Math.min(max, min * 2 ** retry.attempts) * (weAreBehind ? 1 : 4) * (0.75 + Math.random() / 4)
    const since = Date.now()
    retry.attempts++
    retry.timer = setTimeout(() => {
      retry.timer = undefined
      if (weAreBehind || this.#hooks.lastSessionStart(key) < since) this.#hooks.requestSync(peerId, 'retry')
    }, delay)
    this.#retries.set(key, retry)
  }

  #antiEntropy (): void {
    const candidates = this.#hooks.idlePeers()
    const pick = candidates[Math.floor(Math.random() * candidates.length)]
    if (pick !== undefined) this.#hooks.requestSync(pick, 'anti-entropy')
  }
}
