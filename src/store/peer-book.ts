/**
 * The peer book in SQL: per device of the group, the addresses it is known
 * by, when each last worked, and when and why each last failed. The network
 * layer writes it as it dials and connects, and reads it to dial members at
 * start and to order redials (see src/net/members/member-dialer.ts). It is bounded:
 * at most MAX_ADDRESSES_PER_PEER addresses per device (those that never
 * worked and were learnt longest ago go first) and MAX_PEERS devices.
 *
 * Writes are single small statements outside the replica's data
 * transactions: losing the last few on a power cut costs a slower redial,
 * never data.
 */
import { InvalidArgumentError } from '../errors.js'
import type { Db, Statement } from './sqlite.js'

/** Addresses kept per device. */
export const MAX_ADDRESSES_PER_PEER = 32
/** Devices kept; beyond, the one heard from longest ago is forgotten. */
export const MAX_PEERS = 256
const MAX_ADDR_CHARS = 1024
const MAX_ID_CHARS = 128
const MAX_ERROR_CHARS = 300

export type AddressKind = 'lan' | 'direct' | 'relay'

export interface BookAddress {
  /** Multiaddr without the trailing /p2p/<peer>. */
  readonly addr: string
  readonly kind: AddressKind
  /** The relay's peer id, for a circuit address. */
  readonly relay?: string | undefined
}

export interface BookEntry extends BookAddress {
  readonly peer: string
  /** ms since the epoch */
  readonly seenAt: number
  readonly okAt?: number
  readonly failAt?: number
  /** Failed dials since it last worked. */
  readonly failures: number
  readonly error?: string
}

interface Row {
  peer: string
  addr: string
  kind: AddressKind
  relay: string | null
  seen_at: number
  ok_at: number | null
  fail_at: number | null
  failures: number
  error: string | null
}

function fromRow (r: Row): BookEntry {
  return {
    peer: r.peer,
    addr: r.addr,
    kind: r.kind,
    ...(r.relay === null ? {} : { relay: r.relay }),
    seenAt: r.seen_at,
    ...(r.ok_at === null ? {} : { okAt: r.ok_at }),
    ...(r.fail_at === null ? {} : { failAt: r.fail_at }),
    failures: r.failures,
    ...(r.error === null ? {} : { error: r.error })
  }
}

function check (peer: string, a: BookAddress): void {
  if (typeof peer !== 'string' || peer.length === 0 || peer.length > MAX_ID_CHARS) throw new InvalidArgumentError('peer book: a peer id must be a non-empty string of at most 128 characters')
  if (typeof a.addr !== 'string' || a.addr.length === 0 || a.addr.length > MAX_ADDR_CHARS) throw new InvalidArgumentError(`peer book: an address must be a non-empty string of at most ${MAX_ADDR_CHARS} characters`)
  if (a.kind !== 'lan' && a.kind !== 'direct' && a.kind !== 'relay') throw new InvalidArgumentError(`peer book: unknown address kind ${JSON.stringify(a.kind)}`)
  if (a.relay !== undefined && (typeof a.relay !== 'string' || a.relay.length > MAX_ID_CHARS)) throw new InvalidArgumentError('peer book: a relay id must be a string of at most 128 characters')
}

export class PeerBookTables {
  readonly #db: Db
  readonly #peers: Statement
  readonly #entries: Statement
  readonly #all: Statement
  readonly #seen: Statement
  readonly #ok: Statement
  readonly #fail: Statement
  readonly #forget: Statement
  readonly #trim: Statement
  readonly #count: Statement
  readonly #oldest: Statement

  constructor (db: Db) {
    this.#db = db
    this.#peers = db.prepare('SELECT DISTINCT peer FROM peer_addresses ORDER BY peer').pluck()
    this.#entries = db.prepare('SELECT * FROM peer_addresses WHERE peer = ? ORDER BY ok_at IS NULL, ok_at DESC, seen_at DESC')
    this.#all = db.prepare('SELECT * FROM peer_addresses ORDER BY peer, ok_at IS NULL, ok_at DESC, seen_at DESC')
    this.#seen = db.prepare('INSERT INTO peer_addresses (peer, addr, kind, relay, seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer, addr) DO NOTHING')
    this.#ok = db.prepare(`INSERT INTO peer_addresses (peer, addr, kind, relay, seen_at, ok_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (peer, addr) DO UPDATE SET ok_at = excluded.ok_at, failures = 0, error = NULL`)
    this.#fail = db.prepare(`INSERT INTO peer_addresses (peer, addr, kind, relay, seen_at, fail_at, failures, error) VALUES (?, ?, ?, ?, ?, ?, 1, ?)
      ON CONFLICT (peer, addr) DO UPDATE SET fail_at = excluded.fail_at, failures = failures + 1, error = excluded.error`)
    this.#forget = db.prepare('DELETE FROM peer_addresses WHERE peer = ?')
    this.#trim = db.prepare(`DELETE FROM peer_addresses WHERE peer = @peer AND addr NOT IN (
      SELECT addr FROM peer_addresses WHERE peer = @peer ORDER BY ok_at IS NULL, ok_at DESC, seen_at DESC LIMIT ${MAX_ADDRESSES_PER_PEER})`)
    this.#count = db.prepare('SELECT count(DISTINCT peer) FROM peer_addresses').pluck()
    this.#oldest = db.prepare('SELECT peer FROM peer_addresses GROUP BY peer ORDER BY max(coalesce(ok_at, 0), seen_at) LIMIT 1').pluck()
  }

  /** Devices the book has addresses for. */
  peers (): string[] { return this.#peers.all() as string[] }

  /** One device's addresses (every device's when omitted), those that worked most recently first. */
  entries (peer?: string): BookEntry[] {
    return ((peer === undefined ? this.#all.all() : this.#entries.all(peer)) as Row[]).map(fromRow)
  }

  /** Addresses a device advertises or was configured with: added if new, left alone if known. */
  seen (peer: string, addrs: readonly BookAddress[], now: number): void {
    if (addrs.length === 0) return
    for (const a of addrs) check(peer, a)
    this.#db.transaction(() => {
      this.#makeRoomFor(peer)
      for (const a of addrs) this.#seen.run(peer, a.addr, a.kind, a.relay ?? null, now)
      this.#trim.run({ peer })
    })()
  }

  /** A connection to `peer` over `a` opened now. */
  succeeded (peer: string, a: BookAddress, now: number): void {
    check(peer, a)
    this.#db.transaction(() => {
      this.#makeRoomFor(peer)
      this.#ok.run(peer, a.addr, a.kind, a.relay ?? null, now, now)
      this.#trim.run({ peer })
    })()
  }

  /** A dial to `peer` over `a` failed now, for `error`. */
  failed (peer: string, a: BookAddress, now: number, error: string): void {
    check(peer, a)
    this.#db.transaction(() => {
      this.#makeRoomFor(peer)
      this.#fail.run(peer, a.addr, a.kind, a.relay ?? null, now, now, String(error).slice(0, MAX_ERROR_CHARS))
      this.#trim.run({ peer })
    })()
  }

  /** Drops every address of a device (revoked, or no longer in the group). */
  forget (peer: string): void { this.#forget.run(peer) }

  #makeRoomFor (peer: string): void {
    if ((this.#entries.get(peer) as Row | undefined) !== undefined) return
    while ((this.#count.get() as number) >= MAX_PEERS) this.#forget.run(this.#oldest.get() as string)
  }
}
