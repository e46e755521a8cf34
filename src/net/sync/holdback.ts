/**
 * Announced ops that arrived ahead of what the store holds, kept briefly so
 * they can be applied in order once the ops before them arrive.
 *
 * Gossip does not promise order: gossipsub validates messages concurrently,
 * a forwarded copy can overtake the direct one, and a message can be lost.
 * The store accepts only ops that extend an origin's contiguous prefix (an op
 * beyond a hole is refused as a `gap`), so an announcement of ops 12..14 that
 * comes before the one of 10..11 used to be dropped and the whole range
 * pulled again by a session. Held here instead, 12..14 are applied the moment
 * 10..11 are, without a session.
 *
 * Bounded three ways: in ops and in bytes (past either, new ops are refused
 * and left for a pull), and in time: an op held longer than `holdMs` is
 * dropped, because by then the gap tracker (`gap-tracker.ts`) has started a
 * pull that brings it with the ops that were missing. The ops are not
 * checked here (the store verifies them when they are applied); only their
 * origin and seq are read, from the body's header.
 */
import type { EncodedOp } from '../../oplog/op.js'
import type { OpPosition } from '../../protocol/op-header.js'
import type { VersionVector } from '../../protocol/port.js'
import { DEFAULT_HOLD_MAX_BYTES, DEFAULT_HOLD_MAX_OPS, DEFAULT_HOLD_MS } from '../constants.js'

export interface HoldbackOptions {
  /** @default DEFAULT_HOLD_MAX_OPS (20,000) */
  maxOps?: number
  /** Bodies and signatures together. @default DEFAULT_HOLD_MAX_BYTES (8 MiB) */
  maxBytes?: number
  /** @default DEFAULT_HOLD_MS (1 s) */
  holdMs?: number
}

interface Held { readonly op: EncodedOp, readonly bytes: number, readonly at: number, readonly source: string }

/** Order of arrival, for expiry: the oldest first. */
interface Arrival { readonly origin: string, readonly seq: number, readonly held: Held }

export interface HoldResult {
  /** Ops now held (a seq already held is not held twice). */
  readonly held: number
  /** Ops refused because the hold is full. */
  readonly refused: number
}

export interface ExpireResult {
  /** Held ops dropped that the store still lacks (a pull brings them). */
  readonly dropped: number
  /** Held ops dropped that the store got another way meanwhile (a session). */
  readonly stale: number
  /** Both, per peer that forwarded them: ops of theirs not applied from their announcement. */
  readonly droppedBySource: ReadonlyMap<string, number>
}

export class Holdback {
  readonly #maxOps: number
  readonly #maxBytes: number
  readonly #holdMs: number
  readonly #byOrigin = new Map<string, Map<number, Held>>()
  #arrivals: Arrival[] = []
  #head = 0
  #ops = 0
  #bytes = 0

  constructor (options: HoldbackOptions = {}) {
    this.#maxOps = options.maxOps ?? DEFAULT_HOLD_MAX_OPS
    this.#maxBytes = options.maxBytes ?? DEFAULT_HOLD_MAX_BYTES
    this.#holdMs = options.holdMs ?? DEFAULT_HOLD_MS
  }

  /** Ops and bytes held now. */
  get size (): { ops: number, bytes: number } { return { ops: this.#ops, bytes: this.#bytes } }

  /** Holds ops that arrived ahead of the prefix, as of `now` (ms), from `source` (the peer that forwarded them). */
  hold (ahead: ReadonlyArray<OpPosition & { op: EncodedOp }>, now: number, source: string): HoldResult {
    let held = 0
    let refused = 0
    for (const { origin, seq, op } of ahead) {
      let list = this.#byOrigin.get(origin)
      if (list?.has(seq) === true) continue
      const bytes = op.body.byteLength + (op.sig?.byteLength ?? 0)
      if (this.#ops + 1 > this.#maxOps || this.#bytes + bytes > this.#maxBytes) { refused++; continue }
      if (list === undefined) this.#byOrigin.set(origin, list = new Map())
      const h: Held = { op, bytes, at: now, source }
      list.set(seq, h)
      this.#arrivals.push({ origin, seq, held: h })
      this.#ops++
      this.#bytes += bytes
      held++
    }
    return { held, refused }
  }

  /**
   * Takes the held ops that now extend the prefix `vector` describes: per
   * origin, seq vector+1, vector+2, ... for as long as they are held, in
   * order. They leave the hold.
   */
  take (vector: VersionVector): EncodedOp[] {
    const out: EncodedOp[] = []
    for (const [origin, list] of this.#byOrigin) {
      for (let seq = (vector.get(origin) ?? 0) + 1; ; seq++) {
        const h = list.get(seq)
        if (h === undefined) break
        out.push(h.op)
        this.#remove(origin, list, seq, h)
      }
    }
    return out
  }

  /** Drops ops held for `holdMs` or longer as of `now`; `vector` tells the ones still missing from the stale ones. */
  expire (now: number, vector: VersionVector): ExpireResult {
    let dropped = 0
    let stale = 0
    const droppedBySource = new Map<string, number>()
    while (this.#head < this.#arrivals.length) {
      const a = this.#arrivals[this.#head]!
      if (a.held.at + this.#holdMs > now) break
      this.#head++
      const list = this.#byOrigin.get(a.origin)
      // Taken already: the arrival record is all that is left of it.
      if (list?.get(a.seq) !== a.held) continue
      if (a.seq > (vector.get(a.origin) ?? 0)) dropped++
      else stale++
      droppedBySource.set(a.held.source, (droppedBySource.get(a.held.source) ?? 0) + 1)
      this.#remove(a.origin, list, a.seq, a.held)
    }
    // Compact the arrival queue once its consumed head dominates it.
    if (this.#head > 1024 && this.#head * 2 > this.#arrivals.length) {
      this.#arrivals = this.#arrivals.slice(this.#head)
      this.#head = 0
    }
    return { dropped, droppedBySource, stale }
  }

  /** When the oldest held op expires (ms), or undefined when nothing is held. */
  nextExpiry (): number | undefined {
    // Arrivals already taken are skipped for good.
    while (this.#head < this.#arrivals.length) {
      const a = this.#arrivals[this.#head]!
      if (this.#byOrigin.get(a.origin)?.get(a.seq) === a.held) return a.held.at + this.#holdMs
      this.#head++
    }
    this.#arrivals = []
    this.#head = 0
    return undefined
  }

  clear (): void {
    this.#byOrigin.clear()
    this.#arrivals = []
    this.#head = 0
    this.#ops = 0
    this.#bytes = 0
  }

  #remove (origin: string, list: Map<number, Held>, seq: number, h: Held): void {
    list.delete(seq)
    if (list.size === 0) this.#byOrigin.delete(origin)
    this.#ops--
    this.#bytes -= h.bytes
  }
}
