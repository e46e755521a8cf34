/**
 * Plain libp2p nodes with only the UDX transport, on 127.0.0.1, for the
 * transport's integration tests. `stopUdxNodes()` in `afterEach` stops every
 * node started since.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { parseUdxMultiaddr, udx, udxTools, type UdxInit, type UdxTools } from '../../src/udx/index.js'

export type UdxNode = Libp2p<{ ping: Ping, identify: unknown, udx: UdxTools }>
export type ConnectionManagerInit = NonNullable<NonNullable<Parameters<typeof createLibp2p>[0]>['connectionManager']>

const nodes: UdxNode[] = []

export async function startUdxNode (init: UdxInit = {}, listen = ['/ip4/127.0.0.1/udp/0/udx'], connectionManager: ConnectionManagerInit = {}): Promise<UdxNode> {
  const node = await createLibp2p({
    addresses: { listen },
    transports: [udx(init)],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager,
    services: { ping: ping(), identify: identify(), udx: udxTools() }
  })
  nodes.push(node)
  return node
}

export async function stopUdxNodes (): Promise<void> {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
}

export function udxAddr (node: UdxNode): Multiaddr {
  const addr = node.getMultiaddrs().find(ma => ma.toString().includes('/udx/'))
  if (addr == null) throw new Error('node has no UDX address')
  return addr
}

export function udpPort (ma: Multiaddr): number {
  const address = parseUdxMultiaddr(ma, true)
  if (address == null) throw new Error(`not a UDX address: ${ma.toString()}`)
  return address.port
}

/** Polls `check` until it holds; fails after `ms` (a bound, not a measured expectation). */
export async function eventually (check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
