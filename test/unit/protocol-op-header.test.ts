import { describe, expect, it } from 'vitest'
import { decodeOp } from '../../src/oplog/op.js'
import { deviceIdToString } from '../../src/oplog/keys.js'
import { vectorAfter } from '../../src/protocol/op-header.js'
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
