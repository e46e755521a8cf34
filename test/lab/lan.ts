/**
 * A LAN in network namespaces for the partition scenarios: N hosts on one
 * bridge (10.77.0.0/24), each with a multicast route so mDNS works between
 * them (see the shared notes: without one, mDNS sends fail silently), and no
 * route anywhere else: nothing leaves the lab. A host is cut off by taking
 * its link down (`ip link set eth0 down`), which also drops its routes;
 * healing brings the link up and restores the multicast route.
 *
 *   [lan] bridge br0 -- h1 10.77.0.11, h2 10.77.0.12, h3 10.77.0.13 ...
 *
 * Daemons run with mDNS on (the default) and no relay: they find each other
 * on the LAN and pair with `weft invite` / `weft join` as users do.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { call } from '../../src/cli/client.js'
import { resolvePaths } from '../../src/daemon/paths.js'
import { BIN } from '../../lab/lab.js'
import { run, spawnIn, tryRun, type LabProcess } from '../../lab/procs.js'

const PREFIX = 'weftlab-'
const SUBNET = '10.77.0'
export const LAN_DAEMON_PORT = 4001
const API_TIMEOUT_MS = 30_000

export interface LanDaemon {
  readonly name: string
  readonly host: number
  readonly id: string
  readonly dataDir: string
  readonly proc: LabProcess
  /** One control API request (the socket is a file: no network needed). */
  api(method: string, path: string, body?: unknown): Promise<unknown>
  cli(args: string[]): string
}

function weftEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of ['XDG_RUNTIME_DIR', 'WEFT_DATA_DIR', 'WEFT_CONFIG', 'DEBUG']) delete env[k]
  if (process.env.WEFT_LAB_DEBUG !== undefined) env.DEBUG = process.env.WEFT_LAB_DEBUG
  return env
}

export class LanLab {
  readonly id = `${process.pid}-${randomBytes(2).toString('hex')}`
  readonly dir = mkdtempSync(join(tmpdir(), 'weftlan-'))
  readonly bridge: string
  readonly hosts: string[]
  readonly #procs: LabProcess[] = []
  readonly #created: string[] = []

  constructor (n: number) {
    this.bridge = `${PREFIX}${this.id}-lan`
    this.hosts = Array.from({ length: n }, (_, i) => `${PREFIX}${this.id}-h${i + 1}`)
    try {
      for (const ns of [this.bridge, ...this.hosts]) {
        run('ip', ['netns', 'add', ns])
        this.#created.push(ns)
        run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
      }
      run('ip', ['-n', this.bridge, 'link', 'add', 'br0', 'type', 'bridge'])
      run('ip', ['-n', this.bridge, 'link', 'set', 'br0', 'up'])
      this.hosts.forEach((ns, i) => {
        run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i + 1}`, 'netns', this.bridge])
        run('ip', ['-n', this.bridge, 'link', 'set', `v${i + 1}`, 'master', 'br0', 'up'])
        run('ip', ['-n', ns, 'addr', 'add', `${this.addr(i + 1)}/24`, 'dev', 'eth0'])
        run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
        run('ip', ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      })
    } catch (err) {
      this.destroy()
      throw err
    }
  }

  addr (host: number): string { return `${SUBNET}.${10 + host}` }

  /** Takes host `host`'s only link down: it is cut off from the LAN (its routes go with it). */
  cut (host: number): void { run('ip', ['-n', this.hosts[host - 1]!, 'link', 'set', 'eth0', 'down']) }

  /** Brings the link back up and restores the multicast route the kernel dropped with it. */
  heal (host: number): void {
    const ns = this.hosts[host - 1]!
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
    run('ip', ['-n', ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0'])
  }

  /** Starts (or restarts, same data dir) a daemon on host `host`, mDNS on. */
  async daemon (host: number, name = `h${host}`): Promise<LanDaemon> {
    const dataDir = join(this.dir, `weft-${name}`)
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const proc = spawnIn(this.hosts[host - 1]!, `weft-${name}`, process.execPath, [BIN.weft, 'start', '--data-dir', dataDir,
      '--listen', `/ip4/0.0.0.0/tcp/${LAN_DAEMON_PORT}`, '--no-upnp', '--device-name', name, '--log-level', 'debug'], weftEnv())
    this.#procs.push(proc)
    const line = await proc.waitForLine(/running as /, `weft daemon ${name} to start`, 30_000)
    const id = /running as (\S+?);/.exec(line)?.[1] ?? ''
    const socket = resolvePaths({ dataDir }, {}).socket
    return {
      name,
      host,
      id,
      dataDir,
      proc,
      api: async (method, path, body) => await call(socket, method, path, { timeoutMs: API_TIMEOUT_MS, ...(body === undefined ? {} : { body }) }),
      cli: args => run(process.execPath, [BIN.weft, ...args, '--data-dir', dataDir], { timeoutMs: 60_000 })
    }
  }

  async close (): Promise<void> {
    await Promise.all(this.#procs.map(async p => await p.stop('SIGTERM', 3_000)))
    const logs = process.env.WEFT_LAB_LOGS
    if (logs !== undefined) {
      mkdirSync(logs, { recursive: true })
      this.#procs.forEach((p, i) => { writeFileSync(join(logs, `lan-${this.id}-${i}-${p.name}.log`), p.stdout() + '\n---- stderr\n' + p.stderr()) })
    }
    this.destroy()
    rmSync(this.dir, { recursive: true, force: true })
  }

  destroy (): void {
    for (const ns of this.#created.reverse()) tryRun('ip', ['netns', 'del', ns])
    this.#created.length = 0
  }
}
