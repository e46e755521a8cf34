/**
 * `/weft/udx-birthday/1.0.0`, the side asked to probe, between real libp2p
 * nodes on 127.0.0.1: what it accepts and what it refuses. Probes are
 * datagrams aimed at an IP a peer names, so these are the guards against
 * being used to spray someone else: only authorized peers, only public IPs,
 * only when our own NAT is punchable, bounded requests, a per-peer rate
 * limit. The test never sends READY, so no probe is ever sent. The whole
 * exchange runs in the NAT lab (case udx-one-random).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { pbStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { UDX_BIRTHDAY_PROTOCOL } from '../../src/net/constants.js'
import { pbCodec } from '../../src/net/pb-codec.js'
import { BirthdayMessage } from '../../src/net/nat/pb/udx-birthday.js'
import { udxBirthday } from '../../src/net/nat/udx-birthday.js'
import type { NatMapping, UdxObserver } from '../../src/net/nat/udx-observer.js'
import { udx, udxAddrs } from '../../src/udx/index.js'

const Type = BirthdayMessage.Type
const nodes: Libp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

/** What the easy side's observer says about its own NAT. */
function stubObserver (mapping: NatMapping, observed: string | undefined): () => UdxObserver {
  return () => ({
    mapping,
    observed: observed === undefined ? undefined : multiaddr(observed),
    publicHost: '11.23.1.21',
    refresh: async () => {},
    settled: async () => {}
  })
}

async function easyNode (opts: { mapping?: NatMapping, observed?: string | undefined, authorize?: (p: PeerId) => boolean } = {}): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/udx'] },
    transports: [tcp(), udx()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      udxAddrs: udxAddrs(),
      udxObserver: stubObserver(opts.mapping ?? 'independent', 'observed' in opts ? opts.observed : '/ip4/11.23.1.21/udp/4001/udx'),
      udxBirthday: udxBirthday({ initiate: false, ...(opts.authorize === undefined ? {} : { authorize: opts.authorize }) })
    }
  })
  nodes.push(node)
  return node
}

async function client (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  nodes.push(node)
  return node
}

const codec = pbCodec(BirthdayMessage)

function tcpAddr (node: Libp2p): Multiaddr {
  return node.getMultiaddrs().find(ma => ma.toString().includes('/tcp/'))!
}

/** Sends one REQUEST and returns the answer; closes without READY. */
async function ask (from: Libp2p, to: Libp2p, request: Partial<BirthdayMessage>): Promise<BirthdayMessage> {
  const conn = await from.dial(tcpAddr(to))
  const stream = await conn.newStream(UDX_BIRTHDAY_PROTOCOL, { signal: AbortSignal.timeout(5000) })
  const pb = pbStream(stream, { maxDataLength: 512 })
  await pb.write({ type: Type.REQUEST, host: '11.23.2.22', sockets: 256, ...request }, codec, { signal: AbortSignal.timeout(5000) })
  const answer = await pb.read(codec, { signal: AbortSignal.timeout(5000) })
  stream.abort(new Error('test done'))
  return answer
}

describe('udx-birthday, the probing side', () => {
  it('accepts an authorized peer and names its own public UDX address and the probes it will send', async () => {
    const c = await client()
    const easy = await easyNode({ authorize: (p) => p.equals(c.peerId) })
    const answer = await ask(c, easy, {})
    expect(answer).toMatchObject({ type: Type.ACCEPT, host: '11.23.1.21', port: 4001, probes: 2048 })
  })

  it('refuses peers that authorize() rejects', async () => {
    const easy = await easyNode({ authorize: () => false })
    expect(await ask(await client(), easy, {})).toMatchObject({ type: Type.REFUSE, reason: 'not authorized' })
  })

  it('refuses to probe a private or malformed host', async () => {
    const easy = await easyNode()
    const c = await client()
    for (const host of ['127.0.0.1', '10.2.0.2', '192.168.1.1', 'example.com', '']) {
      expect(await ask(c, easy, { host })).toMatchObject({ type: Type.REFUSE, reason: 'the host to probe is not a public IP' })
    }
  })

  it('refuses when its own NAT randomizes ports too, or it has no public address', async () => {
    expect(await ask(await client(), await easyNode({ mapping: 'dependent' }), {})).toMatchObject({ type: Type.REFUSE, reason: 'our NAT randomizes ports too' })
    expect(await ask(await client(), await easyNode({ observed: undefined }), {})).toMatchObject({ type: Type.REFUSE, reason: 'no public UDX address' })
  })

  it('refuses requests for too many sockets', async () => {
    expect(await ask(await client(), await easyNode(), { sockets: 5000 })).toMatchObject({ type: Type.REFUSE, reason: 'sockets must be 1 to 1024' })
    expect(await ask(await client(), await easyNode(), { sockets: 0 })).toMatchObject({ type: Type.REFUSE })
  })

  it('limits attempts per peer', async () => {
    const easy = await easyNode()
    const c = await client()
    const answers: BirthdayMessage[] = []
    for (let i = 0; i < 4; i++) answers.push(await ask(c, easy, {}))
    expect(answers.slice(0, 3).every(a => a.type === Type.ACCEPT)).toBe(true)
    expect(answers[3]).toMatchObject({ type: Type.REFUSE, reason: 'too many attempts: wait a minute' })
  })

  it('resets the stream on a message that is not a REQUEST, and keeps serving', async () => {
    const easy = await easyNode()
    const c = await client()
    await expect(ask(c, easy, { type: Type.HIT })).rejects.toThrow()
    expect((await ask(c, easy, {})).type).toBe(Type.ACCEPT)
  })
})
