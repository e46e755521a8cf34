/**
 * Declared tables and queries (`npm run bench` runs it after the core bench):
 *
 *   indexed query     a declared collection of 1,000,000 rows (one indexed
 *                     field, 10 rows per value); `SELECT … WHERE ip = ?` through
 *                     `db.query`, p50 and p99 over many keys, and the same
 *                     question answered with `list` + a filter in JS (every
 *                     row read), side by side.
 *                     Then the table is rebuilt from the merged state (what a
 *                     schema change costs).
 *   remote apply      the core bench's 100,000 remote ops (4 origins) into a
 *                     replica where their collections are declared (2
 *                     indexes) and into one where they are not, alternating,
 *                     in the same run: ops/s each and the ratio per run.
 *   live query        two processes on loopback; B holds a live query of the
 *                     newest event A wrote; from A's write call to the first
 *                     result on B that includes it (same CLOCK_MONOTONIC in
 *                     both): p50, p99.
 *
 * Targets: indexed query p50 < 2 ms; declared apply >= 70 % of undeclared;
 * live query p50 < 20 ms. Run alone: `node dist/bench/query.js
 * [--rows=1000000] [--runs=5] [--list-runs=1] [--writes=300] [--only=query,apply,live]`.
 */
import '../src/polyfill.js'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { openReplica, type EncodedOp } from '../src/index.js'
import type { CollectionSchema } from '../src/store/tables/index.js'
import { makeRemoteWorkload } from './core.js'
import { fmt, median, percentile, row, seconds, tempDir } from './util.js'

export interface QueryBenchOptions {
  /** Rows in the declared collection the indexed query runs on. @default 1_000_000 */
  rows?: number
  /** Runs of the remote-apply comparison (each applies the ops twice, declared and not). @default 5 */
  runs?: number
  /** Runs of list + filter over every row (about a minute each over 1,000,000 rows here). @default 1 */
  listRuns?: number
  /** Single writes timed for the live query. @default 300 */
  writes?: number
  /** Which parts to run. @default ['query', 'apply', 'live'] */
  only?: Array<'query' | 'apply' | 'live'>
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6

const ATTACKS: Record<string, CollectionSchema> = {
  attacks: { version: 1, fields: { ip: 'text' }, indexes: [['ip']] }
}

/** 1,000,000 rows: 100,000 IPs, 10 rows each. */
function ipOf (i: number): string { return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }

async function indexedQuery (
  rows: number,
  listRuns: number
): Promise<{ p50: number, p99: number, listMs: number[], matches: number, buildSeconds: number, rebuildSeconds: number }> {
  const t = tempDir('query')
  const db = openReplica({ dir: t.dir, schemas: ATTACKS })
  try {
    const ips = Math.max(1, Math.floor(rows / 10))
    const start = process.hrtime.bigint()
    const perBatch = 10_000 // one op per row: the most one batch may hold
    for (let done = 0; done < rows;) {
      const n = Math.min(perBatch, rows - done)
      db.batch(w => { for (let i = 0; i < n; i++) w.put('attacks', `a${String(done + i).padStart(8, '0')}`, { ip: ipOf((done + i) % ips) }) })
      done += n
    }
    const buildSeconds = seconds(start)
    const sql = 'SELECT key, ip FROM attacks WHERE ip = ?'
    db.query(sql, [ipOf(0)]) // prepared once, as an app would
    const times: number[] = []
    let matches = 0
    for (let i = 0; i < 2_000; i++) {
      const ip = ipOf((i * 7919) % ips)
      const t0 = now()
      const r = db.query(sql, [ip])
      times.push(now() - t0)
      matches = r.rows.length
    }
    // The same question without a table: every row through list, filtered in JS.
    const listMs: number[] = []
    for (let run = 0; run < listRuns; run++) {
      const ip = ipOf((run * 104_729) % ips)
      const t0 = now()
      const found: unknown[] = []
      let after: string | undefined
      for (;;) {
        const page = db.list('attacks', { limit: 10_000, ...(after === undefined ? {} : { after }) })
        for (const r of page) if (r.fields.ip === ip) found.push(r)
        if (page.length < 10_000) break
        after = page[page.length - 1]!.key
      }
      listMs.push(now() - t0)
      if (found.length !== matches) throw new Error(`list + filter found ${found.length} rows, the query ${matches}`)
    }
    // What a schema change costs on this table: a rebuild from the merged state.
    const r0 = process.hrtime.bigint()
    if (db.rebuildTables('attacks') !== rows) throw new Error('the rebuild wrote another number of rows')
    const rebuildSeconds = seconds(r0)
    return { p50: percentile(times, 50), p99: percentile(times, 99), listMs, matches, buildSeconds, rebuildSeconds }
  } finally {
    db.close(); t.cleanup()
  }
}

/** The core bench's collections, declared: items with two indexes, counters. */
const WORKLOAD_SCHEMAS: Record<string, CollectionSchema> = {
  items: { version: 1, fields: { f0: 'text', f1: 'integer', f2: 'text' }, indexes: [['f0'], ['f1']] },
  counters: { version: 1, fields: { n: 'counter' } }
}

/** ops/s over wall time, and over this process's CPU time (what other load on the machine disturbs least). */
function applyInto (pages: EncodedOp[][], total: number, declared: boolean): { wall: number, cpu: number } {
  const t = tempDir(declared ? 'apply-declared' : 'apply-plain')
  const r = openReplica({ dir: t.dir, ...(declared ? { schemas: WORKLOAD_SCHEMAS } : {}) })
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  let applied = 0
  for (const p of pages) applied += r.applyRemote(p).applied
  const s = seconds(start)
  const cpu = process.cpuUsage(cpu0)
  if (declared && r.query('SELECT count(*) AS n FROM items').rows[0]!.n === 0) throw new Error('the declared table stayed empty')
  r.close(); t.cleanup()
  if (applied !== total) throw new Error(`applied ${applied} of ${total}`)
  return { wall: total / s, cpu: total / ((cpu.user + cpu.system) / 1e6) }
}

async function remoteApply (runs: number): Promise<{ plain: number[], declared: number[], ratios: number[], cpuRatios: number[] }> {
  const total = 100_000
  const w = makeRemoteWorkload(total, 4)
  const plain: number[] = []
  const declared: number[] = []
  const ratios: number[] = []
  const cpuRatios: number[] = []
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so drift in the machine's load favours neither.
      const a = i % 2 === 0 ? applyInto(w.pages, total, false) : undefined
      const d = applyInto(w.pages, total, true)
      const p = a ?? applyInto(w.pages, total, false)
      plain.push(p.wall); declared.push(d.wall); ratios.push(d.wall / p.wall); cpuRatios.push(d.cpu / p.cpu)
    }
  } finally {
    w.cleanup()
  }
  return { plain, declared, ratios, cpuRatios }
}

