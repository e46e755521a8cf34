/**
 * udx-observer's decisions, with a scripted transport: which address it
 * confirms or withdraws, how it classifies the NAT's mapping from the
 * reflectors' answers, and when it punches. Peers' UDX addresses reach it as
 * the udx-addrs service's 'addresses' events (never from identify). Its public-address paths need
 * reflectors at public IPs, which loopback cannot give; the NAT lab runs them
 * for real (cases 5 to 7).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2pEvents, PeerId } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { afterEach, describe, expect, it } from 'vitest'
import { udxObserver, type UdxObserver } from '../../src/net/nat/udx-observer.js'
import { registerUdxProtocol, type PeerUdxAddrs, type PunchOptions, type UdxAddrsEvents } from '../../src/udx/index.js'

registerUdxProtocol()

interface Script { [reflector: string]: { port: number, alternate?: { port: number, answer: number } } }

/** A transport that answers observations from a script: `host:port` of the reflector -> the port it reports. */
class ScriptedTransport {
  readonly [Symbol.toStringTag] = '@weft/udx'
  punches: Array<{ addr: string, options: PunchOptions | undefined }> = []
  constructor (public script: Script, public publicIp = '11.23.1.21') {}
  async observeAddress (
    remote: Multiaddr | { host: string, port: number }
  ): Promise<{ host: string, port: number, family: 4, alternatePort: number, multiaddr: Multiaddr }> {
    const key = 'host' in remote ? `${remote.host}:${remote.port}` : remote.toString().replace(/^\/ip4\/([^/]+)\/udp\/(\d+)\/udx.*$/, '$1:$2')
    for (const [reflector, s] of Object.entries(this.script)) {
      const [host] = reflector.split(':')
      if (key === reflector) return this.#answer(s.port, s.alternate?.port ?? 0)
      if (s.alternate !== undefined && key === `${host}:${s.alternate.port}`) return this.#answer(s.alternate.answer, 0)
    }
    throw new Error(`no reflector at ${key}`)
  }

  #answer (port: number, alternatePort: number): { host: string, port: number, family: 4, alternatePort: number, multiaddr: Multiaddr } {
    return { host: this.publicIp, port, family: 4, alternatePort, multiaddr: multiaddr(`/ip4/${this.publicIp}/udp/${port}/udx`) }
  }

  async punch (addr: Multiaddr, options?: PunchOptions): Promise<number> { this.punches.push({ addr: addr.toString(), options }); return 1 }
  allowPublicDial (): void {}
}

interface Harness {
  observer: UdxObserver & { start(): void, stop(): void }
  events: TypedEventEmitter<Libp2pEvents>
  udxAddrs: TypedEventEmitter<UdxAddrsEvents>
  transport: ScriptedTransport
  confirmed: string[]
  removed: string[]
}

const started: Harness[] = []
afterEach(() => { for (const h of started.splice(0)) h.observer.stop() })

function harness (script: Script, init: Parameters<typeof udxObserver>[0] = {}): Harness {
  const events = new TypedEventEmitter<Libp2pEvents>()
  const udxAddrs = new TypedEventEmitter<UdxAddrsEvents>()
  const transport = new ScriptedTransport(script)
  const confirmed: string[] = []
  const removed: string[] = []
  const observer = udxObserver({ refreshIntervalMs: 0, ...init })({
    addressManager: {
      confirmObservedAddr: (ma: Multiaddr) => { confirmed.push(ma.toString()) },
      removeObservedAddr: (ma: Multiaddr) => { removed.push(ma.toString()) }
    },
    transportManager: { getTransports: () => [transport as never], getAddrs: () => [multiaddr('/ip4/0.0.0.0/udp/4001/udx')] },
    events,
    logger: defaultLogger(),
    udxAddrs
  }) as Harness['observer']
  observer.start()
  const h = { observer, events, udxAddrs, transport, confirmed, removed }
  started.push(h)
  return h
}

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A peer that tells us (udx-addrs) its UDX addresses `addrs` over a direct (limits: undefined) or relayed connection. */
function told (h: Harness, peerId: PeerId, addrs: string[], relayed = false): void {
  const detail = { peerId, addrs: addrs.map(a => multiaddr(a)), connection: { limits: relayed ? { bytes: 1n } : undefined } } as unknown as PeerUdxAddrs
  h.udxAddrs.safeDispatchEvent('addresses', { detail })
}

