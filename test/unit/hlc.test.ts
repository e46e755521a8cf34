import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  checkDrift, compareHlc, decodeHlc, encodeHlc, formatHlc, hlcToBytes, HybridClock, isHlc,
  MAX_COUNTER, MAX_MS, readHlc, receive, tick, ZERO_HLC, type Hlc
} from '../../src/hlc/index.js'
import { FakeClock } from '../helpers/fake-clock.js'

const hlcArb: fc.Arbitrary<Hlc> = fc.record({
  ms: fc.oneof(fc.integer({ min: 0, max: MAX_MS }), fc.integer({ min: 1_600_000_000_000, max: 1_600_000_000_100 })),
  counter: fc.oneof(fc.integer({ min: 0, max: MAX_COUNTER }), fc.constantFrom(0, 1, MAX_COUNTER - 1, MAX_COUNTER))
})

const sign = (n: number): number => Math.sign(n)

describe('tick', () => {
  it('follows the wall clock when it is ahead', () => {
    expect(tick({ ms: 100, counter: 7 }, 200)).toEqual({ ms: 200, counter: 0 })
  })

  it('counts up within one millisecond', () => {
    expect(tick({ ms: 100, counter: 7 }, 100)).toEqual({ ms: 100, counter: 8 })
  })

  it('floors fractional wall readings', () => {
    expect(tick(ZERO_HLC, 123.9)).toEqual({ ms: 123, counter: 0 })
  })

  it('is strictly monotonic whatever the wall clock does, and refuses to go past the largest HLC', () => {
    fc.assert(fc.property(hlcArb, fc.array(fc.integer({ min: 0, max: 2 ** 47 }), { maxLength: 50 }), (start, walls) => {
      let last = start
      for (const w of walls) {
        if (last.ms === MAX_MS && last.counter === MAX_COUNTER) {
          // no greater HLC exists: an error that names the problem, never a wrapped (smaller) one
          expect(() => tick(last, w)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
          break
        }
        const next = tick(last, w)
        expect(compareHlc(next, last)).toBe(1)
        expect(next.ms).toBeGreaterThanOrEqual(w)
        expect(isHlc(next)).toBe(true)
        last = next
      }
    }))
  })

  it('advances the millisecond instead of wrapping when the counter overflows', () => {
    const next = tick({ ms: 500, counter: MAX_COUNTER }, 500)
    expect(next).toEqual({ ms: 501, counter: 0 })
    expect(compareHlc(next, { ms: 500, counter: MAX_COUNTER })).toBe(1)
  })

  it('keeps monotonic through many overflows under a stuck wall clock', () => {
    let last: Hlc = { ms: 1000, counter: 0 }
    for (let i = 0; i < 3 * (MAX_COUNTER + 1); i++) {
      const next = tick(last, 1000)
      if (compareHlc(next, last) !== 1) throw new Error(`not monotonic at step ${i}`)
      last = next
    }
    expect(last).toEqual({ ms: 1003, counter: 0 })
  })

  it('refuses wall readings that are not non-negative numbers', () => {
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      expect(() => tick(ZERO_HLC, bad)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    }
  })

  it('refuses a wall reading beyond the 48-bit range instead of issuing a timestamp that cannot be encoded', () => {
    // A clock in microseconds (a common mistake) is past 2^48 ms; the HLC
    // must not wrap when written as 8 bytes.
    const micros = 1_700_000_000_000 * 1000
    expect(() => tick(ZERO_HLC, micros)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    expect(() => tick(ZERO_HLC, MAX_MS + 1)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    expect(tick(ZERO_HLC, MAX_MS)).toEqual({ ms: MAX_MS, counter: 0 })
  })

  it('refuses to overflow past the last representable millisecond', () => {
    expect(() => tick({ ms: MAX_MS, counter: MAX_COUNTER }, MAX_MS)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })
})

describe('receive', () => {
  it('is strictly greater than both the local and the remote timestamp', () => {
    fc.assert(fc.property(hlcArb, hlcArb, fc.integer({ min: 0, max: 2 ** 47 }), (last, remote, wall) => {
      fc.pre(remote.ms - wall <= 60_000)
      fc.pre(!(last.ms === MAX_MS && last.counter === MAX_COUNTER) && !(remote.ms === MAX_MS && remote.counter === MAX_COUNTER))
      const next = receive(last, remote, wall, 60_000)
      expect(compareHlc(next, last)).toBe(1)
      expect(compareHlc(next, remote)).toBe(1)
      expect(next.ms).toBeGreaterThanOrEqual(wall)
      expect(isHlc(next)).toBe(true)
    }))
  })

  it('takes the larger counter when local, remote and wall share a millisecond', () => {
    expect(receive({ ms: 10, counter: 3 }, { ms: 10, counter: 9 }, 10)).toEqual({ ms: 10, counter: 10 })
    expect(receive({ ms: 10, counter: 9 }, { ms: 10, counter: 3 }, 5)).toEqual({ ms: 10, counter: 10 })
  })

  it('follows a remote that is ahead within the drift', () => {
    expect(receive({ ms: 10, counter: 3 }, { ms: 20, counter: 4 }, 15, 100)).toEqual({ ms: 20, counter: 5 })
  })

  it('resets the counter when the wall clock is ahead of both', () => {
    expect(receive({ ms: 10, counter: 3 }, { ms: 20, counter: 4 }, 30)).toEqual({ ms: 30, counter: 0 })
  })

  it('advances the millisecond when the counter would overflow', () => {
    expect(receive({ ms: 10, counter: 1 }, { ms: 10, counter: MAX_COUNTER }, 10)).toEqual({ ms: 11, counter: 0 })
    expect(receive({ ms: 10, counter: MAX_COUNTER }, { ms: 9, counter: 0 }, 10)).toEqual({ ms: 11, counter: 0 })
  })

  it('refuses a remote timestamp beyond the drift with ClockDriftError', () => {
    expect(() => receive(ZERO_HLC, { ms: 1000 + 60_001, counter: 0 }, 1000, 60_000)).toThrow(expect.objectContaining({ name: 'ClockDriftError', code: 'CLOCK_DRIFT' }))
    // Exactly at the limit is allowed.
    expect(receive(ZERO_HLC, { ms: 1000 + 60_000, counter: 0 }, 1000, 60_000)).toEqual({ ms: 61_000, counter: 1 })
  })

  it('checkDrift agrees with receive', () => {
    expect(() => checkDrift({ ms: 200, counter: 0 }, 100, 99)).toThrow(expect.objectContaining({ name: 'ClockDriftError' }))
    expect(() => checkDrift({ ms: 200, counter: 0 }, 100, 100)).not.toThrow()
  })
})

describe('HybridClock', () => {
  it('reads the injected wall clock and stays monotonic when it moves backwards', () => {
    const wall = new FakeClock(100_000)
    const clock = new HybridClock({ wallClock: wall.now })
    const seen: Hlc[] = [clock.now()]
    for (const step of [0, 5, -3000, 0, -1, 1, -9000, 12_000, -5]) {
      wall.advance(step)
      seen.push(clock.now())
    }
    for (let i = 1; i < seen.length; i++) expect(compareHlc(seen[i]!, seen[i - 1]!)).toBe(1)
    expect(seen[0]).toEqual({ ms: 100_000, counter: 0 })
    // Wall went back 3000: the clock stays at the last millisecond and counts.
    expect(seen[3]).toEqual({ ms: 100_005, counter: 1 })
  })

  it('starts after a persisted timestamp even when the wall clock is behind it', () => {
    const wall = new FakeClock(1000)
    const clock = new HybridClock({ wallClock: wall.now, last: { ms: 5000, counter: 42 } })
    expect(clock.now()).toEqual({ ms: 5000, counter: 43 })
  })

  it('never adopts a remote timestamp it refuses for drift', () => {
    const wall = new FakeClock(1_000_000)
    const clock = new HybridClock({ wallClock: wall.now, maxDriftMs: 1000 })
    const before = clock.now()
    expect(() => clock.receive({ ms: 1_000_000 + 1001, counter: 0 })).toThrow(expect.objectContaining({ name: 'ClockDriftError' }))
    expect(clock.last).toEqual(before)
    expect(() => clock.checkDrift({ ms: 1_000_000 + 1001, counter: 0 })).toThrow(expect.objectContaining({ name: 'ClockDriftError' }))
    expect(clock.last).toEqual(before)
    // The next local tick is unaffected by the refused timestamp.
    expect(clock.now()).toEqual({ ms: 1_000_000, counter: 1 })
  })

  it('adopts a remote timestamp within the drift', () => {
    const wall = new FakeClock(1_000_000)
    const clock = new HybridClock({ wallClock: wall.now, maxDriftMs: 1000 })
    expect(clock.receive({ ms: 1_000_900, counter: 7 })).toEqual({ ms: 1_000_900, counter: 8 })
    expect(clock.now()).toEqual({ ms: 1_000_900, counter: 9 })
  })

  it('reset restores an earlier state', () => {
    const wall = new FakeClock(50)
    const clock = new HybridClock({ wallClock: wall.now })
    const a = clock.now()
    clock.now()
    clock.reset(a)
    expect(clock.last).toEqual(a)
  })
})

describe('encodings', () => {
  it('bytes and hex round trip', () => {
    fc.assert(fc.property(hlcArb, h => {
      expect(readHlc(hlcToBytes(h), 0)).toEqual(h)
      expect(decodeHlc(encodeHlc(h))).toEqual(h)
      expect(encodeHlc(h)).toMatch(/^[0-9a-f]{16}$/)
    }))
  })

  it('byte order (memcmp) and hex string order are HLC order', () => {
    fc.assert(fc.property(hlcArb, hlcArb, (a, b) => {
      const expected = sign(compareHlc(a, b))
      expect(sign(Buffer.compare(hlcToBytes(a), hlcToBytes(b)))).toBe(expected)
      const ha = encodeHlc(a)
      const hb = encodeHlc(b)
      expect(ha < hb ? -1 : ha > hb ? 1 : 0).toBe(expected)
    }), { numRuns: 2000 })
  })

  it('encodes the extremes', () => {
    expect(Buffer.from(hlcToBytes({ ms: MAX_MS, counter: MAX_COUNTER })).toString('hex')).toBe('ffffffffffffffff')
    expect(Buffer.from(hlcToBytes({ ms: 1, counter: 2 })).toString('hex')).toBe('0000000000010002')
    expect(encodeHlc({ ms: 2 ** 32, counter: 1 })).toBe('0001000000000001')
  })

  it('decodeHlc refuses anything that is not 16 lowercase hex chars', () => {
    for (const bad of ['', '0', '000000000000000g', 'FFFFFFFFFFFFFFFF', '00000000000000000']) {
      expect(() => decodeHlc(bad)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    }
  })

  it('readHlc refuses a short buffer', () => {
    expect(() => readHlc(new Uint8Array(7), 0)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    expect(() => readHlc(new Uint8Array(8), 1)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })

  it('formats for humans', () => {
    expect(formatHlc({ ms: 0, counter: 3 })).toBe('1970-01-01T00:00:00.000Z#0003')
  })
})
