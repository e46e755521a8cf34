/**
 * Lab scenarios for devices finding each other again after a network cut or
 * a restart, and for sync through stock-limited relays:
 *
 * 8. partition-heal: three daemons on one LAN (mDNS on, inside namespaces);
 *    one is cut off for 60 s by taking its link down while both sides write,
 *    5 rounds; after each heal all three must converge within 15 s (the heal
 *    times are printed).
 * 9. stock-relay-restarts: two daemons behind NATs that reach each other only
 *    through a stock js-libp2p relay with its default limits (128 KiB and 2
 *    minutes per relayed connection); restart one, the other, then both:
 *    each time they reconnect (from their peer books) and converge within 30 s.
 * 10. stock-relay-failover: the same daemons with two stock relays; the relay
 *    carrying a sync of large values is killed mid-sync and the sync
 *    completes through the other.
 */
import { randomBytes } from 'node:crypto'
import { call } from '../../src/cli/client.js'
import { resolvePaths } from '../../src/daemon/paths.js'
import { addressesOf, peersOf, requireNetwork } from '../../lab/convergence.js'
import type { Daemon, Lab } from '../../lab/lab.js'
import { LanLab, type LanDaemon } from './lan.js'
import { poll, sleep } from '../../lab/procs.js'
import type { Check, Scenario } from './scenarios.js'

/** A scenario that builds its own namespaces (not the NAT topology). */
export interface OwnTopologyScenario {
  name: string
  summary: string
  ownTopology: true
  /** Seconds before the runner gives up on it (default 300). */
  deadlineS?: number
  run(check: Check): Promise<void>
}

const PLAIN = { symmetric: false }
/** WEFT_LAB_CUT_MS and WEFT_LAB_ROUNDS shorten the partition scenario for a quick look. */
const CUT_MS = Number(process.env.WEFT_LAB_CUT_MS ?? 60_000)
const ROUNDS = Number(process.env.WEFT_LAB_ROUNDS ?? 5)
const HEAL_TARGET_MS = 15_000
const RESTART_TARGET_MS = 30_000
/** Converge bounds beyond the targets, so that a miss still prints its figure. */
const CONVERGE_BOUND_MS = 120_000

function expect (cond: boolean, message: string): void {
  if (!cond) throw new Error(message)
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]! }
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

type Api = (method: string, path: string, body?: unknown) => Promise<unknown>

function apiOf (d: Daemon): Api {
  const socket = resolvePaths({ dataDir: d.dataDir }, {}).socket
  return async (method, path, body) => await call(socket, method, path, { timeoutMs: 30_000, ...(body === undefined ? {} : { body }) })
}

async function put (api: Api, key: string, fields: Record<string, unknown>): Promise<void> {
  await api('PUT', `/v1/data/lab/${encodeURIComponent(key)}`, { fields })
}

/** Polls until every daemon reports the same version vector; returns how long it took. */
async function converge (apis: Api[], timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now()
  let last = ''
  await poll(async () => {
    const vectors = await Promise.all(apis.map(async api => JSON.stringify(Object.entries(await api('GET', '/v1/vector') as Record<string, number>).sort())))
    last = vectors.join(' | ')
    return vectors.every(v => v === vectors[0])
  }, what, timeoutMs, 100).catch((err: Error) => { throw new Error(`${err.message}; vectors: ${last}`) })
  return Date.now() - t0
}

// ---- 8. partition healing on a LAN

