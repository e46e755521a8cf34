/**
 * The relay's reservation book: who holds a slot, in which class, until when.
 *
 * Why not the circuit relay server's own store: it knows one class and one
 * TTL, keeps a reservation until its TTL (2 h) even after the holder has
 * gone, and refuses everyone once full. A handful of throw-away keys from one
 * IP could so take every slot for hours and lock the group's own devices out.
 *
 * The policy here:
 * - Members (peers admitted by relay-auth) always get a reservation: when
 *   every slot is taken, the stranger reservation closest to its expiry is
 *   evicted for them. Only a relay full of members refuses a member.
 * - Strangers share at most `maxStrangerReservations` slots, at most
 *   `maxStrangerReservationsPerIp` from one IP (one /64 for IPv6), and their
 *   reservations last `strangerTtlMs` (short; they refresh while they stay).
 * - A reservation ends when its holder's last connection to the relay closes
 *   (the relay can reach a peer only over that connection), at its TTL, or
 *   when a member evicts it. Ending it aborts its signal, which cuts the
 *   relayed connections made through it.
 * - A peer admitted or no longer admitted while it holds a reservation
 *   changes class at once (`reclassify`).
 *
 * The circuit relay server (@libp2p/circuit-relay-v2 4.2.13, pinned) calls
 * `reserve`, `get`, `removeReservation`, `clear` and reads `reservations`;
 * the relay policy puts this book in place of its store.
 */
import type { Limit } from '@libp2p/circuit-relay-v2'
import type { PeerId } from '@libp2p/interface'
import { PeerMap } from '@libp2p/peer-collections'
import type { Multiaddr } from '@multiformats/multiaddr'

export type ReservationClass = 'member' | 'stranger'
/** Why a reservation request was refused here (the gater's `not_admitted` comes before the book). */
export type BookRefusal = 'full' | 'strangers_full' | 'ip_limit'
export type EndReason = 'disconnected' | 'expired' | 'evicted' | 'failed'

export interface ReservationBookInit {
  /** Slots in all. */
  maxReservations: number
  /** Slots strangers may hold at once (at most `maxReservations`). */
  maxStrangerReservations: number
  /** Stranger slots one IP (one /64 for IPv6) may hold at once. */
  maxStrangerReservationsPerIp: number
  memberTtlMs: number
  strangerTtlMs: number
  memberLimit: Limit
  strangerLimit: Limit
  /** The class of a peer now. */
  classify: (peer: PeerId) => ReservationClass
  /** Told of every outcome, for metrics. */
  onAccepted?: (cls: ReservationClass) => void
  onRefused?: (reason: BookRefusal) => void
  onEnded?: (cls: ReservationClass, reason: EndReason) => void
  /** @default Date.now */
  now?: () => number
}

/** What the circuit relay server reads from a reservation (its `RelayReservation`), plus the class. */
export interface BookedReservation {
  addr: Multiaddr
  expiry: Date
  limit?: Limit
  /** Aborts when the reservation ends: the server cuts the relayed connections made through it. */
  signal: AbortSignal
  class: ReservationClass
  /** The holder's IP (IPv4) or /64 (IPv6), for the per-IP bound. */
  ip: string | undefined
}

interface Entry extends BookedReservation {
  peer: PeerId
  controller: AbortController
  timer: ReturnType<typeof setTimeout> | undefined
}

export class ReservationEndedError extends Error {
  static override name = 'ReservationEndedError'
  override name = 'ReservationEndedError'
}

/** `reserve`'s answer, in the shape the server expects (protons' string enum values). */
export interface ReserveResult {
  status: 'OK' | 'RESERVATION_REFUSED'
  /** Seconds since the epoch, when OK. */
  expire?: number
}

export class ReservationBook {
  /** The server's `reservations` getter returns this map. */
  readonly reservations = new PeerMap<Entry>()
  readonly #init: ReservationBookInit
  readonly #now: () => number

