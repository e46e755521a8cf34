/**
 * The announcer's pacing, over a real gossipsub pair: two libp2p nodes on
 * 127.0.0.1 (stock TCP, Noise, yamux, identify, gossipsub; no other weft
 * code), each with a real replica whose device key is the node's key, and a
 * real Announcer on each. Publishes are counted where they arrive.
 *
 * - Under a burst of writes, announcements leave at most every
 *   `minIntervalMs`: far fewer announcements than writes, and every op
 *   arrives, in order.
 * - The interval grows with the peers the last announcement reached
 *   (`intervalPerRecipientMs`).
 * - A write after a quiet spell leaves after `delayMs`, not after
 *   `minIntervalMs` (with an interval of a minute, it still arrives at once);
 *   writes right after it wait for the interval. With the default delay (0),
 *   writes committed in one turn of the event loop leave together.
 * - Writes that come faster than the interval (several gathered in one
 *   announcement) stretch it to the busy interval; writes that come one per
 *   announcement keep the normal one.
 *
 *
 * And forwarding, with stock gossipsub on the other sides:
 * - An announcement marked `sentToAll` is applied and not forwarded: a stock
 *   node reachable only through the weft side never gets it, though it gets
 *   an unmarked one that way.
 * - The writer marks an announcement only when every other member it knows
 *   is subscribed on a connection of its own.
 * - When gossipsub does not send a marked announcement to a member that is
 *   subscribed (its stream to it no longer takes writes), the writer says so
 *   and publishes it again unmarked, and the member gets it through another.
 *
 * No timing is asserted: counts are bounded by the time the burst took, which
 * only loosens the bound on a slow machine.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { Announcer, type AnnouncerInit, type ReceivedAnnouncement } from '../../src/net/sync/announcer.js'
import { parseDeviceId } from '../../src/oplog/keys.js'
import { OP_FORMAT_VERSION } from '../../src/oplog/op.js'
import { SYNC_WIRE_VERSION } from '../../src/protocol/constants.js'
import { Announce, Compression } from '../../src/protocol/pb/sync.js'
import type { Replica } from '../../src/store/replica.js'
import { newReplica } from '../helpers/fixtures.js'
import { waitFor } from '../helpers/net-nodes.js'

const GROUP = 'announcer-test'
const log = defaultLogger().forComponent('weft:test:announcer')

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Side {
  readonly node: Libp2p<{ pubsub: GossipSub }>
  readonly replica: Replica
  readonly announcer: Announcer
  /** Announcements that reached this side, in order. */
  readonly received: ReceivedAnnouncement[]
  /** Ops from them the replica refused. */
  readonly refused: () => number
}

/** A stock gossipsub node on 127.0.0.1 (no weft code), with `key` when given; stopped after the test. */
async function gossipNode (key?: Uint8Array): Promise<Libp2p<{ pubsub: GossipSub }>> {
  const node = await createLibp2p({
    ...(key === undefined ? {} : { privateKey: privateKeyFromRaw(key) }),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }) }
  })
  cleanup.push(async () => { await node.stop() })
  return node
}

/** A stock gossipsub node whose key is a fresh replica's device key, with an Announcer for that replica. */
async function side (options: Partial<AnnouncerInit> = {}): Promise<Side> {
  const replica = newReplica()
  const node = await gossipNode(replica.deviceKey.raw)
  const received: ReceivedAnnouncement[] = []
  let refused = 0
  const announcer = new Announcer({
    pubsub: node.services.pubsub,
    store: replica,
    groupId: GROUP,
    log,
    onAnnouncement: async a => {
      received.push(a)
      // Apply what arrived, as the sync service's inbox does (in order here: one writer, one path).
      if (a.ops.length > 0) refused += replica.applyRemote(a.ops).rejected.length
    },
    ...options
  })
  announcer.start()
  // Local writes are announced as the sync service does it.
  const unsubscribe = replica.subscribe(e => { if (e.source === 'local') announcer.announce(e.ops) })
  cleanup.push(async () => { unsubscribe(); await announcer.stop() })
  return { node, replica, announcer, received, refused: () => refused }
}

/** Connects the two and waits until each sees the other on the group topic. */
async function pair (a: Side, b: Side): Promise<void> {
  await a.node.dial(b.node.getMultiaddrs()[0]!)
  const sees = (x: Side, y: Side): boolean => x.node.services.pubsub.getSubscribers(x.announcer.topic).some(p => p.equals(y.node.peerId))
  await waitFor(() => sees(a, b) && sees(b, a), 'gossip subscriptions')
}

