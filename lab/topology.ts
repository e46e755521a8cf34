/**
 * The NAT lab's network: six namespaces, made and removed by this module.
 *
 *            [relay] 11.23.0.10
 *               |
 *   pub: bridge br0, a router (11.23.0.1, 11.23.1.1, 11.23.2.1; the "internet";
 *        no uplink, no host link)
 *        |                         |
 *   [nat1] wan 11.23.1.21     [nat2] wan 11.23.2.22
 *          lan 10.1.0.1              lan 10.2.0.1
 *        |                         |
 *   [a] 10.1.0.2              [b] 10.2.0.2
 *
 * The relay and each NAT sit in their own /24 and `pub` routes between them,
 * so there is one router hop between the two NATs as on the internet: a
 * low-TTL punch (TTL 2) leaves the sender's NAT and expires in `pub` without
 * reaching the other NAT (see `PunchOptions.ttl` in src/udx/endpoint.ts).
 *
 * The public segment uses 11.23.0.0/16 because libp2p ignores private and
 * documentation ranges for observed addresses, DCUtR and UPnP (see the shared
 * notes). That is acceptable only because the segment exists solely inside
 * namespaces this module creates, with no route out: nothing leaves the lab.
 * Every veth is created directly inside its namespaces (`ip -n`), so nothing
 * ever appears among the host's interfaces.
 *
 * Each NAT router: IP forwarding on; FORWARD policy DROP with LAN->WAN,
 * established/related and DNAT'ed (UPnP-mapped) traffic allowed; SNAT by
 * `MASQUERADE -o wan` (always with `-o`: see the bridge pitfall in the notes),
 * plus `--random-fully` for a port-randomizing ("symmetric") NAT.
 *
 * Names are `weftlab-<pid>-<random>-<role>`, unique per run; `removeStale`
 * clears namespaces whose creating process is gone (a crashed run).
 */
import { randomBytes } from 'node:crypto'
import { run, tryRun } from './procs.js'

export type Role = 'pub' | 'relay' | 'nat1' | 'nat2' | 'a' | 'b'
export const ROLES: readonly Role[] = ['pub', 'relay', 'nat1', 'nat2', 'a', 'b']

export const ADDR = {
  relay: '11.23.0.10',
  nat1Wan: '11.23.1.21',
  nat2Wan: '11.23.2.22',
  nat1Lan: '10.1.0.1',
  a: '10.1.0.2',
  nat2Lan: '10.2.0.1',
  b: '10.2.0.2'
} as const
export const PUBLIC_PREFIX = '11.23.'
/** The router `pub` on each public /24. */
const PUB_GATEWAY = { relay: '11.23.0.1', nat1: '11.23.1.1', nat2: '11.23.2.1' } as const

export interface NatOptions {
  /** Port-randomizing SNAT (`--random-fully`). */
  symmetric: boolean
}

export interface Topology {
  readonly id: string
  readonly ns: Readonly<Record<Role, string>>
  destroy(): void
}

const PREFIX = 'weftlab-'

const ip = (...args: string[]): void => { run('ip', args) }
const inNs = (ns: string, cmd: string, ...args: string[]): void => { run('ip', ['netns', 'exec', ns, cmd, ...args]) }

export function createTopology (nat1: NatOptions, nat2: NatOptions): Topology {
  const id = `${process.pid}-${randomBytes(2).toString('hex')}`
  const ns = Object.fromEntries(ROLES.map(r => [r, `${PREFIX}${id}-${r}`])) as Record<Role, string>
  const created: string[] = []
  const destroy = (): void => {
    for (const n of created.reverse()) tryRun('ip', ['netns', 'del', n])
    created.length = 0
  }
  try {
    for (const r of ROLES) {
      ip('netns', 'add', ns[r])
      created.push(ns[r])
      ip('-n', ns[r], 'link', 'set', 'lo', 'up')
    }
    ip('-n', ns.pub, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', ns.pub, 'link', 'set', 'br0', 'up')
    for (const gw of Object.values(PUB_GATEWAY)) ip('-n', ns.pub, 'addr', 'add', `${gw}/24`, 'dev', 'br0')
    inNs(ns.pub, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
    // routing between the /24s on one bridge: no ICMP redirects (hosts must keep using the router)
    inNs(ns.pub, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.send_redirects=0')
    inNs(ns.pub, 'sysctl', '-q', '-w', 'net.ipv4.conf.br0.send_redirects=0')
    const uplink = (role: 'relay' | 'nat1' | 'nat2', ifname: string, addr: string): void => {
      ip('-n', ns[role], 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', `v-${role}`, 'netns', ns.pub)
      ip('-n', ns.pub, 'link', 'set', `v-${role}`, 'master', 'br0', 'up')
      ip('-n', ns[role], 'addr', 'add', `${addr}/24`, 'dev', ifname)
      ip('-n', ns[role], 'link', 'set', ifname, 'up')
      ip('-n', ns[role], 'route', 'add', 'default', 'via', PUB_GATEWAY[role])
    }
    uplink('relay', 'eth0', ADDR.relay)
    uplink('nat1', 'wan', ADDR.nat1Wan)
    uplink('nat2', 'wan', ADDR.nat2Wan)

    const lan = (router: Role, host: Role, routerAddr: string, hostAddr: string, opts: NatOptions): void => {
      ip('-n', ns[router], 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns[host])
      ip('-n', ns[router], 'addr', 'add', `${routerAddr}/24`, 'dev', 'lan')
      ip('-n', ns[router], 'link', 'set', 'lan', 'up')
      ip('-n', ns[host], 'addr', 'add', `${hostAddr}/24`, 'dev', 'eth0')
      ip('-n', ns[host], 'link', 'set', 'eth0', 'up')
      ip('-n', ns[host], 'route', 'add', 'default', 'via', routerAddr)
      inNs(ns[router], 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
      const ipt = (...args: string[]): void => { inNs(ns[router], 'iptables', ...args) }
      ipt('-P', 'FORWARD', 'DROP')
      ipt('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT')
      ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
      // UPnP port mappings are DNAT rules; their traffic must pass too.
      ipt('-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT')
      ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(opts.symmetric ? ['--random-fully'] : []))
    }
    lan('nat1', 'a', ADDR.nat1Lan, ADDR.a, nat1)
    lan('nat2', 'b', ADDR.nat2Lan, ADDR.b, nat2)
  } catch (err) {
    destroy()
    throw err
  }
  return { id, ns, destroy }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * Removes namespaces left by lab runs whose process is gone, after killing the
 * processes still inside them (all started by that run). Returns their names.
 */
export function removeStale (): string[] {
  let list = ''
  try { list = run('ip', ['netns', 'list']) } catch { return [] }
  const removed: string[] = []
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? ''
    const m = /^weftlab-(\d+)-[0-9a-f]+-[a-z0-9]+$/.exec(name)
    if (m === null || alive(Number(m[1]))) continue
    let pids = ''
    try { pids = run('ip', ['netns', 'pids', name]) } catch {}
    for (const pid of pids.split(/\s+/).filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
    if (tryRun('ip', ['netns', 'del', name])) removed.push(name)
  }
  return removed
}

/** Can this process make namespaces? undefined if yes, else why not. */
export function netnsUnavailable (): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root to create network namespaces'
  const probe = `${PREFIX}${process.pid}-probe-check`
  try {
    run('ip', ['netns', 'add', probe])
  } catch (err) {
    return `ip netns does not work here (${(err as Error).message.split('\n')[0]})`
  }
  tryRun('ip', ['netns', 'del', probe])
  return undefined
}
