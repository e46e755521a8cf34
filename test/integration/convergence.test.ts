/**
 * Property: replicas that exchange ops in any way converge, and the SQL store
 * always equals the pure reference model (src/merge) fed the same ops.
 *
 * 2 to 5 real replicas (SQLite files in temp dirs) share a fake wall clock with
 * per-replica skew, make random writes of every kind on a small pool of
 * collections, keys, fields and elements (so writes collide across replicas
 * and kinds), and exchange pages of `opsSince` in random subsets, orders and
 * duplications with small page limits. After every exchange the receiver must
 * equal the model of the ops it holds; after a final full sync every replica
 * must show the same rows and digest as the model of every op ever written.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MergeModel } from '../../src/merge/index.js'
import { deviceIdToString } from '../../src/oplog/keys.js'
import { decodeOp, type EncodedOp, type Op } from '../../src/oplog/op.js'
import { decodeValue, type Value } from '../../src/oplog/value.js'
import { openReplica, type Replica, type Writer } from '../../src/store/replica.js'
import { FakeClock } from '../helpers/fixtures.js'

// Small pools so that writes collide. Keys include characters whose UTF-16
// order differs from their UTF-8 (SQLite) order.
const COLLECTIONS = ['c1', 'c2']
const KEYS = ['a', 'b', 'ä', 'ｚ', '😀']
const FIELDS = ['f', 'g', 'n'] // shared between registers, counters and sets
const ELEMENTS: Value[] = ['x', 'y', 1, { o: 1 }, new Uint8Array([1])]

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0.5, -0, 1e300),
  fc.constantFrom('', 's', 'é😀'),
  fc.constantFrom(new Uint8Array([]), new Uint8Array([0, 255])),
  fc.constantFrom<Value[]>([1, 'a'], [], { a: [null], b: true }, {})
)

type Write =
  | { kind: 'put', c: string, k: string, fields: Record<string, Value> }
  | { kind: 'delete', c: string, k: string }
  | { kind: 'increment', c: string, k: string, f: string, by: number }
  | { kind: 'add' | 'remove', c: string, k: string, f: string, el: Value }

// 'rare' is written seldom, so it often ends up with every row deleted.
const c = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...COLLECTIONS) }, { weight: 1, arbitrary: fc.constant('rare') })
const k = fc.constantFrom(...KEYS)
const f = fc.constantFrom(...FIELDS)
const el = fc.constantFrom(...ELEMENTS)

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), c, k, fields: fc.dictionary(f, valueArb, { minKeys: 1, maxKeys: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), c, k }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('increment' as const), c, k, f, by: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(2 ** 40, -(2 ** 40))) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), c, k, f, el }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), c, k, f, el }) }
)

type Action =
  | { t: 'write', r: number, writes: Write[] }
  | { t: 'tick', ms: number }
  | { t: 'reopen', r: number }
  | { t: 'exchange', from: number, to: number, vector: 'current' | 'empty' | 'previous', limit: number, picks: number[], reverse: boolean, together: boolean }

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('write' as const), r: fc.nat(4), writes: fc.array(writeArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: -2, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), r: fc.nat(4) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('exchange' as const),
      from: fc.nat(4),
      to: fc.nat(4),
      vector: fc.constantFrom('current' as const, 'empty' as const, 'previous' as const),
      limit: fc.integer({ min: 1, max: 4 }),
      // Which pages to apply, in what order, how often: a subset, any order, duplicates.
      picks: fc.array(fc.nat(), { maxLength: 5 }),
      reverse: fc.boolean(),
      together: fc.boolean()
    })
  }
)

const scenarioArb = fc.record({
  replicas: fc.integer({ min: 2, max: 5 }),
  skews: fc.array(fc.integer({ min: -1500, max: 1500 }), { minLength: 5, maxLength: 5 }),
  actions: fc.array(actionArb, { minLength: 5, maxLength: 60 })
})

function perform (w: Writer, write: Write): void {
  switch (write.kind) {
    case 'put': w.put(write.c, write.k, write.fields); break
    case 'delete': w.delete(write.c, write.k); break
    case 'increment': w.increment(write.c, write.k, write.f, write.by); break
    case 'add': w.add(write.c, write.k, write.f, write.el); break
    case 'remove': w.remove(write.c, write.k, write.f, write.el); break
  }
}

/** One write is a direct call on the replica; several are one batch. */
function write (r: Replica, writes: Write[]): void {
  if (writes.length === 1) perform(r, writes[0]!)
  else r.batch(b => { for (const w of writes) perform(b, w) })
}

