/**
 * Ops from the future (stamped further ahead of our clock than the drift
 * bound) are held in quarantine, not refused: nothing applies early, nothing
 * is lost, later ops of the same origin wait behind them, the version vector
 * never claims them, and they apply on their own once the clock reaches them.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toEncoded, type EncodedOp } from '../../src/oplog/op.js'
import { openReplica } from '../../src/store/replica.js'
import { FakeClock, newReplica, RemoteDevice, snapshot, tempDir, track } from '../helpers/fixtures.js'

const T0 = 1_700_000_000_000
const DRIFT = 60_000

function setup (opts: { maxHeldBytes?: number, authorize?: (origin: string) => boolean } = {}): { clock: FakeClock, r: ReturnType<typeof newReplica> } {
  const clock = new FakeClock(T0)
  const r = newReplica({
    wallClock: clock.now,
    maxDriftMs: DRIFT,
    ...(opts.maxHeldBytes === undefined ? {} : { maxHeldBytes: opts.maxHeldBytes }),
    ...(opts.authorize === undefined ? {} : { authorize: o => opts.authorize!(o) })
  })
  return { clock, r }
}

describe('the quarantine for ops from the future', () => {
  it('holds an op beyond the drift bound, applies nothing early, and applies it once the clock is within the bound', () => {
    const { clock, r } = setup()
    const a = new RemoteDevice(T0 + 10 * 60_000) // a clock 10 minutes ahead
    const ops = a.run([{ collection: 'notes', key: 'n1', field: 'title', value: 'from the future' }])
    const before = snapshot(r)
    const hlc = r.hlc
    expect(r.applyRemote(ops)).toMatchObject({ applied: 0, held: 1, rejected: [] })
    expect(snapshot(r)).toEqual(before)
    expect(r.versionVector().get(a.id)).toBeUndefined()
    expect(r.hlc).toEqual(hlc)
    expect(r.held()).toMatchObject([{ deviceId: a.id, first: 1, last: 1, ops: 1 }])
    // Sent again (the peer still sees us behind): a duplicate, nothing new.
    expect(r.applyRemote(ops)).toMatchObject({ applied: 0, duplicates: 1, held: 0, rejected: [] })
    // Still a millisecond too early.
    clock.set(T0 + 10 * 60_000 + 1 - DRIFT - 1)
    expect(r.releaseHeld()).toMatchObject({ applied: 0 })
    expect(r.get('notes', 'n1')).toBeUndefined()
    clock.advance(1)
    expect(r.releaseHeld()).toMatchObject({ applied: 1, rejected: [] })
    expect(r.get('notes', 'n1')).toEqual({ title: 'from the future' })
    expect(r.versionVector().get(a.id)).toBe(1)
    expect(r.held()).toEqual([])
    expect(r.stats().rejected).toEqual({})
  })

  it('keeps later ops of the origin behind a held op (chain order), across batches, and applies the present prefix at once', () => {
    const { clock, r } = setup()
    const a = new RemoteDevice(T0 - 1000)
    const present = a.run([{ key: 'p1' }, { key: 'p2' }])
    a.ms = T0 + 5 * 60_000
    const future1 = a.run([{ key: 'f1' }])
    const future2 = a.run([{ key: 'f2' }, { key: 'f3' }])
    expect(r.applyRemote([...present, ...future1])).toMatchObject({ applied: 2, held: 1, rejected: [] })
    expect(r.versionVector().get(a.id)).toBe(2)
    expect(r.applyRemote(future2)).toMatchObject({ applied: 0, held: 2, rejected: [] })
    expect(r.held()).toMatchObject([{ first: 3, last: 5, ops: 3 }])
    clock.set(T0 + 5 * 60_000 + 10 - DRIFT)
    // applyRemote releases what is due before anything else.
    expect(r.applyRemote([])).toMatchObject({ applied: 0 })
    expect(r.versionVector().get(a.id)).toBe(5)
    expect(r.list('c').map(row => row.key)).toEqual(['f1', 'f2', 'f3', 'p1', 'p2'])
  })

  it('holds the unsigned ops just before a future op with it: the signature covering them comes later', () => {
    const { clock, r } = setup()
    const a = new RemoteDevice(T0 - 1000)
    const o1 = a.next({ key: 'now' })
    a.ms = T0 + 2 * DRIFT
    const o2 = a.sign(a.next({ key: 'later' }))
    expect(r.applyRemote([toEncoded(o1), toEncoded(o2)])).toMatchObject({ applied: 0, held: 2, rejected: [] })
    clock.set(T0 + DRIFT + 1)
    expect(r.releaseHeld()).toMatchObject({ applied: 2, rejected: [] })
    expect(r.versionVector().get(a.id)).toBe(2)
  })

  it('refuses forgeries and non-members instead of holding them', () => {
    const member = new RemoteDevice(T0 + 2 * DRIFT)
    const stranger = new RemoteDevice(T0 + 2 * DRIFT)
    const { r } = setup({ authorize: o => o === member.id })
    const forged = member.run([{ key: 'x' }]).map(op => ({ ...op, sig: new Uint8Array(64) }))
    expect(r.applyRemote(forged)).toMatchObject({ applied: 0, held: 0, rejected: [{ reason: 'bad_signature' }] })
    expect(r.applyRemote(stranger.run([{ key: 'y' }]))).toMatchObject({ applied: 0, held: 0, rejected: [{ reason: 'not_member' }] })
    expect(r.held()).toEqual([])
  })

  it('flags an origin that signed another op with the seq of a held one as equivocating', () => {
    const { r } = setup()
    const key = new RemoteDevice().key
    const one = new RemoteDevice(T0 + 2 * DRIFT, key)
    const other = new RemoteDevice(T0 + 3 * DRIFT, key)
    expect(r.applyRemote(one.run([{ key: 'a' }]))).toMatchObject({ held: 1 })
    expect(r.applyRemote(other.run([{ key: 'b' }]))).toMatchObject({ held: 0, rejected: [{ reason: 'equivocation' }] })
    expect(r.stats().equivocating).toEqual([key.id])
  })

  it('refuses ops from the future with drift once the quarantine is full (their senders keep them)', () => {
    const { r } = setup({ maxHeldBytes: 300 })
    const a = new RemoteDevice(T0 + 2 * DRIFT)
    expect(r.applyRemote(a.run([{ key: 'k', value: 'x'.repeat(100) }]))).toMatchObject({ held: 1 })
    expect(r.applyRemote(a.run([{ key: 'k', value: 'y'.repeat(400) }]))).toMatchObject({ held: 0, rejected: [{ reason: 'drift', message: expect.stringMatching(/quarantine .* is full/) }] })
  })

  it('keeps held ops across a restart', () => {
    const dir = tempDir()
    const clock = new FakeClock(T0)
    const a = new RemoteDevice(T0 + 2 * DRIFT)
    const ops = a.run([{ key: 'k1' }, { key: 'k2' }])
    const r1 = openReplica({ dir, wallClock: clock.now, maxDriftMs: DRIFT })
    expect(r1.applyRemote(ops)).toMatchObject({ held: 2 })
    r1.close()
    const r2 = track(openReplica({ dir, wallClock: clock.now, maxDriftMs: DRIFT }))
    expect(r2.held()).toMatchObject([{ first: 1, last: 2, ops: 2 }])
    clock.set(T0 + DRIFT + 10)
    expect(r2.releaseHeld()).toMatchObject({ applied: 2 })
    expect(r2.versionVector().get(a.id)).toBe(2)
  })

  it('a device whose clock ran 10 minutes ahead and was then fixed converges with its peers, page by page, without a manual step', () => {
    const clock = new FakeClock(T0)
    let offset = 10 * 60_000
    const skewed = newReplica({ wallClock: () => clock.ms + offset, maxDriftMs: DRIFT })
    const peer = newReplica({ wallClock: clock.now, maxDriftMs: DRIFT })
    for (let i = 0; i < 15; i++) skewed.batch(w => { w.put('notes', `n${i}`, { i }); w.increment('stats', 'all', 'writes') })
    // The clock is fixed; the HLC stays ahead (it never goes back), so new writes are still stamped in the future.
    offset = 0
    for (let i = 15; i < 30; i++) skewed.batch(w => { w.put('notes', `n${i}`, { i }); w.increment('stats', 'all', 'writes') })
    expect(skewed.hlc.ms - clock.ms).toBeGreaterThan(9 * 60_000)
    const pages: EncodedOp[][] = []
    let vector = new Map<string, number>()
    for (;;) {
      const page = skewed.opsSince(vector, { limit: 7 })
      pages.push([...page.ops])
      const next = new Map(vector)
      next.set(skewed.deviceId, (next.get(skewed.deviceId) ?? 0) + page.ops.length)
      vector = next
      if (!page.more) break
    }
    let held = 0
    for (const p of pages) held += peer.applyRemote(p).held ?? 0
    expect(held).toBe(60)
    expect(peer.versionVector().get(skewed.deviceId)).toBeUndefined()
    for (let minute = 1; minute <= 10; minute++) {
      clock.advance(60_000)
      peer.releaseHeld()
    }
    expect(peer.digest()).toBe(skewed.digest())
    expect(peer.held()).toEqual([])
    expect(peer.stats().rejected).toEqual({})
  })

  it('property: any delivery order, duplicates and clock steps end in the state of a receiver that never held anything, and nothing applies early', () => {
    fc.assert(fc.property(
      fc.array(fc.record({
        origin: fc.integer({ min: 0, max: 1 }),
        size: fc.integer({ min: 1, max: 4 }),
        ahead: fc.integer({ min: 0, max: 4 * DRIFT })
      }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.record({ pick: fc.nat(), step: fc.integer({ min: 0, max: DRIFT }), release: fc.boolean() }), { maxLength: 30 }),
      (writes, deliveries) => {
        const clock = new FakeClock(T0)
        const devices = [new RemoteDevice(T0), new RemoteDevice(T0)]
        const batches: EncodedOp[][] = []
        for (const w of writes) {
          const d = devices[w.origin]!
          d.ms = Math.max(d.ms, T0 + w.ahead) // an HLC never goes back
          batches.push(d.run(Array.from({ length: w.size }, (_, i) => ({ key: `k${i % 3}`, value: d.ms + i }))))
        }
        const r = openReplica({ dir: tempDir(), wallClock: clock.now, maxDriftMs: DRIFT })
        const reference = openReplica({ dir: tempDir(), wallClock: () => T0 + 100 * DRIFT, maxDriftMs: DRIFT })
        try {
          r.subscribe(e => { for (const op of e.ops) expect(op.hlc.ms - clock.ms).toBeLessThanOrEqual(DRIFT) })
          for (const d of deliveries) {
            clock.advance(d.step)
            r.applyRemote(batches[d.pick % batches.length]!)
            if (d.release) r.releaseHeld()
          }
          clock.advance(10 * DRIFT)
          for (const b of batches) { r.applyRemote(b); reference.applyRemote(b) }
          r.releaseHeld()
          expect(r.held()).toEqual([])
          expect(r.digest()).toBe(reference.digest())
          expect([...r.versionVector()].sort()).toEqual([...reference.versionVector()].sort())
        } finally {
          r.close()
          reference.close()
        }
      }
    ), { numRuns: 60 })
  })
})
