/**
 * Birthday punching and the second reflector, with real UDX sockets on
 * 127.0.0.1. Loopback has no NAT, so what these tests show is the mechanics:
 * a probe that reaches one of the sockets wins, the others are released, the
 * winner carries the dial and a connection; no probe means a timeout and every
 * socket released. The probes are aimed at a given list of ports (the winner
 * among closed ones), never at random ports of this machine. The NAT lab
 * (case udx-one-random) runs the real thing through a `--random-fully` NAT.
 */
import { createSocket } from 'node:dgram'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { BirthdaySockets } from '../../src/udx/birthday.js'
import { UdxEndpoint } from '../../src/udx/endpoint.js'
import { randomPorts, UdxBirthdayTimeoutError, UdxNotPunchedError } from '../../src/udx/index.js'
import { eventually, startUdxNode, stopUdxNodes, udpPort, udxAddr } from '../helpers/udx-nodes.js'

afterEach(async () => { await stopUdxNodes() })

/** True when nothing holds this UDP port on 0.0.0.0 any more. */
async function portFree (port: number): Promise<boolean> {
  const socket = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(port, '0.0.0.0', resolve) })
    return true
  } catch {
    return false
  } finally {
    await new Promise<void>(resolve => { socket.close(() => { resolve() }) }).catch(() => {})
  }
}

/** Ports nobody listens on (bound, then released). */
async function closedPorts (n: number): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4')
    await new Promise<void>(resolve => { s.bind(0, '127.0.0.1', resolve) })
    ports.push(s.address().port)
    await new Promise<void>(resolve => { s.close(() => { resolve() }) })
  }
  return ports
}

