/**
 * One lab instance: a topology plus the processes a scenario runs in it (the
 * relay, probes, weft daemons, miniupnpd), each started through here so that
 * `close()` stops them all and removes the namespaces, whatever happened.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { run, spawnIn, tryRun, type LabProcess } from './procs.js'
import { ADDR, createTopology, PUBLIC_PREFIX, type NatOptions, type Role, type Topology } from './topology.js'

const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = {
  relay: join(ROOT, 'dist/relay/main.js'),
  weft: join(ROOT, 'dist/src/bin/weft.cjs'),
  probe: join(ROOT, 'dist/lab/probe.js'),
  stockRelay: join(ROOT, 'dist/lab/stock-relay.js')
}
/** A second relay address in the relay's namespace, for the scenarios with two relays. */
export const RELAY2_ADDR = '11.23.0.11'
export const RELAY_PORT = 4001
export const RELAY_METRICS_PORT = 9464
export const DAEMON_PORT = 4001
/** Daemon flags that add the UDX listener (the lab's daemons are started with a TCP --listen only). */
export const DAEMON_UDX = ['--listen', '/ip4/0.0.0.0/udp/4001/udx']

export interface ProbeEvent { event: string, [k: string]: unknown }

export interface Probe {
  readonly proc: LabProcess
  readonly peerId: string
  /** Waits for the next event named `name` (after any already matched by an earlier call with the same name). */
  next(name: string, timeoutMs?: number): Promise<ProbeEvent>
  events(): ProbeEvent[]
}

export interface Daemon {
  readonly role: 'a' | 'b'
  /** Device id, which is also its libp2p peer id. */
  readonly id: string
  readonly dataDir: string
  readonly proc: LabProcess
  cli(args: string[]): string
}

/** Environment for weft processes: the control socket under the data dir, nothing from the caller's weft env. */
function weftEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of ['XDG_RUNTIME_DIR', 'WEFT_DATA_DIR', 'WEFT_CONFIG', 'WEFT_RELAY_DATA_DIR', 'WEFT_RELAY_CONFIG', 'DEBUG']) delete env[k]
  return env
}

const tryRunIn = (ns: string, cmd: string, args: string[]): boolean => tryRun('ip', ['netns', 'exec', ns, cmd, ...args])

export class Lab {
  readonly topo: Topology
  readonly dir: string
  readonly #procs: LabProcess[] = []
  relay: LabProcess | undefined
  relayId = ''
  /** Stock relays (stock-relay.ts) by number: their process, peer id and address. */
  readonly stock = new Map<1 | 2, { proc: LabProcess | undefined, id: string, addr: string }>()

