/**
 * The relay's WebSockets listener. `@libp2p/websockets` is loaded only when a
 * /ws address is configured: without the package the relay refuses to start
 * with a config error naming it; with it, a peer reserves and is reached
 * through the relay over WebSockets. (Node 20 has no global WebSocket for the
 * dialing side; the test borrows the `ws` package that comes with it.)
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { loadRelayConfig, RelayConfigError } from '../../relay/config.js'
import { startRelay, type Relay } from '../../relay/relay-node.js'
import { hasReservation, waitUntil } from '../../lab/peers.js'

const WS_PACKAGE = '@libp2p/websockets'
let webSockets: (() => any) | undefined
try { webSockets = (await import(WS_PACKAGE) as { webSockets: () => any }).webSockets } catch {}

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

describe('relay over WebSockets', () => {
  it.runIf(webSockets === undefined)('without @libp2p/websockets a /ws listen address is a config error that names the package', async () => {
    const config = loadRelayConfig(undefined, { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], metricsPort: null })
    const err = await startRelay(config, { privateKey: await generateKeyPair('Ed25519') }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RelayConfigError)
    expect((err as RelayConfigError).problems[0]).toContain('@libp2p/websockets@')
  })

  it.runIf(webSockets !== undefined)('a peer reserves over WebSockets and is reached through the relay', async () => {
    const g = globalThis as { WebSocket?: unknown }
    g.WebSocket ??= (await import('ws' as string) as { WebSocket: unknown }).WebSocket
    const config = loadRelayConfig(undefined, { listen: ['/ip4/127.0.0.1/tcp/0/ws'], metricsPort: null })
    const relay: Relay = await startRelay(config, { privateKey: await generateKeyPair('Ed25519') })
    cleanup.push(async () => { await relay.stop() })
    const wsAddr = relay.addresses().find(a => a.includes('/ws/'))!
    expect(wsAddr).toBeDefined()
    const { createLibp2p } = await import('libp2p')
    const { noise } = await import('@chainsafe/libp2p-noise')
    const { yamux } = await import('@chainsafe/libp2p-yamux')
    const { circuitRelayTransport } = await import('@libp2p/circuit-relay-v2')
    const { identify } = await import('@libp2p/identify')
    const wsPeer = async (listen: string[]) => await createLibp2p({
      addresses: { listen },
      transports: [webSockets!(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    const b = await wsPeer([`${wsAddr}/p2p-circuit`])
    cleanup.push(async () => { await b.stop() })
    await waitUntil(() => hasReservation(b as any, relay.peerId), 'B reserves over WebSockets')
    const a = await wsPeer([])
    cleanup.push(async () => { await a.stop() })
    const conn = await a.dial(multiaddr(`${wsAddr}/p2p-circuit/p2p/${b.peerId.toString()}`))
    expect(conn.limits).toBeDefined()
    expect(conn.remoteAddr.toString()).toContain('/ws/')
  })
})
