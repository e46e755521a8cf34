/**
 * opsSince pages: bounded by limit and bytes, but every origin's slice ends on
 * a signed op so each page verifies on its own; `more` says whether anything
 * is left; pages in order cover everything exactly once.
 */
import { describe, expect, it } from 'vitest'
import { deviceIdToString } from '../../src/oplog/keys.js'
import { decodeOp, type EncodedOp } from '../../src/oplog/op.js'
import type { Replica } from '../../src/store/replica.js'
import { allOps, FakeClock, newReplica } from '../helpers/fixtures.js'

function summary (ops: readonly EncodedOp[]): string[] {
  return ops.map(e => { const op = decodeOp(e); return `${op.key}:${op.seq}${e.sig === undefined ? '' : '*'}` })
}

function advance (vector: Map<string, number>, ops: readonly EncodedOp[]): Map<string, number> {
  const v = new Map(vector)
  for (const e of ops) { const op = decodeOp(e); v.set(deviceIdToString(op.origin), Math.max(v.get(deviceIdToString(op.origin)) ?? 0, op.seq)) }
  return v
}

/** Two origins held by `r`: its own (batches of 3, 1 and 5 ops) and a peer's (one batch of 2), in origin key order. */
function setup (): { r: Replica, first: string, second: string } {
  const clock = new FakeClock()
  const r = newReplica({ wallClock: clock.now })
  const p = newReplica({ wallClock: clock.now })
  const mine = (key: string, n: number): void => { r.batch(w => { for (let i = 0; i < n; i++) w.increment('c', key, 'n') }) }
  mine('r', 3); mine('r', 1); mine('r', 5)
  p.batch(w => { w.increment('c', 'p', 'n'); w.increment('c', 'p', 'n') })
  expect(r.applyRemote(allOps(p)).applied).toBe(2)
  const [first, second] = [r, p].sort((a, b) => Buffer.compare(a.deviceKey.publicKey, b.deviceKey.publicKey)).map(x => x === r ? 'r' : 'p')
  return { r, first: first!, second: second! }
}