  constructor (nat1: NatOptions, nat2: NatOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'weftlab-'))
    try {
      this.topo = createTopology(nat1, nat2)
    } catch (err) {
      rmSync(this.dir, { recursive: true, force: true })
      throw err
    }
  }

  get relayAddr (): string { return `/ip4/${ADDR.relay}/tcp/${RELAY_PORT}/p2p/${this.relayId}` }

  #spawn (role: Role, name: string, cmd: string, args: string[]): LabProcess {
    const env = weftEnv()
    // WEFT_LAB_DEBUG=<namespaces> turns on debug logs in the lab's processes; WEFT_LAB_LOGS=<dir> keeps their stderr.
    if (process.env.WEFT_LAB_DEBUG !== undefined) env.DEBUG = process.env.WEFT_LAB_DEBUG
    const p = spawnIn(this.topo.ns[role], name, cmd, args, env)
    this.#procs.push(p)
    return p
  }

  /** Starts (or restarts, with the same data dir and so the same peer id) the relay. */
  async startRelay (extra: string[] = []): Promise<LabProcess> {
    const p = this.#spawn('relay', 'relay', process.execPath, [BIN.relay, '--data-dir', join(this.dir, 'relay'),
      '--listen', `/ip4/0.0.0.0/tcp/${RELAY_PORT}`, '--announce', `/ip4/${ADDR.relay}/tcp/${RELAY_PORT}`,
      '--metrics-port', String(RELAY_METRICS_PORT), '--log-level', 'debug', ...extra])
    const line = await p.waitForLine(/^weft-relay: metrics /, 'the relay to start', 20_000)
    const id = /peer id (\S+)/.exec(p.stdout())?.[1]
    if (id === undefined) throw new Error(`relay printed no peer id: ${line}`)
    this.relayId = id
    this.relay = p
    return p
  }

  /**
   * Starts (or restarts, same key and so the same peer id) stock relay 1
   * (at the relay's address) or 2 (at RELAY2_ADDR, added to the relay's
   * namespace): `circuitRelayServer()` with default limits, no weft code.
   */
  async startStockRelay (n: 1 | 2 = 1): Promise<string> {
    const host = n === 1 ? ADDR.relay : RELAY2_ADDR
    if (n === 2) tryRunIn(this.topo.ns.relay, 'ip', ['addr', 'add', `${RELAY2_ADDR}/24`, 'dev', 'eth0'])
    const p = this.#spawn('relay', `stock-relay-${n}`, process.execPath, [BIN.stockRelay, '--key-file', join(this.dir, `stock-relay-${n}.key`),
      '--listen', `/ip4/${host}/tcp/${RELAY_PORT}`, '--announce', `/ip4/${host}/tcp/${RELAY_PORT}`])
    await p.waitForLine(/^stock-relay: listening /, `stock relay ${n} to start`, 20_000)
    const id = /peer id (\S+)/.exec(p.stdout())?.[1]
    if (id === undefined) throw new Error(`stock relay ${n} printed no peer id`)
    const addr = `/ip4/${host}/tcp/${RELAY_PORT}/p2p/${id}`
    this.stock.set(n, { proc: p, id, addr })
    return addr
  }

  /** Stops stock relay `n` (SIGKILL: killed, as a crashed or unplugged relay). */
  async stopStockRelay (n: 1 | 2 = 1, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const r = this.stock.get(n)
    await r?.proc?.stop(signal, 1_000)
    if (r !== undefined) r.proc = undefined
  }

  async stopRelay (): Promise<number | null> {
    const code = await this.relay?.stop()
    this.relay = undefined
    return code ?? null
  }

  /** The relay's /metrics, fetched inside its namespace (the HTTP server is loopback-only). */
  relayMetrics (): string {
    return run('ip', ['netns', 'exec', this.topo.ns.relay, process.execPath, '-e',
      `fetch('http://127.0.0.1:${RELAY_METRICS_PORT}/metrics').then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(e.message); process.exit(1) })`])
  }

  metric (name: string, labels = ''): number {
    const m = new RegExp(`^${name}${labels.replace(/[{}]/g, c => `\\${c}`)} (\\S+)$`, 'm').exec(this.relayMetrics())
    return m === null ? NaN : Number(m[1])
  }

  async probe (role: 'a' | 'b', args: string[]): Promise<Probe> {
    const proc = this.#spawn(role, `probe-${role}`, process.execPath, [BIN.probe, '--relay', this.relayAddr, '--public-prefix', PUBLIC_PREFIX, ...args])
    const seen = new Map<string, number>()
    const events = (): ProbeEvent[] => proc.lines.filter(l => l.startsWith('{')).map(l => JSON.parse(l) as ProbeEvent)
    const next = async (name: string, timeoutMs = 30_000): Promise<ProbeEvent> => {
      const skip = seen.get(name) ?? 0
      let count = 0
      const line = await proc.waitForLine(l => l.startsWith(`{"event":"${name}"`) && count++ >= skip, `probe event ${name}`, timeoutMs)
      seen.set(name, skip + 1)
      return JSON.parse(line) as ProbeEvent
    }
    const ready = await next('ready', 20_000)
    return { proc, peerId: String(ready.peerId), next, events }
  }

  /** The relayed address of a peer through the lab relay. */
  circuitTo (peerId: string): string { return `${this.relayAddr}/p2p-circuit/p2p/${peerId}` }

  /** Starts (or restarts, same data dir) a daemon; `relays` replaces the lab relay. */
  async daemon (role: 'a' | 'b', extra: string[] = [], relays: string[] = [this.relayAddr]): Promise<Daemon> {
    const dataDir = join(this.dir, `weft-${role}`)
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const proc = this.#spawn(role, `weft-${role}`, process.execPath, [BIN.weft, 'start', '--data-dir', dataDir,
      '--listen', `/ip4/0.0.0.0/tcp/${DAEMON_PORT}`, ...relays.flatMap(r => ['--relay', r]), '--no-mdns', '--log-level', 'debug', ...extra])
    const line = await proc.waitForLine(/running as /, `weft daemon ${role} to start`, 30_000)
    const id = /running as (\S+?);/.exec(line)?.[1] ?? ''
    // The CLI talks to the daemon over a Unix socket in the data dir: no network, so it runs from here.
    const cli = (args: string[]): string => run(process.execPath, [BIN.weft, ...args, '--data-dir', dataDir])
    return { role, id, dataDir, proc, cli }
  }

  /** miniupnpd on a NAT router (IGDv2, nftables backend), mapping for its LAN only. */
  async miniupnpd (router: 'nat1' | 'nat2'): Promise<LabProcess> {
    const ns = this.topo.ns[router]
    const lanNet = router === 'nat1' ? '10.1.0.0/24' : '10.2.0.0/24'
    // Debian's nft_init.sh does not work as shipped (see the notes): build the tables miniupnpd expects.
    run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: `table inet miniupnpd {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
`
    })
    const conf = join(this.dir, `miniupnpd-${router}.conf`)
    writeFileSync(conf, [
      'ext_ifname=wan', 'listening_ip=lan', 'port=0', 'enable_natpmp=no', 'enable_upnp=yes', 'secure_mode=no',
      'system_uptime=yes', 'uuid=7a1c3d52-5d6e-4e8f-9a0b-1c2d3e4f5a6b',
      'upnp_table_name=miniupnpd', 'upnp_nat_table_name=miniupnpd', 'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd', 'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      `allow 1024-65535 ${lanNet} 1024-65535`, 'deny 0-65535 0.0.0.0/0 0-65535', ''
    ].join('\n'))
    const p = this.#spawn(router, 'miniupnpd', 'miniupnpd', ['-d', '-f', conf, '-P', join(this.dir, `miniupnpd-${router}.pid`)])
    // It logs to stderr in -d mode; give it a moment to bind, then check it is still up.
    await new Promise(resolve => setTimeout(resolve, 500))
    if (p.child.exitCode !== null) throw new Error(`miniupnpd exited at once: ${p.stderr().slice(-1000)}`)
    return p
  }

  /** The router's current UPnP port mappings (nft rules miniupnpd added). */
  upnpRules (router: 'nat1' | 'nat2'): string {
    return run('ip', ['netns', 'exec', this.topo.ns[router], 'nft', 'list', 'chain', 'inet', 'miniupnpd', 'prerouting_miniupnpd'])
  }

  async close (): Promise<void> {
    await Promise.all(this.#procs.map(async p => await p.stop('SIGTERM', 3_000)))
    const logs = process.env.WEFT_LAB_LOGS
    if (logs !== undefined) {
      mkdirSync(logs, { recursive: true })
      this.#procs.forEach((p, i) => { writeFileSync(join(logs, `${this.topo.id}-${i}-${p.name}.log`), p.stdout() + '\n---- stderr\n' + p.stderr()) })
    }
    this.topo.destroy()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
