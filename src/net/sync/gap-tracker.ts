/**
 * One pull per gap: decides when ops we lack are worth a sync session, and
 * with whom.
 *
 * Every announcement carries its writer's version vector, and while a group
 * writes, some of those vectors are always a little ahead of ours: the
 * writer's own new ops travel inline in the same message, and the ops it got
 * from others reach us by their own announcements a few milliseconds later.
 * Starting a session for each "I am ahead" (what the node did before) turned
 * one burst of writes into hundreds of sessions that each pulled what gossip
 * was about to deliver, several peers at once for the same range.
 *
 * So a vector that is ahead only opens a gap: per origin, the seq it showed
 * and when. Gossip usually closes it within milliseconds. A gap still open
 * after `delayMs` (an announcement was lost, a device was offline, ops were
 * too big to inline, a neighbour pulled a backlog we lack) becomes a pull:
 * one session with one peer known to hold the missing ops (its hello, its
 * sessions and its announcements tell us its vector; failing that, the peer
 * that forwarded the announcement). While that pull makes progress no other
 * peer is asked for the same origins, nor while any session with a peer that
 * holds them runs (every session pulls both ways). A pull that ends with the
 * gap still open, or that stalls for `stallMs`, hands it to another peer
 * after `retryMs`.
 *
 * Gaps are kept per origin as a short list of (seq, first seen) pairs, so
 * that a gap that keeps moving under steady writes (always a few ops behind,
 * never the same ones) does not look old: only an entry that stays unmet for
 * `delayMs` is due. Vectors are bounded where they are decoded; the lists
 * are bounded here (entries that would overflow are merged into the newer
 * one, which only makes the pull later).
 */
import type { Logger } from '@libp2p/interface'
import type { VersionVector } from '../../protocol/port.js'
import {
  DEFAULT_GAP_PULL_DELAY_MS, DEFAULT_GAP_RETRY_MS, DEFAULT_PULL_STALL_MS, GAP_COALESCE_MS, MAX_CONCURRENT_PULLS, MAX_GAP_ENTRIES_PER_ORIGIN
} from '../constants.js'

/** A connected member we may pull from. */
export interface GapPeer {
  readonly peerId: string
  /** What we know it holds: its last hello, session or announcement. */
  readonly vector: ReadonlyMap<string, number>
  /** A session with it (either direction) is running now. */
  readonly busy: boolean
}

export interface GapTrackerHooks {
  ourVector(): VersionVector
  /** Connected members that speak the protocol. */
  peers(): GapPeer[]
  /** Starts (or queues) a session with the peer. */
  pull(peerId: string): void
  log?: Logger
}

export interface GapTrackerOptions {
  /** How long a gap may stay open before it is pulled. @default DEFAULT_GAP_PULL_DELAY_MS (1 s) */
  delayMs?: number
  /** A pull that applied nothing for this long no longer holds its gaps. @default DEFAULT_PULL_STALL_MS (5 s) */
  stallMs?: number
  /** After a pull that left its gap open, wait this long before the next. @default DEFAULT_GAP_RETRY_MS (500 ms) */
  retryMs?: number
  /** @default Date.now */
  now?: () => number
}

interface Entry { target: number, since: number }

interface Pull { readonly peerId: string, readonly origins: ReadonlySet<string>, lastProgressAt: number }

export interface GapTotals {
  /** Origins we are behind on now (per the vectors seen). */
  readonly open: number
  /** Pulls started for gaps since start. */
  readonly pulls: number
}

export class GapTracker {
  readonly #hooks: GapTrackerHooks
  readonly #delayMs: number
  readonly #stallMs: number
  readonly #retryMs: number
  readonly #now: () => number
  readonly #gaps = new Map<string, Entry[]>()
  /** Per origin, the last peer that forwarded an announcement showing it: a holder when no vector says so. */
  readonly #via = new Map<string, string>()
  readonly #pulls = new Map<string, Pull>()
  /** Per origin: not before this time, and not from this peer if another holds it (it just failed to deliver). */
  readonly #retry = new Map<string, { at: number, peerId: string }>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #wakeAt = Infinity
  #pullsStarted = 0
  #running = false

  constructor (hooks: GapTrackerHooks, options: GapTrackerOptions = {}) {
    this.#hooks = hooks
    this.#delayMs = options.delayMs ?? DEFAULT_GAP_PULL_DELAY_MS
    this.#stallMs = options.stallMs ?? DEFAULT_PULL_STALL_MS
    this.#retryMs = options.retryMs ?? DEFAULT_GAP_RETRY_MS
    this.#now = options.now ?? Date.now
  }