/** The pages a sender would send for `vector`, advancing the vector page by page as the receiver would. */
function pagesFor (from: Replica, vector: ReadonlyMap<string, number>, limit: number): EncodedOp[][] {
  const out: EncodedOp[][] = []
  const v = new Map(vector)
  for (let i = 0; i < 1000; i++) {
    const page = from.opsSince(v, { limit })
    if (page.ops.length > 0) out.push([...page.ops])
    for (const e of page.ops) {
      const op = decodeOp(e)
      const id = deviceIdToString(op.origin)
      v.set(id, Math.max(v.get(id) ?? 0, op.seq))
    }
    if (!page.more) return out
  }
  throw new Error('opsSince did not finish in 1000 pages')
}

function modelOf (ops: Iterable<Op>): MergeModel {
  const m = new MergeModel()
  for (const op of ops) m.apply(op)
  return m
}

function heldOps (r: Replica): Op[] {
  const page = r.opsSince(new Map(), { limit: 1_000_000, maxBytes: 1024 ** 3 })
  expect(page.more).toBe(false)
  return page.ops.map(e => decodeOp(e))
}

interface View { collections: string[], rows: Record<string, Array<{ key: string, fields: Record<string, unknown> }>> }

function modelView (m: MergeModel): View {
  const rows: View['rows'] = {}
  for (const row of m.rows()) {
    const fields: Record<string, unknown> = {}
    for (const fl of row.fields) {
      fields[fl.name] = fl.kind === 'counter' ? fl.total : fl.kind === 'set' ? fl.values.map(v => decodeValue(v)) : decodeValue(fl.values[0]!)
    }
    ;(rows[row.collection] ??= []).push({ key: row.key, fields })
  }
  return { collections: Object.keys(rows).sort(cmpUtf8), rows }
}

function replicaView (r: Replica): View {
  const rows: View['rows'] = {}
  const collections = r.collections()
  for (const col of collections) {
    const list = r.list(col, { limit: 10_000 })
    if (list.length > 0) rows[col] = list.map(x => ({ key: x.key, fields: x.fields }))
  }
  return { collections: Object.keys(rows).sort(cmpUtf8), rows }
}

function cmpUtf8 (a: string, b: string): number { return Buffer.compare(Buffer.from(a), Buffer.from(b)) }

/** Pulls everything `from` has that `to` lacks; returns how many ops were applied. */
function pullAll (from: Replica, to: Replica, limit: number): number {
  let applied = 0
  for (let i = 0; i < 10_000; i++) {
    const page = from.opsSince(to.versionVector(), { limit })
    if (page.ops.length === 0) return applied
    const res = to.applyRemote(page.ops)
    expect(res.rejected).toEqual([])
    applied += res.applied
    if (!page.more) return applied
  }
  throw new Error('pullAll did not finish')
}

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