/** A node in a child process (see the child at the end of this file). */
class Remote {
  readonly #proc: ChildProcess
  #next = 0
  readonly #pending = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  constructor () {
    this.#proc = fork(fileURLToPath(import.meta.url), ['child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.#proc.on('message', (m: { id: number, ok: boolean, res?: unknown, error?: string }) => {
      const p = this.#pending.get(m.id)
      this.#pending.delete(m.id)
      if (m.ok) p?.resolve(m.res)
      else p?.reject(new Error(m.error))
    })
    this.#proc.on('exit', code => {
      for (const p of this.#pending.values()) p.reject(new Error(`bench child exited with ${code}`))
      this.#pending.clear()
    })
  }

  async call<T = unknown> (cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => { this.#pending.set(id, { resolve, reject }); this.#proc.send({ id, cmd, ...args }) })
  }

  async stop (): Promise<void> {
    await this.call('stop').catch(() => {})
    if (this.#proc.exitCode === null) this.#proc.kill()
  }
}

async function liveQuery (writes: number): Promise<{ p50: number, p99: number, lost: number, arrivalP50: number }> {
  const ta = tempDir('live-a')
  const tb = tempDir('live-b')
  const a = new Remote()
  const b = new Remote()
  try {
    const { addr } = await a.call<{ addr: string }>('init', { dir: ta.dir })
    await b.call('init', { dir: tb.dir })
    await b.call('watch')
    await b.call('dial', { addr })
    await new Promise(resolve => setTimeout(resolve, 500)) // connection, identify, first (empty) session
    const sent = await a.call<Record<string, number>>('singles', { count: writes, intervalMs: 20 })
    await new Promise(resolve => setTimeout(resolve, 1000))
    const { seen, arrived } = await b.call<{ seen: Record<string, number>, arrived: Record<string, number> }>('seen')
    const latencies = Object.entries(sent).flatMap(([k, t]) => seen[k] === undefined ? [] : [seen[k]! - t])
    const arrivals = Object.entries(sent).flatMap(([k, t]) => arrived[k] === undefined ? [] : [arrived[k]! - t])
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost: writes - latencies.length, arrivalP50: percentile(arrivals, 50) }
  } finally {
    await a.stop(); await b.stop(); ta.cleanup(); tb.cleanup()
  }
}

export async function benchQuery (options: QueryBenchOptions = {}): Promise<void> {
  const only = new Set(options.only ?? ['query', 'apply', 'live'])
  process.stdout.write('\nDeclared tables and queries\n')
  if (only.has('query')) await printIndexedQuery(options.rows ?? 1_000_000, options.listRuns ?? 1)
  if (only.has('apply')) await printRemoteApply(options.runs ?? 5)
  if (only.has('live')) await printLiveQuery(options.writes ?? 300)
}

async function printIndexedQuery (rows: number, listRuns: number): Promise<void> {
  const q = await indexedQuery(rows, listRuns)
  row(`declared table of ${fmt(rows)} rows (1 indexed field) written in`, `${q.buildSeconds.toFixed(1)} s (${fmt(rows / q.buildSeconds)} ops/s)`)
  row(`query on the indexed field (${q.matches} rows each), 2,000 keys`, `p50 ${q.p50.toFixed(3)} ms, p99 ${q.p99.toFixed(3)} ms`)
  row('the same question through list + filter', `${fmt(median(q.listMs))} ms${q.listMs.length > 1 ? ` (runs ${q.listMs.map(x => fmt(x)).join(' / ')})` : ''}`)
  row('  ratio list + filter / query (p50)', `${fmt(median(q.listMs) / q.p50)}x`)
  row(`rebuild of the ${fmt(rows)}-row table from the merged state`, `${q.rebuildSeconds.toFixed(1)} s`)
}

