/**
 * How gossipsub scores a member that leaves our mesh, with weft's topic
 * parameters (GOSSIP_TOPIC_SCORE) and, beside it, gossipsub's defaults.
 *
 * Two stock gossipsub nodes on loopback share a topic for longer than the
 * mesh-delivery activation time (5 s) without a message, as a quiet group
 * does; then B leaves A's mesh (unsubscribes, which A handles as a prune,
 * like a prune of an oversubscribed mesh) and publishes. With the defaults
 * A now scores B at about -400 (a missed delivery quota, squared) and drops
 * what B sends, as it would for a peer under the graylist threshold; with
 * weft's parameters B keeps a score of 0 and its message arrives.
 */
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import '../../src/polyfill.js'
import { GOSSIP_MESH, GOSSIP_TOPIC_SCORE } from '../../src/net/sync/gossip-tuning.js'
import { startStockNode } from '../helpers/stock-peer.js'

const TOPIC = 'weft-score-test'
const nodes: Array<Libp2p<{ pubsub: GossipSub }>> = []
afterAll(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

/** What the GossipSub class has beyond its exported interface. */
interface Scored { getMeshPeers(topic: string): string[], getScore(peerId: string): number }
const scored = (node: Libp2p<{ pubsub: GossipSub }>): Scored => node.services.pubsub as unknown as Scored

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function start (topicScore: Partial<TopicScoreParams>): Promise<Libp2p<{ pubsub: GossipSub }>> {
  const node = await startStockNode({
    identify: identify(),
    pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, ...GOSSIP_MESH, scoreParams: { topics: { [TOPIC]: createTopicScoreParams(topicScore) } } })
  })
  nodes.push(node)
  return node
}

/** A and B meshed on a quiet topic past the activation time; then B leaves the mesh and publishes. */
async function leaveAndPublish (topicScore: Partial<TopicScoreParams>): Promise<{ scoreOfB: number, received: boolean }> {
  const [a, b] = await Promise.all([start(topicScore), start(topicScore)])
  a.services.pubsub.subscribe(TOPIC)
  b.services.pubsub.subscribe(TOPIC)
  await a.dial(b.getMultiaddrs()[0]!)
  const meshed = Date.now()
  while (!scored(a).getMeshPeers(TOPIC).includes(b.peerId.toString())) {
    if (Date.now() - meshed > 10_000) throw new Error('B never joined A\'s mesh')
    await sleep(50)
  }
  await sleep(6_500) // past meshMessageDeliveriesActivation (5 s), with no message
  b.services.pubsub.unsubscribe(TOPIC)
  const left = Date.now()
  while (scored(a).getMeshPeers(TOPIC).includes(b.peerId.toString())) {
    if (Date.now() - left > 5_000) throw new Error('B never left A\'s mesh')
    await sleep(20)
  }
  // Scores are cached until the next heartbeat (1 s): wait for the one that sees B out of the mesh (its time-in-mesh bonus gone).
  const before = scored(a).getScore(b.peerId.toString())
  const pruned = Date.now()
  while (scored(a).getScore(b.peerId.toString()) === before && Date.now() - pruned < 3_000) await sleep(20)
  const scoreOfB = scored(a).getScore(b.peerId.toString())
  let received = false
  a.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === TOPIC) received = true })
  await b.services.pubsub.publish(TOPIC, new TextEncoder().encode('after the prune'))
  const published = Date.now()
  while (!received && Date.now() - published < 2_000) await sleep(20)
  return { scoreOfB, received }
}

describe('gossipsub score of a member that leaves the mesh', () => {
  it('stays at 0 with weft\'s parameters, and the member\'s next message arrives; the defaults graylist it', async () => {
    const [weft, defaults] = await Promise.all([leaveAndPublish(GOSSIP_TOPIC_SCORE), leaveAndPublish({ topicWeight: 1 })])
    expect(weft.scoreOfB).toBeGreaterThanOrEqual(0)
    expect(weft.received).toBe(true)
    // What the parameters avoid: under the graylist threshold (-80), nothing from B is accepted.
    expect(defaults.scoreOfB).toBeLessThan(-80)
    expect(defaults.received).toBe(false)
  }, 40_000)
})
