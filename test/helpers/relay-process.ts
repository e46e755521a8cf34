/**
 * The real `weft-relay` binary (`dist/relay/main.js`, which `npm test` builds
 * first) as a child process on 127.0.0.1, run as its shebang runs it, for
 * tests that must see the relay from outside: through the network, its
 * /metrics page and /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const RELAY_BIN = resolve(import.meta.dirname, '../../dist/relay/main.js')

/** The node flags in the binary's shebang (`#!/usr/bin/env -S node <flags>`): running `weft-relay` applies them, so the test does too. */
export function relayNodeFlags (): string[] {
  const first = readFileSync(RELAY_BIN, 'utf8').split('\n', 1)[0] ?? ''
  const m = /^#!\/usr\/bin\/env (?:-S )?node(.*)$/.exec(first)
  if (m === null) throw new Error(`unexpected shebang in ${RELAY_BIN}: ${first}`)
  return m[1]!.trim().split(/\s+/).filter(f => f !== '')
}

export interface RelayProcess {
  readonly child: ChildProcess
  readonly peerId: string
  /** What the relay printed as its addresses (each ending in /p2p/<id>). */
  readonly addresses: string[]
  /** The loopback TCP address a client dials. */
  readonly tcpAddress: string
  readonly metricsUrl: string
  /** The /metrics page. */
  metrics(): Promise<string>
  /** One sample of a metric (`name` plus its `{labels}`, if any); NaN when absent. */
  metric(name: string, labels?: string): Promise<number>
  /** Resident set size of the relay process, from /proc/<pid>/status (VmRSS). */
  rssBytes(): number
  stderr(): string
  /** SIGTERM, wait for the exit, remove the data dir. */
  stop(): Promise<void>
}

/** Starts `weft-relay` with a fresh data dir, listening on 127.0.0.1 only (TCP on a free port, UDX next to it), metrics on a free port. */
export async function startRelayProcess (args: string[] = [], timeoutMs = 30_000): Promise<RelayProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-relay-e2e-'))
  const child = spawn(process.execPath, [...relayNodeFlags(), RELAY_BIN, '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', d => { stderr += String(d) })
  const exited = new Promise<void>(res => child.on('exit', () => { res() }))
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => { rej(new Error(`weft-relay did not start in ${timeoutMs} ms; stderr:\n${stderr}`)) }, timeoutMs)
      child.stdout!.on('data', d => {
        stdout += String(d)
        if (stdout.includes('weft-relay: metrics ')) { clearTimeout(timer); res() }
      })
      void exited.then(() => { clearTimeout(timer); rej(new Error(`weft-relay exited with ${child.exitCode} before it was ready; stderr:\n${stderr}`)) })
    })
  } catch (err) {
    child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
  const peerId = /weft-relay: peer id (\S+)/.exec(stdout)![1]!
  const addresses = [...stdout.matchAll(/weft-relay: address (\S+)/g)].map(m => m[1]!)
  const tcpAddress = addresses.find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))!
  const metricsUrl = /weft-relay: metrics (\S+)\/metrics/.exec(stdout)![1]!
  const metrics = async (): Promise<string> => await (await fetch(`${metricsUrl}/metrics`)).text()
  return {
    child,
    peerId,
    addresses,
    tcpAddress,
    metricsUrl,
    metrics,
    metric: async (name, labels = '') => {
      const line = (await metrics()).split('\n').find(l => l.startsWith(`${name}${labels} `))
      return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1))
    },
    rssBytes: () => {
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]
      if (kb === undefined) throw new Error(`no VmRSS for the relay (pid ${child.pid})`)
      return Number(kb) * 1024
    },
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(killer)
      }
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
