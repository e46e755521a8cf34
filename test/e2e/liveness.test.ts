/**
 * Liveness (src/net/liveness.ts) against stock libp2p peers: a weft node
 * checks each connection with yamux PING frames, which a stock peer's muxer
 * answers, instead of libp2p's connection monitor and its ping stream per
 * connection every 10 s; and it aborts a connection whose peer stops
 * answering.
 *
 * The other side is stock js-libp2p (TCP, Noise, yamux, identify; no weft
 * code): in this process for the first test, in a process of its own for the
 * second, which freezes it with SIGSTOP, as a laptop that sleeps or a process
 * that hangs. Its kernel still acknowledges TCP then, so only an answer from
 * the peer's libp2p can tell that it is gone.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { netConstants } from '../../src/net/index.js'
import { startStockNode } from '../helpers/stock-peer.js'
import { startNode, stopAll, waitFor } from '../helpers/net-nodes.js'

afterEach(stopAll)

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const STOCK_PEER_MAIN = resolve(import.meta.dirname, '../../dist/test/helpers/stock-peer-main.js')
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('connection liveness', () => {
  it('pings a stock peer on the muxer, opening no ping stream, and keeps the connection (defaults)', async () => {
    const stock = await startStockNode({ identify: identify() })
    let pingStreams = 0
    await stock.handle(PING_PROTOCOL, stream => { pingStreams++; stream.abort(new Error('counted')) }, { runOnLimitedConnection: true })
    try {
      const x = await startNode()
      const conn = await x.node.dial(stock.getMultiaddrs()[0]!)
      // The first ping leaves one interval after start; libp2p's monitor would have opened its ping stream by then too.
      await waitFor(() => conn.rtt !== undefined, 'the first ping to be answered', netConstants.DEFAULT_LIVENESS_INTERVAL_MS + 5_000, 100)
      expect(conn.rtt).toBeGreaterThanOrEqual(0)
      expect(conn.status).toBe('open')
      expect(x.node.services.liveness.aborted).toBe(0)
      expect(pingStreams).toBe(0)
      expect(stock.getConnections(x.node.peerId).every(c => c.status === 'open')).toBe(true)
    } finally {
      await stock.stop()
    }
  }, 30_000)

  it('aborts the connection of a stock peer that stops answering (SIGSTOP), and not before', async () => {
    const child = spawn(process.execPath, [STOCK_PEER_MAIN], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', d => { stderr += String(d) })
    try {
      const addr = await new Promise<string>((resolve, reject) => {
        let out = ''
        const timer = setTimeout(() => { reject(new Error(`the stock peer did not start; stderr:\n${stderr}`)) }, 20_000)
        child.stdout.on('data', d => {
          out += String(d)
          const m = /listening (\S+)/.exec(out)
          if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
        })
        child.once('exit', code => { clearTimeout(timer); reject(new Error(`the stock peer exited with ${code}; stderr:\n${stderr}`)) })
      })
      const intervalMs = 200
      const x = await startNode({ livenessIntervalMs: intervalMs, livenessTimeoutMs: 1_000 })
      const conn = await x.node.dial(multiaddr(addr))
      await waitFor(() => conn.rtt !== undefined, 'the first ping to be answered', 10_000)
      // Ten more intervals with a peer that answers: nothing is aborted.
      await sleep(10 * intervalMs)
      expect(conn.status).toBe('open')
      expect(x.node.services.liveness.aborted).toBe(0)

      expect(child.kill('SIGSTOP')).toBe(true)
      await waitFor(() => conn.status !== 'open', 'the connection to the frozen peer to be aborted', 15_000)
      expect(x.node.services.liveness.aborted).toBe(1)
      await waitFor(() => x.node.getConnections().length === 0, 'no connection left to the frozen peer', 5_000)
    } finally {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
  }, 60_000)
})
