/**
 * weft as a stock libp2p peer sees it. The client side is built only from
 * stock js-libp2p packages (test/helpers/stock-client.ts: no weft file, no
 * `/udx` code registered) and the weft side runs as real processes (a `weft
 * start` daemon listening on TCP and UDX, a `weft-relay`), so nothing weft
 * defines leaks into what the stock side can parse. A stock peer must be able
 * to identify both (the private `/udx` addresses are never in identify or the
 * signed peer record), ping both, hold a reservation on the relay with the
 * stranger limits, and relay a stream through it that the relay cuts at the
 * stranger data limit.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, startDaemon, tempDataDir } from '../helpers/daemon.js'
import { startRelayProcess } from '../helpers/relay-process.js'
import { createStockClient, dialAndIdentify, knowsUdx, sendCount, type StockClient } from '../helpers/stock-client.js'

const KiB = 1024
/** weft-relay's default stranger limit per relayed connection (both directions, encrypted bytes). */
const STRANGER_DATA_LIMIT_BYTES = 128 * KiB

/** Protocol ids a stock peer knows (libp2p's own) or that weft defines under /weft/. */
const KNOWN_NAMESPACE = /^\/(ipfs|libp2p|meshsub|floodsub|weft)\//

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function stockClient (relays: string[] = []): Promise<StockClient> {
  const c = await createStockClient({ relays })
  cleanup.push(async () => { await c.stop() })
  return c
}

beforeAll(() => {
  // The whole point: this process cannot parse /udx, as no stock peer can.
  expect(knowsUdx()).toBe(false)
})

describe('a stock libp2p client', () => {
  it('identifies and pings a weft daemon that listens on TCP and UDX', async () => {
    const dir = tempDataDir()
    const d = await startDaemon(dir, ['--listen', '/ip4/127.0.0.1/udp/0/udx'])
    cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
    const status = await d.cli(['status', '--json'])
    const addresses = JSON.parse(status.stdout).network.addresses as string[]
    // weft itself knows its UDX address; the stock side must never be handed one
    expect(addresses.some(a => a.includes('/udx'))).toBe(true)
    const tcpAddr = addresses.find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))!

    const client = await stockClient()
    const { identified: id } = await dialAndIdentify(client, multiaddr(tcpAddr))
    expect(id.peerId.toString()).toBe(d.deviceId)
    expect(id.agentVersion).toMatch(/^weft\/\d+\.\d+\.\d+/)
    expect(id.protocols).toEqual(expect.arrayContaining(['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0']))
    for (const p of id.protocols) expect(p).toMatch(KNOWN_NAMESPACE)
    const listen = id.listenAddrs.map(String)
    expect(listen).toContain(tcpAddr.replace(/\/p2p\/.*$/, ''))
    expect(listen.filter(a => a.includes('udx'))).toEqual([])
    // the signed peer record parsed (it throws on an unknown code) and carries the same addresses
    expect(id.signedPeerRecord?.addresses.map(String).sort()).toEqual([...listen].sort())

    const rtt = await client.services.ping.ping(peerIdFromString(d.deviceId))
    expect(rtt).toBeGreaterThanOrEqual(0)
  })

  it('identifies and pings weft-relay, reserves with the stranger limits, and a relayed stream is cut at the stranger data limit', async () => {
    const relay = await startRelayProcess()
    cleanup.push(async () => { await relay.stop() })
    expect(relay.addresses.some(a => a.includes('/udx'))).toBe(true)

    const a = await stockClient()
    const { identified: id } = await dialAndIdentify(a, multiaddr(relay.tcpAddress))
    expect(id.peerId.toString()).toBe(relay.peerId)
    expect(id.agentVersion).toMatch(/^weft-relay\/\d+\.\d+\.\d+/)
    expect(id.protocols).toEqual(expect.arrayContaining(['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/libp2p/circuit/relay/0.2.0/hop', '/weft/relay-auth/1.0.0']))
    for (const p of id.protocols) expect(p).toMatch(KNOWN_NAMESPACE)
    const listen = id.listenAddrs.map(String)
    expect(listen).toContain(relay.tcpAddress.replace(/\/p2p\/.*$/, ''))
    expect(listen.filter(x => x.includes('udx'))).toEqual([])
    expect(id.signedPeerRecord?.addresses.map(String).sort()).toEqual([...listen].sort())
    expect(await a.services.ping.ping(peerIdFromString(relay.peerId))).toBeGreaterThanOrEqual(0)

    // B's start() makes the reservation and fails if the answer cannot be parsed
    const b = await stockClient([relay.tcpAddress])
    const circuit = b.getMultiaddrs().map(String).find(x => x.includes('/p2p-circuit'))
    expect(circuit).toBe(`${relay.tcpAddress}/p2p-circuit/p2p/${b.peerId.toString()}`)
    expect(await relay.metric('weft_relay_reservations_active', '{class="stranger"}')).toBe(1)
    expect(await relay.metric('weft_relay_reservations_active', '{class="member"}')).toBe(0)

    const relayed = await a.dial(multiaddr(circuit!))
    // the connection's limits are what is left of the stranger limit after the Noise handshake
    const left = Number(relayed.limits?.bytes)
    expect(left).toBeLessThanOrEqual(STRANGER_DATA_LIMIT_BYTES)
    expect(left).toBeGreaterThan(STRANGER_DATA_LIMIT_BYTES - 4 * KiB)
    const sent = await sendCount(relayed, 4 * STRANGER_DATA_LIMIT_BYTES)
    expect(b.received).toHaveLength(1)
    const received = await b.received[0]!
    // the relay counts encrypted bytes both ways, so the payload that got through is a little under the limit
    expect(received).toBeGreaterThan(STRANGER_DATA_LIMIT_BYTES / 2)
    expect(received).toBeLessThan(STRANGER_DATA_LIMIT_BYTES)
    expect(sent.error !== undefined || relayed.status !== 'open').toBe(true)
    await expect.poll(async () => await relay.metric('weft_relay_connections_closed_total', '{reason="data_limit"}')).toBe(1)
  })
})
