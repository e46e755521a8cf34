/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014).
 *
 * A timestamp is physical milliseconds plus a 16-bit logical counter. The
 * functions here are pure: the wall clock is passed in, so tests drive time
 * and nothing in the core reads `Date.now()`.
 *
 * Ordering: (ms, counter), and where a total order across devices is needed
 * the origin device id breaks ties (see `oplog` stamps). Two encodings keep
 * that order outside JS: 8 bytes big-endian (48-bit ms, 16-bit counter), whose
 * memcmp order in SQLite is HLC order, and 16 lowercase hex chars, whose
 * string order is HLC order.
 */
import { ClockDriftError, InvalidArgumentError } from '../errors.js'

export interface Hlc {
  /** Physical component: milliseconds since the Unix epoch. */
  readonly ms: number
  /** Logical component, 0..MAX_COUNTER. */
  readonly counter: number
}

/** The counter is 16 bits; when it would overflow the clock moves to the next millisecond. */
export const MAX_COUNTER = 0xffff
/** 48 bits of milliseconds: good until the year 10889. */
export const MAX_MS = 2 ** 48 - 1
/** Default limit on how far a remote timestamp may be ahead of our wall clock. */
export const DEFAULT_MAX_DRIFT_MS = 60 * 1000
/** Byte length of the binary encoding. */
export const HLC_BYTES = 8

export const ZERO_HLC: Hlc = Object.freeze({ ms: 0, counter: 0 })

/** Reads the wall clock in milliseconds. Injected so tests control time. */
export type WallClock = () => number

export function isHlc (value: unknown): value is Hlc {
  if (typeof value !== 'object' || value === null) return false
  const { ms, counter } = value as Hlc
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_MS &&
    Number.isSafeInteger(counter) && counter >= 0 && counter <= MAX_COUNTER
}

export function compareHlc (a: Hlc, b: Hlc): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1
  return 0
}

export function maxHlc (a: Hlc, b: Hlc): Hlc {
  return compareHlc(a, b) >= 0 ? a : b
}

function advance (ms: number, counter: number): Hlc {
  if (counter > MAX_COUNTER) {
    // Overflow moves time forward by one millisecond instead of wrapping,
    // which would break monotonicity.
    ms += 1
    counter = 0
  }
  if (ms > MAX_MS) throw new InvalidArgumentError(`HLC physical time ${ms} is beyond the 48-bit range`)
  return { ms, counter }
}

function checkWall (wall: number): number {
  if (!Number.isFinite(wall) || wall < 0) throw new InvalidArgumentError(`wall clock returned ${wall}, not a non-negative number of milliseconds`)
  // tick() adopts the wall reading as is: past 48 bits it would wrap when encoded.
  if (wall > MAX_MS) throw new InvalidArgumentError(`wall clock returned ${wall}, beyond the 48-bit millisecond range (a clock in microseconds?)`)
  return Math.floor(wall)
}

/**
 * The timestamp for a local event after `last`: strictly greater than `last`,
 * and at least the wall clock.
 */
export function tick (last: Hlc, wall: number): Hlc {
  const pt = checkWall(wall)
  if (pt > last.ms) return { ms: pt, counter: 0 }
  return advance(last.ms, last.counter + 1)
}

/**
 * Merge a remote timestamp into the local clock: the result is strictly
 * greater than both `last` and `remote`. A remote timestamp more than
 * `maxDriftMs` ahead of the wall clock is refused with `ClockDriftError` and
 * never adopted, so one device with a wrong clock cannot drag every other
 * device's clock into the future.
 */
export function receive (last: Hlc, remote: Hlc, wall: number, maxDriftMs = DEFAULT_MAX_DRIFT_MS): Hlc {
  const pt = checkWall(wall)
  checkDrift(remote, pt, maxDriftMs)
  const ms = Math.max(last.ms, remote.ms, pt)
  let counter: number
  if (ms === last.ms && ms === remote.ms) counter = Math.max(last.counter, remote.counter) + 1
  else if (ms === last.ms) counter = last.counter + 1
  else if (ms === remote.ms) counter = remote.counter + 1
  else counter = 0
  return advance(ms, counter)
}