describe('opsSince', () => {
  it('the whole store in one page by default', () => {
    const { r, first } = setup()
    const page = r.opsSince(new Map())
    expect(page.more).toBe(false)
    expect(page.ops).toHaveLength(11)
    expect(page.bytes).toBe(page.ops.reduce((s, o) => s + o.body.length + (o.sig?.length ?? 0), 0))
    const rOps = ['r:1', 'r:2', 'r:3*', 'r:4*', 'r:5', 'r:6', 'r:7', 'r:8', 'r:9*']
    const pOps = ['p:1', 'p:2*']
    expect(summary(page.ops)).toEqual(first === 'r' ? [...rOps, ...pOps] : [...pOps, ...rOps])
  })

  it('small limits split pages only after signed ops, and `more` is exact', () => {
    const { r } = setup()
    for (const limit of [1, 2, 3, 4, 7, 11, 12]) {
      let vector = new Map<string, number>()
      const seen: string[] = []
      for (let i = 0; ; i++) {
        expect(i).toBeLessThan(20)
        const page = r.opsSince(vector, { limit })
        // Each origin's slice ends on a signed op.
        const last = new Map<string, EncodedOp>()
        for (const e of page.ops) last.set(Buffer.from(decodeOp(e).origin).toString('hex'), e)
        for (const e of last.values()) expect(e.sig).toBeDefined()
        seen.push(...summary(page.ops))
        vector = advance(vector, page.ops)
        const rest = r.opsSince(vector)
        expect(page.more).toBe(rest.ops.length > 0)
        if (!page.more) break
      }
      expect(seen.sort()).toEqual(summary(allOps(r)).sort())
    }
  })

  it('pages ops of very different sizes (small ops around 300 KB values) exactly once and in order', () => {
    const r = newReplica()
    const big = (i: number): Uint8Array => new Uint8Array(300_000).fill(i)
    r.batch(w => { for (let i = 0; i < 300; i++) w.put('small', `a${i}`, { i }) })
    for (let i = 0; i < 6; i++) {
      r.put('big', `b${i}`, { data: big(i) })
      r.batch(w => { for (let j = 0; j < 40; j++) w.put('small', `c${i}-${j}`, { j }) })
    }
    const all = summary(allOps(r))
    const [origin] = r.oplog.origins()
    expect([...r.oplog.range(origin!, 0, origin!.seq)].map(s => s.seq)).toEqual(Array.from({ length: origin!.seq }, (_, i) => i + 1))
    expect([...r.oplog.range(origin!, 290, 310)].map(s => s.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 291 + i))
    let vector = new Map<string, number>()
    const seen: string[] = []
    for (let pages = 0; pages < 100; pages++) {
      const page = r.opsSince(vector, { maxBytes: 512 * 1024 })
      expect(page.ops.at(-1)?.sig).toBeDefined()
      seen.push(...summary(page.ops))
      vector = advance(vector, page.ops)
      if (!page.more) break
    }
    expect(seen).toEqual(all)
  })

  it('a byte budget splits pages the same way', () => {
    const { r } = setup()
    const page = r.opsSince(new Map(), { maxBytes: 1 })
    expect(page.more).toBe(true)
    // Runs to the first signature, not one op further.
    expect(summary(page.ops).at(-1)).toMatch(/\*$/)
    expect(summary(page.ops).filter(s => s.endsWith('*'))).toHaveLength(1)
  })

  it('skips what the vector already has, and ignores unknown devices', () => {
    const { r } = setup()
    const id = r.deviceId
    const page = r.opsSince(new Map([[id, 4], ['12D3KooWunknown', 7]]))
    expect(summary(page.ops).filter(s => s.startsWith('r:'))).toEqual(['r:5', 'r:6', 'r:7', 'r:8', 'r:9*'])
    expect(r.opsSince(new Map([[id, 9]])).ops.every(e => decodeOp(e).key === 'p')).toBe(true)
    expect(r.opsSince(new Map([[id, 50]])).ops.every(e => decodeOp(e).key === 'p')).toBe(true)
  })

  it('a relay keeps one signature per applied run; a receiver holding part of that run resumes from its own head', () => {
    const { r } = setup()
    const clock = new FakeClock()
    const relay = newReplica({ wallClock: clock.now })
    const q = newReplica({ wallClock: clock.now })
    // The relay takes r's ops in one page: it keeps only the signature that closed the run.
    expect(relay.applyRemote(r.opsSince(new Map()).ops)).toMatchObject({ rejected: [] })
    expect(summary(relay.opsSince(new Map()).ops).filter(x => x.startsWith('r:'))).toEqual(['r:1', 'r:2', 'r:3', 'r:4', 'r:5', 'r:6', 'r:7', 'r:8', 'r:9*'])
    // So a small page from the relay runs to op 9.
    expect(summary(relay.opsSince(new Map([...relay.versionVector(), [r.deviceId, 0]]), { limit: 1 }).ops).filter(x => x.startsWith('r:'))).toHaveLength(9)
    // q took r's first batch from r itself: head at op 3, in the middle of the relay's run.
    expect(q.applyRemote(r.opsSince(new Map([...r.versionVector(), [r.deviceId, 0]]), { limit: 1 }).ops).applied).toBe(3)
    expect(q.versionVector().get(r.deviceId)).toBe(3)
    const rest = relay.opsSince(q.versionVector())
    expect(summary(rest.ops).filter(x => x.startsWith('r:'))).toEqual(['r:4', 'r:5', 'r:6', 'r:7', 'r:8', 'r:9*'])
    expect(q.applyRemote(rest.ops)).toMatchObject({ rejected: [] })
    expect(q.digest()).toBe(r.digest())
  })

  it('long runs survive a relay: the closing signature is kept whatever the run length', () => {
    for (const n of [63, 64, 65, 128, 130]) {
      const clock = new FakeClock()
      const a = newReplica({ wallClock: clock.now })
      const relay = newReplica({ wallClock: clock.now })
      const c = newReplica({ wallClock: clock.now })
      a.batch(w => { for (let i = 0; i < n; i++) w.put('c', `k${i}`, { i }) })
      expect(relay.applyRemote(allOps(a))).toMatchObject({ applied: n, rejected: [] })
      const page = relay.opsSince(new Map())
      expect(page.ops.at(-1)!.sig, `run of ${n}`).toBeDefined()
      expect(c.applyRemote(page.ops), `run of ${n}`).toMatchObject({ applied: n, rejected: [] })
      expect(c.digest()).toBe(a.digest())
      expect(allOps(c).map(e => Buffer.from(e.body).toString('hex'))).toEqual(allOps(a).map(e => Buffer.from(e.body).toString('hex')))
    }
  })
})
