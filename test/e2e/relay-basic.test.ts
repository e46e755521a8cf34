/**
 * The weft relay with plain libp2p peers on 127.0.0.1: two peers reserve
 * and connect through it, /metrics and /healthz answer, and the real binary
 * stops on SIGTERM and comes back with the same peer id.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { loadRelayConfig } from '../../relay/config.js'
import { startRelay, type Relay } from '../../relay/relay-node.js'
import { startUdxNode, stopUdxNodes } from '../helpers/udx-nodes.js'
import { circuitAddress, createPeer, hasReservation, sendBytes, waitUntil, type Peer } from '../../lab/peers.js'

const RELAY_BIN = resolve(import.meta.dirname, '../../dist/relay/main.js')
const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
  await stopUdxNodes()
})

async function relay (overrides: Record<string, unknown> = {}): Promise<Relay> {
  const config = loadRelayConfig(undefined, { listen: ['/ip4/127.0.0.1/tcp/0'], metricsPort: 0, ...overrides })
  const r = await startRelay(config, { privateKey: await generateKeyPair('Ed25519') })
  cleanup.push(async () => { await r.stop() })
  return r
}

async function peer (relays: string[] = []): Promise<Peer> {
  const p = await createPeer({ relays })
  cleanup.push(async () => { await p.stop() })
  return p
}

describe('weft relay', () => {
  it('two peers reserve and connect through it; the connection is limited and carries data', async () => {
    const r = await relay()
    const addr = r.addresses()[0]!
    const b = await peer([addr])
    await waitUntil(() => hasReservation(b, r.peerId), 'B reserves on the relay')
    expect(r.node.services.relay.reservations.has(b.peerId)).toBe(true)

    const a = await peer()
    const conn = await a.dial(multiaddr(circuitAddress(addr, b)))
    expect(conn.limits).toBeDefined()
    expect(conn.remoteAddr.toString()).toContain('/p2p-circuit')
    const res = await sendBytes(conn, 32 * 1024)
    expect(res.error).toBeUndefined()
    expect(res.acked).toBe(32 * 1024)

    const metrics = await (await fetch(`${r.http!.url}/metrics`)).text()
    expect(metrics).toContain('weft_relay_reservations_active{class="stranger"} 1')
    expect(metrics).toContain('weft_relay_connections_total{limits="default"} 1')
    const bytes = Number(/^weft_relay_bytes_total (\d+)$/m.exec(metrics)?.[1])
    expect(bytes).toBeGreaterThan(32 * 1024)
  })

  it('tells a UDX client its mapping on two ports, the second named in the first answer', async () => {
    const r = await relay()
    const udxAddr = r.addresses().find(a => a.includes('/udx/'))
    expect(udxAddr).toBeDefined()
    const client = await startUdxNode()
    const first = await client.services.udx.observeAddress(multiaddr(udxAddr!))
    expect(first.alternatePort).toBeGreaterThan(0)
    const second = await client.services.udx.observeAddress({ host: '127.0.0.1', port: first.alternatePort })
    // no NAT on loopback: the same mapping on both ports ('independent')
    expect(second.port).toBe(first.port)
  })

  it('answers /healthz and /metrics on loopback, and 404 elsewhere', async () => {
    const r = await relay()
    const health = await fetch(`${r.http!.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.text()).toMatch(/^ok/)
    const metrics = await fetch(`${r.http!.url}/metrics`)
    expect(metrics.headers.get('content-type')).toContain('text/plain')
    const text = await metrics.text()
    for (const name of ['weft_relay_reservations_active', 'weft_relay_reservations_refused_total', 'weft_relay_connections_total', 'weft_relay_bytes_total', 'weft_relay_uptime_seconds']) {
      expect(text).toContain(`# TYPE ${name} `)
    }
    expect((await fetch(`${r.http!.url}/other`)).status).toBe(404)
    expect(r.http!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('refuses reservations past maxReservations and counts them', async () => {
    const r = await relay({ maxReservations: 1 })
    const addr = r.addresses()[0]!
    const first = await peer([addr])
    await waitUntil(() => hasReservation(first, r.peerId), 'first reservation')
    await peer([addr])
    await waitUntil(() => r.stats.reservationsRefused.full >= 1, 'a refused reservation')
    expect(r.node.services.relay.reservations.size).toBe(1)
  })

  it('the binary: SIGTERM stops it cleanly; a restart keeps the peer id; the key file is 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-relay-'))
    cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
    const run = async (): Promise<{ id: string, stop: () => Promise<{ code: number | null, stderr: string }> }> => {
      const child = spawn(process.execPath, [RELAY_BIN, '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stderr.on('data', d => { stderr += String(d) })
      const exited = new Promise<number | null>(res => child.on('exit', (code, sig) => { stderr += `[exit code=${code} signal=${sig}]`; res(code) }))
      cleanup.push(() => { if (child.exitCode === null) child.kill('SIGKILL') })
      const id = await new Promise<string>((res, rej) => {
        const timer = setTimeout(() => { rej(new Error(`relay did not start; stderr:\n${stderr}`)) }, 20_000)
        child.stdout.on('data', d => {
          stdout += String(d)
          const m = /peer id (\S+)/.exec(stdout)
          if (m !== null && stdout.includes('metrics ')) { clearTimeout(timer); res(m[1]!) }
        })
        void exited.then(code => { clearTimeout(timer); rej(new Error(`relay exited with ${code}; stderr:\n${stderr}`)) })
      })
      return { id, stop: async () => { child.kill('SIGTERM'); return { code: await exited, stderr } } }
    }
    const first = await run()
    expect((statSync(join(dir, 'relay.key')).mode & 0o777).toString(8)).toBe('600')
    const stopped = await first.stop()
    expect(stopped.stderr).toContain('stopped')
    expect(stopped.code).toBe(0)
    const second = await run()
    expect(second.id).toBe(first.id)
    const again = await second.stop()
    expect(again.stderr).toContain('stopped')
    expect(again.code).toBe(0)
  })
})
