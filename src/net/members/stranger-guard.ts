/**
 * `strangerGuard()`: closes connections of non-members that do nothing
 * useful, so strangers cannot hold a daemon's connection slots.
 *
 * What a non-member may do on a weft node: connect, identify, ping, and pair
 * with an invite code. Everything that carries group data (sync, gossip, hole
 * punching) is refused to it (see member-gate.ts and ../sync/sync-service.ts). So a
 * non-member's connection is worth keeping only while it pairs, or when we
 * need it ourselves: a configured relay or peer, or a relay that carries one
 * of our relayed connections (its peer is not a member, the connection
 * through it may be). Every other non-member connection is closed `graceMs`
 * after it opened; one with a pairing stream open then is checked again
 * after another grace period, and closed at the latest `maxMs` after it
 * opened (a pairing exchange has its own 30 s timeout). At most
 * `maxStrangers` such connections are held at once: a new one beyond that is
 * closed at once.
 *
 * Membership changes are seen at each check: a stranger that pairs, or whose
 * admission arrives, is a member by then and keeps its connection.
 */
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import * as C from '../constants.js'
import type { PeerMembership } from './member-gate.js'

export interface StrangerGuardInit {
  membership: PeerMembership
  /** Peer ids kept even when not members (configured relays and peers). @default [] */
  keep?: readonly string[]
  /** Protocols whose open streams keep a non-member's connection for another grace period. @default [] */
  keepWhileStreaming?: readonly string[]
  /** @default DEFAULT_STRANGER_GRACE_MS (10 s) */
  graceMs?: number
  /** @default DEFAULT_STRANGER_MAX_MS (60 s) */
  maxMs?: number
  /** @default DEFAULT_MAX_STRANGER_CONNECTIONS (8) */
  maxStrangers?: number
}

export interface StrangerGuardComponents {
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface StrangerGuard {
  /** Non-member connections held now. */
  readonly strangers: number
}

const CLOSE_TIMEOUT_MS = 2_000

class DefaultStrangerGuard implements StrangerGuard, Startable {
  readonly [Symbol.toStringTag] = 'weft:stranger-guard'
  readonly #c: StrangerGuardComponents
  readonly #init: StrangerGuardInit
  readonly #log: Logger
  readonly #keep: ReadonlySet<string>
  readonly #graceMs: number
  /** Non-member connections we watch, by connection id. */
  readonly #watched = new Map<string, { conn: Connection, openedAt: number, timer: ReturnType<typeof setTimeout> }>()
  #started = false

  constructor (components: StrangerGuardComponents, init: StrangerGuardInit) {
    this.#c = components
    this.#init = init
    this.#log = components.logger.forComponent(C.LOG_STRANGERS)
    this.#keep = new Set(init.keep ?? [])
    this.#graceMs = init.graceMs ?? C.DEFAULT_STRANGER_GRACE_MS
  }

  get strangers (): number { return this.#watched.size }

  isStarted (): boolean { return this.#started }

  start (): void {
    this.#c.events.addEventListener('connection:open', this.#onOpen)
    this.#c.events.addEventListener('connection:close', this.#onClose)
    this.#started = true
  }

  stop (): void {
    this.#started = false
    this.#c.events.removeEventListener('connection:open', this.#onOpen)
    this.#c.events.removeEventListener('connection:close', this.#onClose)
    for (const w of this.#watched.values()) clearTimeout(w.timer)
    this.#watched.clear()
  }

  #isMember (peer: PeerId): boolean {
    try {
      return this.#init.membership.isMember(peer.toString())
    } catch {
      return false
    }
  }

  /** Needed by us although not a member: configured, or relaying one of our connections. */
  #kept (peer: PeerId): boolean {
    const id = peer.toString()
    if (this.#keep.has(id)) return true
    const via = `/p2p/${id}/p2p-circuit`
    return this.#c.connectionManager.getConnections().some(c => c.status === 'open' && c.remoteAddr.toString().includes(via))
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (!this.#started || this.#isMember(conn.remotePeer) || this.#kept(conn.remotePeer)) return
    if (this.#watched.size >= (this.#init.maxStrangers ?? C.DEFAULT_MAX_STRANGER_CONNECTIONS)) {
      this.#log('closing a connection from non-member %p at once: %d non-member connections held already', conn.remotePeer, this.#watched.size)
      this.#close(conn)
      return
    }
    this.#watched.set(conn.id, { conn, openedAt: Date.now(), timer: setTimeout(() => { this.#check(conn.id) }, this.#graceMs) })
  }

  readonly #onClose = (evt: CustomEvent<Connection>): void => {
    const w = this.#watched.get(evt.detail.id)
    if (w === undefined) return
    clearTimeout(w.timer)
    this.#watched.delete(evt.detail.id)
  }

  #check (id: string): void {
    const w = this.#watched.get(id)
    if (w === undefined) return
    const { conn } = w
    if (conn.status !== 'open' || this.#isMember(conn.remotePeer) || this.#kept(conn.remotePeer)) {
      this.#watched.delete(id)
      return
    }
    const protocols = this.#init.keepWhileStreaming ?? []
    const busy = conn.streams.some(s => s.status === 'open' && protocols.includes(s.protocol ?? ''))
    if (busy && Date.now() - w.openedAt + this.#graceMs <= (this.#init.maxMs ?? C.DEFAULT_STRANGER_MAX_MS)) {
      w.timer = setTimeout(() => { this.#check(id) }, this.#graceMs)
      return
    }
    this.#watched.delete(id)
    this.#log('closing the connection of non-member %p after %d ms: %s', conn.remotePeer, Date.now() - w.openedAt, busy ? 'pairing took too long' : 'it may only pair, identify and ping')
    this.#close(conn)
  }

  #close (conn: Connection): void {
    conn.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch((err: Error) => { conn.abort(err) })
  }
}

export function strangerGuard (init: StrangerGuardInit): (components: StrangerGuardComponents) => StrangerGuard {
  return (components) => new DefaultStrangerGuard(components, init)
}
