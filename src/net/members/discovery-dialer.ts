/**
 * Dials peers found by discovery (mDNS), which libp2p 3 no longer does by
 * itself. The weft mDNS service tag means only weft nodes answer; of those
 * only members of our group are dialed (a neighbour's weft node is not ours
 * to connect to). A discovered non-member is remembered and dialed if it
 * becomes a member later: libp2p raises `peer:discovery` only once per peer.
 * The sync service takes over once identify shows the peer speaks the sync
 * protocol.
 *
 * Both peers usually discover each other at the same moment. The one with the
 * smaller id dials at once; the other dials only if, after a short wait, no
 * connection has appeared, so one connection is the normal outcome. Dials run
 * a few at a time, each with a timeout.
 */
import type { ComponentLogger, Libp2pEvents, Logger, PeerId, PeerInfo, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import * as C from '../constants.js'
import { EVERYONE, type PeerMembership } from './member-gate.js'
import { deadline } from '../../runtime/deadline.js'

export interface DiscoveryDialerInit {
  /** Only members are dialed. @default everyone */
  membership?: PeerMembership
  /** @default DEFAULT_DIAL_TIMEOUT_MS (10 s) */
  dialTimeoutMs?: number
  /** How long the peer with the larger id waits for the other to dial. @default 2 s */
  yieldMs?: number
}

export interface DiscoveryDialerComponents {
  peerId: PeerId
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

class DiscoveryDialer implements Startable {
  readonly #c: DiscoveryDialerComponents
  readonly #init: DiscoveryDialerInit
  readonly #log: Logger
  readonly #dialing = new Set<string>()
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  /** Discovered peers that were not members then. */
  readonly #nonMembers = new Map<string, PeerId>()
  #unsubscribe: (() => void) | undefined
  #shutdown = new AbortController()
  #started = false

  constructor (components: DiscoveryDialerComponents, init: DiscoveryDialerInit) {
    this.#c = components
    this.#init = init
    this.#log = components.logger.forComponent(C.LOG_DISCOVERY)
  }

  readonly [Symbol.toStringTag] = 'weft:discovery-dialer'

  isStarted (): boolean { return this.#started }

  start (): void {
    this.#shutdown = new AbortController()
    this.#c.events.addEventListener('peer:discovery', this.#onDiscovery)
    const unsubscribe = this.#init.membership?.onChange?.(() => { this.#membershipChanged() })
    this.#unsubscribe = typeof unsubscribe === 'function' ? unsubscribe : undefined
    this.#started = true
  }

  stop (): void {
    this.#started = false
    this.#shutdown.abort()
    this.#c.events.removeEventListener('peer:discovery', this.#onDiscovery)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#nonMembers.clear()
  }

  #isMember (peer: PeerId): boolean {
    try {
      return (this.#init.membership ?? EVERYONE).isMember(peer.toString())
    } catch {
      return false
    }
  }

  #membershipChanged (): void {
    for (const [key, peer] of this.#nonMembers) {
      if (!this.#isMember(peer)) continue
      this.#nonMembers.delete(key)
      this.#discovered(peer)
    }
  }

  readonly #onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const peer = evt.detail.id
    if (peer.equals(this.#c.peerId)) return
    if (!this.#isMember(peer)) {
      this.#log('discovered %p, not a member of our group: not dialing', peer)
      if (this.#nonMembers.size < C.MAX_DISCOVERED_NON_MEMBERS) this.#nonMembers.set(peer.toString(), peer)
      return
    }
    this.#discovered(peer)
  }

  #discovered (peer: PeerId): void {
    if (this.#c.peerId.toString() < peer.toString()) {
      this.#dial(peer)
      return
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      this.#dial(peer)
    }, this.#init.yieldMs ?? 2_000)
    this.#timers.add(timer)
  }

  #dial (peer: PeerId): void {
    const key = peer.toString()
    if (!this.#started || this.#dialing.has(key) || this.#dialing.size >= C.MAX_PARALLEL_DISCOVERY_DIALS) return
    if (this.#c.connectionManager.getConnections(peer).some(c => c.status === 'open')) return
    this.#dialing.add(key)
    const limit = deadline(this.#init.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS, this.#shutdown.signal)
    this.#log('dialing discovered peer %p', peer)
    this.#c.connectionManager.openConnection(peer, { signal: limit.signal })
      .then(() => { this.#log('connected to discovered peer %p', peer) })
      .catch(err => { this.#log('could not dial discovered peer %p - %e', peer, err) })
      .finally(() => {
        limit.clear()
        this.#dialing.delete(key)
      })
  }
}

export function discoveryDialer (init: DiscoveryDialerInit = {}): (components: DiscoveryDialerComponents) => Startable {
  return (components) => new DiscoveryDialer(components, init)
}