const tick = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const opsIn = (list: ReceivedAnnouncement[]): number => list.reduce((n, a) => n + a.ops.length, 0)

/**
 * `writes` small writes on the writer, a pause of a few ms after every `perPause`: a steady burst. Resolves
 * with how long the writing took, once every write is on the reader.
 */
async function burst (writer: Side, reader: Side, writes: number, perPause: number): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < writes; i++) {
    writer.replica.put('notes', `n${i}`, { v: i })
    if (i % perPause === perPause - 1) await tick(5)
  }
  const burstMs = performance.now() - started
  await waitFor(() => reader.replica.versionVector().get(writer.replica.deviceId) === writes, 'every write on the reader')
  return burstMs
}

describe('announcer pacing over real gossipsub', () => {
  it('a burst of writes leaves as far fewer announcements than writes, at most one per minIntervalMs, and every op arrives', async () => {
    const minIntervalMs = 100
    const writer = await side({ minIntervalMs })
    const reader = await side()
    await pair(writer, reader)

    // 300 small writes, one every few ms: a steady burst lasting well over a second.
    const writes = 300
    const burstMs = await burst(writer, reader, writes, 3)

    const publishes = reader.received.length
    expect(opsIn(reader.received)).toBe(writes)
    expect(reader.refused()).toBe(0)
    // Far fewer announcements than writes ...
    expect(publishes).toBeLessThan(writes / 5)
    // ... and never more than one per interval: the first leaves after delayMs, each next one minIntervalMs
    // after the one before (the last may leave after the burst ended; one more for timer rounding).
    expect(publishes).toBeLessThanOrEqual(burstMs / minIntervalMs + 3)
    // Each carried the writer's ops in order, and its vector after them.
    let seq = 0
    for (const a of reader.received) {
      expect(a.writer.equals(writer.node.peerId)).toBe(true)
      seq += a.ops.length
      expect(a.vector.get(writer.replica.deviceId)).toBeGreaterThanOrEqual(seq)
    }
    expect(reader.replica.digest()).toBe(writer.replica.digest())
  })

  it('the interval grows with the peers the last announcement reached', async () => {
    // One reader: an interval of 1 x 150 ms, far above the 10 ms minimum.
    const perRecipientMs = 150
    const writer = await side({ minIntervalMs: 10, intervalPerRecipientMs: perRecipientMs, maxIntervalMs: 1_000 })
    const reader = await side()
    await pair(writer, reader)

    const writes = 200
    const burstMs = await burst(writer, reader, writes, 2)
    expect(opsIn(reader.received)).toBe(writes)
    // At most one per 150 ms (the first after delayMs, the last after the burst, one for timer rounding);
    // at the 10 ms minimum there would have been up to ten times as many.
    expect(reader.received.length).toBeLessThanOrEqual(burstMs / perRecipientMs + 3)
    expect(reader.replica.digest()).toBe(writer.replica.digest())
  })

  it('a write after a quiet spell leaves after delayMs, not minIntervalMs; writes right after it wait for the interval', async () => {
    // An interval far longer than anything this test waits for: only delayMs can send the first write.
    const writer = await side({ minIntervalMs: 60_000, delayMs: 5 })
    const reader = await side()
    await pair(writer, reader)

    writer.replica.put('notes', 'first', { v: 1 })
    await waitFor(() => reader.received.length === 1, 'the first write', 10_000)
    expect(opsIn(reader.received)).toBe(1)

    // Two more right after: they wait for the interval (a minute), so nothing leaves meanwhile.
    writer.replica.put('notes', 'second', { v: 2 })
    writer.replica.put('notes', 'third', { v: 3 })
    await tick(1_000)
    expect(reader.received).toHaveLength(1)
    expect(reader.replica.get('notes', 'second')).toBeUndefined()
  })

  it('by default, writes committed in one turn of the event loop leave together, at the next turn', async () => {
    // The default delay (0), and an interval far longer than the test: only the quiet-spell path can send.
    const writer = await side({ minIntervalMs: 60_000 })
    const reader = await side()
    await pair(writer, reader)

    // Three writes in one synchronous run, as several requests handled in one turn would commit them.
    for (let i = 0; i < 3; i++) writer.replica.put('notes', `same-turn-${i}`, { v: i })
    await waitFor(() => reader.received.length === 1, 'the announcement', 10_000)
    expect(reader.received[0]!.ops).toHaveLength(3)
    await tick(500)
    // One announcement carried all three.
    expect(reader.received).toHaveLength(1)
    for (let i = 0; i < 3; i++) expect(reader.replica.get('notes', `same-turn-${i}`)).toEqual({ v: i })
  })

  it('after a quiet spell longer than minIntervalMs the next write leaves on its own, without waiting for more', async () => {
    const minIntervalMs = 300
    const writer = await side({ minIntervalMs })
    const reader = await side()
    await pair(writer, reader)
    for (let round = 1; round <= 3; round++) {
      writer.replica.put('notes', `round-${round}`, { v: round })
      await waitFor(() => reader.received.length === round, `round ${round}`, 10_000)
      // Quiet for longer than the interval.
      await tick(minIntervalMs + 100)
    }
    // One announcement per write, each with just that write.
    expect(reader.received.map(a => a.ops.length)).toEqual([1, 1, 1])
  })

  it('writes that come faster than the interval stretch it to the busy interval', async () => {
    // Normal pacing 10 ms; busy pacing 300 ms per recipient (one reader here).
    const busyMs = 300
    const writer = await side({
      minIntervalMs: 10, intervalPerRecipientMs: 10, maxIntervalMs: 10, busyIntervalPerRecipientMs: busyMs, busyMaxIntervalMs: 1_000
    })
    const reader = await side()
    await pair(writer, reader)

    const writes = 200
    const burstMs = await burst(writer, reader, writes, 2)
    expect(opsIn(reader.received)).toBe(writes)
    // Once one announcement gathered two writes, each next one waits the busy interval: at most one per 300 ms
    // after the first two (which leave at the 10 ms pacing), one more for the last and one for timer rounding.
    expect(reader.received.length).toBeLessThanOrEqual(burstMs / busyMs + 4)
    expect(reader.replica.digest()).toBe(writer.replica.digest())
  })

  it('writes one per announcement keep the normal interval; two gathered in one make the next wait for the busy one', async () => {
    // A busy interval of a minute: anything that waits for it does not arrive during this test.
    const minIntervalMs = 50
    const writer = await side({ minIntervalMs, busyIntervalPerRecipientMs: 60_000, busyMaxIntervalMs: 60_000 })
    const reader = await side()
    await pair(writer, reader)
    for (let round = 1; round <= 3; round++) {
      writer.replica.put('notes', `round-${round}`, { v: round })
      await waitFor(() => reader.received.length === round, `round ${round}`, 10_000)
      await tick(minIntervalMs + 50)
    }
    expect(reader.received.map(a => a.ops.length)).toEqual([1, 1, 1])

    // Two writes in one transaction's time: gathered into one announcement, which makes the writer busy ...
    writer.replica.put('notes', 'pair-1', { v: 1 })
    writer.replica.put('notes', 'pair-2', { v: 2 })
    await waitFor(() => reader.received.length === 4, 'the pair', 10_000)
    expect(reader.received[3]!.ops).toHaveLength(2)
    // ... so the next write waits for the busy interval (a minute), not the normal 50 ms.
    await tick(minIntervalMs + 50)
    writer.replica.put('notes', 'after', { v: 3 })
    await tick(1_000)
    expect(reader.received).toHaveLength(4)
    expect(reader.replica.get('notes', 'after')).toBeUndefined()
  })
})

