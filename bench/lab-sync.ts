/**
 * `npm run bench:lab-sync` (as root): how fast a weft daemon pulls a backlog
 * from a newly paired device in the NAT lab (both NATs plain MASQUERADE),
 * through the relay only (the daemons listen on TCP, which cannot punch
 * these NATs) versus with UDX (DCUtR upgrades the relayed connection).
 *
 * Per attempt and path, in a fresh topology with fresh daemons: B writes
 * `--values` incompressible values of 1,000,000 bytes through its control
 * API, the relay is restarted with B's group allowed (members get 64 MiB per
 * relayed connection instead of 128 KiB), then A joins B's group with `weft invite`/`weft join` and the clock
 * runs from the join's answer until A's version vector holds every op B
 * wrote. So the figure is what a user sees after pairing: sync sessions
 * (which start over the relayed connection and, with UDX, continue over the
 * direct one once it is up), including deflating, verifying and applying
 * every op to SQLite.
 *
 *   node dist/bench/lab-sync.js [--attempts N] [--values N] [--paths relayed,udx]
 *
 * Prints one JSON line per measurement and a summary line. Skips (exit 0)
 * where network namespaces are unavailable.
 */
import '../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { call } from '../src/cli/client.js'
import { resolvePaths } from '../src/daemon/paths.js'
import { DAEMON_UDX, Lab, type Daemon } from '../lab/lab.js'
import { addressesOf, peersOf } from '../lab/convergence.js'
import { poll, stopAllProcesses } from '../lab/procs.js'
import { netnsUnavailable, removeStale } from '../lab/topology.js'
import { median } from './util.js'

const VALUE_BYTES = 1_000_000
const COLLECTION = 'bench'
const SYNC_TIMEOUT_MS = Number(process.env.WEFT_BENCH_SYNC_TIMEOUT_MS ?? 180_000)
const HTTP_TIMEOUT_MS = 30_000
type Path = 'relayed' | 'udx'

const { values: v } = parseArgs({ options: { attempts: { type: 'string', default: '3' }, values: { type: 'string', default: '48' }, paths: { type: 'string', default: 'relayed,udx' } } })
const out = (s: string): void => { process.stdout.write(s + '\n') }
const why = netnsUnavailable()
if (why !== undefined) { out(`bench:lab-sync skipped (${why})`); process.exit(0) }
removeStale()

const attempts = Number(v.attempts)
const values = Number(v.values)
if (!Number.isInteger(attempts) || attempts < 1 || !Number.isInteger(values) || values < 1 || values > 1000) {
  out('--attempts must be a positive integer and --values an integer from 1 to 1000')
  process.exit(2)
}
const paths = (v.paths ?? '').split(',').filter((p): p is Path => p === 'relayed' || p === 'udx')

/** One request to a daemon's control API, as the CLI makes it (the lab's daemons have no XDG_RUNTIME_DIR, so the socket is under the data dir). */
async function api (d: Daemon, method: string, path: string, body?: unknown): Promise<unknown> {
  return await call(resolvePaths({ dataDir: d.dataDir }, {}).socket, method, path, { timeoutMs: HTTP_TIMEOUT_MS, ...(body === undefined ? {} : { body }) })
}

async function seqOf (d: Daemon, origin: string): Promise<number> {
  const vector = await api(d, 'GET', '/v1/vector') as Record<string, number>
  return vector[origin] ?? 0
}

async function measure (path: Path, attempt: number): Promise<Record<string, unknown>> {
  const lab = new Lab({ symmetric: false }, { symmetric: false })
  try {
    await lab.startRelay()
    const extra = path === 'udx' ? ['--no-upnp', ...DAEMON_UDX] : ['--no-upnp']
    const b = await lab.daemon('b', extra)
    for (let i = 0; i < values; i++) {
      await api(b, 'PUT', `/v1/data/${COLLECTION}/v${i}`, { fields: { blob: { $bytes: randomBytes(VALUE_BYTES).toString('base64') } } })
    }
    const target = await seqOf(b, b.id)
    // As an operator would: allow B's group on the relay (a restart keeps its
    // peer id), so that members get the group limits, not the stock 128 KiB.
    const group = (JSON.parse(b.cli(['status', '--json'])) as { group?: string | null }).group
    if (typeof group !== 'string') throw new Error('daemon B reports no group')
    await lab.stopRelay()
    await lab.startRelay(['--group', `bench=${group}`])
    const a = await lab.daemon('a', extra)
    await poll(() => addressesOf(b).some(x => x.includes('/p2p-circuit')), 'daemon B to hold a relay reservation', 60_000, 200)
    const invite = JSON.parse(b.cli(['invite', '--json'])) as { code: string }
    const t0 = Date.now()
    a.cli(['join', invite.code, '--json'])
    const joined = Date.now()
    await poll(async () => await seqOf(a, b.id) >= target, `A to hold B's ${target} ops`, SYNC_TIMEOUT_MS, 100)
    const end = Date.now()
    const peer = peersOf(a).find(p => p.peerId === b.id)
    const mib = values * VALUE_BYTES / 1024 / 1024
    // the rate counts from the join's answer: pairing itself is the same on both paths
    return {
      path,
      attempt,
      values,
      mib: Math.round(mib * 10) / 10,
      pairingMs: joined - t0,
      syncMs: end - joined,
      mibps: Math.round(mib / ((end - joined) / 1000) * 10) / 10,
      pathAtEnd: peer?.path
    }
  } finally {
    await stopAllProcesses()
    await lab.close()
  }
}

const rates: Record<Path, number[]> = { relayed: [], udx: [] }
for (let i = 1; i <= attempts; i++) {
  for (const path of i % 2 === 1 ? paths : [...paths].reverse()) {
    try {
      const row = await measure(path, i)
      rates[path].push(Number(row.mibps))
      out(JSON.stringify(row))
    } catch (err) {
      out(JSON.stringify({ path, attempt: i, error: (err as Error).message.split('\n')[0] }))
    }
  }
}
const r = rates.relayed.length > 0 ? median(rates.relayed) : undefined
const u = rates.udx.length > 0 ? median(rates.udx) : undefined
out(JSON.stringify({
  attempts,
  bytes: values * VALUE_BYTES,
  relayedMiBps: { median: r, runs: rates.relayed },
  udxMiBps: { median: u, runs: rates.udx },
  udxOverRelayed: r === undefined || u === undefined ? undefined : Math.round(u / r * 100) / 100
}))