describe('randomPorts', () => {
  it('picks distinct ports inside the range, at most as many as the range holds', () => {
    const ports = randomPorts(2048)
    expect(new Set(ports).size).toBe(2048)
    expect(ports.every(p => Number.isInteger(p) && p >= 1024 && p <= 65535)).toBe(true)
    expect(randomPorts(50, 10, 19).sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    expect(randomPorts(0)).toEqual([])
  })
})

describe('birthday punching on loopback', () => {
  it('the socket a probe reaches wins, carries the dial, and the others are released', async () => {
    const easy = await startUdxNode()
    const hard = await startUdxNode()
    const easyAddr = udxAddr(easy)
    const attempt = hard.services.udx.birthday({ host: '127.0.0.1', port: udpPort(easyAddr) }, { sockets: 8, timeout: 5000 })
    expect(attempt.ports).toHaveLength(8)
    await attempt.punched()
    const target = attempt.ports[5]!
    const sent = await easy.services.udx.probe('127.0.0.1', { ports: [...await closedPorts(3), target] })
    expect(sent).toBe(4)
    await expect(attempt.hit).resolves.toBe(target)
    // the other seven sockets are closed
    for (const p of attempt.ports.filter(p => p !== target)) expect(await portFree(p)).toBe(true)

    // the dial leaves from the winner: the easy side sees the connection come from that port
    const conn = await hard.dial(easyAddr)
    await eventually(() => easy.getConnections(hard.peerId).length > 0)
    const inbound = easy.getConnections(hard.peerId)[0]!
    expect(udpPort(inbound.remoteAddr)).toBe(target)
    await expect(hard.services.ping.ping(easyAddr)).resolves.toBeGreaterThanOrEqual(0)

    // when that connection ends, the winner closes too
    await conn.close()
    await eventually(() => easy.getConnections(hard.peerId).length === 0)
    let free = false
    const deadline = Date.now() + 10_000
    while (!free && Date.now() < deadline) {
      free = await portFree(target)
      if (!free) await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(free).toBe(true)
  })

  it('without a probe the attempt times out and releases every socket', async () => {
    const easy = await startUdxNode()
    const hard = await startUdxNode()
    const attempt = hard.services.udx.birthday({ host: '127.0.0.1', port: udpPort(udxAddr(easy)) }, { sockets: 4, timeout: 300 })
    await expect(attempt.hit).rejects.toBeInstanceOf(UdxBirthdayTimeoutError)
    for (const p of attempt.ports) expect(await portFree(p)).toBe(true)
  })

  it('ignores probes from any other address', async () => {
    const easy = await startUdxNode()
    const stranger = await startUdxNode()
    const hard = await startUdxNode()
    const attempt = hard.services.udx.birthday({ host: '127.0.0.1', port: udpPort(udxAddr(easy)) }, { sockets: 4, timeout: 500 })
    await attempt.punched()
    await stranger.services.udx.probe('127.0.0.1', { ports: attempt.ports })
    await expect(attempt.hit).rejects.toBeInstanceOf(UdxBirthdayTimeoutError)
  })

  it('close() ends an attempt at once', async () => {
    const easy = await startUdxNode()
    const hard = await startUdxNode()
    const attempt = hard.services.udx.birthday({ host: '127.0.0.1', port: udpPort(udxAddr(easy)) }, { sockets: 4, timeout: 60_000 })
    attempt.close()
    await expect(attempt.hit).rejects.toThrow('closed')
    for (const p of attempt.ports) expect(await portFree(p)).toBe(true)
  })
})

describe('birthday sockets when binding fails part-way (out of file descriptors)', () => {
  const log = defaultLogger().forComponent('weft:test:birthday')
  /** Real sockets on 127.0.0.1; the opener fails (as bind does with EMFILE) after `limit` of them. */
  function opener (limit: number, opened: UdxEndpoint[]): () => UdxEndpoint {
    return () => {
      if (opened.length >= limit) throw new Error('EMFILE: too many open files')
      const e = new UdxEndpoint({
        host: '127.0.0.1', port: 0, family: 4, socketBufferBytes: 64 * 1024, maxConnections: 4, maxPendingInbound: 4, maxPendingInboundPerHost: 4,
        maxPendingDials: 4, maxRepliesPerSecond: 100, retryThreshold: 2, initialRetryInterval: 100, maxRetryInterval: 1000, log
      })
      opened.push(e)
      return e
    }
  }
  const remote = { host: '127.0.0.1', port: 9, family: 4 as const }

  it('goes on with the sockets it got, handing some back, when it got enough', async () => {
    const opened: UdxEndpoint[] = []
    const sockets = new BirthdaySockets(remote, 256, opener(60, opened), { timeout: 200 })
    expect(sockets.ports).toHaveLength(28) // 60 opened, 32 handed back
    await expect(sockets.hit).rejects.toBeInstanceOf(UdxBirthdayTimeoutError)
    await eventually(() => opened.every(e => e.closed))
  })

  it('gives up and closes them all when it got too few', () => {
    const opened: UdxEndpoint[] = []
    expect(() => new BirthdaySockets(remote, 256, opener(10, opened), { timeout: 200 })).toThrow('EMFILE')
    expect(opened.every(e => e.closed)).toBe(true)
  })
})

describe('the second reflector', () => {
  it('is named in every address report, and on loopback (no NAT) sees the same mapping', async () => {
    const reflector = await startUdxNode({ reflectorPort: 0 })
    const client = await startUdxNode()
    const first = await client.services.udx.observeAddress(udxAddr(reflector))
    expect(first.alternatePort).toBeGreaterThan(0)
    expect(first.alternatePort).not.toBe(udpPort(udxAddr(reflector)))
    const second = await client.services.udx.observeAddress({ host: '127.0.0.1', port: first.alternatePort })
    expect(second.port).toBe(first.port)
    expect(second.alternatePort).toBe(0)
  })

  it('is not there unless configured', async () => {
    const reflector = await startUdxNode()
    const client = await startUdxNode()
    expect((await client.services.udx.observeAddress(udxAddr(reflector))).alternatePort).toBe(0)
  })
})

describe('the public-dial gate (publicDialsNeedPunch)', () => {
  it('refuses a public UDX address nobody punched towards, and lets private ones through', async () => {
    const target = await startUdxNode()
    const gated = await startUdxNode({ publicDialsNeedPunch: true })
    // The signal is already aborted: were the gate to let the dial through, the handshake would throw
    // AbortError before its first datagram, so nothing can leave this machine either way.
    const publicAddr = multiaddr('/ip4/8.8.8.8/udp/4001/udx/p2p/12D3KooWDd5aMRTgyBjC3tPbszX8rQC1BLyVaCTyvJKUmkNMrocU')
    await expect(gated.services.udx.transport.dial(publicAddr, { signal: AbortSignal.abort() } as never)).rejects.toBeInstanceOf(UdxNotPunchedError)
    await expect(gated.services.ping.ping(udxAddr(target))).resolves.toBeGreaterThanOrEqual(0)
  })
})
