/**
 * A connectivity probe for the NAT lab: a plain libp2p peer (see peers.ts)
 * run inside a namespace, reporting what happens as JSON lines on stdout.
 *
 *   node dist/lab/probe.js --relay ADDR [--listen ADDR]... [--dcutr] [--upnp] [--udx] [--weft-muxer]
 *        [--dial PEER_ID [--bytes N] [--wait-public MS] [--watch-direct MS] [--direct-bytes N]]
 *
 * It keeps a reservation on the relay, redialing and re-reserving after the
 * relay restarts (js-libp2p reserves once; weft's relay keeper does the same
 * as this loop). Events: ready, reserved, unreserved, public-udx (the first
 * public UDX address it advertises, with --udx), nat-mapping (once the relay's
 * two reflector ports told whether the NAT randomizes ports), public, connection,
 * relayed, sent, direct, done, error. It runs until SIGTERM.
 */
import { parseArgs } from 'node:util'
import type { Connection } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import { multiaddr } from '@multiformats/multiaddr'
import { registerUdxProtocol } from '../src/udx/index.js'
import { createPeer, hasReservation, sendBytes, type Peer } from './peers.js'

const { values: v } = parseArgs({
  options: {
    relay: { type: 'string' },
    listen: { type: 'string', multiple: true },
    dcutr: { type: 'boolean', default: false },
    upnp: { type: 'boolean', default: false },
    udx: { type: 'boolean', default: false },
    'weft-muxer': { type: 'boolean', default: false },
    dial: { type: 'string' },
    bytes: { type: 'string', default: '65536' },
    'wait-public': { type: 'string', default: '0' },
    'watch-direct': { type: 'string', default: '0' },
    'direct-bytes': { type: 'string', default: '1048576' },
    'public-prefix': { type: 'string', default: '11.23.' }
  },
  strict: true
})

const emit = (event: string, fields: Record<string, unknown> = {}): void => { process.stdout.write(JSON.stringify({ event, t: Date.now(), ...fields }) + '\n') }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

if (v.relay === undefined) { emit('error', { message: '--relay is required' }); process.exit(2) }
const relay = v.relay
const relayId = relay.split('/p2p/').pop()!

registerUdxProtocol()
const peer: Peer = await createPeer({ listen: v.listen ?? ['/ip4/0.0.0.0/tcp/0'], relays: [relay], dcutr: v.dcutr, upnp: v.upnp, udx: v.udx, weftMuxer: v['weft-muxer'] })
const tm = (peer as unknown as { components: { transportManager: TransportManager } }).components.transportManager
const describe = (c: Connection): Record<string, unknown> => ({ peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), direction: c.direction, limited: c.limits !== undefined, direct: c.limits === undefined && !c.remoteAddr.toString().includes('/p2p-circuit') })
peer.addEventListener('connection:open', (e) => { emit('connection', { state: 'open', ...describe(e.detail) }) })
peer.addEventListener('connection:close', (e) => { emit('connection', { state: 'close', ...describe(e.detail) }) })
emit('ready', { peerId: peer.peerId.toString(), addrs: peer.getMultiaddrs().map(String) })

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  void Promise.resolve(peer.stop()).finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

if (v.udx) {
  void (async () => {
    const publicUdx = (): string | undefined => peer.getMultiaddrs().map(String).find(a => a.includes(`/ip4/${v['public-prefix']}`) && a.includes('/udx') && !a.includes('/p2p-circuit'))
    while (!stopping && publicUdx() === undefined) await sleep(50)
    if (!stopping) emit('public-udx', { addr: publicUdx() })
  })()
  void (async () => {
    const observer = peer.services.udxObserver as { mapping: string, publicHost?: string }
    while (!stopping && observer.mapping === 'unknown') await sleep(50)
    if (!stopping) emit('nat-mapping', { mapping: observer.mapping, publicHost: observer.publicHost })
  })()
}

// Reservation keeper.
void (async () => {
  let reserved = false
  while (!stopping) {
    const now = hasReservation(peer, relayId)
    if (now !== reserved) { reserved = now; emit(now ? 'reserved' : 'unreserved', { addrs: peer.getMultiaddrs().map(String) }) }
    if (!now) {
      try {
        await peer.dial(multiaddr(relay), { signal: AbortSignal.timeout(5_000) })
        if (!hasReservation(peer, relayId)) await tm.listen([multiaddr(`${relay}/p2p-circuit`)])
      } catch {}
    }
    await sleep(500)
  }
})()

if (v.dial !== undefined) {
  const target = v.dial
  const waitPublic = Number(v['wait-public'])
  if (waitPublic > 0) {
    const until = Date.now() + waitPublic
    const pub = (): string[] => peer.getMultiaddrs().map(String).filter(a => a.includes(`/ip4/${v['public-prefix']}`) && !a.includes('/p2p-circuit'))
    while (pub().length === 0 && Date.now() < until) await sleep(100)
    emit('public', { found: pub().length > 0, addrs: pub() })
  }
  try {
    const conn = await peer.dial(multiaddr(`${relay}/p2p-circuit/p2p/${target}`), { signal: AbortSignal.timeout(15_000) })
    emit('relayed', describe(conn))
    const watch = Number(v['watch-direct'])
    if (watch === 0) {
      const t0 = Date.now()
      const res = await sendBytes(conn, Number(v.bytes))
      emit('sent', { over: 'relayed', bytes: Number(v.bytes), acked: res.acked, error: res.error?.message, ms: Date.now() - t0 })
    } else {
      const until = Date.now() + watch
      const direct = (): Connection | undefined => peer.getConnections().find(c => c.remotePeer.toString() === target && c.limits === undefined && c.status === 'open')
      while (direct() === undefined && Date.now() < until) await sleep(50)
      const d = direct()
      emit('direct', d === undefined ? { found: false } : { found: true, ...describe(d), afterMs: Date.now() - (until - watch) })
      const over = d ?? peer.getConnections().find(c => c.remotePeer.toString() === target && c.status === 'open')
      if (over !== undefined) {
        const bytes = d === undefined ? Number(v.bytes) : Number(v['direct-bytes'])
        const t0 = Date.now()
        const res = await sendBytes(over, bytes)
        emit('sent', { over: d === undefined ? 'relayed' : 'direct', bytes, acked: res.acked, error: res.error?.message, ms: Date.now() - t0 })
      }
    }
  } catch (err) {
    emit('error', { message: (err as Error).message })
  }
  emit('done')
}
