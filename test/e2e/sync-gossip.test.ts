/**
 * Gossip carries the hot path, sessions fill gaps, with real nodes on
 * 127.0.0.1 and real replicas:
 * - writes after the connect session reach the peer by announcement alone (no
 *   new session), and both sides' per-peer vectors follow (the receiver's from
 *   the announcement, the writer's from what it announced), so `weft status`
 *   tells the truth without a session;
 * - ops too large to travel inline are pulled once per device, from one peer,
 *   even when two peers hold them and announced so;
 * - a new connection gets one connect session, not one from each side;
 * - a write that reached nobody, because the peer had not subscribed yet, is
 *   pulled as soon as the peer subscribes, not at the next anti-entropy;
 * - the side that served a session knows, as the session ends, what it left
 *   the peer holding (the peer's Done says), without waiting for the vector
 *   the peer announces later.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { announceTopic } from '../../src/net/sync/announcer.js'
import { DEFAULT_ANNOUNCE_MAX_OPS_BYTES, DEFAULT_GROUP_ID } from '../../src/net/constants.js'
import type { SyncSessionEvent, SyncTotals } from '../../src/net/index.js'
import { connect, converged, recordSessions, startNode, stopAll, waitFor, type TestNode } from '../helpers/net-nodes.js'

afterEach(stopAll)

const topic = announceTopic(DEFAULT_GROUP_ID)

/** Every node sees every other subscribed to the group's topic: an announcement reaches them all. */
async function gossipReady (nodes: readonly TestNode[]): Promise<void> {
  await waitFor(() => nodes.every(n => nodes.every(m => m === n || n.node.services.pubsub.getSubscribers(topic).some(p => p.equals(m.node.peerId)))), 'gossip subscriptions')
}

/** Every pair ran its connect session, and no session runs now. */
async function connectSessionsDone (nodes: readonly TestNode[]): Promise<void> {
  await waitFor(() => nodes.every(n => nodes.every(m => m === n || (n.node.services.sync.getPeerState(m.id)?.sessions ?? 0) >= 1)), 'connect sessions')
  await quiet(nodes)
}

async function quiet (nodes: readonly TestNode[]): Promise<void> {
  await waitFor(() => nodes.every(n => n.node.services.sync.getPeerStates().every(s => !s.sessionActive)), 'no session running')
}

/** Two connected nodes past their connect session, B then off the group's topic: A's announcements reach nobody. */
async function pairWithBOffTopic (): Promise<[TestNode, TestNode]> {
  const a = await startNode()
  const b = await startNode()
  await connect(a, b)
  await connectSessionsDone([a, b])
  await gossipReady([a, b])
  b.node.services.pubsub.unsubscribe(topic)
  await waitFor(() => !a.node.services.pubsub.getSubscribers(topic).some(p => p.equals(b.node.peerId)), 'B off the topic, seen from A')
  return [a, b]
}

const totals = (t: TestNode): SyncTotals => t.node.services.sync.getTotals()
const seqOf = (t: TestNode): number => t.replica.versionVector().get(t.id) ?? 0

