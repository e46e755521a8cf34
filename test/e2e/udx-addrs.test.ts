/**
 * `/weft/udx-addrs/1.0.0` and the identify filter, between real libp2p nodes
 * on 127.0.0.1: identify (and its signed peer record) never lists a `/udx`
 * address, while the peers a node shares with learn its UDX addresses over
 * udx-addrs, on direct and relayed connections; others learn nothing; a
 * change of address reaches connected peers; malformed or oversized
 * messages are refused.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { UdxAddrs as UdxAddrsMessage } from '../../src/udx/pb/udx-addrs.js'
import { hideUdxAddresses, UDX_ADDRS_PROTOCOL, udx, udxAddrs, type PeerPredicate, type PeerUdxAddrs, type UdxAddrs } from '../../src/udx/index.js'

type Node = Libp2p<{ udxAddrs: UdxAddrs, addressManager: AddressManager, identify: unknown }>
const nodes: Libp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

async function node (init: { share?: PeerPredicate, learnFrom?: PeerPredicate, relayServer?: boolean, relays?: string[] } = {}): Promise<Node> {
  const services: Record<string, (c: any) => unknown> = {
    identify: hideUdxAddresses(identify()),
    identifyPush: hideUdxAddresses(identifyPush()),
    udxAddrs: udxAddrs({ ...(init.share === undefined ? {} : { share: init.share }), ...(init.learnFrom === undefined ? {} : { learnFrom: init.learnFrom }) }),
    // a handle on the address manager, to change our addresses as a confirmed NAT mapping would
    addressManager: (c: { addressManager: AddressManager }) => c.addressManager
  }
  if (init.relayServer === true) services.relay = hideUdxAddresses(circuitRelayServer())
  const n = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/udx', ...(init.relays ?? []).map(r => `${r}/p2p-circuit`)] },
    transports: [tcp(), udx(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  }) as unknown as Node
  nodes.push(n)
  return n
}

const tcpAddr = (n: Libp2p): Multiaddr => n.getMultiaddrs().find(a => a.toString().includes('/tcp/') && !a.toString().includes('/p2p-circuit'))!
const udxOf = (n: Libp2p): string[] => n.getMultiaddrs().map(a => a.toString()).filter(a => a.includes('/udx') && !a.includes('/p2p-circuit')).map(a => a.replace(/\/p2p\/.*$/, ''))

/** The next 'addresses' event from `peer` on `n`. */
async function nextAddresses (n: Node, peer: PeerId, timeoutMs = 5_000): Promise<PeerUdxAddrs> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { n.services.udxAddrs.removeEventListener('addresses', on); reject(new Error(`no UDX addresses from ${peer.toString()} in ${timeoutMs} ms`)) }, timeoutMs)
    const on = (evt: CustomEvent<PeerUdxAddrs>): void => {
      if (!evt.detail.peerId.equals(peer)) return
      clearTimeout(timer)
      n.services.udxAddrs.removeEventListener('addresses', on)
      resolve(evt.detail)
    }
    n.services.udxAddrs.addEventListener('addresses', on)
  })
}

