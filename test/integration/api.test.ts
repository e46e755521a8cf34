/**
 * The library API on a real replica: what each call does, and how bad
 * arguments are refused (InvalidArgumentError naming the problem, before
 * anything is written).
 */
import { describe, expect, it } from 'vitest'
import { MAX_BATCH_OPS } from '../../src/store/replica.js'
import type { Value } from '../../src/oplog/value.js'
import { allOps, FakeClock, newReplica, snapshot } from '../helpers/fixtures.js'

const invalid = (message: RegExp): unknown => expect.objectContaining({ name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) })

describe('reads and writes', () => {
  it('put, get, list, delete', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    r.put('notes', 'b', { title: 'B', n: 2 })
    r.put('notes', 'a', { title: 'A' })
    r.put('notes', 'a', { body: new Uint8Array([1, 2]) })
    r.put('other', 'x', { v: null })
    expect(r.get('notes', 'a')).toEqual({ title: 'A', body: new Uint8Array([1, 2]) })
    expect(r.list('notes')).toEqual([{ key: 'a', fields: { title: 'A', body: new Uint8Array([1, 2]) } }, { key: 'b', fields: { title: 'B', n: 2 } }])
    expect(r.list('notes', { after: 'a' })).toEqual([{ key: 'b', fields: { title: 'B', n: 2 } }])
    expect(r.list('notes', { limit: 1 })).toHaveLength(1)
    expect(r.collections()).toEqual(['notes', 'other'])
    r.delete('notes', 'a')
    expect(r.get('notes', 'a')).toBeUndefined()
    expect(r.list('notes').map(x => x.key)).toEqual(['b'])
    r.put('notes', 'a', { title: 'again' })
    expect(r.get('notes', 'a')).toEqual({ title: 'again' })
    expect(r.get('other', 'x')).toEqual({ v: null })
  })

  it('list pages past keys whose rows are deleted', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    for (let i = 0; i < 30; i++) r.put('c', `k${String(i).padStart(2, '0')}`, { i })
    for (let i = 0; i < 25; i++) r.delete('c', `k${String(i).padStart(2, '0')}`)
    expect(r.list('c', { limit: 3 }).map(x => x.key)).toEqual(['k25', 'k26', 'k27'])
    expect(r.list('c', { limit: 10 }).map(x => x.key)).toEqual(['k25', 'k26', 'k27', 'k28', 'k29'])
  })

  it('counters, sets, and a field name shared between kinds', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    r.increment('c', 'k', 'n')
    r.increment('c', 'k', 'n', 41)
    r.increment('c', 'k', 'n', -2)
    r.add('c', 'k', 'tags', 'x')
    r.add('c', 'k', 'tags', { deep: [1] })
    r.add('c', 'k', 'tags', 'x')
    expect(r.get('c', 'k')).toEqual({ n: 40, tags: ['x', { deep: [1] }] })
    r.remove('c', 'k', 'tags', 'x')
    expect(r.get('c', 'k')).toEqual({ n: 40, tags: [{ deep: [1] }] })
    // A register shadows a counter of the same name, which shadows a set.
    r.add('c', 'k', 'n', 'element')
    expect(r.get('c', 'k')!.n).toBe(40)
    r.put('c', 'k', { n: 'register' })
    expect(r.get('c', 'k')!.n).toBe('register')
    r.delete('c', 'k')
    expect(r.get('c', 'k')).toBeUndefined()
    r.increment('c', 'k', 'n', 3)
    expect(r.get('c', 'k')).toEqual({ n: 3 })
  })

  it('collections() lists collections with visible rows, the same on replicas that hold the same ops', () => {
    const clock = new FakeClock()
    const c = newReplica({ wallClock: clock.now })
    const a = newReplica({ wallClock: clock.now })
    c.increment('counters', 'k', 'n')
    clock.advance(10)
    a.delete('counters', 'k') // concurrent with the increment, and newer: it hides it
    const x = newReplica({ wallClock: clock.now })
    const y = newReplica({ wallClock: clock.now })
    x.applyRemote(allOps(a)); x.applyRemote(allOps(c)) // delete first
    y.applyRemote(allOps(c)); y.applyRemote(allOps(a)) // increment first
    expect(x.digest()).toBe(y.digest())
    expect(x.get('counters', 'k')).toBeUndefined()
    expect(y.get('counters', 'k')).toBeUndefined()
    expect(y.collections()).toEqual(x.collections())
    expect(y.collections()).toEqual([])
    y.put('notes', 'k', { t: 1 })
    y.delete('notes', 'k')
    expect(y.collections()).toEqual([])
    y.increment('counters', 'k', 'n')
    expect(y.collections()).toEqual(['counters'])
  })

  it('a batch is one signed run and one change event', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    const events: number[] = []
    const off = r.subscribe(e => { events.push(e.ops.length); expect(e.source).toBe('local') })
    const n = r.batch(w => {
      w.put('c', 'k', { a: 1, b: 2 })
      w.increment('c', 'k', 'n')
      w.add('c', 'k', 's', 1)
      w.remove('c', 'k', 's', 1) // sees the add made earlier in the batch
      w.delete('c', 'gone')
    })
    expect(n).toBe(6)
    expect(events).toEqual([6])
    expect(allOps(r).map(o => o.sig !== undefined)).toEqual([false, false, false, false, false, true])
    expect(r.get('c', 'k')).toEqual({ a: 1, b: 2, n: 1 })
    off()
    r.put('c', 'k', { a: 3 })
    expect(events).toEqual([6])
    expect(r.batch(() => {})).toBe(0)
  })

  it('a batch whose callback throws writes nothing', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    r.put('c', 'k', { a: 1 })
    const before = snapshot(r)
    expect(() => r.batch(w => { w.put('c', 'k', { a: 2 }); throw new Error('boom') })).toThrow('boom')
    expect(snapshot(r)).toEqual(before)
  })

  it('a listener that throws does not break the write', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    r.subscribe(() => { throw new Error('listener') })
    r.put('c', 'k', { a: 1 })
    expect(r.get('c', 'k')).toEqual({ a: 1 })
  })

  it('a write that fails inside its transaction leaves the replica consistent', () => {
    // The wall clock is read inside the transaction; a bad reading aborts it.
    const clock = new FakeClock()
    const r = newReplica({ wallClock: clock.now })
    r.put('c', 'k', { a: 1 })
    const before = snapshot(r)
    const good = clock.ms
    clock.set(Number.NaN)
    expect(() => r.put('c', 'k', { a: 2 })).toThrow(invalid(/wall clock/))
    expect(snapshot(r)).toEqual(before)
    clock.set(good + 1)
    r.put('c', 'k', { a: 3 })
    // The new op is advertised and served, chained after op 1.
    expect(r.versionVector().get(r.deviceId)).toBe(2)
    expect(r.stats().ops).toBe(2)
    const page = r.opsSince(new Map([[r.deviceId, 1]]))
    expect(page.ops).toHaveLength(1)
    const peer = newReplica({ wallClock: clock.now })
    expect(peer.applyRemote(allOps(r))).toMatchObject({ applied: 2, rejected: [] })
    expect(peer.digest()).toBe(r.digest())
  })

  it('stats count ops, origins and rejections', () => {
    const clock = new FakeClock()
    const a = newReplica({ wallClock: clock.now })
    const b = newReplica({ wallClock: clock.now })
    a.put('c', 'k', { a: 1 })
    b.put('c', 'j', { a: 1 })
    b.applyRemote(allOps(a))
    expect(b.stats()).toEqual({ ops: 2, origins: 2, rejected: {}, equivocating: [] })
  })
})