  start (): void { this.#running = true }

  stop (): void {
    this.#running = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#wakeAt = Infinity
    this.#gaps.clear()
    this.#via.clear()
    this.#pulls.clear()
    this.#retry.clear()
  }

  totals (): GapTotals { return { open: this.#gaps.size, pulls: this.#pullsStarted } }

  /**
   * A vector someone holds (a peer's hello, an announcement's writer):
   * opens a gap for every origin where it is ahead of ours. `via` is the
   * connected peer it came through, when that is not its holder.
   */
  observe (vector: VersionVector, via?: string): void {
    if (!this.#running) return
    const ours = this.#hooks.ourVector()
    const now = this.#now()
    let opened = false
    for (const [origin, seq] of vector) {
      if (seq <= (ours.get(origin) ?? 0)) continue
      if (via !== undefined) this.#via.set(origin, via)
      let list = this.#gaps.get(origin)
      if (list === undefined) this.#gaps.set(origin, list = [])
      const last = list[list.length - 1]
      if (last !== undefined && last.target >= seq) continue
      opened = true
      if (last !== undefined && now - last.since < GAP_COALESCE_MS) { last.target = seq; continue }
      list.push({ target: seq, since: now })
      // Merging into the newer entry: the older seq then looks as young as the newer one (a later pull, never an early one).
      if (list.length > MAX_GAP_ENTRIES_PER_ORIGIN) list.splice(list.length - 2, 1)
    }
    if (opened) this.#wake(now + this.#delayMs)
  }

  /** A session with the peer applied ops: a pull from it is making progress. */
  progress (peerId: string): void {
    const p = this.#pulls.get(peerId)
    if (p !== undefined) p.lastProgressAt = this.#now()
  }

  /** A session with the peer ended: a pull from it is over; what it left open goes to another peer. */
  sessionEnded (peerId: string): void {
    const p = this.#pulls.get(peerId)
    if (p === undefined || !this.#running) return
    this.#pulls.delete(peerId)
    const ours = this.#hooks.ourVector()
    const now = this.#now()
    let open = false
    for (const origin of p.origins) {
      const first = this.#gaps.get(origin)?.[0]
      if (first === undefined || first.target <= (ours.get(origin) ?? 0)) continue
      this.#retry.set(origin, { at: now + this.#retryMs, peerId })
      open = true
    }
    if (open) this.#wake(now + this.#retryMs)
  }

  #wake (at: number): void {
    if (!this.#running || at >= this.#wakeAt) return
    clearTimeout(this.#timer)
    this.#wakeAt = at
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#wakeAt = Infinity
      this.#check()
    }, Math.max(0, at - this.#now()))
  }

  /** Drops what we now hold, and pulls what stayed missing too long. */
  #check (): void {
    if (!this.#running) return
    const ours = this.#hooks.ourVector()
    const now = this.#now()
    let next = Infinity
    /** Due origins, and the seq we must reach on each for progress. */
    const due = new Map<string, number>()
    for (const [origin, list] of this.#gaps) {
      const have = ours.get(origin) ?? 0
      while (list.length > 0 && list[0]!.target <= have) list.shift()
      if (list.length === 0) {
        this.#gaps.delete(origin)
        this.#retry.delete(origin)
        continue
      }
      const dueAt = Math.max(list[0]!.since + this.#delayMs, this.#retry.get(origin)?.at ?? 0)
      if (dueAt <= now) due.set(origin, have + 1)
      else next = Math.min(next, dueAt)
    }
    if (due.size > 0) {
      const peers = this.#hooks.peers()
      const leftToSessions = this.#dropInProgress(due, peers, now)
      this.#assign(due, peers, now)
      // Look again when a running pull (one just started included) would stall; a stalled one is not a reason to
      // look again at once (that spun on setTimeout(0) until its session ended): its origins are due below.
      for (const p of this.#pulls.values()) {
        const stallAt = p.lastProgressAt + this.#stallMs
        if (stallAt > now) next = Math.min(next, stallAt)
      }
      // Gaps left to a session we did not start: it may end without them (it began before its peer had them).
      if (leftToSessions) next = Math.min(next, now + this.#retryMs)
      // Due gaps nobody can serve now: look again later (a peer may connect or announce).
      if (due.size > 0) next = Math.min(next, now + this.#delayMs)
    }
    if (next < Infinity) this.#wake(next)
  }

  /**
   * Removes from `due` the origins a running session is already bringing.
   * True when some were left to a session that is not one of our pulls.
   */
  #dropInProgress (due: Map<string, number>, peers: GapPeer[], now: number): boolean {
    for (const p of this.#pulls.values()) {
      if (now - p.lastProgressAt >= this.#stallMs) continue
      for (const origin of p.origins) due.delete(origin)
    }
    let leftToSessions = false
    for (const peer of peers) {
      if (!peer.busy) continue
      const pull = this.#pulls.get(peer.peerId)
      if (pull !== undefined && now - pull.lastProgressAt >= this.#stallMs) continue
      for (const [origin, need] of due) {
        if ((peer.vector.get(origin) ?? 0) < need) continue
        due.delete(origin)
        if (pull === undefined) leftToSessions = true
      }
    }
    return leftToSessions
  }

  /** Picks peers for the due origins, the one that holds the most first, one pull each. */
  #assign (due: Map<string, number>, peers: GapPeer[], now: number): void {
    const idle = peers.filter(p => !this.#pulls.has(p.peerId))
    const active = (): number => [...this.#pulls.values()].filter(p => now - p.lastProgressAt < this.#stallMs).length
    while (due.size > 0 && active() < MAX_CONCURRENT_PULLS) {
      let best: { peer: GapPeer, origins: Set<string>, score: number } | undefined
      for (const peer of idle) {
        const origins = new Set<string>()
        let score = 0
        for (const [origin, need] of due) {
          const holds = (peer.vector.get(origin) ?? 0) >= need
          const forwarded = this.#via.get(origin) === peer.peerId
          if (!holds && !forwarded) continue
          origins.add(origin)
          // Known holders first; the peer that just failed to deliver an origin last.
          const retry = this.#retry.get(origin)
          score += (holds ? 2 : 1) - (retry?.peerId === peer.peerId ? 1.5 : 0)
        }
        const better = best === undefined || score > best.score || (score === best.score && !peer.busy && best.peer.busy)
        if (origins.size > 0 && better) best = { peer, origins, score }
      }
      if (best === undefined) return
      idle.splice(idle.indexOf(best.peer), 1)
      for (const origin of best.origins) due.delete(origin)
      this.#pulls.set(best.peer.peerId, { peerId: best.peer.peerId, origins: best.origins, lastProgressAt: now })
      this.#pullsStarted++
      this.#hooks.log?.('pulling %d origin(s) still missing after %d ms from %s', best.origins.size, this.#delayMs, best.peer.peerId)
      this.#hooks.pull(best.peer.peerId)
    }
  }
}
