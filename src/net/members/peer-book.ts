/**
 * The peer book as the network layer sees it: the port it needs (declared
 * here, by the consumer; the replica's `PeerBookTables` implements it and the
 * daemon wires them), an in-memory stand-in for nodes without a replica, and
 * the pure rules the member dialer applies to it: what kind of address a
 * multiaddr is, which addresses to try first, and what a failed dial means.
 *
 * Why the order matters: libp2p dials a peer's known addresses one after the
 * other, 6 s for each that does not answer, so after a relay cut a member
 * whose LAN address is unreachable from here was redialled only after that
 * address timed out. Addresses that worked last come first, circuits through
 * relays we are connected to next, addresses never tried after them, and
 * addresses whose last dial failed last; the dialer staggers them, so a slow
 * one never holds up the next for long.
 */
import { isPrivateIp } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

export type AddressKind = 'lan' | 'direct' | 'relay'

export interface BookAddress {
  /** Multiaddr without the trailing /p2p/<peer>. */
  readonly addr: string
  readonly kind: AddressKind
  /** The relay's peer id, for a circuit. */
  readonly relay?: string | undefined
}

export interface BookEntry extends BookAddress {
  readonly peer: string
  /** When the address was first learnt, ms since the epoch. */
  readonly seenAt: number
  /** Last connection over it. */
  readonly okAt?: number
  /** Last failed dial. */
  readonly failAt?: number
  /** Failed dials since it last worked. */
  readonly failures: number
  /** Why the last dial failed: `<category>: <message>`. */
  readonly error?: string
}

/** What the member dialer needs from a peer book. */
export interface PeerBook {
  peers(): string[]
  /** One device's addresses, or every device's. */
  entries(peer?: string): BookEntry[]
  /** Addresses learnt (identify, configuration): added if new, never overwriting what dials taught. */
  seen(peer: string, addrs: readonly BookAddress[], now: number): void
  succeeded(peer: string, a: BookAddress, now: number): void
  failed(peer: string, a: BookAddress, now: number, error: string): void
  forget(peer: string): void
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A peer book that lives as long as the node (tests, and nodes without a replica). Same bounds as the store's. */
export class MemoryPeerBook implements PeerBook {
  readonly #peers = new Map<string, Map<string, Mutable<BookEntry>>>()
  readonly #maxAddresses: number

