/**
 * The UDX transport between real libp2p nodes on 127.0.0.1: connect and ping,
 * a large transfer, crossed dials, many peers on one socket, a dial to a
 * closed port, garbage and flooding datagrams, the reflector, and closing the
 * listener. Waits are polls with a deadline, never timing assertions.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { networkInterfaces } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import type { UdxTools } from '../../src/udx/index.js'
import type { Stream } from '@libp2p/interface'
import { eventually, startUdxNode as startNode, stopUdxNodes, udpPort, udxAddr, type UdxNode } from '../helpers/udx-nodes.js'

const BLOB_PROTOCOL = '/weft-test/udx-blob/1.0.0'
const sockets: Socket[] = []

function stats (node: UdxNode): NonNullable<ReturnType<UdxTools['transport']['stats']>> {
  const s = node.services.udx.transport.stats(4)
  if (s == null) throw new Error('no UDX socket')
  return s
}

async function udpSocket (): Promise<Socket> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => { socket.bind(0, '127.0.0.1', resolve) })
  sockets.push(socket)
  return socket
}

async function sendRaw (socket: Socket, datagram: Uint8Array, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.send(datagram, port, '127.0.0.1', err => { if (err != null) reject(err); else resolve() })
  })
}

function hasIp6Loopback (): boolean {
  return Object.values(networkInterfaces()).some(infos => infos?.some(i => i.address === '::1'))
}

/** A UDP port on 127.0.0.1 nobody listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => { socket.bind(0, '127.0.0.1', resolve) })
  const { port } = socket.address()
  await new Promise<void>(resolve => { socket.close(() => { resolve() }) })
  return port
}

function chunkBytes (chunk: Uint8Array | { subarray: () => Uint8Array }): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

async function readAll (stream: Stream, onChunk: (bytes: Uint8Array) => void): Promise<void> {
  for await (const chunk of stream) onChunk(chunkBytes(chunk))
}

/** Sends `data` in 64 KiB pieces, waiting for the write buffer to empty past 1 MiB. */
async function writeAll (stream: Stream, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength; offset += 64 * 1024) {
    stream.send(data.subarray(offset, offset + 64 * 1024))
    if (stream.writeBufferLength > 1024 * 1024) {
      await new Promise(resolve => { stream.addEventListener('idle', resolve, { once: true }) })
    }
  }
}

/** Serves BLOB_PROTOCOL on `node`: reads everything, answers with its SHA-256 in hex. */
async function serveBlobHash (node: UdxNode): Promise<void> {
  await node.handle(BLOB_PROTOCOL, async (stream) => {
    const hash = createHash('sha256')
    await readAll(stream, bytes => { hash.update(bytes) })
    stream.send(new TextEncoder().encode(hash.digest('hex')))
    await stream.close()
  })
}

afterEach(async () => {
  await stopUdxNodes()
  for (const socket of sockets.splice(0)) socket.close()
})