describe('bad arguments', () => {
  const r = (): ReturnType<typeof newReplica> => newReplica({ wallClock: new FakeClock().now })

  it('refuses empty or non-string names', () => {
    const x = r()
    expect(() => x.put('', 'k', { a: 1 })).toThrow(invalid(/collection must be a non-empty string, got an empty string/))
    expect(() => x.put('c', '', { a: 1 })).toThrow(invalid(/key must be a non-empty string/))
    expect(() => x.put(42 as unknown as string, 'k', { a: 1 })).toThrow(invalid(/collection must be a non-empty string, got number/))
    expect(() => x.put('c', 'k', { '': 1 })).toThrow(invalid(/field name/))
    expect(() => x.get('', 'k')).toThrow(invalid(/collection/))
    expect(() => x.list('')).toThrow(invalid(/collection/))
    expect(() => x.increment('c', 'k', '')).toThrow(invalid(/field/))
    expect(() => x.put('c'.repeat(300), 'k', { a: 1 })).toThrow(invalid(/collection is 300 bytes, over the 256-byte limit/))
  })

  it('refuses names SQLite cannot store as given: U+0000 and lone surrogates', () => {
    // Before: a collection 'a\u0000b' was stored and then unreadable, and a
    // lone surrogate was stored as different bytes than peers decode, so
    // replicas holding the same ops showed different rows and digests.
    const x = r()
    expect(() => x.put('a\u0000b', 'k', { f: 1 })).toThrow(invalid(/collection .*U\+0000/))
    expect(() => x.put('c', 'k\u0000', { f: 1 })).toThrow(invalid(/key .*U\+0000/))
    expect(() => x.put('c', 'k', { 'f\u0000': 1 })).toThrow(invalid(/field name .*U\+0000/))
    expect(() => x.increment('c', 'k', '\u0000')).toThrow(invalid(/field .*U\+0000/))
    expect(() => x.put('c', '\ud800', { f: 1 })).toThrow(invalid(/key .*surrogate/))
    expect(() => x.delete('\udc00c', 'k')).toThrow(invalid(/collection .*surrogate/))
    expect(x.collections()).toEqual([])
    // Astral characters (proper surrogate pairs) are fine.
    x.put('c😀', 'k😀', { 'f😀': 1 })
    expect(x.list('c😀')).toEqual([{ key: 'k😀', fields: { 'f😀': 1 } }])
  })

  it('refuses string values that are not well-formed Unicode instead of altering them', () => {
    const x = r()
    expect(() => x.put('c', 'k', { f: 'a\ud800' })).toThrow(invalid(/field "f" .*surrogate/))
    expect(() => x.add('c', 'k', 's', '\udc00')).toThrow(invalid(/set element .*surrogate/))
    // Inside JSON the escape keeps them exactly.
    x.put('c', 'k', { j: ['a\ud800'] })
    expect(x.get('c', 'k')).toEqual({ j: ['a\ud800'] })
  })

  it('refuses fields that are not an object', () => {
    const x = r()
    for (const bad of [null, 'str', 1, [1, 2], undefined]) {
      expect(() => x.put('c', 'k', bad as unknown as Record<string, Value>)).toThrow(invalid(/put needs an object of fields/))
    }
    expect(() => x.put('c', 'k', {})).toThrow(invalid(/at least one field/))
  })

  it('refuses values that cannot be stored, naming the field', () => {
    const x = r()
    expect(() => x.put('c', 'k', { a: Number.NaN })).toThrow(invalid(/field "a" is NaN/))
    expect(() => x.put('c', 'k', { a: Number.POSITIVE_INFINITY })).toThrow(invalid(/field "a" is Infinity/))
    expect(() => x.put('c', 'k', { f: (() => 1) as unknown as Value })).toThrow(invalid(/field "f" is of type function/))
    expect(() => x.put('c', 'k', { u: undefined as unknown as Value })).toThrow(invalid(/field "u" is of type undefined/))
    expect(() => x.put('c', 'k', { d: new Date() as unknown as Value })).toThrow(invalid(/Date/))
    expect(() => x.add('c', 'k', 's', Symbol('x') as unknown as Value)).toThrow(invalid(/set element/))
    // Nothing of a put with one bad field is written.
    expect(() => x.put('c', 'k', { good: 1, bad: Number.NaN })).toThrow(invalid(/NaN/))
    expect(x.get('c', 'k')).toBeUndefined()
  })

  it('refuses values over the size limit', () => {
    const x = newReplica({ wallClock: new FakeClock().now, maxValueBytes: 64 })
    expect(() => x.put('c', 'k', { big: 'x'.repeat(100) })).toThrow(invalid(/over the 64-byte limit/))
    expect(() => x.add('c', 'k', 's', 'x'.repeat(100))).toThrow(invalid(/over the 64-byte limit/))
  })

  it('refuses increments that are not integers', () => {
    const x = r()
    for (const bad of [1.5, Number.NaN, '1', 2 ** 41, Number.POSITIVE_INFINITY]) {
      expect(() => x.increment('c', 'k', 'n', bad as number)).toThrow(invalid(/increment amount must be an integer/))
    }
    expect(x.get('c', 'k')).toBeUndefined()
  })

  it('refuses async or missing batch callbacks, writing nothing', () => {
    const x = r()
    const before = snapshot(x)
    expect(() => x.batch((async (w: { put: (c: string, k: string, f: Record<string, Value>) => void }) => { w.put('c', 'k', { a: 1 }) }) as unknown as () => void)).toThrow(invalid(/synchronous/))
    expect(() => x.batch('nope' as unknown as () => void)).toThrow(invalid(/batch needs a function/))
    expect(snapshot(x)).toEqual(before)
  })

  it('refuses oversized batches', () => {
    const x = r()
    expect(() => x.batch(w => { for (let i = 0; i <= MAX_BATCH_OPS; i++) w.increment('c', 'k', 'n') })).toThrow(invalid(/at most/))
    expect(x.get('c', 'k')).toBeUndefined()
  })

  it('refuses bad list options, vectors and op arrays', () => {
    const x = r()
    expect(() => x.list('c', { limit: 0 })).toThrow(invalid(/limit/))
    expect(() => x.list('c', { limit: 1.5 })).toThrow(invalid(/limit/))
    expect(() => x.list('c', { after: 3 as unknown as string })).toThrow(invalid(/after/))
    expect(() => x.opsSince({} as unknown as Map<string, number>)).toThrow(invalid(/version vector/))
    expect(() => x.applyRemote('ops' as unknown as [])).toThrow(invalid(/array/))
    expect(() => x.subscribe(null as unknown as () => void)).toThrow(invalid(/function/))
  })

  it('refuses a missing directory', () => {
    expect(() => newReplica({ dir: '' })).toThrow(invalid(/dir/))
  })

  it('a closed replica throws ClosedError', () => {
    const x = r()
    x.put('c', 'k', { a: 1 })
    x.close()
    x.close() // idempotent
    const closed = expect.objectContaining({ name: 'ClosedError', code: 'CLOSED' })
    expect(() => x.get('c', 'k')).toThrow(closed)
    expect(() => x.put('c', 'k', { a: 2 })).toThrow(closed)
    expect(() => x.delete('c', 'k')).toThrow(closed)
    expect(() => x.increment('c', 'k', 'n')).toThrow(closed)
    expect(() => x.add('c', 'k', 's', 1)).toThrow(closed)
    expect(() => x.remove('c', 'k', 's', 1)).toThrow(closed)
    expect(() => x.batch(w => { w.put('c', 'k', { a: 1 }) })).toThrow(closed)
    expect(() => x.list('c')).toThrow(closed)
    expect(() => x.collections()).toThrow(closed)
    expect(() => x.digest()).toThrow(closed)
    expect(() => x.versionVector()).toThrow(closed)
    expect(() => x.opsSince(new Map())).toThrow(closed)
    expect(() => x.applyRemote([])).toThrow(closed)
    expect(() => x.stats()).toThrow(closed)
  })
})