  constructor (init: ReservationBookInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** Reservations held, by class. */
  counts (): Record<ReservationClass, number> {
    const out = { member: 0, stranger: 0 }
    for (const [, r] of this.reservations) out[r.class]++
    return out
  }

  reserve (peer: PeerId, addr: Multiaddr): ReserveResult {
    const cls = this.#init.classify(peer)
    const held = this.reservations.get(peer)
    if (held !== undefined) {
      // a refresh keeps its slot, in the class the peer has now
      held.addr = addr
      held.ip = ipKey(addr)
      this.#setClass(held, cls, this.#ttl(cls))
      this.#init.onAccepted?.(cls)
      return { status: 'OK', expire: Math.round(held.expiry.getTime() / 1000) }
    }
    const refusal = cls === 'member' ? this.#makeRoomForMember() : this.#strangerRefusal(ipKey(addr))
    if (refusal !== undefined) {
      this.#init.onRefused?.(refusal)
      return { status: 'RESERVATION_REFUSED' }
    }
    const controller = new AbortController()
    const entry: Entry = { peer, addr, expiry: new Date(0), class: cls, ip: ipKey(addr), signal: controller.signal, controller, timer: undefined }
    this.reservations.set(peer, entry)
    this.#setClass(entry, cls, this.#ttl(cls))
    this.#init.onAccepted?.(cls)
    return { status: 'OK', expire: Math.round(entry.expiry.getTime() / 1000) }
  }

  get (peer: PeerId): BookedReservation | undefined {
    return this.reservations.get(peer)
  }

  /** The server calls this when it could not send the reservation answer. */
  removeReservation (peer: PeerId): void {
    this.end(peer, 'failed')
  }

  /** Ends `peer`'s reservation, if any. */
  end (peer: PeerId, reason: EndReason): void {
    const r = this.reservations.get(peer)
    if (r === undefined) return
    clearTimeout(r.timer)
    this.reservations.delete(peer)
    r.controller.abort(new ReservationEndedError(`reservation ended: ${reason}`))
    this.#init.onEnded?.(r.class, reason)
  }

  /** The peer's admission changed: its reservation (if any) takes its new class now. */
  reclassify (peer: PeerId): void {
    const r = this.reservations.get(peer)
    if (r === undefined) return
    const cls = this.#init.classify(peer)
    if (cls === r.class) return
    // promoted: a member's full TTL; demoted: no longer than a stranger's
    const ttl = cls === 'member' ? this.#init.memberTtlMs : Math.min(this.#init.strangerTtlMs, r.expiry.getTime() - this.#now())
    this.#setClass(r, cls, ttl)
  }

  /** Ends every reservation (the server stops), without counting them as ended. */
  clear (): void {
    for (const [, r] of this.reservations) {
      clearTimeout(r.timer)
      r.controller.abort(new ReservationEndedError('relay stopping'))
    }
    this.reservations.clear()
  }

  #ttl (cls: ReservationClass): number {
    return cls === 'member' ? this.#init.memberTtlMs : this.#init.strangerTtlMs
  }

  #setClass (r: Entry, cls: ReservationClass, ttlMs: number): void {
    r.class = cls
    r.limit = cls === 'member' ? this.#init.memberLimit : this.#init.strangerLimit
    r.expiry = new Date(this.#now() + ttlMs)
    clearTimeout(r.timer)
    r.timer = setTimeout(() => { if (this.reservations.get(r.peer) === r) this.end(r.peer, 'expired') }, Math.max(0, ttlMs))
    r.timer.unref?.()
  }

  /** undefined when a member may reserve now (evicting a stranger if every slot is taken). */
  #makeRoomForMember (): BookRefusal | undefined {
    if (this.reservations.size < this.#init.maxReservations) return undefined
    let victim: Entry | undefined
    for (const [, r] of this.reservations) {
      if (r.class === 'stranger' && (victim === undefined || r.expiry < victim.expiry)) victim = r
    }
    if (victim === undefined) return 'full'
    this.end(victim.peer, 'evicted')
    return undefined
  }

  #strangerRefusal (ip: string | undefined): BookRefusal | undefined {
    if (this.reservations.size >= this.#init.maxReservations) return 'full'
    let strangers = 0
    let fromIp = 0
    for (const [, r] of this.reservations) {
      if (r.class !== 'stranger') continue
      strangers++
      if (ip !== undefined && r.ip === ip) fromIp++
    }
    if (strangers >= this.#init.maxStrangerReservations) return 'strangers_full'
    if (fromIp >= this.#init.maxStrangerReservationsPerIp) return 'ip_limit'
    return undefined
  }
}

/** The IPv4 address, or the /64 of an IPv6 address (one host gets a whole /64), of a connection's remote address. */
export function ipKey (addr: Multiaddr): string | undefined {
  const first = addr.getComponents()[0]
  if (first?.value === undefined) return undefined
  if (first.name === 'ip4') return first.value
  if (first.name !== 'ip6') return undefined
  // IPv4-mapped (::ffff:a.b.c.d, which multiaddr prints as ::ffff:xxxx:xxxx) is the IPv4 host
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(first.value)
  if (dotted !== null) return dotted[1]
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(first.value)
  if (hex !== null) {
    const hi = parseInt(hex[1]!, 16)
    const lo = parseInt(hex[2]!, 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  const [head = '', tail] = first.value.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
