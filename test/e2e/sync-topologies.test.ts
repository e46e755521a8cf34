/**
 * Real nodes on 127.0.0.1 with real replicas: writes on every node converge
 * (equal digests and vectors) in a full mesh and in a line A - B - C, where
 * C's ops reach A only through B. Live writes after the initial sync travel
 * by announcement. Nodes that know the group's members do not forward an
 * announcement whose writer published it to all of them (a full mesh), and
 * still forward one that some member can get only through them (a line).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect, converged, startNode, stopAll, waitFor, writeRows, type TestNode } from '../helpers/net-nodes.js'

afterEach(stopAll)

const connectionsBetween = (a: TestNode, b: TestNode): number => a.node.getConnections(b.node.peerId).length

/**
 * Counts the messages `t`'s gossipsub forwards from here on, by wrapping its
 * `forwardMessage` (called once per message it accepted; it sends to the
 * mesh). Observation only: the wrapped method runs as before.
 */
function countForwards (t: TestNode): () => number {
  const pubsub = t.node.services.pubsub as unknown as { forwardMessage: (...args: unknown[]) => unknown }
  const forward = pubsub.forwardMessage.bind(pubsub)
  let n = 0
  pubsub.forwardMessage = (...args: unknown[]) => { n++; return forward(...args) }
  return () => n
}

/** The members `t`'s gossipsub knows on the group topic. */
const subscribers = (t: TestNode): number => t.node.services.pubsub.getSubscribers(t.node.services.pubsub.getTopics()[0]!).length

/** Three nodes that know each other as the group's members. */
async function threeMembers (): Promise<[TestNode, TestNode, TestNode]> {
  const ids: string[] = []
  const nodes = await Promise.all([0, 1, 2].map(async () => await startNode({ members: () => ids })))
  ids.push(...nodes.map(n => n.id))
  return nodes as [TestNode, TestNode, TestNode]
}

describe('topologies', () => {
  it('full mesh of three: writes on all converge, then live writes follow', async () => {
    const nodes = await Promise.all([startNode(), startNode(), startNode()])
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    writeRows(a, 120); writeRows(b, 80, undefined, 3); writeRows(c, 40)
    await connect(a, b); await connect(b, c); await connect(a, c)
    await waitFor(() => converged(nodes), 'mesh convergence')
    expect(a.replica.stats().ops).toBe(120 + 240 + 40)

    // Live: single writes everywhere, no anti-entropy timer running (syncIntervalMs 0).
    const applied: string[] = []
    c.node.services.sync.addEventListener('announce:applied', e => { applied.push(e.detail.peerId) })
    for (const n of nodes) writeRows(n, 3, `live-${n.id.slice(-4)}`)
    await waitFor(() => converged(nodes), 'live convergence')
    expect(applied.length).toBeGreaterThan(0)
    expect(a.replica.stats().ops).toBe(400 + 9)
  })

  it('line A - B - C: C\'s ops reach A only through B, and A\'s reach C', async () => {
    const nodes = await Promise.all([startNode(), startNode(), startNode()])
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    writeRows(a, 50); writeRows(b, 30); writeRows(c, 70)
    await connect(a, b)
    await waitFor(() => converged([a, b]), 'A and B converge')
    // A's session with B is over; C's ops can reach A only if B passes them on.
    await connect(c, b)
    await waitFor(() => converged(nodes), 'line convergence')
    expect(connectionsBetween(a, c)).toBe(0)
    expect(a.replica.versionVector().get(c.id)).toBe(70)
    expect(c.replica.versionVector().get(a.id)).toBe(50)

    // Live writes at the ends cross the middle.
    writeRows(c, 5, 'late-c')
    writeRows(a, 5, 'late-a')
    await waitFor(() => converged(nodes), 'live line convergence')
    expect(connectionsBetween(a, c)).toBe(0)
    expect(a.replica.get('notes', 'late-c-4')).toEqual({ f0: 'late-c-4-0' })
    const state = b.node.services.sync.getPeerState(a.id)
    expect(state).toMatchObject({ connected: true, limited: false })
    expect(state!.sessions).toBeGreaterThan(0)
    expect(state!.lastError).toBeUndefined()
  })

  it('a node with configured peers dials them at start and syncs', async () => {
    const a = await startNode()
    writeRows(a, 15)
    const b = await startNode({ peers: [a.node.getMultiaddrs()[0]!.toString()] })
    await waitFor(() => converged([a, b]), 'convergence with a configured peer')
    expect(b.node.services.sync.getPeerState(a.id)).toMatchObject({ connected: true })
  })

  it('members in a full mesh do not forward each other\'s announcements; in a line, the middle one does', async () => {
    const mesh = await threeMembers()
    await connect(mesh[0], mesh[1]); await connect(mesh[1], mesh[2]); await connect(mesh[0], mesh[2])
    await waitFor(() => mesh.every(n => subscribers(n) === 2), 'mesh subscriptions')
    const meshForwards = mesh.map(countForwards)
    for (const n of mesh) writeRows(n, 3, `mesh-${n.id.slice(-4)}`)
    await waitFor(() => converged(mesh) && mesh[0].replica.stats().ops === 9, 'mesh convergence by gossip')
    expect(meshForwards.map(f => f())).toEqual([0, 0, 0])

    const [a, b, c] = await threeMembers()
    await connect(a, b); await connect(b, c)
    await waitFor(() => subscribers(a) === 1 && subscribers(b) === 2 && subscribers(c) === 1, 'line subscriptions')
    const middleForwards = countForwards(b)
    writeRows(a, 3, 'line-a')
    await waitFor(() => c.replica.get('notes', 'line-a-2') !== undefined, 'A\'s live writes on C, through B')
    expect(connectionsBetween(a, c)).toBe(0)
    expect(middleForwards()).toBeGreaterThan(0)
  })
})