describe('udx transport', () => {
  it('connects two nodes and pings over Noise and yamux', async () => {
    const a = await startNode()
    const b = await startNode()
    await a.services.ping.ping(udxAddr(b))
    const [conn] = a.getConnections(b.peerId)
    expect(a.getConnections(b.peerId)).toHaveLength(1)
    expect(conn?.remoteAddr.toString()).toContain('/udx/')
    expect(conn?.encryption).toBe('/noise')
    expect(conn?.multiplexer).toBe('/yamux/1.0.0')
    await eventually(() => b.getConnections(a.peerId).length === 1)
    // identify carried the /udx listen address: the peer store kept it
    await eventually(() => a.getConnections(b.peerId)[0]?.status === 'open')
    const known = async (): Promise<string[]> => (await b.peerStore.get(a.peerId)).addresses.map(x => x.multiaddr.toString())
    const deadline = Date.now() + 5000
    while (!(await known()).some(x => x.includes('/udx')) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    expect(await known()).toContain(udxAddr(a).decapsulate('/p2p').toString())
  })

  it('expands a wildcard listen address to the interfaces and dials from the same socket', async () => {
    const a = await startNode({}, ['/ip4/0.0.0.0/udp/0/udx'])
    const b = await startNode()
    const port = a.services.udx.transport.localAddress(4)?.port
    const addrs = a.getMultiaddrs().map(ma => ma.toString())
    expect(addrs).toContain(`/ip4/127.0.0.1/udp/${port}/udx/p2p/${a.peerId.toString()}`)
    await a.services.ping.ping(udxAddr(b))
    // b sees a's dial coming from a's listening port: one socket for both
    expect(b.getConnections(a.peerId)[0]?.remoteAddr.toString()).toContain(`/ip4/127.0.0.1/udp/${port}/udx`)
  })

  it.skipIf(!hasIp6Loopback())('works over IPv6', async () => {
    const a = await startNode({}, ['/ip6/::1/udp/0/udx'])
    const b = await startNode({}, ['/ip6/::1/udp/0/udx'])
    expect(udxAddr(b).toString()).toMatch(/^\/ip6\/::1\/udp\/\d+\/udx\//)
    await a.services.ping.ping(udxAddr(b))
    const seen = await a.services.udx.observeAddress(udxAddr(b))
    expect(seen).toMatchObject({ host: '::1', family: 6, port: a.services.udx.transport.localAddress(6)?.port })
  })

  it('transfers 20 MiB over a protocol stream with an equal checksum', async () => {
    const a = await startNode()
    const b = await startNode()
    await serveBlobHash(b)
    const data = randomBytes(20 * 1024 * 1024)
    const stream = await a.dialProtocol(udxAddr(b), BLOB_PROTOCOL)
    let reply = ''
    const replied = readAll(stream, bytes => { reply += new TextDecoder().decode(bytes) })
    await writeAll(stream, data)
    await stream.close()
    await replied
    expect(reply).toBe(createHash('sha256').update(data).digest('hex'))
  })

  it('pairs crossed dials into one connection with consistent roles', async () => {
    // b listens nowhere: a's HELLOs are ignored until b dials a, as when a NAT
    // drops the first packets of a hole punch; both dials must then pair
    const a = await startNode()
    const b = await startNode({}, [])
    const bAddress = await b.services.udx.observeAddress(udxAddr(a))
    const aDial = a.dial(bAddress.multiaddr.encapsulate(`/p2p/${b.peerId.toString()}`))
    await eventually(() => stats(a).pendingDials === 1)
    const bDial = b.dial(udxAddr(a))
    const [aConn, bConn] = await Promise.all([aDial, bDial])

    expect(stats(a).crossedDials).toBe(1)
    expect(stats(b).crossedDials).toBe(1)
    expect(a.getConnections(b.peerId)).toHaveLength(1)
    expect(b.getConnections(a.peerId)).toHaveLength(1)
    // exactly one side initiated: libp2p reports the other as inbound
    expect([aConn.direction, bConn.direction].sort()).toEqual(['inbound', 'outbound'])
    await a.services.ping.ping(b.peerId)
    await b.services.ping.ping(a.peerId)

    await a.hangUp(b.peerId)
    await eventually(() => stats(a).streams === 0 && stats(b).streams === 0)
    expect(stats(a).sessions).toBe(0)
    expect(stats(b).sessions).toBe(0)
  })

  it('runs a plain dial as initiator even when asked not to (as DCUtR asks)', async () => {
    const a = await startNode()
    const b = await startNode()
    // the peer upgrades a plain dial as inbound; honouring initiator: false
    // would leave both sides waiting for the other to speak first
    const conn = await a.dial(udxAddr(b), { initiator: false } as Parameters<UdxNode['dial']>[1])
    expect(conn.direction).toBe('outbound')
    await a.services.ping.ping(b.peerId)
  })

  it('survives simultaneous dials between two listening nodes without leaks', async () => {
    const a = await startNode()
    const b = await startNode()
    for (let round = 0; round < 5; round++) {
      const [aConn, bConn] = await Promise.all([
        a.dial(udxAddr(b), { force: true }),
        b.dial(udxAddr(a), { force: true })
      ])
      expect(aConn.status).toBe('open')
      expect(bConn.status).toBe('open')
      await a.services.ping.ping(b.peerId)
      await b.services.ping.ping(a.peerId)
      await a.hangUp(b.peerId)
      await b.hangUp(a.peerId)
      await eventually(() => stats(a).streams === 0 && stats(b).streams === 0)
    }
    expect(stats(a).pendingDials + stats(b).pendingDials).toBe(0)
    expect(stats(a).sessions + stats(b).sessions).toBe(0)
  })

  it('fails a dial to a closed port within the handshake timeout, with a clear error', async () => {
    const a = await startNode({ handshakeTimeout: 500 })
    const port = await closedPort()
    const b = await startNode()
    const target = udxAddr(b).decapsulate('/udp').encapsulate(`/udp/${port}/udx/p2p/${b.peerId.toString()}`)
    const err = await a.dial(target).then(() => undefined, (e: unknown) => e as Error)
    expect(err).toBeInstanceOf(Error)
    expect(`${err?.name} ${err?.message} ${String((err as { errors?: unknown[] })?.errors?.[0] ?? '')}`)
      .toMatch(/no UDX handshake answer from 127\.0\.0\.1:\d+ within 500 ms/)
    expect(stats(a).pendingDials).toBe(0)
    expect(stats(a).streams).toBe(0)
  })

  it('ignores garbage datagrams and keeps working', async () => {
    const a = await startNode()
    const b = await startNode()
    const port = udpPort(udxAddr(b))
    const raw = await udpSocket()
    const header = Buffer.from([0x55, 0x44, 0x58, 0x01])
    const garbage: Uint8Array[] = [
      Buffer.alloc(0),
      Buffer.from('hello'),
      randomBytes(1400),
      Buffer.concat([Buffer.from([0xff, 0x01]), randomBytes(18)]), // a UDX stream packet for no stream
      Buffer.concat([header, Buffer.from([9]), randomBytes(35)]), // unknown type
      Buffer.concat([header, Buffer.from([1]), randomBytes(10)]), // truncated HELLO
      Buffer.concat([header, Buffer.from([2]), randomBytes(35)]), // ACK for no dial
      Buffer.concat([header, Buffer.from([5]), randomBytes(35)]), // address report nobody asked for
      Buffer.concat([header, Buffer.from([3]), randomBytes(35)]) // punch
    ]
    for (let i = 0; i < 200; i++) garbage.push(randomBytes(1 + (i * 37) % 1500))
    for (const datagram of garbage) await sendRaw(raw, datagram, port)

    await a.services.ping.ping(udxAddr(b))
    expect(stats(b).pendingInbound).toBe(0)
  })

  it('bounds what a HELLO flood can make a node hold, and real peers still get in', async () => {
    // 8 pending inbound at most; from 4 on, a HELLO needs a RETRY cookie
    const b = await startNode({ maxPendingInbound: 8, maxPendingInboundPerHost: 8 }, undefined, { inboundUpgradeTimeout: 3000 })
    const port = udpPort(udxAddr(b))
    const raw = await udpSocket()
    let retries = 0
    raw.on('message', (msg) => { if (msg[4] === 6) retries++ })
    for (let i = 0; i < 200; i++) {
      const hello = Buffer.alloc(40)
      hello.set([0x55, 0x44, 0x58, 0x01, 0x01])
      hello.set(randomBytes(8), 5)
      hello.writeUInt32BE(1 + i, 13)
      await sendRaw(raw, hello, port)
    }
    await eventually(() => retries > 0)
    expect(stats(b).pendingInbound).toBe(4)
    expect(stats(b).streams).toBe(4)

    // a real dialer answers the RETRY and is let in while the flood's handshakes still wait
    const a = await startNode()
    await a.services.ping.ping(udxAddr(b))
    expect(stats(b).streams).toBeLessThanOrEqual(5)
    // the half-open handshakes expire with the upgrade timeout
    await eventually(() => stats(b).pendingInbound === 0 && stats(b).streams === 1)
    await a.services.ping.ping(b.peerId)
  })

  it('serves 8 peers on one listening socket', async () => {
    // every peer comes from 127.0.0.1: lift libp2p's per-host inbound rate limit (5/s)
    const hub = await startNode({}, undefined, { inboundConnectionThreshold: 100 })
    const peers = await Promise.all(Array.from({ length: 8 }, async () => startNode()))
    await Promise.all(peers.map(async p => { await p.services.ping.ping(udxAddr(hub)) }))
    await eventually(() => hub.getConnections().length === 8)
    expect(stats(hub).streams).toBe(8)
    await Promise.all(peers.map(async p => { await p.services.ping.ping(hub.peerId) }))
  })

  it('reports the address it sees through the reflector', async () => {
    const a = await startNode()
    const b = await startNode()
    const seen = await a.services.udx.observeAddress(udxAddr(b))
    expect(seen.host).toBe('127.0.0.1')
    expect(seen.port).toBe(a.services.udx.transport.localAddress(4)?.port)
    expect(seen.multiaddr.encapsulate(`/p2p/${a.peerId.toString()}`).toString()).toBe(udxAddr(a).toString())

    // a node that does not listen learns the port of its one ephemeral socket
    const c = await startNode({}, [])
    const fromC = await c.services.udx.observeAddress({ host: '127.0.0.1', port: seen.port })
    expect(fromC.port).toBe(c.services.udx.transport.localAddress(4)?.port)
    await c.services.ping.ping(udxAddr(a))
    expect(c.getConnections()[0]?.remoteAddr.toString()).toContain(`/udp/${seen.port}/udx`)
    expect(a.getConnections(c.peerId)[0]?.remoteAddr.toString()).toContain(`/udp/${fromC.port}/udx`)
  })

  it('sends bounded punches from the shared socket', async () => {
    const a = await startNode()
    const raw = await udpSocket()
    const received: Array<{ port: number }> = []
    raw.on('message', (_msg, rinfo) => { received.push({ port: rinfo.port }) })
    const sent = await a.services.udx.punch({ host: '127.0.0.1', port: raw.address().port }, { count: 3, interval: 1 })
    expect(sent).toBe(3)
    await eventually(() => received.length === 3)
    const ownPort = a.services.udx.transport.localAddress(4)?.port
    expect(received.every(r => r.port === ownPort)).toBe(true)
    expect(await a.services.udx.punch({ host: '127.0.0.1', port: raw.address().port }, { count: 10_000, interval: 0 })).toBe(100)
  })

  it('refuses to listen on a port that is taken, naming the address', async () => {
    const a = await startNode()
    const port = udpPort(udxAddr(a))
    const err = await startNode({}, [`/ip4/127.0.0.1/udp/${port}/udx`]).then(() => undefined, (e: unknown) => e as Error)
    expect(err).toBeInstanceOf(Error)
    expect(`${err?.message} ${String((err as { errors?: unknown[] })?.errors?.[0] ?? '')}`)
      .toMatch(new RegExp(`cannot bind UDX socket to 127\\.0\\.0\\.1:${port}`))
  })

  it('releases the socket when the listener closes', async () => {
    const a = await startNode()
    const b = await startNode()
    await a.services.ping.ping(udxAddr(b))
    const port = udpPort(udxAddr(b))
    await b.stop()
    await eventually(() => a.getConnections(b.peerId).length === 0)
    const rebound = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      rebound.once('error', reject)
      rebound.bind(port, '127.0.0.1', () => { resolve() })
    })
    sockets.push(rebound)
  })
})