describe('udx-addrs and identify', () => {
  it('identify lists no /udx address; a peer we share with learns them over udx-addrs when the connection opens', async () => {
    const b = await node({ share: () => true })
    const a = await node({ learnFrom: () => true })
    expect(udxOf(b)).toHaveLength(1)
    const learned = nextAddresses(a, b.peerId)
    const identified = new Promise<{ listenAddrs: Multiaddr[] }>(resolve => { a.addEventListener('peer:identify', evt => { resolve(evt.detail) }, { once: true }) })
    await a.dial(tcpAddr(b))
    const id = await identified
    expect(id.listenAddrs.map(String).filter(x => x.includes('udx'))).toEqual([])
    const peer = await a.peerStore.get(b.peerId)
    expect(peer.addresses.map(x => x.multiaddr.toString()).filter(x => x.includes('udx'))).toEqual([])
    expect((await learned).addrs.map(String)).toEqual(udxOf(b))
  })

  it('a peer we do not share with learns nothing, even when it asks', async () => {
    const b = await node({ share: () => false })
    const a = await node({ learnFrom: () => true })
    const conn = await a.dial(tcpAddr(b))
    expect(await a.services.udxAddrs.exchange(conn)).toEqual([])
  })

  it('what a peer outside learnFrom tells us is dropped', async () => {
    const b = await node({ learnFrom: () => false })
    const a = await node({ share: () => true })
    const events: PeerUdxAddrs[] = []
    b.services.udxAddrs.addEventListener('addresses', evt => { events.push(evt.detail) })
    const conn = await a.dial(tcpAddr(b))
    await a.services.udxAddrs.exchange(conn)
    expect(events).toEqual([])
  })

  it('tells connected peers it shares with when its UDX addresses change', async () => {
    const b = await node({ share: () => true })
    const a = await node({ learnFrom: () => true })
    const first = nextAddresses(a, b.peerId)
    await a.dial(tcpAddr(b))
    await first
    // wait until identify told b that a speaks udx-addrs
    await expect.poll(async () => (await b.peerStore.get(a.peerId)).protocols.includes(UDX_ADDRS_PROTOCOL)).toBe(true)
    const changed = nextAddresses(a, b.peerId, 10_000)
    const mapped = multiaddr('/ip4/11.23.1.21/udp/40001/udx')
    b.services.addressManager.confirmObservedAddr(mapped, { type: 'observed' })
    expect((await changed).addrs.map(String)).toContain(mapped.toString())
  })

  it('runs over a relayed connection, where punching starts', async () => {
    const relay = await node({ relayServer: true })
    const relayAddr = tcpAddr(relay).toString()
    const b = await node({ share: () => true, learnFrom: () => true, relays: [relayAddr] })
    await expect.poll(() => b.getMultiaddrs().some(x => x.toString().includes('/p2p-circuit')), { timeout: 10_000 }).toBe(true)
    // the reservation answer listed no /udx address of the relay
    expect(b.getMultiaddrs().map(String).filter(x => x.includes('/p2p-circuit') && x.includes('/udx'))).toEqual([])
    const a = await node({ share: () => true, learnFrom: () => true })
    const learned = nextAddresses(a, b.peerId)
    const conn = await a.dial(multiaddr(`${relayAddr}/p2p-circuit/p2p/${b.peerId.toString()}`))
    expect(conn.limits).toBeDefined()
    const got = await learned
    expect(got.connection.limits).toBeDefined()
    expect(got.addrs.map(String)).toEqual(udxOf(b))
  })

  it('refuses an oversized message and one with too many addresses, and keeps serving', async () => {
    const b = await node({ share: () => true })
    const a = await node()
    const conn = await a.dial(tcpAddr(b))
    const send = async (message: Uint8Array): Promise<Error | undefined> => {
      const stream = await conn.newStream(UDX_ADDRS_PROTOCOL)
      const lp = lpStream(stream)
      try {
        await lp.write(message)
        await lp.read({ signal: AbortSignal.timeout(5_000) })
        return undefined
      } catch (err) {
        return err as Error
      }
    }
    const one = multiaddr('/ip4/11.23.1.21/udp/4001/udx').bytes
    expect(await send(UdxAddrsMessage.encode({ addrs: Array.from({ length: 100 }, () => new Uint8Array(20)) }))).toBeDefined()
    expect(await send(UdxAddrsMessage.encode({ addrs: Array.from({ length: 17 }, () => one) }))).toBeDefined()
    // not-UDX and unparsable entries are skipped, not fatal
    expect(await send(UdxAddrsMessage.encode({ addrs: [multiaddr('/ip4/1.2.3.4/tcp/1').bytes, new Uint8Array([0xff, 0xff])] }))).toBeUndefined()
    expect((await a.services.udxAddrs.exchange(conn)).map(String)).toEqual(udxOf(b))
  })
})
