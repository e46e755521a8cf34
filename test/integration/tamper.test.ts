/**
 * Remote input that must be refused: every op comes back rejected with its
 * reason, and the store is otherwise unchanged (same digest, same version
 * vector). Forgeries are built the way an attacker would: with createOp and a
 * real DeviceKey, so each one is wrong in exactly one way.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MergeModel } from '../../src/merge/index.js'
import { DeviceKey } from '../../src/oplog/keys.js'
import { decodeOp, sha256, signingMessage, toEncoded, withSignature, type EncodedOp } from '../../src/oplog/op.js'
import { utf8 } from '../../src/oplog/bytes.js'
import { allOps, FakeClock, newReplica, RemoteDevice, snapshot } from '../helpers/fixtures.js'
import { openReplica, type Replica } from '../../src/store/replica.js'

const T0 = 1_700_000_000_000

/** A receiver `r` with a fake clock, and `peer()` to open honest origins on the same clock. */
function setup (opts: { maxValueBytes?: number, maxDriftMs?: number, maxHeldBytes?: number } = {}): { clock: FakeClock, r: Replica, peer: () => Replica } {
  const clock = new FakeClock(T0 + 10_000)
  const r = newReplica({ wallClock: clock.now, ...opts })
  r.put('seed', 'local', { v: 1 })
  return { clock, r, peer: () => newReplica({ wallClock: clock.now }) }
}

/** Flips one bit of the op's value (the byte just before the tag count and prev hash). */
function flipValueByte (op: EncodedOp): EncodedOp {
  const body = Uint8Array.from(op.body)
  const decoded = decodeOp(op)
  const at = body.length - 32 - 1 - decoded.tags.length * 40 - 1
  body[at]! ^= 0x01
  return op.sig === undefined ? { body } : { body, sig: op.sig }
}

function expectUnchanged (r: Replica, before: ReturnType<typeof snapshot>): void {
  expect(snapshot(r)).toEqual(before)
}