/** A stock gossipsub node (no Announcer) on the group topic, with `key` when given; counts the messages delivered to it. */
async function stockNode (topic: string, key?: Uint8Array): Promise<{ node: Libp2p<{ pubsub: GossipSub }>, delivered: () => number }> {
  const node = await gossipNode(key)
  let delivered = 0
  node.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === topic) delivered++ })
  node.services.pubsub.subscribe(topic)
  return { node, delivered: () => delivered }
}

/** Peers in `node`'s gossipsub mesh for `topic` (the class has it; the exported interface does not). */
const meshOf = (node: Libp2p<{ pubsub: GossipSub }>, topic: string): string[] =>
  (node.services.pubsub as unknown as { getMeshPeers(t: string): string[] }).getMeshPeers(topic)

describe('forwarding', () => {
  it('an announcement marked sentToAll is applied and not forwarded; an unmarked one is forwarded', async () => {
    const relay = await side() // the weft side in the middle
    const topic = relay.announcer.topic
    const writerReplica = newReplica()
    const writer = await stockNode(topic, writerReplica.deviceKey.raw) // publishes bytes the test builds
    const beyond = await stockNode(topic) // reachable only through the weft side
    await writer.node.dial(relay.node.getMultiaddrs()[0]!)
    await beyond.node.dial(relay.node.getMultiaddrs()[0]!)
    const meshed = (n: Libp2p): boolean => meshOf(relay.node, topic).includes(n.peerId.toString())
    await waitFor(() => meshed(beyond.node) && meshed(writer.node), 'both stock nodes in the weft side\'s mesh')
    expect(writer.node.getConnections(beyond.node.peerId)).toHaveLength(0)

    const announce = (sentToAll: boolean): Uint8Array => Announce.encode({
      deviceId: parseDeviceId(writerReplica.deviceId),
      vector: [],
      compression: Compression.NONE,
      ops: new Uint8Array(0),
      count: 0,
      rawBytes: 0,
      protocolVersion: SYNC_WIRE_VERSION,
      dataFormatVersion: OP_FORMAT_VERSION,
      sentToAll
    })
    await writer.node.services.pubsub.publish(topic, announce(true))
    await waitFor(() => relay.received.length === 1, 'the marked announcement on the weft side')
    expect(relay.received[0]!.sentToAll).toBe(true)
    expect(relay.received[0]!.writer.equals(writer.node.peerId)).toBe(true)
    await tick(1500) // more than a heartbeat: a forward or an IHAVE would have gone out by now
    expect(beyond.delivered()).toBe(0)

    await writer.node.services.pubsub.publish(topic, announce(false))
    await waitFor(() => beyond.delivered() === 1, 'the unmarked announcement forwarded past the weft side')
    expect(relay.received.map(a => a.sentToAll)).toEqual([true, false])
  })

  it('the writer marks an announcement only when every other member it knows is subscribed on its own connection', async () => {
    let members: string[] = []
    let failing = false
    const writer = await side({ members: () => { if (failing) throw new Error('store closed'); return members } })
    const reader = await side()
    await pair(writer, reader)
    const absent = newReplica().deviceId // a member that is not connected

    members = [writer.replica.deviceId, reader.replica.deviceId]
    writer.replica.put('notes', 'a', { v: 1 })
    await waitFor(() => reader.received.length === 1, 'the first announcement')
    members = [writer.replica.deviceId, reader.replica.deviceId, absent]
    await tick(300) // past the announce interval
    writer.replica.put('notes', 'b', { v: 2 })
    await waitFor(() => reader.received.length === 2, 'the second announcement')
    expect(reader.received.map(a => a.sentToAll)).toEqual([true, false])
    expect(reader.replica.get('notes', 'b')).toEqual({ v: 2 })

    // Members that cannot be listed are unknown: the write still leaves, for forwarding.
    failing = true
    await tick(300)
    writer.replica.put('notes', 'c', { v: 3 })
    await waitFor(() => reader.received.length === 3, 'the third announcement')
    expect(reader.received[2]!.sentToAll).toBe(false)
    expect(reader.replica.get('notes', 'c')).toEqual({ v: 3 })
  })

  it('a marked announcement gossipsub did not send to a subscribed member is published again unmarked, and the member gets it', async () => {
    const republished: string[][] = []
    const writer = await side({
      members: () => [writer.replica.deviceId, near.replica.deviceId, far.replica.deviceId],
      onRepublished: missed => { republished.push([...missed]) }
    })
    const near = await side()
    const far = await side()
    await pair(writer, near)
    await pair(writer, far)
    await pair(near, far)
    const topic = writer.announcer.topic
    await waitFor(() => meshOf(near.node, topic).includes(far.node.peerId.toString()), 'far in near\'s mesh')

    writer.replica.put('notes', 'a', { v: 1 })
    await waitFor(() => far.replica.get('notes', 'a') !== undefined && near.replica.get('notes', 'a') !== undefined, 'the first write everywhere')
    expect(republished).toEqual([])
    expect(far.received.map(a => a.sentToAll)).toEqual([true])

    // The writer's gossipsub keeps its stream to far, but the stream no longer takes writes (here closed for writing;
    // in the group bench, a stream that had closed with its connection): its flood publish skips far, still subscribed.
    const outbound = (writer.node.services.pubsub as unknown as { streamsOutbound: Map<string, { rawStream: { close: () => Promise<void> } }> }).streamsOutbound
    await outbound.get(far.node.peerId.toString())!.rawStream.close()
    expect(writer.node.services.pubsub.getSubscribers(topic).some(p => p.equals(far.node.peerId))).toBe(true)
    await tick(300) // past the announce interval
    writer.replica.put('notes', 'b', { v: 2 })
    await waitFor(() => far.replica.get('notes', 'b') !== undefined, 'the second write on far, forwarded by near')
    expect(republished).toEqual([[far.replica.deviceId]])
    expect(far.received.at(-1)!.sentToAll).toBe(false)
    expect(far.received.at(-1)!.forwarder.equals(near.node.peerId)).toBe(true)
  })
})
