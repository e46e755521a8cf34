import { describe, expect, it } from 'vitest'
import { decodeOp } from '../../src/oplog/op.js'
import { deviceIdToString } from '../../src/oplog/keys.js'
import { readOpHeader } from '../../src/oplog/op-header.js'
import { splitAhead, vectorAfter } from '../../src/protocol/op-header.js'
import { MemoryStore } from '../helpers/memory-store.js'

describe('vectorAfter', () => {
  it('matches the origins and seqs the oplog decodes', () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(30, { batch: 7 })
    b.write(12)
    const merged = new MemoryStore()
    merged.applyRemote(a.opsSince(new Map()).ops)
    merged.applyRemote(b.opsSince(new Map()).ops)
    const page = merged.opsSince(new Map([[a.deviceId, 10]]), { limit: 15 })
    const expected = new Map([[a.deviceId, 10]])
    for (const op of page.ops) {
      const d = decodeOp(op)
      const id = deviceIdToString(d.origin)
      expected.set(id, Math.max(expected.get(id) ?? 0, d.seq))
    }
    expect(vectorAfter(new Map([[a.deviceId, 10]]), page.ops)).toEqual(expected)
  })

  it('gives up on a body it cannot read', () => {
    expect(vectorAfter(new Map(), [{ body: Uint8Array.from([9, 1, 2]) }])).toBeUndefined()
    expect(vectorAfter(new Map(), [{ body: Uint8Array.from([1, 1, 2]) }])).toBeUndefined()
  })
})

describe('splitAhead', () => {
  it('keeps ops that extend or repeat what is held, and counts those after a hole', () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(6, { batch: 1 })
    b.write(2, { batch: 1 })
    const opsA = a.opsSince(new Map()).ops
    const opsB = b.opsSince(new Map()).ops
    // We hold a's 1..2 and none of b's: a's 2..3 extend (2 repeats), a's 5..6 come after a hole at 4,
    // and b's ops start at 1.
    const held = new Map([[a.deviceId, 2]])
    const { ready, ahead } = splitAhead(held, [opsA[1]!, opsA[2]!, opsA[4]!, opsA[5]!, ...opsB])
    expect(ready).toEqual([opsA[1], opsA[2], ...opsB])
    expect(ahead).toBe(2)
    // Once a hole is seen for an origin, its later ops wait too, even if they would follow each other.
    expect(splitAhead(new Map(), [opsB[1]!, opsB[0]!])).toEqual({ ready: [], ahead: 2 })
  })

  it('passes a body it cannot read on to the store, which says why it refuses it', () => {
    const bad = { body: Uint8Array.from([9, 1, 2]) }
    expect(splitAhead(new Map(), [bad])).toEqual({ ready: [bad], ahead: 0 })
  })
})

describe('readOpHeader (oplog)', () => {
  it('reads the origin and seq the oplog decodes, and nothing from a body it cannot read', () => {
    const a = new MemoryStore()
    a.write(200)
    for (const op of a.opsSince(new Map()).ops) {
      const d = decodeOp(op)
      const h = readOpHeader(op.body)
      expect(h?.seq).toBe(d.seq)
      expect(deviceIdToString(h!.originKey)).toBe(deviceIdToString(d.origin))
    }
    expect(readOpHeader(Uint8Array.from([9, 1, 2]))).toBeUndefined()
    expect(readOpHeader(new Uint8Array(33).fill(1))).toBeUndefined()
  })
})