async function partitionHeal (check: Check): Promise<void> {
  const lab = new LanLab(3)
  try {
    const d: LanDaemon[] = []
    const ok = await check('three daemons on one LAN (mDNS on) pair with weft invite / weft join and converge', async () => {
      for (let h = 1; h <= 3; h++) d.push(await lab.daemon(h))
      for (const joiner of d.slice(1)) {
        const invite = JSON.parse(d[0]!.cli(['invite', '--json'])) as { code: string }
        joiner.cli(['join', invite.code, '--json'])
      }
      for (const x of d) await put(x.api, `start-${x.name}`, { by: x.name })
      const ms = await converge(d.map(x => x.api), CONVERGE_BOUND_MS, 'first convergence of three')
      return `converged ${seconds(ms)} after the last write`
    })
    if (!ok) return
    const heals: number[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      await check(`round ${round}: h3 cut off for ${CUT_MS / 1000} s while both sides write; all three converge within ${HEAL_TARGET_MS / 1000} s of the heal`, async () => {
        lab.cut(3)
        const end = Date.now() + CUT_MS
        let writes = 0
        while (Date.now() < end) {
          // both sides of the cut write (h3 alone, h1 and h2 together)
          await put(d[0]!.api, `r${round}-h1-${writes}`, { round, i: writes })
          await put(d[2]!.api, `r${round}-h3-${writes}`, { round, i: writes })
          if (writes % 3 === 0) await put(d[1]!.api, `r${round}-h2-${writes}`, { round, i: writes })
          writes++
          await sleep(2_000)
        }
        lab.heal(3)
        const ms = await converge(d.map(x => x.api), CONVERGE_BOUND_MS, `convergence after heal ${round}`)
        heals.push(ms)
        expect(ms <= HEAL_TARGET_MS, `converged ${seconds(ms)} after the heal, over the ${HEAL_TARGET_MS / 1000} s target`)
        return `converged ${seconds(ms)} after the link came back (${writes} writes on each side of the cut)`
      })
    }
    await check('heal times', async () => {
      expect(heals.length === ROUNDS, `${heals.length} of ${ROUNDS} rounds measured`)
      return `heal to convergence: ${heals.map(seconds).join(', ')} (median ${seconds(median(heals))}, max ${seconds(Math.max(...heals))})`
    })
  } finally {
    await lab.close()
  }
}

// ---- 9. restarts through a stock relay

/** Pairs B (inviter) and A (joiner) through the lab's relays, both listening on TCP only (relay-only between the NATs). */
async function pairThroughRelays (lab: Lab, relays: string[]): Promise<[Daemon, Daemon]> {
  const b = await lab.daemon('b', ['--no-upnp'], relays)
  const a = await lab.daemon('a', ['--no-upnp'], relays)
  requireNetwork([a, b])
  await poll(() => addressesOf(b).some(x => x.includes('/p2p-circuit')), 'daemon B to hold a relay reservation', 30_000, 200)
  const invite = JSON.parse(b.cli(['invite', '--json'])) as { code: string }
  a.cli(['join', invite.code, '--json'])
  return [a, b]
}

async function stockRelayRestarts (lab: Lab, check: Check): Promise<void> {
  const relay = await lab.startStockRelay(1)
  let pair: [Daemon, Daemon] | undefined
  await check('weft daemons pair through a stock relay (default limits) and converge', async () => {
    pair = await pairThroughRelays(lab, [relay])
    const apis = pair.map(apiOf)
    for (const [i, api] of apis.entries()) await put(api, `paired-${i}`, { i })
    const ms = await converge(apis, CONVERGE_BOUND_MS, 'convergence after pairing')
    const path = String(peersOf(pair[0]).find(p => p.peerId === pair![1].id)?.path)
    expect(path.startsWith('relayed'), `A's path to B is ${path}, expected relayed`)
    return `converged ${seconds(ms)} after the writes; path ${path.slice(0, 24)}…`
  })
  if (pair === undefined) return
  let [a, b] = pair
  const times: string[] = []
  const restart = async (which: 'a' | 'b' | 'both', round: number): Promise<string> => {
    const roles = which === 'both' ? ['a', 'b'] as const : [which]
    for (const r of roles) await (r === 'a' ? a : b).proc.stop()
    // the one still running writes while the other is down
    if (which !== 'both') await put(apiOf(which === 'a' ? b : a), `down-${round}`, { round })
    await sleep(2_000)
    const t0 = Date.now()
    for (const r of roles) {
      const d = await lab.daemon(r, ['--no-upnp'], [relay])
      if (r === 'a') a = d
      else b = d
    }
    for (const r of roles) await put(apiOf(r === 'a' ? a : b), `back-${round}-${r}`, { round })
    const ms = await converge([a, b].map(apiOf), CONVERGE_BOUND_MS, `convergence after restarting ${which}`)
    const total = Date.now() - t0
    times.push(`${which} ${seconds(total)}`)
    expect(total <= RESTART_TARGET_MS, `reconnected and converged ${seconds(total)} after the restart, over the ${RESTART_TARGET_MS / 1000} s target`)
    return `reconnected and converged ${seconds(total)} after the restart began (${seconds(ms)} after the last write); nothing configured but the relay`
  }
  await check('restart A: it dials B from its peer book through the relay and they converge within 30 s', async () => await restart('a', 1))
  await check('restart B: it dials A from its peer book through the relay and they converge within 30 s', async () => await restart('b', 2))
  await check('restart both: they find each other again and converge within 30 s', async () => await restart('both', 3))
  await check('restart times', async () => times.join(', '))
  await a.proc.stop(); await b.proc.stop()
}