describe('udx-observer', () => {
  it('confirms the mapping when the reflector\'s two ports see the same one: independent', async () => {
    const h = harness({ '11.23.0.10:4001': { port: 4001, alternate: { port: 4002, answer: 4001 } } })
    told(h, await peer(), ['/ip4/11.23.0.10/udp/4001/udx'])
    await h.observer.settled()
    expect(h.observer.mapping).toBe('independent')
    expect(h.observer.publicHost).toBe('11.23.1.21')
    expect(h.confirmed).toEqual(['/ip4/11.23.1.21/udp/4001/udx'])
    expect(h.observer.observed?.toString()).toBe('/ip4/11.23.1.21/udp/4001/udx')
  })

  it('advertises nothing when the two ports see different mappings: dependent, public IP still known', async () => {
    const h = harness({ '11.23.0.10:4001': { port: 51000, alternate: { port: 4002, answer: 61234 } } })
    told(h, await peer(), ['/ip4/11.23.0.10/udp/4001/udx'])
    await h.observer.settled()
    expect(h.observer.mapping).toBe('dependent')
    expect(h.observer.publicHost).toBe('11.23.1.21')
    expect(h.confirmed).toEqual([])
    expect(h.observer.observed).toBeUndefined()
  })

  it('withdraws a confirmed address when two reflectors disagree', async () => {
    const h = harness({ '11.23.0.10:4001': { port: 4001 }, '11.23.0.11:4001': { port: 4999 } })
    told(h, await peer(), ['/ip4/11.23.0.10/udp/4001/udx'])
    await h.observer.settled()
    expect(h.observer.mapping).toBe('unknown') // one reflector without a second port cannot tell
    expect(h.confirmed).toEqual(['/ip4/11.23.1.21/udp/4001/udx'])
    told(h, await peer(), ['/ip4/11.23.0.11/udp/4001/udx'])
    await h.observer.settled()
    expect(h.observer.mapping).toBe('dependent')
    expect(h.removed).toEqual(['/ip4/11.23.1.21/udp/4001/udx'])
    expect(h.observer.observed).toBeUndefined()
  })

  it('only asks the configured reflectors, and ignores private addresses', async () => {
    const relay = await peer()
    const h = harness({ '11.23.0.10:4001': { port: 4001 }, '11.23.0.12:4001': { port: 4001 } }, { reflectors: [relay.toString()] })
    told(h, await peer(), ['/ip4/11.23.0.12/udp/4001/udx'])
    told(h, await peer(), ['/ip4/10.0.0.5/udp/4001/udx'])
    await h.observer.settled()
    expect(h.confirmed).toEqual([])
    told(h, relay, ['/ip4/11.23.0.10/udp/4001/udx'])
    await h.observer.settled()
    expect(h.confirmed).toEqual(['/ip4/11.23.1.21/udp/4001/udx'])
  })

  it('punches low-TTL towards a peer that tells its addresses over a relayed connection, and holds our dials to it', async () => {
    const h = harness({})
    told(h, await peer(), ['/ip4/11.23.2.22/udp/4001/udx', '/ip4/10.2.0.2/udp/4001/udx'], true)
    expect(h.transport.punches).toHaveLength(1)
    expect(h.transport.punches[0]!.addr).toBe('/ip4/11.23.2.22/udp/4001/udx')
    expect(h.transport.punches[0]!.options).toMatchObject({ ttl: 2, holdDials: 300 })
    const off = harness({}, { punchOnRelayed: false })
    told(off, await peer(), ['/ip4/11.23.2.22/udp/4001/udx'], true)
    expect(off.transport.punches).toHaveLength(0)
  })

  it('forgets a reflector that disconnects: its mapping is withdrawn', async () => {
    const relay = await peer()
    const h = harness({ '11.23.0.10:4001': { port: 4001, alternate: { port: 4002, answer: 4001 } } })
    told(h, relay, ['/ip4/11.23.0.10/udp/4001/udx'])
    await h.observer.settled()
    expect(h.observer.mapping).toBe('independent')
    h.events.safeDispatchEvent('peer:disconnect', { detail: relay })
    expect(h.observer.mapping).toBe('unknown')
    expect(h.removed).toEqual(['/ip4/11.23.1.21/udp/4001/udx'])
  })
})
