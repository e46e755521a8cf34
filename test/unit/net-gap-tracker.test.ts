/**
 * One pull per gap: the gap tracker turns vectors seen ahead of ours into at
 * most one pull per missing range, from one peer that holds it, only once the
 * range stayed missing for `delayMs`; it hands the range to another peer when
 * the pull stalls or ends with the range still open, and pulls nothing when
 * gossip closes the gap first. Pure: vitest's fake timers drive both the
 * tracker's timer and the clock it is given.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { GapTracker, type GapPeer } from '../../src/net/sync/gap-tracker.js'
import { GAP_COALESCE_MS, MAX_CONCURRENT_PULLS, MAX_GAP_ENTRIES_PER_ORIGIN } from '../../src/net/constants.js'

const DELAY = 1_000
const STALL = 5_000
const RETRY = 500

describe('GapTracker', () => {
  let ours: Map<string, number>
  let peers: GapPeer[]
  let pulls: string[]
  let tracker: GapTracker

  const peer = (peerId: string, vector: Record<string, number> = {}, busy = false): GapPeer => ({ peerId, vector: new Map(Object.entries(vector)), busy })
  const make = (options: { delayMs?: number } = {}): GapTracker => {
    const t = new GapTracker({
      ourVector: () => ours,
      peers: () => peers,
      pull: p => { pulls.push(p) }
    }, { delayMs: options.delayMs ?? DELAY, stallMs: STALL, retryMs: RETRY, now: () => Date.now() })
    t.start()
    return t
  }

  beforeEach(() => {
    vi.useFakeTimers()
    ours = new Map()
    peers = []
    pulls = []
    tracker = make()
  })
  afterEach(() => { tracker.stop(); vi.useRealTimers() })

  /** Origin `o` is at seq 5 on A and C; B only forwarded the announcement (its own vector lacks the ops). */
  function threeAnnouncers (): void {
    peers = [peer('A', { o: 5 }), peer('B'), peer('C', { o: 5 })]
    const announced = new Map([['o', 5]])
    tracker.observe(announced, 'A')
    vi.advanceTimersByTime(10)
    tracker.observe(announced, 'C')
    vi.advanceTimersByTime(10)
    tracker.observe(announced, 'B')
  }

  it('the same ahead vector via three peers: exactly one pull after delayMs, to a peer that holds the ops', () => {
    threeAnnouncers()
    vi.advanceTimersByTime(DELAY - 21)
    expect(pulls).toEqual([])
    vi.advanceTimersByTime(1)
    expect(pulls).toHaveLength(1)
    expect(['A', 'C']).toContain(pulls[0])
    expect(tracker.totals()).toEqual({ open: 1, pulls: 1 })
  })

  it('no second pull while the first reports progress, even as more announcements show the gap', () => {
    threeAnnouncers()
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toHaveLength(1)
    const first = pulls[0]!
    // Ten stall periods: the pull applies a page every second, and the writer keeps announcing.
    for (let i = 0; i < 10 * STALL / 1_000; i++) {
      vi.advanceTimersByTime(1_000)
      tracker.progress(first)
      ours.set('o', Math.min(4, i))
      tracker.observe(new Map([['o', 5]]), 'B')
    }
    expect(pulls).toEqual([first])
    // The pull ends with everything: nothing more is pulled.
    ours.set('o', 5)
    tracker.sessionEnded(first)
    vi.advanceTimersByTime(10 * STALL)
    expect(pulls).toEqual([first])
  })

  it('a pull that applies nothing for stallMs hands the gap to another holder', () => {
    threeAnnouncers()
    // The gap was first seen 20 ms ago: the pull starts now + DELAY - 20.
    vi.advanceTimersByTime(DELAY - 20)
    expect(pulls).toHaveLength(1)
    const first = pulls[0]!
    const other = first === 'A' ? 'C' : 'A'
    vi.advanceTimersByTime(STALL - 1)
    expect(pulls).toEqual([first])
    vi.advanceTimersByTime(1)
    expect(pulls).toEqual([first, other])
  })

  it('progress postpones the stall: the next pull waits for stallMs after the last progress', () => {
    threeAnnouncers()
    vi.advanceTimersByTime(DELAY)
    const first = pulls[0]!
    vi.advanceTimersByTime(STALL - 100)
    tracker.progress(first)
    vi.advanceTimersByTime(STALL - 1)
    expect(pulls).toEqual([first])
    vi.advanceTimersByTime(1)
    expect(pulls).toHaveLength(2)
  })

  it('a pull that ends with the gap still open: the next goes to another peer after retryMs', () => {
    threeAnnouncers()
    vi.advanceTimersByTime(DELAY)
    const first = pulls[0]!
    const other = first === 'A' ? 'C' : 'A'
    vi.advanceTimersByTime(200)
    // The session ended (cut, or the peer had less than it announced) and brought only part of the gap.
    ours.set('o', 2)
    tracker.sessionEnded(first)
    vi.advanceTimersByTime(RETRY - 1)
    expect(pulls).toEqual([first])
    vi.advanceTimersByTime(1)
    expect(pulls).toEqual([first, other])
  })

  it('a stalled pull whose gap no other peer holds is not looked at in a loop', () => {
    let looks = 0
    tracker.stop()
    tracker = new GapTracker({
      ourVector: () => { looks++; return ours },
      peers: () => peers,
      pull: p => { pulls.push(p) }
    }, { delayMs: DELAY, stallMs: STALL, retryMs: RETRY, now: () => Date.now() })
    tracker.start()
    peers = [peer('A', { o: 5 })]
    tracker.observe(new Map([['o', 5]]), 'A')
    vi.advanceTimersByTime(DELAY + STALL + 1)
    // The session with A hangs (its read deadline ends it later) while A writes on: the tracker waits, it does not spin.
    peers = [peer('A', { o: 6 })]
    tracker.observe(new Map([['o', 6]]), 'A')
    looks = 0
    vi.advanceTimersByTime(10 * DELAY)
    expect(looks).toBeLessThanOrEqual(20)
    expect(pulls).toEqual(['A'])
  })

  it('the peer that failed to deliver is asked again when it is the only holder', () => {
    peers = [peer('A', { o: 5 })]
    tracker.observe(new Map([['o', 5]]), 'A')
    vi.advanceTimersByTime(DELAY)
    tracker.sessionEnded('A')
    vi.advanceTimersByTime(RETRY)
    expect(pulls).toEqual(['A', 'A'])
  })

  it('a gap that gossip closes before delayMs pulls nothing', () => {
    threeAnnouncers()
    vi.advanceTimersByTime(DELAY - 100)
    ours.set('o', 5)
    vi.advanceTimersByTime(20 * DELAY)
    expect(pulls).toEqual([])
    expect(tracker.totals()).toEqual({ open: 0, pulls: 0 })
  })

  it('a gap that keeps moving under steady writes (always a few ops behind, never the same ones) pulls nothing', () => {
    peers = [peer('A', { o: 1_000 })]
    for (let seq = 1; seq <= 200; seq++) {
      tracker.observe(new Map([['o', seq]]), 'A')
      vi.advanceTimersByTime(GAP_COALESCE_MS + 10)
      // Gossip delivers each op a few announcements later.
      ours.set('o', Math.max(0, seq - 3))
    }
    expect(pulls).toEqual([])
  })

  it('a vector that is not ahead of ours opens nothing', () => {
    ours.set('o', 7)
    peers = [peer('A', { o: 7 })]
    tracker.observe(new Map([['o', 7], ['p', 0]]), 'A')
    vi.advanceTimersByTime(10 * DELAY)
    expect(pulls).toEqual([])
    expect(tracker.totals().open).toBe(0)
  })

  it('with no known holder the forwarder is asked; with neither, nobody until a holder connects', () => {
    // Vectors unknown (no hello yet): the peer that forwarded the announcement is the best guess.
    peers = [peer('A'), peer('B')]
    tracker.observe(new Map([['o', 3]]), 'B')
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toEqual(['B'])

    tracker.stop()
    pulls = []
    tracker = make()
    peers = [peer('A')]
    // A vector from a hello of a peer since gone (no forwarder): no one to ask.
    tracker.observe(new Map([['o', 3]]))
    vi.advanceTimersByTime(3 * DELAY)
    expect(pulls).toEqual([])
    // A holder connects: it is asked at the next look.
    peers = [peer('A'), peer('C', { o: 3 })]
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toEqual(['C'])
  })

  it('no pull while a session with a holder already runs (every session pulls both ways)', () => {
    peers = [peer('A', { o: 5 }, true), peer('C', { o: 5 })]
    tracker.observe(new Map([['o', 5]]), 'A')
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toEqual([])
    // That session brought the ops.
    ours.set('o', 5)
    peers = [peer('A', { o: 5 }), peer('C', { o: 5 })]
    vi.advanceTimersByTime(10 * DELAY)
    expect(pulls).toEqual([])
  })

  it('a gap left to a holder\'s running session is pulled once that session ends without closing it', () => {
    peers = [peer('A', { o: 5 }, true), peer('C', { o: 5 })]
    tracker.observe(new Map([['o', 5]]), 'A')
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toEqual([])
    // A's session (it started before A had these ops) ends with the gap still open.
    peers = [peer('A', { o: 5 }), peer('C', { o: 5 })]
    tracker.sessionEnded('A')
    vi.advanceTimersByTime(DELAY + RETRY)
    expect(pulls).toHaveLength(1)
  })

  it(`at most ${MAX_CONCURRENT_PULLS} pulls at once, each with another peer; the rest wait for one to end`, () => {
    peers = [peer('A', { a: 1 }), peer('B', { b: 1 }), peer('C', { c: 1 })]
    tracker.observe(new Map([['a', 1]]), 'A')
    tracker.observe(new Map([['b', 1]]), 'B')
    tracker.observe(new Map([['c', 1]]), 'C')
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toHaveLength(MAX_CONCURRENT_PULLS)
    const [first] = pulls
    ours.set(first === 'A' ? 'a' : first === 'B' ? 'b' : 'c', 1)
    tracker.sessionEnded(first!)
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toHaveLength(3)
    expect(new Set(pulls).size).toBe(3)
  })

  it('one pull takes every due origin its peer holds', () => {
    peers = [peer('A', { a: 4, b: 9 }), peer('B', { b: 9 })]
    tracker.observe(new Map([['a', 4], ['b', 9]]), 'A')
    vi.advanceTimersByTime(DELAY)
    expect(pulls).toEqual(['A'])
    vi.advanceTimersByTime(STALL / 2)
    tracker.progress('A')
    vi.advanceTimersByTime(STALL / 2)
    expect(pulls).toEqual(['A'])
  })

  it(`keeps at most ${MAX_GAP_ENTRIES_PER_ORIGIN} entries per origin; what overflows merges into the newer entry (a later pull, never an earlier one)`, () => {
    tracker.stop()
    tracker = make({ delayMs: 10_000 })
    peers = [peer('A', { o: 1_000 })]
    const spacing = GAP_COALESCE_MS + 10
    const n = MAX_GAP_ENTRIES_PER_ORIGIN + 8
    const start = Date.now()
    for (let seq = 1; seq <= n; seq++) {
      tracker.observe(new Map([['o', seq]]), 'A')
      if (seq < n) vi.advanceTimersByTime(spacing)
    }
    const lastSeen = start + (n - 1) * spacing
    // Gossip brings everything up to the last entry kept in order before the merged one.
    ours.set('o', MAX_GAP_ENTRIES_PER_ORIGIN - 1)
    // Seq 32 was first seen at start + 31 * spacing; after the merge it is as young as seq 40.
    vi.advanceTimersByTime(lastSeen + 10_000 - 1 - Date.now())
    expect(pulls).toEqual([])
    vi.advanceTimersByTime(1)
    expect(pulls).toEqual(['A'])
  })

  it('an old entry is never merged away: the oldest sighting still makes the pull on time', () => {
    peers = [peer('A', { o: 1_000 })]
    for (let seq = 1; seq <= 3 * MAX_GAP_ENTRIES_PER_ORIGIN; seq++) {
      tracker.observe(new Map([['o', seq]]), 'A')
      vi.advanceTimersByTime(GAP_COALESCE_MS + 1)
      if (pulls.length > 0) break
    }
    // The first sighting (seq 1, never met) came due delayMs after it was seen.
    expect(pulls).toEqual(['A'])
  })

  it('pulls nothing once stopped', () => {
    threeAnnouncers()
    tracker.stop()
    vi.advanceTimersByTime(10 * DELAY)
    tracker.observe(new Map([['o', 9]]), 'A')
    vi.advanceTimersByTime(10 * DELAY)
    expect(pulls).toEqual([])
  })
})