async function printRemoteApply (runs: number): Promise<void> {
  const a = await remoteApply(runs)
  row('remote apply, 100,000 ops, undeclared collections', `${fmt(median(a.plain))} ops/s (${a.plain.map(fmt).join(' / ')})`)
  row('remote apply, same ops, declared (2 indexes)', `${fmt(median(a.declared))} ops/s (${a.declared.map(fmt).join(' / ')})`)
  row('  ratio declared / undeclared (median of per-run ratios)', `${median(a.ratios).toFixed(2)} (${a.ratios.map(r => r.toFixed(2)).join(' / ')})`)
  row('  the same ratio in CPU time of the applying process', `${median(a.cpuRatios).toFixed(2)} (${a.cpuRatios.map(r => r.toFixed(2)).join(' / ')})`)
}

async function printLiveQuery (writes: number): Promise<void> {
  const l = await liveQuery(writes)
  row(`live query: write on A to B's listener, ${writes} writes`, `p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms${l.lost > 0 ? `, ${l.lost} not seen` : ''}`)
  row('  the same writes\' arrival on B (change event), p50', `${l.arrivalP50.toFixed(1)} ms`)
}

// ---- child process: one node with its replica, driven by IPC messages ----

async function child (): Promise<void> {
  const { createNode } = await import('../src/net/index.js')
  const { multiaddr } = await import('@multiformats/multiaddr')
  let replica: ReturnType<typeof openReplica> | undefined
  let node: Awaited<ReturnType<typeof createNode>> | undefined
  const seen: Record<string, number> = {}
  const arrived: Record<string, number> = {}
  const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
  const handlers: Record<string, (m: any) => Promise<unknown> | unknown> = {
    init: async (m: { dir: string }) => {
      replica = openReplica({ dir: m.dir, schemas: { events: { version: 1, fields: { n: 'integer', host: 'text' }, indexes: [['host', 'n']] } } })
      node = await createNode({ privateKey: replica.deviceKey.raw, store: replica, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, upnp: false, dcutr: false, syncIntervalMs: 0 })
      return { addr: node.getMultiaddrs()[0]!.toString() }
    },
    // The newest event of one host: a result with n = i shows every write up to i.
    watch: () => {
      // The same writes' arrival (the change event, before any query runs), for comparison.
      replica!.subscribe(e => {
        if (e.source !== 'remote') return
        const t = now()
        for (const op of e.ops) if (op.collection === 'events' && arrived[op.key] === undefined) arrived[op.key] = t
      })
      let upTo = -1
      replica!.watch('SELECT max(n) AS n FROM events WHERE host = ?', ['h1'], r => {
        const t = now()
        const n = r.rows[0]?.n as number | null
        for (; n !== null && upTo < n; upTo++) seen[`e${upTo + 1}`] = t
      })
    },
    seen: () => ({ seen, arrived }),
    singles: async (m: { count: number, intervalMs: number }) => {
      const sent: Record<string, number> = {}
      for (let i = 0; i < m.count; i++) {
        const key = `e${i}`
        sent[key] = now()
        replica!.put('events', key, { n: i, host: 'h1' })
        await sleep(m.intervalMs)
      }
      return sent
    },
    dial: async (m: { addr: string }) => { await node!.dial(multiaddr(m.addr)) },
    stop: async () => {
      await node?.stop()
      replica?.close()
      setImmediate(() => process.exit(0))
    }
  }
  process.on('message', (m: { id: number, cmd: string }) => {
    Promise.resolve()
      .then(() => handlers[m.cmd]!(m))
      .then(
        res => { process.send!({ id: m.id, ok: true, res }) },
        err => { process.send!({ id: m.id, ok: false, error: String((err as Error).stack ?? err) }) }
      )
  })
}

function parseArgs (argv: string[]): QueryBenchOptions {
  const out: QueryBenchOptions = {}
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, '').split('=')
    const n = Number(v?.replace(/_/g, ''))
    if (k === 'rows' && Number.isSafeInteger(n) && n > 0) out.rows = n
    else if (k === 'runs' && Number.isSafeInteger(n) && n > 0) out.runs = n
    else if (k === 'writes' && Number.isSafeInteger(n) && n > 0) out.writes = n
    else if (k === 'list-runs' && Number.isSafeInteger(n) && n > 0) out.listRuns = n
    else if (k === 'only' && v !== undefined && v.split(',').every(x => ['query', 'apply', 'live'].includes(x))) out.only = v.split(',') as Array<'query' | 'apply' | 'live'>
    else throw new Error(`bad argument ${a} (use --rows=1000000 --runs=5 --list-runs=1 --writes=300 --only=query,apply,live)`)
  }
  return out
}

if (process.argv[2] === 'child') {
  await child()
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchQuery(parseArgs(process.argv.slice(2)))
}