  constructor (maxAddressesPerPeer = 32) { this.#maxAddresses = maxAddressesPerPeer }

  peers (): string[] { return [...this.#peers.keys()].sort() }

  entries (peer?: string): BookEntry[] {
    const lists = peer === undefined ? [...this.#peers.values()] : [this.#peers.get(peer) ?? new Map()]
    return lists.flatMap(m => [...m.values()].sort(byRecency).map(e => ({ ...e })))
  }

  seen (peer: string, addrs: readonly BookAddress[], now: number): void {
    for (const a of addrs) this.#entry(peer, a, now)
  }

  succeeded (peer: string, a: BookAddress, now: number): void {
    const e = this.#entry(peer, a, now)
    e.okAt = now
    e.failures = 0
    delete e.error
  }

  failed (peer: string, a: BookAddress, now: number, error: string): void {
    const e = this.#entry(peer, a, now)
    e.failAt = now
    e.failures++
    e.error = error
  }

  forget (peer: string): void { this.#peers.delete(peer) }

  #entry (peer: string, a: BookAddress, now: number): Mutable<BookEntry> {
    let m = this.#peers.get(peer)
    if (m === undefined) this.#peers.set(peer, m = new Map())
    let e = m.get(a.addr)
    if (e === undefined) {
      e = { peer, addr: a.addr, kind: a.kind, ...(a.relay === undefined ? {} : { relay: a.relay }), seenAt: now, failures: 0 }
      m.set(a.addr, e)
      if (m.size > this.#maxAddresses) {
        const worst = [...m.values()].sort(byRecency).at(-1)!
        m.delete(worst.addr)
      }
    }
    return e
  }
}

function byRecency (a: BookEntry, b: BookEntry): number {
  return Number(a.okAt === undefined) - Number(b.okAt === undefined) || (b.okAt ?? 0) - (a.okAt ?? 0) || b.seenAt - a.seenAt
}

/**
 * What kind of address `ma` is, stripped of a trailing `/p2p/<peer>`;
 * undefined when it names no way to reach the peer (a bare `/p2p/<id>`, or
 * another peer's id at the end).
 */
export function classifyAddress (ma: Multiaddr | string, peer: string): BookAddress | undefined {
  let m: Multiaddr
  try { m = typeof ma === 'string' ? multiaddr(ma) : ma } catch { return undefined }
  const parts = m.getComponents()
  const last = parts.at(-1)
  if (last?.name === 'p2p') {
    if (last.value !== peer) return undefined
    parts.pop()
  }
  if (parts.length === 0) return undefined
  const addr = parts.map(p => p.value === undefined ? `/${p.name}` : `/${p.name}/${p.value}`).join('')
  const circuit = parts.findIndex(p => p.name === 'p2p-circuit')
  if (circuit >= 0) {
    const relay = parts.slice(0, circuit).findLast(p => p.name === 'p2p')?.value
    if (relay === undefined) return undefined
    return { addr, kind: 'relay', relay }
  }
  const host = parts[0]
  if (host?.name === 'ip4' || host?.name === 'ip6') {
    const ip = host.value ?? ''
    const local = isPrivateIp(ip) === true || ip === '::1' || ip.startsWith('127.')
    return { addr, kind: local ? 'lan' : 'direct' }
  }
  return { addr, kind: 'direct' }
}

export interface RankContext {
  /** Whether we hold a connection to a relay now; undefined when unknown. */
  relayConnected(relayId: string): boolean | undefined
}

/**
 * Dial order for a member's addresses: what worked last (most recent first),
 * circuits through relays we are connected to, addresses never tried, then
 * those whose last dial failed (fewest failures first); circuits through a
 * relay we are not connected to come after all of those, in the same order:
 * dialing one must reach the relay first, and a relay that just dropped us
 * is likely down (another relay's circuit then keeps the member reachable).
 */
export function rankAddresses<T extends BookEntry> (entries: readonly T[], ctx: RankContext): T[] {
  const tier = (e: BookEntry): number => {
    const relayDown = e.kind === 'relay' && e.relay !== undefined && ctx.relayConnected(e.relay) === false
    const workedLast = e.okAt !== undefined && (e.failAt === undefined || e.okAt >= e.failAt)
    const failedLast = e.failAt !== undefined && !workedLast
    const base = workedLast ? 0 : failedLast ? 3 : e.kind === 'relay' ? 1 : 2
    return relayDown ? 4 + base : base
  }
  return [...entries].map(e => ({ e, t: tier(e) }))
    .sort((a, b) => a.t - b.t || (b.e.okAt ?? 0) - (a.e.okAt ?? 0) || a.e.failures - b.e.failures || b.e.seenAt - a.e.seenAt)
    .map(x => x.e)
}

/**
 * Why a dial failed, in the words `weft doctor` uses. Categories: `timeout`
 * (nothing answered), `no_route` (the network says the host cannot be
 * reached), `refused` (the host answered and refused, or the peer closed the
 * handshake), `relay_down` (the relay of a circuit could not be reached),
 * `no_reservation` (the relay answered but the member holds no reservation on
 * it: offline, or using other relays), `relay_refused`, `denied` (our own
 * connection gater), `wrong_peer`, `unsupported` (no transport for it),
 * `failed` (anything else).
 */
export type DialFailure = 'timeout' | 'no_route' | 'refused' | 'relay_down' | 'no_reservation' | 'relay_refused' | 'denied' | 'wrong_peer' | 'unsupported' | 'failed'

export function dialFailure (err: unknown, opts: { timedOut: boolean, circuit: boolean, relayConnected: boolean | undefined }): DialFailure {
  const e = err as { name?: string, code?: string, message?: string, errors?: unknown[] } | undefined
  const text = `${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? String(err)}`
  if (/NO_RESERVATION/.test(text)) return 'no_reservation'
  if (/RESERVATION_REFUSED|RESOURCE_LIMIT_EXCEEDED|PERMISSION_DENIED|CONNECTION_FAILED/.test(text)) return 'relay_refused'
  if (opts.circuit && opts.relayConnected === false) return 'relay_down'
  if (opts.timedOut || /Timeout|ETIMEDOUT|timed out/i.test(text)) return 'timeout'
  if (/EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN/.test(text)) return 'no_route'
  if (/ECONNREFUSED|ECONNRESET|EPIPE|reset|closed|Encryption|Unexpected end/i.test(text)) return 'refused'
  if (/DialDenied|denied|gater/i.test(text)) return 'denied'
  if (/UnexpectedPeer|InvalidPeerId|wrong peer/i.test(text)) return 'wrong_peer'
  if (/TransportUnavailable|No transport/i.test(text)) return 'unsupported'
  return 'failed'
}

/** One address of a dial attempt and how it ended (the member dialer's record). */
export interface AttemptOutcome {
  readonly addr: string
  readonly kind: AddressKind
  readonly relay?: string
  readonly result: 'connected' | DialFailure
  readonly message?: string
}

export interface Unreachable {
  /** revoked, no_address, not_tried, refused, relay_down, not_on_relay, no_route, timeout, failed */
  readonly reason: string
  readonly detail: string
}

const short = (id: string): string => id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id

/**
 * Why a known member is not connected, in words, from the last attempt to
 * reach it (or, before any attempt in this run, from the peer book's record
 * of the last failures): revoked; no address; refused (a host answered and
 * refused: weft not running there, or it refuses this device); relay down
 * (every circuit's relay unreachable); not on the relay (the relay is up but
 * the member holds no reservation there: offline, or using other relays);
 * no route (its addresses do not answer and no circuit was possible).
 */
export function whyUnreachable (input: {
  readonly revoked?: boolean
  readonly attempt?: readonly AttemptOutcome[] | undefined
  readonly book: readonly BookEntry[]
  readonly relaysConfigured: number
}): Unreachable {
  if (input.revoked === true) return { reason: 'revoked', detail: 'revoked from the group: not dialled, and refused if it dials' }
  const outcomes: AttemptOutcome[] = input.attempt !== undefined && input.attempt.length > 0
    ? [...input.attempt]
    : input.book.filter(e => e.error !== undefined && (e.okAt === undefined || (e.failAt ?? 0) > e.okAt)).map(e => {
      const i = e.error!.indexOf(': ')
      const result = (i > 0 ? e.error!.slice(0, i) : 'failed') as DialFailure
      return { addr: e.addr, kind: e.kind, ...(e.relay === undefined ? {} : { relay: e.relay }), result, message: i > 0 ? e.error!.slice(i + 2) : e.error! }
    })
  if (outcomes.length === 0) {
    if (input.book.length === 0 && input.relaysConfigured === 0) return { reason: 'no_address', detail: 'no address known and no relay configured: it can only be found on the LAN (mDNS) or by dialling it (--peer)' }
    return { reason: 'not_tried', detail: 'not dialled yet' }
  }
  const failed = outcomes.filter(o => o.result !== 'connected')
  const list = (xs: readonly AttemptOutcome[]): string => xs.slice(0, 3).map(o => `${o.addr}${o.message === undefined ? '' : ` (${o.message})`}`).join('; ')
  const refused = failed.filter(o => o.result === 'refused' || o.result === 'wrong_peer' || o.result === 'denied')
  if (refused.length > 0) return { reason: 'refused', detail: `refused at ${list(refused)}: the host answered but weft did not accept (not running there, or it refuses this device)` }
  const circuits = failed.filter(o => o.kind === 'relay')
  const notOnRelay = circuits.filter(o => o.result === 'no_reservation' || o.result === 'relay_refused')
  if (circuits.length > 0 && circuits.every(o => o.result === 'relay_down')) {
    const relays = [...new Set(circuits.map(o => o.relay ?? '?'))].map(short).join(', ')
    return { reason: 'relay_down', detail: `relay down: ${relays} cannot be reached, and its other addresses do not answer` }
  }
  if (notOnRelay.length > 0) {
    const relays = [...new Set(notOnRelay.map(o => o.relay ?? '?'))].map(short).join(', ')
    return { reason: 'not_on_relay', detail: `not on relay ${relays}: the relay is up but the device holds no reservation there (offline, or using other relays); its direct addresses do not answer` }
  }
  if (failed.length > 0 && failed.every(o => o.result === 'no_route' || o.result === 'timeout')) {
    const why = input.relaysConfigured === 0 ? 'and no relay is configured' : 'and no relay circuit reached it'
    return { reason: 'no_route', detail: `no route: ${failed.length} address${failed.length === 1 ? '' : 'es'} did not answer (${list(failed)}) ${why}` }
  }
  return { reason: failed[0]?.result ?? 'failed', detail: `could not reach it: ${list(failed)}` }
}