describe('gossip path', () => {
  it('writes after the connect session arrive by gossip alone, and both sides\' per-peer vectors follow', async () => {
    const a = await startNode()
    const b = await startNode()
    a.replica.put('notes', 'before', { v: 0 })
    await connect(a, b)
    await connectSessionsDone([a, b])
    await gossipReady([a, b])
    // One connect session for the new connection: the dialed side's grace period (1 s) passes without a second.
    await new Promise(resolve => setTimeout(resolve, 1_500))
    await quiet([a, b])
    expect(a.node.services.sync.getPeerState(b.id)!.sessions).toBe(1)
    expect(b.node.services.sync.getPeerState(a.id)!.sessions).toBe(1)
    expect(b.replica.get('notes', 'before')).toEqual({ v: 0 })
    const before = { a: totals(a), b: totals(b), bPeer: b.node.services.sync.getPeerState(a.id)!.sessions }
    const onB = recordSessions(b)

    for (let i = 0; i < 20; i++) a.replica.put('notes', `live-${i}`, { v: i })
    const seq = seqOf(a)
    expect(seq).toBe(21)
    await waitFor(() => b.replica.versionVector().get(a.id) === seq, 'live writes on B')
    await waitFor(() => converged([a, b]), 'convergence')

    // No session: the announcements carried everything.
    expect(onB).toEqual([])
    expect(totals(b).sessions).toBe(before.b.sessions)
    expect(totals(a).sessions).toBe(before.a.sessions)
    expect(b.node.services.sync.getPeerState(a.id)!.sessions).toBe(before.bPeer)
    expect(totals(b).opsAppliedFromAnnouncements - before.b.opsAppliedFromAnnouncements).toBe(20)
    expect(totals(b).opsDeferred).toBe(0)

    // B's view of A comes from A's announcements: A holds `seq` of its own ops, and B holds them too.
    const bSeesA = b.node.services.sync.getPeerState(a.id)!
    expect(bSeesA.theirVector[a.id]).toBe(seq)
    // A's view of B follows what A announced to B (B's next hello or announcement would correct it).
    await waitFor(() => a.node.services.sync.getPeerState(b.id)?.theirVector[a.id] === seq, 'A\'s view of B')
    expect(totals(a).sessions).toBe(before.a.sessions)
    expect(totals(a).opsSentInAnnouncements - before.a.opsSentInAnnouncements).toBe(20)
  })

  it('a peer that announced ops too large to inline shows as ahead by exactly those ops until they are pulled', async () => {
    const a = await startNode()
    // B waits long enough before pulling that the test sees what gossip alone told it.
    const b = await startNode({ gapPullDelayMs: 5_000 })
    await connect(a, b)
    await connectSessionsDone([a, b])
    await gossipReady([a, b])
    const bSessions = totals(b).sessions
    const large = 'x'.repeat(DEFAULT_ANNOUNCE_MAX_OPS_BYTES + 1_024)
    a.replica.put('notes', 'big-1', { v: large })
    a.replica.put('notes', 'big-2', { v: large })
    const seq = seqOf(a)
    // The announcement carried A's vector and no ops: B knows A holds two ops it lacks, without a session.
    await waitFor(() => b.node.services.sync.getPeerState(a.id)?.theirVector[a.id] === seq, 'A\'s vector on B')
    const state = b.node.services.sync.getPeerState(a.id)!
    expect(b.replica.versionVector().get(a.id) ?? 0).toBe(seq - 2)
    expect(state.theyAreAheadBy).toBe(2)
    expect(totals(b).sessions).toBe(bSessions)
    // Then B pulls them (one session) and is in sync.
    await waitFor(() => converged([a, b]), 'the pull')
    await quiet([a, b])
    expect(b.replica.get('notes', 'big-2')).toEqual({ v: large })
    expect(totals(b).sessions).toBe(bSessions + 1)
    expect(b.node.services.sync.getPeerState(a.id)!.theyAreAheadBy).toBe(0)
  })

  it('ops that travel by pull are pulled once per device, from one peer, though two peers hold them and announced so', async () => {
    const a = await startNode()
    const b = await startNode()
    // C's gaps wait longer than B's: by the time C pulls, B has pulled the ops from A and announced that it holds them.
    const c = await startNode({ gapPullDelayMs: 3_000 })
    const nodes = [a, b, c]
    await connect(a, b); await connect(b, c); await connect(a, c)
    await connectSessionsDone(nodes)
    await gossipReady(nodes)
    const before = nodes.map(totals)
    const events = { a: recordSessions(a), b: recordSessions(b), c: recordSessions(c) }

    // Each op is larger than an announcement carries inline: A announces its vector alone, and B and C must pull.
    const large = 'y'.repeat(DEFAULT_ANNOUNCE_MAX_OPS_BYTES + 1_024)
    for (let i = 0; i < 3; i++) a.replica.put('notes', `big-${i}`, { v: large })
    await waitFor(() => converged(nodes), 'convergence')
    await quiet(nodes)

    const movedOps = (list: SyncSessionEvent[]): number => list.reduce((n, e) => n + e.result.opsReceived, 0)
    const pulledFrom = (list: SyncSessionEvent[]): string[] => [...new Set(list.filter(e => e.result.opsReceived > 0).map(e => e.peerId))]
    // C pulled the three ops once, in sessions with one peer only.
    expect(movedOps(events.c)).toBe(3)
    expect(pulledFrom(events.c)).toHaveLength(1)
    expect([a.id, b.id]).toContain(pulledFrom(events.c)[0])
    // B pulled them once, from A (the only holder when B's gap came due).
    expect(movedOps(events.b)).toBe(3)
    expect(pulledFrom(events.b)).toEqual([a.id])
    expect(movedOps(events.a)).toBe(0)
    // Ops sent in sessions across the group: exactly what was needed (3 ops, 2 devices).
    const sentInSessions = nodes.reduce((n, t, i) => n + totals(t).opsSentInSessions - before[i]!.opsSentInSessions, 0)
    expect(sentInSessions).toBe(6)
    for (const [i, t] of nodes.entries()) expect(totals(t).sessionErrors).toBe(before[i]!.sessionErrors)
    for (const list of Object.values(events)) for (const e of list) expect(e.result.error).toBeUndefined()
    // Each pull says it was one (the serving side is not told why a session began).
    for (const list of Object.values(events)) for (const e of list) expect(e.cause).toBe(e.direction === 'outbound' ? 'gap' : undefined)
  })

  it('a write that reached nobody because the peer had not subscribed yet is pulled once it subscribes, without anti-entropy', async () => {
    // startNode turns anti-entropy off: only the vector A announces when B subscribes tells B of the write.
    // B is off the topic, as on a new connection before its SUBSCRIBE arrives: A's announcement reaches nobody.
    const [a, b] = await pairWithBOffTopic()
    const sent = totals(a).opsSentInAnnouncements
    a.replica.put('notes', 'unheard', { v: 1 })
    // Longer than gossipsub offers a message to late subscribers (IHAVE for 3 heartbeats of 1 s).
    await new Promise(resolve => setTimeout(resolve, 5_000))
    expect(totals(a).opsSentInAnnouncements).toBe(sent)
    expect(b.replica.get('notes', 'unheard')).toBeUndefined()

    const bSessions = totals(b).sessions
    b.node.services.pubsub.subscribe(topic)
    await waitFor(() => b.replica.get('notes', 'unheard') !== undefined, 'the write on B', 10_000)
    await waitFor(() => converged([a, b]), 'convergence')
    await quiet([a, b])
    // One pull, for the gap A's vector showed.
    expect(totals(b).sessions).toBe(bSessions + 1)
    expect(totals(b).opsAppliedFromSessions).toBeGreaterThanOrEqual(1)

    // Once A knows B holds all it holds (B announces its vector after the pull), B subscribing again costs no announcement.
    await waitFor(() => a.node.services.sync.getPeerState(b.id)?.theirVector[a.id] === seqOf(a), 'B\'s vector on A')
    let heard = 0
    b.node.services.pubsub.addEventListener('gossipsub:message', () => { heard++ })
    b.node.services.pubsub.unsubscribe(topic)
    await waitFor(() => !a.node.services.pubsub.getSubscribers(topic).some(p => p.equals(b.node.peerId)), 'B off the topic again')
    b.node.services.pubsub.subscribe(topic)
    await waitFor(() => a.node.services.pubsub.getSubscribers(topic).some(p => p.equals(b.node.peerId)), 'B back on the topic')
    await new Promise(resolve => setTimeout(resolve, 1_500)) // past the vector's 500 ms delay
    expect(heard).toBe(0)
    expect(totals(b).sessions).toBe(bSessions + 1)
  })

  it('the serving side knows what a session left the peer holding as the session ends', async () => {
    // B off the topic: A's writes reach it by a session only.
    const [a, b] = await pairWithBOffTopic()
    for (let i = 0; i < 30; i++) a.replica.put('notes', `served-${i}`, { v: i })
    const seq = seqOf(a)
    // Read on A the moment its side of B's pull ends: nothing else (B's vector announcement, 500 ms later) has
    // told A anything yet.
    const seen = new Promise<{ held: number | undefined, lacks: number }>(resolve => {
      a.node.services.sync.addEventListener('session:end', e => {
        if (e.detail.peerId !== b.id || e.detail.result.opsSent === 0) return
        const theirs = a.node.services.sync.getPeerState(b.id)!.theirVector
        resolve({ held: theirs[a.id], lacks: seq - (theirs[a.id] ?? 0) })
      })
    })
    const pulled = await b.node.services.sync.syncWith(a.id)
    expect(pulled).toMatchObject({ ok: true, applied: 30 })
    // The hello said B held `seq - 30` of A's ops; B's Done says it holds all `seq`.
    expect(pulled.remoteVector).toBeDefined()
    expect(await seen).toEqual({ held: seq, lacks: 0 })
    expect(b.replica.versionVector().get(a.id)).toBe(seq)
  })
})
