/**
 * No crossed sessions, with real nodes on 127.0.0.1: two devices that start a
 * session with each other at the same moment end up with one session that
 * carries both directions. No session fails or is retried, each op crosses
 * once, and `syncWith` on the side whose stream crossed returns the result of
 * the session that was kept (what moved), not an empty one.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncSessionEvent } from '../../src/net/index.js'
import { connect, converged, recordSessions, startNode, stopAll, waitFor, writeBulk } from '../helpers/net-nodes.js'

afterEach(stopAll)

describe('crossed sessions', () => {
  it('sessions started by both sides at once: one carries both directions, no error, no retry, each op once', async () => {
    // No gossip and no anti-entropy: the only sessions are the connect session and the ones this test starts.
    const a = await startNode({ gossip: false })
    const b = await startNode({ gossip: false })
    await connect(b, a)
    await waitFor(() => b.node.services.sync.getPeerState(a.id)?.sessions === 1 && a.node.services.sync.getPeerState(b.id)?.sessionActive === false, 'the connect session')
    writeBulk(a, 3_000, 100, 'a'); writeBulk(b, 3_000, 100, 'b')
    const before = { a: a.node.services.sync.getTotals(), b: b.node.services.sync.getTotals() }
    const onA = recordSessions(a)
    const onB = recordSessions(b)

    // Both start at the same moment (as two gap pulls, or a dialer and a peer whose grace period ran out, do).
    const [ra, rb] = await Promise.all([a.node.services.sync.syncWith(b.id), b.node.services.sync.syncWith(a.id)])
    await waitFor(() => converged([a, b]), 'convergence')
    await waitFor(() => a.node.services.sync.getPeerState(b.id)?.sessionActive === false && b.node.services.sync.getPeerState(a.id)?.sessionActive === false, 'sessions end')

    // Both calls succeed, with what moved.
    for (const r of [ra, rb]) {
      expect(r.error).toBeUndefined()
      expect(r.ok).toBe(true)
      expect(r.crossed).toBeUndefined()
      expect(r.opsReceived).toBe(3_000)
      expect(r.opsSent).toBe(3_000)
    }
    // The side with the larger peer id keeps its own session; the other side's stream crossed it, and its
    // syncWith returned the kept session's result (its inbound side).
    const [keeper, crosser] = a.id > b.id ? [a, b] : [b, a]
    const [kept, returned] = keeper === a ? [ra, rb] : [rb, ra]
    expect(kept.initiator).toBe(true)
    expect(returned.initiator).toBe(false)
    const crosserEvents = crosser === a ? onA : onB
    const keeperEvents = keeper === a ? onA : onB
    expect(crosserEvents.find(e => e.direction === 'inbound')?.result).toBe(returned)
    // Each side saw two streams end: the kept session, and the crossing one that moved nothing.
    for (const events of [crosserEvents, keeperEvents]) {
      expect(events).toHaveLength(2)
      for (const e of events) expect(e.result.error).toBeUndefined()
      const crossed = events.filter(e => e.result.crossed === true)
      expect(crossed).toHaveLength(1)
      expect(crossed[0]!.result.opsReceived + crossed[0]!.result.opsSent).toBe(0)
    }
    expect(crosserEvents.find(e => e.result.crossed === true)?.direction).toBe('outbound')
    expect(keeperEvents.find(e => e.result.crossed === true)?.direction).toBe('inbound')
    // Each op crossed once.
    const received = (events: SyncSessionEvent[]): number => events.reduce((n, e) => n + e.result.opsReceived, 0)
    expect(received(onA)).toBe(3_000)
    expect(received(onB)).toBe(3_000)

    // Counted as one session each, none failed, one crossed; no error on either peer's state.
    for (const [t, was] of [[a, before.a], [b, before.b]] as const) {
      const now = t.node.services.sync.getTotals()
      expect(now.sessions - was.sessions).toBe(1)
      expect(now.sessionErrors - was.sessionErrors).toBe(0)
      expect(now.sessionsCrossed - was.sessionsCrossed).toBe(1)
      expect(now.opsAppliedFromSessions - was.opsAppliedFromSessions).toBe(3_000)
    }
    expect(a.node.services.sync.getPeerState(b.id)!.lastError).toBeUndefined()
    expect(b.node.services.sync.getPeerState(a.id)!.lastError).toBeUndefined()

    // Nothing is retried: no session follows.
    await new Promise(resolve => setTimeout(resolve, 1_500))
    expect(onA).toHaveLength(2)
    expect(onB).toHaveLength(2)
  })
  it('small crossed sessions, again and again: both calls return what moved, never an empty crossed result', async () => {
    const a = await startNode({ gossip: false })
    const b = await startNode({ gossip: false })
    await connect(b, a)
    await waitFor(() => b.node.services.sync.getPeerState(a.id)?.sessions === 1 && a.node.services.sync.getPeerState(b.id)?.sessionActive === false, 'the connect session')
    const idle = (): boolean =>
      a.node.services.sync.getPeerState(b.id)?.sessionActive === false && b.node.services.sync.getPeerState(a.id)?.sessionActive === false
    for (let i = 0; i < 10; i++) {
      a.replica.put('notes', `a-${i}`, { v: i })
      b.replica.put('notes', `b-${i}`, { v: i })
      const [ra, rb] = await Promise.all([a.node.services.sync.syncWith(b.id), b.node.services.sync.syncWith(a.id)])
      for (const r of [ra, rb]) expect(r).toMatchObject({ ok: true, opsReceived: 1, opsSent: 1, applied: 1 })
      expect(ra.crossed).toBeUndefined()
      expect(rb.crossed).toBeUndefined()
      await waitFor(idle, 'sessions end')
    }
    expect(converged([a, b])).toBe(true)
    for (const t of [a, b]) expect(t.node.services.sync.getTotals()).toMatchObject({ sessionErrors: 0, sessionsCrossed: 10, sessions: 11 })
  })
})