describe('tampered ops are refused and leave the store unchanged', () => {
  it('a flipped value byte in a signed body: bad_signature', () => {
    const { r, peer } = setup()
    const a = peer()
    a.put('notes', 'n1', { title: 'hello' })
    const [op] = allOps(a)
    const tampered = flipValueByte(op!)
    expect(decodeOp(tampered).value).not.toEqual(decodeOp(op!).value) // still decodes: only the signature can tell
    const before = snapshot(r)
    const res = r.applyRemote([tampered])
    expect(res).toMatchObject({ applied: 0, duplicates: 0, rejected: [{ index: 0, reason: 'bad_signature', origin: a.deviceId, seq: 1 }] })
    expectUnchanged(r, before)
    expect(r.get('notes', 'n1')).toBeUndefined()
    expect(r.stats().rejected).toEqual({ bad_signature: 1 })
    // The genuine op still applies afterwards.
    expect(r.applyRemote([op!])).toMatchObject({ applied: 1, rejected: [] })
    expect(r.get('notes', 'n1')).toEqual({ title: 'hello' })
  })

  it('a flipped value byte in an unsigned op inside a signed run: nothing of the run is applied', () => {
    const { r, peer } = setup()
    const a = peer()
    a.batch(w => { w.put('notes', 'n1', { title: 'a' }); w.put('notes', 'n2', { title: 'b' }); w.put('notes', 'n3', { title: 'c' }) })
    const ops = allOps(a)
    expect(ops.map(o => o.sig !== undefined)).toEqual([false, false, true])
    const before = snapshot(r)
    const res = r.applyRemote([ops[0]!, flipValueByte(ops[1]!), ops[2]!])
    expect(res.applied).toBe(0)
    expect(res.rejected.map(x => x.index).sort()).toEqual([0, 1, 2])
    expectUnchanged(r, before)
    expect(r.applyRemote(ops)).toMatchObject({ applied: 3, rejected: [] })
  })

  it('a tampered copy of an op we already hold is refused, and does not brand its origin an equivocator', () => {
    const { r, peer } = setup()
    const a = peer()
    a.put('notes', 'n1', { title: 'hello' })
    const [op] = allOps(a)
    expect(r.applyRemote([op!]).applied).toBe(1)
    const before = snapshot(r)
    const res = r.applyRemote([flipValueByte(op!)])
    expect(res.applied).toBe(0)
    expect(res.rejected).toHaveLength(1)
    // Anyone can flip a byte: only a second op the origin really signed proves equivocation.
    expect(res.rejected[0]!.reason).toBe('bad_signature')
    expect(r.stats().equivocating).toEqual([])
    expectUnchanged(r, before)
  })

  it('an unsigned forgery of an op we hold does not brand its origin an equivocator', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const genuine = a.run([{ key: 'k1' }, { key: 'k2' }])
    expect(r.applyRemote(genuine).applied).toBe(2)
    const forger = new RemoteDevice(T0, a.key)
    const fake = forger.next({ key: 'k1', value: 'forged' }) // seq 1, never signed
    const res = r.applyRemote([toEncoded(fake)])
    expect(res.rejected).toMatchObject([{ reason: 'unsigned' }])
    expect(r.stats().equivocating).toEqual([])
  })

  it('an equivocating run is proven by the signature that closes it, even on its unsigned ops', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    expect(r.applyRemote(a.run([{ key: 'k1' }, { key: 'k2' }])).applied).toBe(2)
    const twin = new RemoteDevice(T0 + 5, a.key).run([{ key: 'k1', value: 'other' }, { key: 'k2', value: 'other' }])
    expect(twin[0]!.sig).toBeUndefined()
    const before = snapshot(r)
    // Only the unsigned first op, then the whole run.
    expect(r.applyRemote([twin[0]!]).rejected).toMatchObject([{ reason: 'unsigned' }])
    expect(r.stats().equivocating).toEqual([])
    expect(r.applyRemote(twin).rejected).toMatchObject([{ index: 0, reason: 'equivocation' }, { index: 1, reason: 'equivocation' }])
    expect(r.stats().equivocating).toEqual([a.id])
    expectUnchanged(r, before)
  })

  it('many forged copies of held ops are all refused, none as equivocation', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const genuine = a.run(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}` })))
    expect(r.applyRemote(genuine).applied).toBe(50)
    const forger = new RemoteDevice(T0, a.key)
    const forged = forger.run(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'forged' })))
    // Re-sign the forged run's end with another key: the chain links, the signature does not verify.
    const other = DeviceKey.generate()
    const last = decodeOp(forged[49]!)
    forged[49] = { body: forged[49]!.body, sig: other.sign(signingMessage(last.hash)) }
    const res = r.applyRemote([...forged, ...genuine.map(flipValueByte)])
    expect(res.applied).toBe(0)
    expect(res.rejected).toHaveLength(100)
    expect(res.rejected.every(x => x.reason === 'bad_signature' || x.reason === 'unsigned')).toBe(true)
    expect(r.stats().equivocating).toEqual([])
  })

  it('a tampered copy ahead of the genuine op in one batch does not keep the genuine op out', () => {
    const { r, peer } = setup()
    const a = peer()
    a.put('notes', 'n1', { title: 'hello' })
    const [op] = allOps(a)
    const res = r.applyRemote([flipValueByte(op!), op!])
    expect(res.applied).toBe(1)
    expect(res.rejected).toMatchObject([{ index: 0, reason: 'bad_signature' }])
    expect(r.get('notes', 'n1')).toEqual({ title: 'hello' })
    expect(r.stats().equivocating).toEqual([])
  })

  it('a signature by another key: bad_signature', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const other = DeviceKey.generate()
    const op = a.sign(a.next({ value: 'x' }), other)
    const before = snapshot(r)
    expect(r.applyRemote([toEncoded(op)])).toMatchObject({ applied: 0, rejected: [{ reason: 'bad_signature', seq: 1 }] })
    expectUnchanged(r, before)
  })

  it('a signature of all zeros: bad_signature', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const op = withSignature(a.next(), new Uint8Array(64))
    expect(r.applyRemote([toEncoded(op)]).rejected).toMatchObject([{ reason: 'bad_signature' }])
  })

  it('a forged origin (claims A, signed by B): bad_signature', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const b = DeviceKey.generate()
    const before = snapshot(r)
    const forged = a.sign(a.next({ value: 'as if from A' }), b)
    expect(r.applyRemote([toEncoded(forged)])).toMatchObject({ applied: 0, rejected: [{ reason: 'bad_signature', origin: a.id }] })
    expectUnchanged(r, before)
    expect(r.stats().origins).toBe(1) // only our own
  })

  it('a broken chain, correctly re-signed by the origin: broken_chain', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    expect(r.applyRemote(a.run([{ key: 'k1' }])).applied).toBe(1)
    const before = snapshot(r)
    const bad = a.sign(a.next({ key: 'k2', prev: sha256(utf8('not op 1')) }))
    expect(r.applyRemote([toEncoded(bad)])).toMatchObject({ applied: 0, rejected: [{ reason: 'broken_chain', seq: 2 }] })
    expectUnchanged(r, before)
  })

  it('an origin whose HLC does not increase along its chain: broken_chain', () => {
    // Stamps (HLC, origin) identify ops: the counter table keys increments by
    // stamp and removes cancel adds by stamp. Two ops of one origin with one
    // HLC would be counted once by SQL and twice by the model.
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const hlc = { ms: T0 + 1, counter: 0 }
    expect(r.applyRemote(a.run([{ kind: 'increment', key: 'n', value: 5, hlc }])).applied).toBe(1)
    const before = snapshot(r)
    const same = a.run([{ kind: 'increment', key: 'n', value: 7, hlc }])
    expect(r.applyRemote(same)).toMatchObject({ applied: 0, rejected: [{ reason: 'broken_chain', seq: 2 }] })
    expectUnchanged(r, before)
    // Backwards is refused too, within one run as well as against the head.
    const b = new RemoteDevice(T0)
    const run = [...b.run([{ key: 'x', hlc: { ms: T0 + 5, counter: 0 } }]), ...b.run([{ key: 'y', hlc: { ms: T0 + 4, counter: 9 } }])]
    expect(r.applyRemote(run)).toMatchObject({ applied: 1, rejected: [{ index: 1, reason: 'broken_chain' }] })
    // What the store holds, the model agrees with.
    const model = new MergeModel()
    for (const e of allOps(r)) model.apply(decodeOp(e))
    expect(model.digest()).toBe(r.digest())
  })

  it('equivocation: a second, validly signed op with a held seq is refused and flags the origin', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const first = a.run([{ key: 'k', value: 'one' }])
    expect(r.applyRemote(first).applied).toBe(1)
    const twin = new RemoteDevice(T0 + 5, a.key).run([{ key: 'k', value: 'two' }])
    expect(twin[0]!.body).not.toEqual(first[0]!.body)
    const before = snapshot(r)
    expect(r.applyRemote(twin)).toMatchObject({ applied: 0, rejected: [{ reason: 'equivocation', seq: 1, origin: a.id }] })
    expect(r.stats().equivocating).toEqual([a.id])
    expectUnchanged(r, before)
    expect(r.get('c', 'k')).toEqual({ f: 'one' })
    // The flag survives a reopen.
  })

  it('equivocation inside one batch: the first is applied, the twin refused, the origin flagged', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const one = a.run([{ key: 'k', value: 'one' }])
    const two = new RemoteDevice(T0 + 5, a.key).run([{ key: 'k', value: 'two' }])
    const res = r.applyRemote([...one, ...two])
    expect(res).toMatchObject({ applied: 1, rejected: [{ index: 1, reason: 'equivocation' }] })
    expect(r.stats().equivocating).toEqual([a.id])
    expect(r.get('c', 'k')).toEqual({ f: 'one' })
  })

  it('a gap (seq skips ahead): gap', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    a.run([{ key: 'k1' }]) // op 1, never delivered
    const second = a.run([{ key: 'k2' }])
    const before = snapshot(r)
    expect(r.applyRemote(second)).toMatchObject({ applied: 0, rejected: [{ reason: 'gap', seq: 2 }] })
    expectUnchanged(r, before)
  })

  it('an oversized value: too_large', () => {
    const { r } = setup({ maxValueBytes: 100 })
    const a = new RemoteDevice(T0)
    const before = snapshot(r)
    expect(r.applyRemote(a.run([{ value: 'x'.repeat(200) }]))).toMatchObject({ applied: 0, rejected: [{ reason: 'too_large' }] })
    expectUnchanged(r, before)
  })

  it('an HLC beyond the drift, with the quarantine turned off: drift, and the clock does not adopt it', () => {
    const { clock, r } = setup({ maxDriftMs: 1000, maxHeldBytes: 0 })
    const a = new RemoteDevice(T0)
    const hlcBefore = r.hlc
    const before = snapshot(r)
    const ops = a.run([{ hlc: { ms: clock.ms + 1001, counter: 0 } }])
    expect(r.applyRemote(ops)).toMatchObject({ applied: 0, rejected: [{ reason: 'drift' }] })
    expectUnchanged(r, before)
    expect(r.hlc).toEqual(hlcBefore)
    r.put('after', 'k', { v: 1 })
    expect(r.hlc.ms).toBeLessThan(clock.ms + 1001)
    // Once our clock catches up, the same op is fine.
    clock.advance(1)
    expect(r.applyRemote(ops).applied).toBe(1)
  })

  it('an unsigned tail: unsigned, and the ops after it are gaps', () => {
    const { r, peer } = setup()
    const a = peer()
    a.batch(w => { w.put('notes', 'n1', { t: 1 }); w.put('notes', 'n2', { t: 2 }); w.put('notes', 'n3', { t: 3 }) })
    const ops = allOps(a)
    const before = snapshot(r)
    const res = r.applyRemote(ops.slice(0, 2))
    expect(res.applied).toBe(0)
    expect(res.rejected).toMatchObject([{ index: 0, reason: 'unsigned' }, { index: 1, reason: 'gap' }])
    expectUnchanged(r, before)
    // The last op with its signature stripped is just as unsigned.
    expect(r.applyRemote([...ops.slice(0, 2), { body: ops[2]!.body }]).rejected[0]).toMatchObject({ reason: 'unsigned' })
    expect(r.applyRemote(ops).applied).toBe(3)
  })

  it('an origin the authorizer refuses: not_member', () => {
    const clock = new FakeClock(T0 + 10_000)
    const a = new RemoteDevice(T0)
    const r = newReplica({ wallClock: clock.now, authorize: origin => origin !== a.id })
    expect(r.applyRemote(a.run([{}]))).toMatchObject({ applied: 0, rejected: [{ reason: 'not_member' }] })
  })

  it('junk entries are refused as malformed, never thrown, and the replica keeps working', () => {
    const { r } = setup()
    const before = snapshot(r)
    const junk = [null, 42, {}, { body: 'abc' }, { body: Uint8Array.from([1, 0, 0]) }, { body: new Uint8Array(0), sig: 'x'.repeat(64) }] as unknown as EncodedOp[]
    const res = r.applyRemote(junk)
    expect(res.applied).toBe(0)
    expect(res.rejected.map(x => [x.index, x.reason])).toEqual(junk.map((_, i) => [i, 'malformed']))
    expectUnchanged(r, before)
    // Local writes after a refused batch are still chained, advertised and served.
    r.put('after', 'k', { v: 2 })
    expect(r.versionVector().get(r.deviceId)).toBe(2)
    expect(r.opsSince(new Map([[r.deviceId, 1]])).ops).toHaveLength(1)
  })
})

describe('mixed batches and replays', () => {
  it('a batch mixing good and bad origins applies the good and rejects only the bad', () => {
    const { r } = setup()
    const good1 = new RemoteDevice(T0)
    const good2 = new RemoteDevice(T0)
    const bad = new RemoteDevice(T0)
    const g1 = good1.run([{ key: 'g1a' }, { key: 'g1b' }, { key: 'g1c' }])
    const g2 = good2.run([{ key: 'g2a' }])
    const forged = bad.sign(bad.next({ key: 'bad' }), DeviceKey.generate())
    const gap = new RemoteDevice(T0)
    gap.run([{ key: 'lost' }])
    const gapped = gap.run([{ key: 'gapped' }])
    // Interleaved, and each good origin's ops out of order.
    const batch = [g1[2]!, toEncoded(forged), g2[0]!, g1[0]!, gapped[0]!, g1[1]!]
    const res = r.applyRemote(batch)
    expect(res.applied).toBe(4)
    expect(res.duplicates).toBe(0)
    expect(res.rejected.map(x => [x.index, x.reason]).sort()).toEqual([[1, 'bad_signature'], [4, 'gap']])
    expect(r.get('c', 'g1a')).toEqual({ f: 'v' })
    expect(r.get('c', 'g2a')).toEqual({ f: 'v' })
    expect(r.get('c', 'bad')).toBeUndefined()
    expect(r.get('c', 'gapped')).toBeUndefined()
    expect(r.versionVector().get(good1.id)).toBe(3)
    expect(r.versionVector().get(good2.id)).toBe(1)
    expect(r.versionVector().has(bad.id)).toBe(false)
    expect(r.versionVector().has(gap.id)).toBe(false)
  })

  it('replays are duplicates: applied once, then counted, never re-applied', () => {
    const { r, peer } = setup()
    const a = peer()
    a.increment('counters', 'c', 'n', 5)
    a.batch(w => { w.increment('counters', 'c', 'n', 2); w.add('sets', 's', 'tags', 'x') })
    const ops = allOps(a)
    expect(r.applyRemote(ops)).toMatchObject({ applied: 3, duplicates: 0, rejected: [] })
    const after = snapshot(r)
    expect(r.applyRemote(ops)).toMatchObject({ applied: 0, duplicates: 3, rejected: [] })
    expect(r.applyRemote([...ops, ...ops])).toMatchObject({ applied: 0, duplicates: 6, rejected: [] })
    expect(snapshot(r)).toEqual(after)
    expect(r.get('counters', 'c')).toEqual({ n: 7 })
  })

  it('a page applied twice within one batch counts the copies as duplicates', () => {
    const { r, peer } = setup()
    const a = peer()
    a.increment('counters', 'c', 'n', 5)
    const ops = allOps(a)
    expect(r.applyRemote([...ops, ...ops])).toMatchObject({ applied: 1, duplicates: 1, rejected: [] })
    expect(r.get('counters', 'c')).toEqual({ n: 5 })
  })

  it('a held op followed by a validly signed twin in one batch is equivocation, whatever the order', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const one = a.run([{ key: 'k', value: 'one' }])
    expect(r.applyRemote(one).applied).toBe(1)
    const two = new RemoteDevice(T0 + 5, a.key).run([{ key: 'k', value: 'two' }])
    const res = r.applyRemote([...one, ...two])
    expect(res).toMatchObject({ applied: 0, duplicates: 1, rejected: [{ index: 1, reason: 'equivocation' }] })
    expect(r.stats().equivocating).toEqual([a.id])
  })

  it('the signing message is domain-separated: a signature over the bare hash does not verify', () => {
    const { r } = setup()
    const a = new RemoteDevice(T0)
    const op = a.next()
    const bare = withSignature(op, a.key.sign(op.hash))
    expect(r.applyRemote([toEncoded(bare)]).rejected).toMatchObject([{ reason: 'bad_signature' }])
    const proper = withSignature(op, a.key.sign(signingMessage(op.hash)))
    expect(r.applyRemote([toEncoded(proper)]).applied).toBe(1)
  })
})

describe('fuzzed pages', () => {
  // WEFT_PROP_RUNS=1000 for a longer hunt.
  const runs = Number(process.env.WEFT_PROP_RUNS ?? 100)
  it('bit flips, drops, duplicates and reorders never get a forged op in, never throw, and keep SQL equal to the model', async () => {
    const clock = new FakeClock()
    const honest = [newReplica({ wallClock: clock.now }), newReplica({ wallClock: clock.now })]
    honest[0]!.batch(w => { w.put('c', 'a', { f: 'one' }); w.increment('c', 'a', 'n', 2); w.add('c', 'a', 's', 'x') })
    honest[1]!.put('c', 'b', { f: 2 })
    honest[0]!.applyRemote(allOps(honest[1]!))
    honest[0]!.remove('c', 'a', 's', 'x')
    honest[0]!.delete('c', 'b')
    honest[1]!.batch(w => { w.put('c', 'a', { f: 'two' }); w.increment('c', 'a', 'n', -1) })
    honest[0]!.applyRemote(allOps(honest[1]!))
    const page = allOps(honest[0]!)
    const genuine = new Set(page.map(e => Buffer.from(e.body).toString('hex')))

    const mutation = fc.record({
      prefix: fc.nat(page.length),
      flips: fc.array(fc.record({ op: fc.nat(page.length - 1), sig: fc.boolean(), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { maxLength: 3 }),
      order: fc.array(fc.nat(page.length - 1), { minLength: 1, maxLength: page.length * 2 })
    })
    await fc.assert(fc.asyncProperty(mutation, async m => {
      const dir = mkdtempSync(join(tmpdir(), 'weft-fuzz-'))
      const r = openReplica({ dir, wallClock: clock.now })
      try {
        // The receiver may already hold a prefix of the page.
        if (m.prefix > 0) r.applyRemote(page.slice(0, m.prefix))
        const ops = page.map(e => ({ body: Uint8Array.from(e.body), sig: e.sig === undefined ? undefined : Uint8Array.from(e.sig) }))
        for (const f of m.flips) {
          const target = ops[f.op]!
          const bytes = f.sig && target.sig !== undefined ? target.sig : target.body
          bytes[f.at % bytes.length]! ^= 1 << f.bit
        }
        const batch: EncodedOp[] = m.order.map(i => ops[i]!).map(o => o.sig === undefined ? { body: o.body } : { body: o.body, sig: o.sig })
        const res = r.applyRemote(batch)
        expect(res.applied + res.duplicates + res.rejected.length).toBe(batch.length)
        const held = allOps(r)
        for (const e of held) expect(genuine.has(Buffer.from(e.body).toString('hex'))).toBe(true)
        const model = new MergeModel()
        for (const e of held) model.apply(decodeOp(e))
        expect(r.digest()).toBe(model.digest())
        expect(r.stats().equivocating).toEqual([])
      } finally {
        r.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }), { numRuns: runs })
  }, 60_000 + runs * 500)
})
