/**
 * Crossed sessions at the protocol level: a responder that keeps its own
 * session answers the crossing stream with a `crossed` hello; neither side
 * pulls on it, both end cleanly (no error, nothing to retry), and what the two
 * stores hold is untouched.
 */
import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../helpers/memory-store.js'
import { syncPair } from '../helpers/session-pair.js'

describe('crossed sessions', () => {
  it('the crossing stream ends at once on both sides: no error, nothing pulled, both marked crossed', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(50)
    b.write(30)
    const [ra, rb] = await syncPair(a, b, { responder: { crossed: true } })
    for (const r of [ra, rb]) {
      expect(r.error).toBeUndefined()
      expect(r.ok).toBe(true)
      expect(r.crossed).toBe(true)
      expect(r.opsReceived + r.opsSent + r.pagesReceived + r.pagesSent).toBe(0)
      // Not complete: this stream pulled nothing, the other session does.
      expect(r.complete).toBe(false)
    }
    expect(a.versionVector().get(b.deviceId)).toBeUndefined()
    expect(b.versionVector().get(a.deviceId)).toBeUndefined()
  })

  it('the session that is kept carries both directions', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(50)
    b.write(30)
    const [ra, rb] = await syncPair(a, b)
    expect(ra.crossed).toBeUndefined()
    expect(rb.crossed).toBeUndefined()
    expect(ra.opsReceived).toBe(30)
    expect(rb.opsReceived).toBe(50)
    expect(a.versionVector()).toEqual(b.versionVector())
  })
})