async function runScenario (s: Scenario): Promise<void> {
  const base = new FakeClock()
  const dirs: string[] = []
  const replicas: Replica[] = []
  const written: Op[] = []
  const previous: Array<Map<string, number>> = []
  try {
    const open = (i: number): Replica => {
      const skew = s.skews[i]!
      const r = openReplica({ dir: dirs[i]!, wallClock: () => base.ms + skew })
      r.subscribe(e => { if (e.source === 'local') written.push(...e.ops) })
      return r
    }
    for (let i = 0; i < s.replicas; i++) {
      dirs.push(mkdtempSync(join(tmpdir(), 'weft-conv-')))
      replicas.push(open(i))
      previous.push(new Map())
    }
    for (const a of s.actions) {
      if (a.t === 'tick') { base.advance(a.ms); continue }
      if (a.t === 'reopen') {
        const i = a.r % s.replicas
        const before = replicaView(replicas[i]!)
        const digest = replicas[i]!.digest()
        replicas[i]!.close()
        replicas[i] = open(i)
        expect(replicas[i]!.digest()).toBe(digest)
        expect(replicaView(replicas[i]!)).toEqual(before)
        continue
      }
      if (a.t === 'write') { write(replicas[a.r % s.replicas]!, a.writes); continue }
      const fromIx = a.from % s.replicas
      const toIx = a.to % s.replicas
      if (fromIx === toIx) continue
      const from = replicas[fromIx]!
      const to = replicas[toIx]!
      const vector = a.vector === 'current' ? to.versionVector() : a.vector === 'empty' ? new Map<string, number>() : previous[toIx]!
      previous[toIx] = new Map(to.versionVector())
      const pages = pagesFor(from, vector, a.limit)
      if (pages.length === 0) continue
      const chosen = a.picks.map(p => pages[p % pages.length]!).map(p => a.reverse ? [...p].reverse() : p)
      const batches = a.together ? [chosen.flat()] : chosen
      for (const batch of batches) {
        let events = 0
        const off = to.subscribe(e => { if (e.source === 'remote') events += e.ops.length })
        const res = to.applyRemote(batch)
        off()
        // Every op is accounted for exactly once.
        expect(res.applied + res.duplicates + res.rejected.length).toBe(batch.length)
        expect(events).toBe(res.applied)
        // Honest peers: only pages applied out of order are refused, as gaps.
        for (const rej of res.rejected) expect(rej.reason).toBe('gap')
      }
      // The SQL store equals the model of exactly the ops it holds.
      const held = heldOps(to)
      expect(to.digest()).toBe(modelOf(held).digest())
    }

    // Final anti-entropy: pull pairwise until nothing moves.
    for (let round = 0; ; round++) {
      expect(round).toBeLessThan(10)
      let moved = 0
      for (const a of replicas) for (const b of replicas) if (a !== b) moved += pullAll(a, b, 3)
      if (moved === 0) break
    }

    const model = modelOf(written)
    const expected = modelView(model)
    const digest = model.digest()
    const vector = [...replicas[0]!.versionVector()].sort()
    for (const r of replicas) {
      expect(r.digest()).toBe(digest)
      expect([...r.versionVector()].sort()).toEqual(vector)
      expect(r.stats().ops).toBe(written.length)
      expect(r.stats().equivocating).toEqual([])
      expect(replicaView(r)).toEqual(expected)
      expect(r.collections()).toEqual(expected.collections)
      for (const col of [...COLLECTIONS, 'rare']) {
        expect(r.digest(col)).toBe(replicas[0]!.digest(col))
        for (const key of KEYS) expect(r.get(col, key)).toEqual(replicas[0]!.get(col, key))
      }
    }
  } finally {
    for (const r of replicas) r.close()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

describe('convergence', () => {
  // WEFT_PROP_RUNS=1000 for a longer hunt; the default keeps the suite quick.
  const runs = Number(process.env.WEFT_PROP_RUNS ?? 60)
  it('replicas converge to the reference model under any exchange pattern', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { numRuns: runs })
  }, 60_000 + runs * 2000)

  it('add wins over a concurrent remove; a delete hides only what it saw', async () => {
    // A hand-picked history the generator reaches only by luck.
    await runScenario({
      replicas: 3,
      skews: [0, 0, 0, 0, 0],
      actions: [
        { t: 'write', r: 0, writes: [{ kind: 'add', c: 'c1', k: 'a', f: 'f', el: 'x' }, { kind: 'increment', c: 'c1', k: 'a', f: 'n', by: 5 }] },
        { t: 'exchange', from: 0, to: 1, vector: 'current', limit: 1, picks: [0], reverse: false, together: false },
        { t: 'write', r: 1, writes: [{ kind: 'remove', c: 'c1', k: 'a', f: 'f', el: 'x' }] },
        { t: 'write', r: 2, writes: [{ kind: 'add', c: 'c1', k: 'a', f: 'f', el: 'x' }] },
        { t: 'write', r: 0, writes: [{ kind: 'delete', c: 'c1', k: 'a' }] },
        { t: 'write', r: 2, writes: [{ kind: 'increment', c: 'c1', k: 'a', f: 'n', by: 2 }] },
        { t: 'tick', ms: 1 },
        { t: 'write', r: 1, writes: [{ kind: 'put', c: 'c1', k: 'a', fields: { n: 'reg' } }] }
      ]
    })
  })
})