// ---- 10. relay failover

async function stockRelayFailover (lab: Lab, check: Check): Promise<void> {
  const r1 = await lab.startStockRelay(1)
  const r2 = await lab.startStockRelay(2)
  let pair: [Daemon, Daemon] | undefined
  await check('weft daemons with two stock relays pair and hold a reservation on each', async () => {
    pair = await pairThroughRelays(lab, [r1, r2])
    await poll(() => pair!.every(d => addressesOf(d).filter(x => x.includes('/p2p-circuit')).length === 2), 'reservations on both relays', 30_000, 200)
    return 'both daemons advertise a circuit through each relay'
  })
  if (pair === undefined) return
  const [a, b] = pair
  await check('a stock relay killed mid-sync: sync of 40 values of 100 KB completes through the other relay', async () => {
    const [apiA, apiB] = [a, b].map(apiOf) as [Api, Api]
    for (let i = 0; i < 40; i++) await put(apiB, `big-${i}`, { blob: { $bytes: randomBytes(100_000).toString('base64') } })
    const target = (await apiB('GET', '/v1/vector') as Record<string, number>)[b.id]!
    const seqOnA = async (): Promise<number> => (await apiA('GET', '/v1/vector') as Record<string, number>)[b.id] ?? 0
    const start = await seqOnA()
    // kill the relay A reaches B through, once part of the values arrived
    await poll(async () => await seqOnA() >= start + 8, 'the first values to arrive', 120_000, 200)
    const before = String(peersOf(a).find(p => p.peerId === b.id)?.path)
    const killed = before.includes(lab.stock.get(2)!.id) ? 2 : 1
    await lab.stopStockRelay(killed, 'SIGKILL')
    const atKill = await seqOnA()
    const t0 = Date.now()
    await poll(async () => await seqOnA() >= target, `A to hold all of B's ops after relay ${killed} died`, CONVERGE_BOUND_MS, 200)
    const other = lab.stock.get(killed === 1 ? 2 : 1)!.id
    const after = String(peersOf(a).find(p => p.peerId === b.id)?.path)
    expect(!after.includes(lab.stock.get(killed)!.id), `A's path after the kill still names relay ${killed}: ${after}`)
    return `relay ${killed} killed at seq ${atKill}/${target} (path was ${before.slice(0, 28)}…); the rest arrived ${seconds(Date.now() - t0)} later through relay ${other.slice(-8)} (path ${after.slice(0, 28)}…)`
  })
  await a.proc.stop(); await b.proc.stop()
}

export const RECONNECT_SCENARIOS: Array<Scenario | OwnTopologyScenario> = [
  { name: 'partition-heal', summary: 'three daemons on one LAN, mDNS on; one cut off for 60 s, 5 rounds; converge within 15 s of each heal', ownTopology: true, deadlineS: 720, run: partitionHeal },
  { name: 'stock-relay-restarts', summary: 'relay-only daemons through a stock relay (default limits); restart A, B, both: converge within 30 s', nat1: PLAIN, nat2: PLAIN, run: stockRelayRestarts },
  { name: 'stock-relay-failover', summary: 'two stock relays; the one carrying a sync is killed mid-sync; sync completes through the other', nat1: PLAIN, nat2: PLAIN, run: stockRelayFailover }
]
