/**
 * `npm run bench:lab-relay` (as root): sync through a relay between two weft
 * daemons behind NATs (the lab's plain MASQUERADE topology, TCP only, so the
 * relay is the only path), for three workloads, through two relays:
 *
 *   stock  a stock js-libp2p circuit relay v2 with its default limits (each
 *          relayed connection cut after 128 KiB, both directions, or 2 min):
 *          what a device meets on a relay it does not run
 *   weft   weft-relay with the group allowed (member limits: 64 MiB, 30 min)
 *
 * Workloads: 20,000 small ops (200 rows of 100 fields), 48 incompressible
 * values of 100,000 bytes, 3 of 1,000,000 bytes. Per run, in a fresh
 * topology with fresh daemons: B writes the workload through its control API,
 * A joins B's group with weft invite / weft join, and the clock runs from the
 * join's answer until A's version vector holds every op B wrote.
 *
 * Besides the time, each run counts the sessions A ran with B and how many
 * a cut ended (CLOSED: the relay's limit), and the resume gap: from the end
 * of a cut session to the start of the next one (redial, stream, hello),
 * read from A's log.
 *
 *   node dist/bench/lab-relay.js [--attempts N] [--relays stock,weft] [--workloads ops,v100k,v1m]
 *
 * Prints one JSON line per run and a summary table. Skips (exit 0) where
 * network namespaces are unavailable.
 */
import '../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { call } from '../src/cli/client.js'
import { resolvePaths } from '../src/daemon/paths.js'
import { Lab, type Daemon } from '../lab/lab.js'
import { addressesOf } from '../lab/convergence.js'
import { poll, stopAllProcesses } from '../lab/procs.js'
import { netnsUnavailable, removeStale } from '../lab/topology.js'
import { median, percentile } from './util.js'

type RelayKind = 'stock' | 'weft'
type Workload = 'ops' | 'v100k' | 'v1m'
const SYNC_TIMEOUT_MS = Number(process.env.WEFT_BENCH_SYNC_TIMEOUT_MS ?? 600_000)
const HTTP_TIMEOUT_MS = 60_000

const WORKLOADS: Record<Workload, { label: string, write: (api: Api) => Promise<void> }> = {
  ops: {
    label: '20,000 ops (200 rows x 100 fields)',
    write: async api => {
      for (let r = 0; r < 200; r++) {
        const fields: Record<string, unknown> = {}
        for (let f = 0; f < 100; f++) fields[`f${f}`] = `row ${r} field ${f}`
        await api('PUT', `/v1/data/bench/r${r}`, { fields })
      }
    }
  },
  v100k: { label: '48 values of 100,000 bytes', write: async api => { await values(api, 48, 100_000) } },
  v1m: { label: '3 values of 1,000,000 bytes', write: async api => { await values(api, 3, 1_000_000) } }
}

async function values (api: Api, n: number, bytes: number): Promise<void> {
  for (let i = 0; i < n; i++) await api('PUT', `/v1/data/bench/v${i}`, { fields: { blob: { $bytes: randomBytes(bytes).toString('base64') } } })
}

const { values: v } = parseArgs({ options: { attempts: { type: 'string', default: '1' }, relays: { type: 'string', default: 'stock,weft' }, workloads: { type: 'string', default: 'ops,v100k,v1m' } } })
const out = (s: string): void => { process.stdout.write(s + '\n') }
const why = netnsUnavailable()
if (why !== undefined) { out(`bench:lab-relay skipped (${why})`); process.exit(0) }
removeStale()
const attempts = Number(v.attempts)
const relays = (v.relays ?? '').split(',').filter((r): r is RelayKind => r === 'stock' || r === 'weft')
const workloads = (v.workloads ?? '').split(',').filter((w): w is Workload => w in WORKLOADS)
if (!Number.isInteger(attempts) || attempts < 1 || relays.length === 0 || workloads.length === 0) {
  out('--attempts must be a positive integer; --relays a list of stock, weft; --workloads a list of ops, v100k, v1m')
  process.exit(2)
}

type Api = (method: string, path: string, body?: unknown) => Promise<unknown>
const apiOf = (d: Daemon): Api => {
  const socket = resolvePaths({ dataDir: d.dataDir }, {}).socket
  return async (method, path, body) => await call(socket, method, path, { timeoutMs: HTTP_TIMEOUT_MS, ...(body === undefined ? {} : { body }) })
}

