/**
 * Close and reopen: everything a replica showed before it shows after, its
 * chain and clock continue where they stopped, and the HLC never repeats or
 * goes backwards even when the wall clock does between runs.
 */
import { describe, expect, it } from 'vitest'
import { compareHlc, type Hlc } from '../../src/hlc/index.js'
import { decodeOp } from '../../src/oplog/op.js'
import { openReplica, type Replica } from '../../src/store/replica.js'
import { allOps, FakeClock, newReplica, RemoteDevice, tempDir, track } from '../helpers/fixtures.js'

function view (r: Replica): unknown {
  const collections = r.collections()
  return {
    collections,
    lists: collections.map(c => r.list(c, { limit: 10_000 })),
    digest: r.digest(),
    vector: [...r.versionVector()].sort(),
    stats: r.stats(),
    ops: allOps(r).map(o => [Buffer.from(o.body).toString('hex'), o.sig === undefined ? null : Buffer.from(o.sig).toString('hex')])
  }
}

describe('reopen', () => {
  it('keeps all data, the device id, flags and rejection counts', () => {
    const dir = tempDir()
    const clock = new FakeClock()
    const r1 = track(openReplica({ dir, wallClock: clock.now }))
    r1.put('notes', 'n1', { title: 'hello', body: new Uint8Array([1, 2, 3]), meta: { tags: ['a'] } })
    r1.batch(w => { w.increment('stats', 's', 'views', 3); w.add('sets', 'x', 'members', 'alice'); w.add('sets', 'x', 'members', 'bob') })
    r1.remove('sets', 'x', 'members', 'bob')
    r1.put('notes', 'n2', { title: 'gone' })
    r1.delete('notes', 'n2')
    // Remote ops, a rejection and an equivocation flag, all persisted too.
    const a = new RemoteDevice(clock.ms - 100)
    r1.applyRemote(a.run([{ key: 'remote', value: 1 }]))
    r1.applyRemote(new RemoteDevice(clock.ms - 50, a.key).run([{ key: 'remote', value: 2 }]))
    expect(r1.stats().equivocating).toEqual([a.id])
    const before = view(r1)
    const id = r1.deviceId
    r1.close()

    const r2 = track(openReplica({ dir, wallClock: clock.now }))
    expect(r2.deviceId).toBe(id)
    expect(view(r2)).toEqual(before)
    expect(r2.get('notes', 'n1')).toEqual({ title: 'hello', body: new Uint8Array([1, 2, 3]), meta: { tags: ['a'] } })
    expect(r2.get('sets', 'x')).toEqual({ members: ['alice'] })
    expect(r2.get('notes', 'n2')).toBeUndefined()

    // The chain continues: a peer that had everything accepts the next op.
    const peer = newReplica({ wallClock: clock.now })
    expect(peer.applyRemote(allOps(r2)).rejected).toEqual([])
    const vector = peer.versionVector()
    r2.put('notes', 'n3', { title: 'after reopen' })
    expect(r2.versionVector().get(id)).toBe(vector.get(id)! + 1)
    expect(peer.applyRemote([...r2.opsSince(vector).ops])).toMatchObject({ applied: 1, rejected: [] })
    expect(peer.digest()).toBe(r2.digest())
  })

  it('keeps the HLC monotonic across 100 reopens with the wall clock moved backwards each time', () => {
    const dir = tempDir()
    let wall = 1_700_000_000_000
    const seen: Hlc[] = []
    let max: Hlc = { ms: 0, counter: 0 }
    for (let cycle = 0; cycle < 100; cycle++) {
      wall -= 1000 + cycle // the clock jumps back further every time
      const now = wall
      const r = openReplica({ dir, wallClock: () => now, maxDriftMs: 60_000 })
      try {
        const ops: Hlc[] = []
        const off = r.subscribe(e => { for (const op of e.ops) if (e.source === 'local') ops.push(op.hlc) })
        if (cycle % 10 === 5) {
          // A remote op ahead of our clock (within the drift) moves the clock forward too.
          const remote = new RemoteDevice(now + 30_000)
          const run = remote.run([{ key: `r${cycle}` }])
          expect(r.applyRemote(run)).toMatchObject({ applied: 1, rejected: [] })
          const h = decodeOp(run[0]!).hlc
          if (compareHlc(h, max) > 0) max = h
        }
        if (cycle % 2 === 0) r.put('c', `k${cycle}`, { cycle })
        else r.batch(w => { w.increment('c', 'counter', 'n'); w.add('c', 'set', 'members', cycle) })
        off()
        for (const h of ops) {
          expect(compareHlc(h, max), `cycle ${cycle}`).toBe(1)
          max = h
          seen.push(h)
        }
      } finally {
        r.close()
      }
    }
    expect(seen.length).toBe(150)
    // And the ops on disk, in each origin's seq order, have increasing HLCs.
    const r = track(openReplica({ dir, wallClock: () => wall }))
    const mine = allOps(r).map(e => decodeOp(e)).filter(op => Buffer.from(op.origin).equals(Buffer.from(r.deviceKey.publicKey)))
    expect(mine).toHaveLength(150)
    for (let i = 1; i < mine.length; i++) expect(compareHlc(mine[i]!.hlc, mine[i - 1]!.hlc)).toBe(1)
    expect(r.get('c', 'counter')).toEqual({ n: 50 })
  })

  it('a replica opened with an explicit device key keeps using it', () => {
    const dir = tempDir()
    const r1 = track(openReplica({ dir, wallClock: new FakeClock().now }))
    const key = r1.deviceKey
    r1.put('c', 'k', { a: 1 })
    r1.close()
    const r2 = track(openReplica({ dir, deviceKey: key, wallClock: new FakeClock().now }))
    expect(r2.deviceId).toBe(r1.deviceId)
    r2.put('c', 'k', { a: 2 })
    expect(r2.versionVector().get(r2.deviceId)).toBe(2)
  })
})
