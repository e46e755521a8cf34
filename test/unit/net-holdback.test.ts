/**
 * The hold for announced ops that arrive ahead of what the store holds: taken
 * in order once the ops before them are there, never held twice, dropped after
 * `holdMs`, and bounded in ops and bytes. Pure: the ops are opaque bodies here
 * (the hold reads only the positions it is given) and the clock is a number.
 */
import { describe, expect, it } from 'vitest'
import { Holdback } from '../../src/net/sync/holdback.js'
import type { EncodedOp } from '../../src/oplog/op.js'

/** An op body of `bytes` bytes, marked so a test can tell which op came back. */
function op (origin: string, seq: number, bytes = 10, signed = true): EncodedOp {
  const body = new Uint8Array(bytes)
  body[0] = seq & 0xff
  body[1] = origin.charCodeAt(0)
  return signed ? { body, sig: new Uint8Array(64) } : { body }
}

const at = (origin: string, seq: number, bytes?: number): { origin: string, seq: number, op: EncodedOp } => ({ origin, seq, op: op(origin, seq, bytes) })

/** Which (origin, seq) the taken ops are, read back from their marks. */
const positions = (ops: EncodedOp[]): string[] => ops.map(o => `${String.fromCharCode(o.body[1]!)}${o.body[0]}`)

describe('Holdback', () => {
  it('gives back held ops only once they extend the prefix, in seq order, per origin', () => {
    const h = new Holdback({ holdMs: 1_000 })
    // a5, a4, a7 and b3 arrived ahead of a store holding a1..a2 and b1
    expect(h.hold([at('a', 5), at('a', 4), at('a', 7), at('b', 3)], 0, 'peer-1')).toEqual({ held: 4, refused: 0 })
    expect(h.size.ops).toBe(4)
    // Still a hole at a3 and b2: nothing to take.
    expect(h.take(new Map([['a', 2], ['b', 1]]))).toEqual([])
    // a3 arrived (the store now holds a1..a3): a4 and a5 follow in order; a7 waits for a6.
    expect(positions(h.take(new Map([['a', 3], ['b', 1]])))).toEqual(['a4', 'a5'])
    expect(h.size.ops).toBe(2)
    // b2 arrived; a6 did not.
    expect(positions(h.take(new Map([['a', 5], ['b', 2]])))).toEqual(['b3'])
    expect(positions(h.take(new Map([['a', 6], ['b', 3]])))).toEqual(['a7'])
    expect(h.size).toEqual({ ops: 0, bytes: 0 })
    expect(h.nextExpiry()).toBeUndefined()
  })

  it('does not hold a seq twice (the same announcement via two peers)', () => {
    const h = new Holdback()
    expect(h.hold([at('a', 3), at('a', 4)], 0, 'peer-1')).toEqual({ held: 2, refused: 0 })
    expect(h.hold([at('a', 3), at('a', 4), at('a', 5)], 1, 'peer-2')).toEqual({ held: 1, refused: 0 })
    expect(h.size.ops).toBe(3)
    expect(positions(h.take(new Map([['a', 2]])))).toEqual(['a3', 'a4', 'a5'])
  })

  it('drops ops held for holdMs, telling the ones still missing from those the store got meanwhile, per forwarder', () => {
    const h = new Holdback({ holdMs: 1_000 })
    h.hold([at('a', 5), at('a', 6)], 100, 'peer-1')
    h.hold([at('b', 9)], 600, 'peer-2')
    expect(h.nextExpiry()).toBe(1_100)
    // Not yet due.
    expect(h.expire(1_099, new Map()).dropped).toBe(0)
    expect(h.size.ops).toBe(3)
    // a5 came by a session meanwhile (stale), a6 did not (dropped); b9 is not due yet.
    const r = h.expire(1_100, new Map([['a', 5]]))
    expect(r).toMatchObject({ dropped: 1, stale: 1 })
    expect([...r.droppedBySource]).toEqual([['peer-1', 2]])
    expect(h.size.ops).toBe(1)
    expect(h.nextExpiry()).toBe(1_600)
    const r2 = h.expire(5_000, new Map())
    expect(r2).toMatchObject({ dropped: 1, stale: 0 })
    expect([...r2.droppedBySource]).toEqual([['peer-2', 1]])
    expect(h.size).toEqual({ ops: 0, bytes: 0 })
    expect(h.take(new Map([['a', 4], ['b', 8]]))).toEqual([])
  })

  it('an op taken before it expires is not counted when its time comes', () => {
    const h = new Holdback({ holdMs: 1_000 })
    h.hold([at('a', 3)], 0, 'peer-1')
    h.hold([at('a', 5)], 500, 'peer-1')
    expect(positions(h.take(new Map([['a', 2]])))).toEqual(['a3'])
    // The oldest arrival was taken: the next expiry is a5's.
    expect(h.nextExpiry()).toBe(1_500)
    expect(h.expire(1_500, new Map([['a', 3]]))).toMatchObject({ dropped: 1, stale: 0 })
  })

  it('refuses ops past its op bound and its byte bound, and takes more once room is made', () => {
    const byOps = new Holdback({ maxOps: 3 })
    expect(byOps.hold([at('a', 3), at('a', 4), at('a', 5), at('a', 6), at('a', 7)], 0, 'p')).toEqual({ held: 3, refused: 2 })
    expect(byOps.size.ops).toBe(3)
    expect(byOps.take(new Map([['a', 2]]))).toHaveLength(3)
    expect(byOps.hold([at('a', 7)], 1, 'p')).toEqual({ held: 1, refused: 0 })

    // 100-byte bodies plus 64-byte signatures: 164 bytes each, two fit in 400.
    const byBytes = new Holdback({ maxBytes: 400 })
    expect(byBytes.hold([at('a', 3, 100), at('a', 4, 100), at('a', 5, 100)], 0, 'p')).toEqual({ held: 2, refused: 1 })
    expect(byBytes.size).toEqual({ ops: 2, bytes: 328 })
    // A smaller op still fits in what is left.
    expect(byBytes.hold([{ origin: 'b', seq: 2, op: op('b', 2, 8, false) }], 0, 'p')).toEqual({ held: 1, refused: 0 })
    expect(byBytes.size).toEqual({ ops: 3, bytes: 336 })
  })

  it('keeps its arrival queue bounded while ops come and go (compaction)', () => {
    const h = new Holdback({ holdMs: 10 })
    // 5,000 ops held and expired one by one, as a long stream of late arrivals would be.
    for (let i = 0; i < 5_000; i++) {
      h.hold([at('a', i + 2)], i * 20, 'p')
      expect(h.expire(i * 20 + 10, new Map()).dropped).toBe(1)
    }
    expect(h.size).toEqual({ ops: 0, bytes: 0 })
    expect(h.nextExpiry()).toBeUndefined()
    // Still works after compaction.
    h.hold([at('a', 2), at('a', 3)], 200_000, 'p')
    expect(positions(h.take(new Map([['a', 1]])))).toEqual(['a2', 'a3'])
  })

  it('clear() forgets everything', () => {
    const h = new Holdback()
    h.hold([at('a', 3), at('b', 3)], 0, 'p')
    h.clear()
    expect(h.size).toEqual({ ops: 0, bytes: 0 })
    expect(h.nextExpiry()).toBeUndefined()
    expect(h.take(new Map([['a', 2], ['b', 2]]))).toEqual([])
  })
})
