/**
 * Partition and restart with real nodes and replicas: writes on both sides of
 * a partition converge after reconnecting, and a restarted node resumes from
 * its version vector, so the bytes of the catch-up session follow what is
 * new, not the size of the store.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncSessionEvent } from '../../src/net/index.js'
import { connect, converged, partitionGate, recordSessions, startNode, stopAll, waitFor, writeBulk, writeRows, type TestNode } from '../helpers/net-nodes.js'

afterEach(stopAll)

const bytesOf = (events: SyncSessionEvent[]): number => events.reduce((n, e) => n + e.result.bytesSent + e.result.bytesReceived, 0)

async function disconnect (a: TestNode, b: TestNode, gates: Array<ReturnType<typeof partitionGate>>): Promise<void> {
  // Nodes redial each other at once: the gates keep them apart until healed.
  for (const g of gates) g.cut()
  await a.node.hangUp(b.node.peerId)
  await waitFor(() => a.node.getConnections(b.node.peerId).length === 0 && b.node.getConnections(a.node.peerId).length === 0, 'disconnect')
}

describe('partition and restart', () => {
  it('writes on both sides of a partition converge after reconnecting', async () => {
    const gates = [partitionGate(), partitionGate()]
    const a = await startNode({ connectionGater: gates[0]!.gater })
    const b = await startNode({ connectionGater: gates[1]!.gater })
    writeRows(a, 30); writeRows(b, 30)
    await connect(a, b)
    await waitFor(() => converged([a, b]), 'first convergence')

    await disconnect(a, b, gates)
    // Both sides edit, including the same rows (last writer wins after the merge).
    writeRows(a, 40, 'during-a')
    writeRows(b, 25, 'during-b')
    for (let i = 0; i < 10; i++) { a.replica.put('notes', `shared-${i}`, { by: 'a' }); b.replica.put('notes', `shared-${i}`, { by: 'b' }) }
    expect(converged([a, b])).toBe(false)

    for (const g of gates) g.heal()
    await connect(b, a)
    await waitFor(() => converged([a, b]), 'convergence after the partition heals')
    expect(a.replica.get('notes', 'shared-3')).toEqual(b.replica.get('notes', 'shared-3'))
    expect(a.replica.stats().ops).toBe(60 + 65 + 20)
  })

  it('sessions started by both sides at once carry each op once', async () => {
    // No gossip and no anti-entropy: the only sessions are the ones this test starts.
    const a = await startNode({ gossip: false })
    const b = await startNode({ gossip: false })
    await connect(b, a)
    await waitFor(() => b.node.services.sync.getPeerState(a.id)?.sessions === 1 && a.node.services.sync.getPeerState(b.id)?.sessionActive === false, 'the connect session')
    writeBulk(a, 3_000, 100, 'a'); writeBulk(b, 3_000, 100, 'b')
    const onA = recordSessions(a)
    const onB = recordSessions(b)
    // both sides start a session at the same moment (as the dialer and a peer whose grace period ran out do)
    await Promise.all([a.node.services.sync.syncWith(b.id), b.node.services.sync.syncWith(a.id)])
    await waitFor(() => converged([a, b]), 'convergence')
    await waitFor(() => a.node.services.sync.getPeerState(b.id)?.sessionActive === false && b.node.services.sync.getPeerState(a.id)?.sessionActive === false, 'sessions end')
    const received = (events: SyncSessionEvent[]): number => events.reduce((n, e) => n + e.result.opsReceived, 0)
    expect(received(onA)).toBe(3_000)
    expect(received(onB)).toBe(3_000)
  })

  it('a restarted node resumes from its vector: catch-up bytes follow what is new, not the store size', async () => {
    const a = await startNode()
    const b0 = await startNode()
    const bDir = b0.dir
    const bId = b0.id
    writeBulk(a, 5_000, 100)
    const initial = recordSessions(b0)
    await connect(b0, a)
    await waitFor(() => converged([a, b0]), 'initial sync')
    await waitFor(() => initial.length > 0 && b0.node.services.sync.getPeerState(a.id)?.sessionActive === false, 'initial session end')
    const initialBytes = bytesOf(initial)
    await b0.stop()

    /** Restarts B on its directory after `fresh` new ops on A; returns the catch-up sessions' bytes. */
    const catchUp = async (fresh: number, tag: string): Promise<number> => {
      writeBulk(a, fresh, 100, tag)
      const b = await startNode({ dir: bDir })
      expect(b.id).toBe(bId)
      const before = b.replica.versionVector().get(a.id)!
      const events = recordSessions(b)
      await connect(b, a)
      await waitFor(() => converged([a, b]), `catch-up of ${fresh} ops`)
      await waitFor(() => events.length > 0 && b.node.services.sync.getPeerState(a.id)?.sessionActive === false, 'catch-up session end')
      expect(events.reduce((n, e) => n + e.result.opsReceived, 0)).toBe(fresh)
      expect(b.replica.versionVector().get(a.id)).toBe(before + fresh)
      await b.stop()
      return bytesOf(events)
    }
    const small = await catchUp(100, 'small')
    const large = await catchUp(1_000, 'large')

    // The catch-up costs what is new: 10x the new ops is about 10x the bytes (hellos are a fixed few hundred bytes) ...
    expect(large / small).toBeGreaterThan(5)
    expect(large / small).toBeLessThan(15)
    // ... and the 5,000 ops already held cost nothing: per new op, about what the initial sync paid per op.
    expect(small).toBeLessThan(initialBytes / 20)
    expect(large / 1_000).toBeLessThan((initialBytes / 5_000) * 1.5)
  })
})