/** A's sessions with B from its JSON log: end time, duration, and whether a cut ended it. */
function sessionsOf (a: Daemon, peer: string, since: number): Array<{ end: number, ms: number, cut: boolean }> {
  const out: Array<{ end: number, ms: number, cut: boolean }> = []
  for (const line of a.proc.stderr().split('\n')) {
    if (!line.startsWith('{')) continue
    let e: Record<string, any>
    try { e = JSON.parse(line) } catch { continue }
    if ((e.msg !== 'sync session' && e.msg !== 'sync session failed') || e.peer !== peer || typeof e.ms !== 'number') continue
    const end = Date.parse(e.time)
    if (end < since) continue
    out.push({ end, ms: e.ms, cut: e.code === 'CLOSED' })
  }
  return out.sort((x, y) => x.end - y.end)
}

async function measure (relay: RelayKind, workload: Workload, attempt: number): Promise<Record<string, unknown>> {
  const lab = new Lab({ symmetric: false }, { symmetric: false })
  try {
    const relayAddr = relay === 'stock' ? await lab.startStockRelay(1) : (await lab.startRelay(), lab.relayAddr)
    const b = await lab.daemon('b', ['--no-upnp'], [relayAddr])
    const apiB = apiOf(b)
    await WORKLOADS[workload].write(apiB)
    const target = (await apiB('GET', '/v1/vector') as Record<string, number>)[b.id]!
    if (relay === 'weft') {
      // As an operator would: allow B's group on the relay (a restart keeps its peer id), so members get the group limits.
      const group = (JSON.parse(b.cli(['status', '--json'])) as { group?: string | null }).group
      if (typeof group !== 'string') throw new Error('daemon B reports no group')
      await lab.stopRelay()
      await lab.startRelay(['--group', `bench=${group}`])
    }
    const a = await lab.daemon('a', ['--no-upnp'], [relayAddr])
    const apiA = apiOf(a)
    await poll(() => addressesOf(b).some(x => x.includes('/p2p-circuit')), 'daemon B to hold a relay reservation', 60_000, 200)
    const invite = JSON.parse(b.cli(['invite', '--json'])) as { code: string }
    a.cli(['join', invite.code, '--json'])
    const joined = Date.now()
    await poll(async () => ((await apiA('GET', '/v1/vector') as Record<string, number>)[b.id] ?? 0) >= target, `A to hold B's ${target} ops`, SYNC_TIMEOUT_MS, 100)
    const syncMs = Date.now() - joined
    const sessions = sessionsOf(a, b.id, joined)
    const gaps: number[] = []
    for (let i = 1; i < sessions.length; i++) {
      if (sessions[i - 1]!.cut) gaps.push(Math.max(0, (sessions[i]!.end - sessions[i]!.ms) - sessions[i - 1]!.end))
    }
    return {
      relay,
      workload,
      attempt,
      ops: target,
      syncMs,
      sessions: sessions.length,
      cut: sessions.filter(s => s.cut).length,
      resumeGapMs: gaps.length === 0
        ? null
        : {
            median: Math.round(median(gaps)),
            p90: Math.round(percentile(gaps, 90)),
            max: Math.round(Math.max(...gaps)),
            n: gaps.length,
            all: gaps.map(g => Math.round(g))
          }
    }
  } finally {
    await stopAllProcesses()
    await lab.close()
  }
}

const results: Array<Record<string, any>> = []
for (let i = 1; i <= attempts; i++) {
  for (const workload of workloads) {
    for (const relay of i % 2 === 1 ? relays : [...relays].reverse()) {
      try {
        const row = await measure(relay, workload, i)
        results.push(row)
        out(JSON.stringify(row))
      } catch (err) {
        out(JSON.stringify({ relay, workload, attempt: i, error: (err as Error).message.split('\n')[0] }))
      }
    }
  }
}

out('')
out(`${'workload'.padEnd(36)} ${relays.map(r => `${r === 'stock' ? 'stock relay (128 KiB/conn)' : 'weft-relay (member limits)'}`.padEnd(34)).join(' ')}`)
for (const w of workloads) {
  const cells = relays.map(r => {
    const rs = results.filter(x => x.workload === w && x.relay === r)
    if (rs.length === 0) return 'failed'.padEnd(34)
    const s = median(rs.map(x => x.syncMs)) / 1000
    const gaps = rs.map(x => x.resumeGapMs?.median).filter((g): g is number => typeof g === 'number')
    return `${s.toFixed(1)} s${rs.length > 1 ? ` (${rs.map(x => (x.syncMs / 1000).toFixed(1)).join('/')})` : ''}, ${rs[0]!.cut} cuts${gaps.length > 0 ? `, resume ${Math.round(median(gaps))} ms` : ''}`.padEnd(34)
  })
  out(`${WORKLOADS[w].label.padEnd(36)} ${cells.join(' ')}`)
}