/** Throws `ClockDriftError` when `remote` is more than `maxDriftMs` ahead of `wall`. */
export function checkDrift (remote: Hlc, wall: number, maxDriftMs = DEFAULT_MAX_DRIFT_MS): void {
  if (remote.ms - wall > maxDriftMs) {
    throw new ClockDriftError(`remote timestamp ${formatHlc(remote)} is ${remote.ms - wall} ms ahead of the local clock (max drift ${maxDriftMs} ms)`)
  }
}

/**
 * A stateful clock over the pure functions: what a replica holds. `last` is
 * what must be persisted with the ops it stamped.
 */
export class HybridClock {
  #last: Hlc
  readonly #wall: WallClock
  readonly maxDriftMs: number

  constructor (init: { wallClock?: WallClock, maxDriftMs?: number, last?: Hlc } = {}) {
    this.#wall = init.wallClock ?? Date.now
    this.maxDriftMs = init.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS
    // On open the clock starts from max(persisted, wall clock): a wall clock
    // that moved backwards never makes us reissue an old timestamp.
    this.#last = init.last ?? ZERO_HLC
  }

  get last (): Hlc { return this.#last }

  wall (): number { return checkWall(this.#wall()) }

  now (): Hlc {
    this.#last = tick(this.#last, this.#wall())
    return this.#last
  }

  receive (remote: Hlc): Hlc {
    this.#last = receive(this.#last, remote, this.#wall(), this.maxDriftMs)
    return this.#last
  }

  /** Checks drift without changing the clock. */
  checkDrift (remote: Hlc): void {
    checkDrift(remote, this.wall(), this.maxDriftMs)
  }

  /** Restores a state (for rolling back a failed transaction). */
  reset (last: Hlc): void {
    this.#last = last
  }
}

export function writeHlc (h: Hlc, out: Uint8Array, offset: number): void {
  const hi = Math.floor(h.ms / 2 ** 16)
  const lo = h.ms % 2 ** 16
  out[offset] = (hi >>> 24) & 0xff
  out[offset + 1] = (hi >>> 16) & 0xff
  out[offset + 2] = (hi >>> 8) & 0xff
  out[offset + 3] = hi & 0xff
  out[offset + 4] = (lo >>> 8) & 0xff
  out[offset + 5] = lo & 0xff
  out[offset + 6] = (h.counter >>> 8) & 0xff
  out[offset + 7] = h.counter & 0xff
}

export function readHlc (bytes: Uint8Array, offset: number): Hlc {
  if (bytes.length < offset + HLC_BYTES) throw new InvalidArgumentError('HLC needs 8 bytes')
  const hi = ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!
  const lo = (bytes[offset + 4]! << 8) + bytes[offset + 5]!
  const counter = (bytes[offset + 6]! << 8) + bytes[offset + 7]!
  return { ms: hi * 2 ** 16 + lo, counter }
}

export function hlcToBytes (h: Hlc): Uint8Array {
  const out = new Uint8Array(HLC_BYTES)
  writeHlc(h, out, 0)
  return out
}

/** 16 hex chars; string order equals HLC order. */
export function encodeHlc (h: Hlc): string {
  return h.ms.toString(16).padStart(12, '0') + h.counter.toString(16).padStart(4, '0')
}

export function decodeHlc (s: string): Hlc {
  if (!/^[0-9a-f]{16}$/.test(s)) throw new InvalidArgumentError(`not an encoded HLC: ${JSON.stringify(s.slice(0, 40))}`)
  return { ms: parseInt(s.slice(0, 12), 16), counter: parseInt(s.slice(12), 16) }
}

/** Human form: ISO time plus counter, e.g. `2026-11-22T02:51:25.123Z#0003`. */
export function formatHlc (h: Hlc): string {
  const iso = h.ms <= 8.64e15 ? new Date(h.ms).toISOString() : String(h.ms)
  return `${iso}#${h.counter.toString(16).padStart(4, '0')}`
}
