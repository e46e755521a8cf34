/**
 * Big batches and big received runs keep a signature every 256 ops or
 * 16 KiB, so they can be served in pages small enough for a stock relay's
 * 128 KiB connection budget (and the forwarder re-verifies each kept one).
 */
import { describe, expect, it } from 'vitest'
import { decodeOp } from '../../src/oplog/op.js'
import { SIGNATURE_EVERY_BYTES, SIGNATURE_EVERY_OPS } from '../../src/store/oplog-store.js'
import { newReplica } from '../helpers/fixtures.js'

const MAX_PAGE = 8 * 1024

describe('signature cadence', () => {
  it('a 5,000-op batch and its copies on other replicas serve in small pages', () => {
    const a = newReplica()
    a.batch(w => { for (let i = 0; i < 5000; i++) w.put('items', `k${i}`, { v: `value ${i}` }) })
    const signed = a.opsSince(new Map(), { limit: 100_000, maxBytes: 100 * 1024 * 1024 }).ops.filter(o => o.sig !== undefined).length
    expect(signed).toBeGreaterThanOrEqual(Math.ceil(5000 / SIGNATURE_EVERY_OPS))

    // b takes everything in one big page; c then pulls from b in small pages.
    const b = newReplica()
    expect(b.applyRemote(a.opsSince(new Map(), { limit: 100_000, maxBytes: 100 * 1024 * 1024 }).ops).applied).toBe(5000)
    const c = newReplica()
    let pages = 0
    for (;;) {
      const page = b.opsSince(c.versionVector(), { limit: 100_000, maxBytes: MAX_PAGE })
      if (page.ops.length === 0) break
      expect(page.bytes).toBeLessThan(MAX_PAGE + SIGNATURE_EVERY_BYTES + 1024)
      expect(page.ops[page.ops.length - 1]!.sig).toBeDefined()
      const res = c.applyRemote(page.ops)
      expect(res.rejected).toEqual([])
      pages++
      expect(pages).toBeLessThan(1000)
    }
    expect(pages).toBeGreaterThan(10)
    expect(c.digest()).toBe(a.digest())
    expect(decodeOp(b.opsSince(new Map(), { limit: 1 }).ops[0]!).seq).toBe(1)
  })
})
