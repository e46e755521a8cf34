/**
 * `npm run bench:group`: how sync behaves as the group grows. N real daemon
 * processes (`weft start`, the built CLI) on 127.0.0.1, paired with
 * invite/join, every one configured with every other as a peer (a full mesh,
 * as on one LAN), mDNS and UPnP off. The bench talks to each daemon over its
 * control socket, like an app does.
 *
 *   load        every device writes `--ops` ops at once (sequential writes per
 *               device through the control API, all devices in parallel; one
 *               op in ten increments a shared counter, the others put rows):
 *               sync sessions, ops sent in sessions against the ops each
 *               device needed, CPU seconds of all daemons, time from the last
 *               acknowledged write until every device holds every op, and the
 *               local write latency while it runs. Run in bursts: the first
 *               after the daemons start (its row says "first burst"), which
 *               also pays for V8 compiling the hot paths of every daemon, then
 *               the same burst again (the figures the targets are held to).
 *               V8 is still compiling then: the remote apply and the local
 *               write path run once per message or per write, so they reach
 *               TurboFan's threshold only after a few bursts. So a row
 *               "warm" follows: after `--warm` more bursts (default 8, not
 *               reported), three more, of which the one with the median CPU
 *               per op is shown: what a daemon that has been running a
 *               while costs. `--warm 0` leaves it out.
 *   one writer  one device writes `--ops` ops; sessions in the whole group.
 *   at rest     before the first burst: each daemon's CPU per second over 10 s
 *               without writes, after 5 s of quiet (the median daemon, and
 *               the range); the group's background work (pings, gossipsub
 *               heartbeats, housekeeping), which the CPU figures above include.
 *   fan-out     single writes on one device, one every 200 ms: time from the
 *               write call to each other device's change stream (the bench
 *               process's one clock), p50 and max. With WEFT_BENCH_VERBOSE
 *               also: the write call, the first and the last receiver of
 *               each write (p50), which devices came last (numbered in the
 *               order they joined; device 0 writes), and CPU per write, each
 *               daemon's background included, beside that background at
 *               rest (measured for 5 s before).
 *
 * Sessions and the ops they carried are read from each daemon's debug log
 * (`sync session` lines, both directions; the sessions cell says how many
 * were the anti-entropy round's, by the line's `cause`: one session per
 * device every 30 s, which a burst counts when it falls on it), CPU time
 * from /proc. A load phase
 * in which a writer's gossipsub skipped a subscribed member (each of that
 * writer's announcements then goes out twice, the second time forwarded by
 * the others) says how many announcements went out again
 * (`weft_announcements_republished_total`), since that run costs more.
 *
 * Profiling: WEFT_BENCH_NODE_ARGS goes to every daemon's node (e.g.
 * `--perf-basic-prof-only-functions`), WEFT_BENCH_PROFILE is a command run
 * for the second burst only and stopped with SIGINT once the group has
 * converged (e.g. `perf record -a -g -o /tmp/perf.data`), and
 * WEFT_BENCH_LOG_DIR keeps each daemon's stderr and stdout (V8's
 * `--trace-opt` goes there).
 *
 * Run: `npm run bench:group [-- --devices 3,10 --ops 220 --fanout 20 --warm 8]`.
 * Targets (10 devices x 220 ops): sessions <= 2 per device per second of
 * load, ops sent in sessions <= 1.2x the ops needed, converged within 5 s of
 * the last write, CPU <= 0.2 ms per op per receiving device, write p95 <= 50
 * ms; one writer <= 20 sessions; fan-out p50 <= 20 ms, max <= 50 ms.
 */
import '../src/polyfill.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fmt, percentile, tempDir } from './util.js'

const CLI = resolve(import.meta.dirname, '../src/bin/weft.cjs')
const BASE_PORT = 42_100
const CLK_TCK = 100
/** A join refused because the inviter's libp2p rate-limits 127.0.0.1 is tried this often in all. */
const JOIN_ATTEMPTS = 3

interface LogEvent { msg: string, direction?: string, cause?: string, sent?: number, applied?: number, code?: string }

export class Daemon {
  readonly dir: string
  readonly port: number
  readonly socket: string
  deviceId = ''
  #child: ChildProcess | undefined
  #events: LogEvent[] = []
  #stderr = ''

  constructor (dir: string, port: number) {
    this.dir = dir
    this.port = port
    this.socket = join(dir, 'run', 'control.sock')
  }

  get addr (): string { return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${this.deviceId}` }
  get pid (): number { return this.#child?.pid ?? 0 }
  get events (): readonly LogEvent[] { return this.#events }

  async start (peers: string[]): Promise<void> {
    const args = [CLI, 'start', '--data-dir', this.dir, '--no-mdns', '--no-upnp', '--listen', `/ip4/127.0.0.1/tcp/${this.port}`, '--log-level', 'debug', ...peers.flatMap(p => ['--peer', p])]
    const env = { ...process.env }
    delete env.XDG_RUNTIME_DIR
    delete env.WEFT_DATA_DIR
    delete env.WEFT_CONFIG
    const child = spawn(process.execPath, [...(process.env.WEFT_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    let pending = ''
    child.stderr!.on('data', (d: Buffer) => {
      pending += d.toString('utf8')
      let i
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i)
        pending = pending.slice(i + 1)
        if (process.env.WEFT_BENCH_LOG_DIR !== undefined) appendFileSync(join(process.env.WEFT_BENCH_LOG_DIR, `${this.port}.log`), line + '\n')
        if (line.includes('sync session')) {
          try { this.#events.push(JSON.parse(line) as LogEvent) } catch {}
        } else if (this.#stderr.length < 64 * 1024) {
          this.#stderr += line + '\n'
        }
      }
    })
    this.deviceId = await new Promise<string>((res, rej) => {
      let out = ''
      const timer = setTimeout(() => { rej(new Error(`daemon in ${this.dir} did not start; stderr:\n${this.#stderr}`)) }, 60_000)
      child.stdout!.on('data', (d: Buffer) => {
        if (process.env.WEFT_BENCH_LOG_DIR !== undefined) appendFileSync(join(process.env.WEFT_BENCH_LOG_DIR, `${this.port}.out`), d)
        if (out.length > 64 * 1024) return
        out += d.toString('utf8')
        const m = /running as (\S+);/.exec(out)
        if (m !== null) { clearTimeout(timer); res(m[1]!) }
      })
      child.on('exit', code => { clearTimeout(timer); rej(new Error(`daemon exited with ${code}; stderr:\n${this.#stderr}`)) })
    })
  }

  async stop (): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise(res => child.on('exit', res))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  /** user + system CPU seconds so far. */
  cpuSeconds (): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  }

  async api<T = any> (method: string, path: string, body?: unknown): Promise<T> {
    return await new Promise((res, rej) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      const req = request({ socketPath: this.socket, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length } }, r => {
        const chunks: Buffer[] = []
        r.on('data', (c: Buffer) => chunks.push(c))
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (r.statusCode !== 200) { rej(new Error(`${method} ${path}: ${r.statusCode} ${text}`)); return }
          try { res(text === '' ? undefined : JSON.parse(text)) } catch { res(text as T) }
        })
      })
      req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${path}: no answer`)))
      req.on('error', rej)
      req.end(payload)
    })
  }

  /** Calls `onOp` for every op the daemon's change stream reports, until `stop`. */
  follow (onOp: (op: { key: string, origin: string }) => void): () => void {
    const req = request({ socketPath: this.socket, method: 'GET', path: '/v1/oplog/follow' }, r => {
      let pending = ''
      r.on('data', (c: Buffer) => {
        pending += c.toString('utf8')
        let i
        while ((i = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, i)
          pending = pending.slice(i + 1)
          try { onOp(JSON.parse(line)) } catch {}
        }
      })
      r.on('error', () => {})
    })
    req.on('error', () => {})
    req.end()
    return () => req.destroy()
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(r => setTimeout(r, ms)) }

async function until (what: string, check: () => Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<number> {
  const start = performance.now()
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start
    await sleep(stepMs)
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

const vectorKey = (v: Record<string, number>): string => JSON.stringify(Object.entries(v).sort(([a], [b]) => a < b ? -1 : 1))

export async function converged (group: Daemon[]): Promise<boolean> {
  const vectors = await Promise.all(group.map(async d => vectorKey(await d.api('GET', '/v1/vector'))))
  return vectors.every(v => v === vectors[0])
}

/** Sessions (those of the anti-entropy round among them) and the ops they carried since `mark` (event counts per daemon). */
function sessionsSince (group: Daemon[], mark: number[]): { sessions: number, antiEntropy: number, opsSent: number, failed: number } {
  let sessions = 0
  let antiEntropy = 0
  let opsSent = 0
  let failed = 0
  group.forEach((d, i) => {
    for (const e of d.events.slice(mark[i])) {
      if (e.msg === 'sync session failed') { failed++; continue }
      if (e.msg !== 'sync session') continue
      if (e.direction === 'outbound') {
        sessions++
        if (e.cause === 'anti-entropy') antiEntropy++
      }
      opsSent += e.sent ?? 0
    }
  })
  return { sessions, antiEntropy, opsSent, failed }
}

const marks = (group: Daemon[]): number[] => group.map(d => d.events.length)

/** Announcements the group's writers published again for forwarding, because gossipsub skipped a subscribed member (`GET /metrics`). */
async function republished (group: Daemon[]): Promise<number> {
  const counts = await Promise.all(group.map(async d => {
    const text = String(await d.api('GET', '/metrics'))
    return Number(/^weft_announcements_republished_total (\d+)$/m.exec(text)?.[1] ?? 0)
  }))
  return counts.reduce((a, b) => a + b, 0)
}

const cpu = (group: Daemon[]): number => group.reduce((s, d) => s + d.cpuSeconds(), 0)

export async function makeGroup (n: number, root: string, portBase: number): Promise<Daemon[]> {
  const group = Array.from({ length: n }, (_, i) => new Daemon(join(root, `d${i}`), portBase + i))
  try {
    return await formGroup(group)
  } catch (err) {
    // Stop what started, and say where the group stood.
    const state = await Promise.all(group.map(async d => {
      try {
        const peers = await d.api<Array<{ connected: boolean, member: boolean }>>('GET', '/v1/peers')
        return `${d.deviceId.slice(-6)}: ${(await d.api<unknown[]>('GET', '/v1/devices')).length} devices, ${peers.filter(p => p.connected && p.member).length} member peers connected, vector ${JSON.stringify(Object.values(await d.api<Record<string, number>>('GET', '/v1/vector')))}`
      } catch (e) { return `${d.deviceId.slice(-6)}: ${(e as Error).message}` }
    }))
    await Promise.all(group.map(async d => { await d.stop() }))
    throw new Error(`${(err as Error).message}\n  ${state.join('\n  ')}`)
  }
}

async function formGroup (group: Daemon[]): Promise<Daemon[]> {
  const n = group.length
  // First start: creates each device's key (and a group of one), so the peer ids are known.
  for (const d of group) await d.start([])
  await Promise.all(group.map(async d => { await d.stop() }))
  const peersOf = (d: Daemon): string[] => group.filter(o => o !== d).map(o => o.addr)
  await Promise.all(group.map(async d => { await d.start(peersOf(d)) }))
  const [first, ...rest] = group
  for (const d of rest) {
    const { code } = await first!.api<{ code: string }>('POST', '/v1/invite', {})
    // All daemons share 127.0.0.1 and dial each other as they start, so the
    // inviter's libp2p may refuse the join's connection for a moment
    // (connectionManager.inboundConnectionThreshold: 5 per second per host).
    for (let attempt = 1; ; attempt++) {
      try {
        await d.api('POST', '/v1/join', { code })
        break
      } catch (err) {
        if (attempt === JOIN_ATTEMPTS || !/"code":"CLOSED"/.test((err as Error).message)) throw err
        if (process.env.WEFT_BENCH_VERBOSE !== undefined) process.stdout.write(`  join refused, again in 1 s: ${(err as Error).message}\n`)
        await sleep(1000)
      }
    }
  }
  // Every device admitted everywhere, connected to every other and in sync. A member without a connection is
  // dialled by each daemon's member dialer (checked every DEFAULT_MEMBER_CHECK_INTERVAL_MS, with backoff after
  // failures); the bench also asks with `weft sync <peer>`, as a user would, so forming need not wait for it.
  const redialed = new Map<string, number>()
  await until('the group forms', async () => {
    const devices = await Promise.all(group.map(async d => (await d.api<unknown[]>('GET', '/v1/devices')).length))
    if (!devices.every(c => c === n)) return false
    const connected = await Promise.all(group.map(async d => new Set((await d.api<Array<{ peerId: string, connected: boolean }>>('GET', '/v1/peers')).filter(p => p.connected).map(p => p.peerId))))
    group.forEach((d, i) => {
      for (const o of group) {
        const pair = `${d.deviceId}>${o.deviceId}`
        if (o === d || connected[i]!.has(o.deviceId) || (redialed.get(pair) ?? 0) > Date.now() - 5_000) continue
        redialed.set(pair, Date.now())
        d.api('POST', '/v1/sync', { peer: o.deviceId }).catch(() => {})
      }
    })
    return connected.every(c => c.size >= n - 1) && await converged(group)
  }, 180_000, 500)
  if (redialed.size > 0 && process.env.WEFT_BENCH_VERBOSE !== undefined) process.stdout.write(`  ${redialed.size} dropped connections dialled again while the group formed\n`)
  return group
}

interface LoadFigures {
  devices: number, ops: number, needed: number, sessions: number, antiEntropy: number, opsSent: number, failed: number
  cpuSeconds: number, loadSeconds: number, convergeMs: number, writeP50: number, writeP95: number, writeMax: number, counter: number
}

export async function load (group: Daemon[], writers: Daemon[], ops: number, tag: string): Promise<LoadFigures> {
  await sleep(1000)
  if (process.env.WEFT_BENCH_VERBOSE !== undefined) {
    const c0 = cpu(group)
    await sleep(5000)
    process.stdout.write(`  idle: ${((cpu(group) - c0) / 5).toFixed(3)} CPU-s per second for the group\n`)
  }
  const mark = marks(group)
  const republished0 = await republished(group)
  // WEFT_BENCH_PROFILE (see the module doc): the second burst only, until the group has converged
  const profileCmd = tag === 'all' ? process.env.WEFT_BENCH_PROFILE?.split(' ').filter(Boolean) : undefined
  const profiler = profileCmd !== undefined && profileCmd.length > 0 ? spawn(profileCmd[0]!, profileCmd.slice(1), { stdio: 'ignore' }) : undefined
  if (profiler !== undefined) await sleep(500)
  const cpu0 = cpu(group)
  const latencies: number[] = []
  const start = performance.now()
  await Promise.all(writers.map(async (d, w) => {
    for (let i = 0; i < ops; i++) {
      const t = performance.now()
      if (i % 10 === 9) await d.api('POST', `/v1/data/bench/${tag}-counter/increment`, { field: 'n', by: 1 })
      else await d.api('PUT', `/v1/data/bench/${tag}-${w}-${i}`, { fields: { v: i, by: d.deviceId.slice(0, 8) } })
      latencies.push(performance.now() - t)
    }
  }))
  const loadSeconds = (performance.now() - start) / 1000
  if (process.env.WEFT_BENCH_VERBOSE !== undefined) process.stdout.write(`  load ${loadSeconds.toFixed(2)} s, CPU so far ${(cpu(group) - cpu0).toFixed(2)} s\n`)
  const convergeMs = await until('convergence', async () => await converged(group), 300_000, 20)
  if (profiler !== undefined) { profiler.kill('SIGINT'); await new Promise(resolve => profiler.once('exit', resolve)) }
  await sleep(500) // sessions still ending are counted
  const s = sessionsSince(group, mark)
  // A writer whose gossipsub skips a member publishes each announcement twice, and it is forwarded: a costlier run.
  const again = await republished(group) - republished0
  if (again > 0 || process.env.WEFT_BENCH_VERBOSE !== undefined) process.stdout.write(`  ${tag}: ${again} announcements published again for forwarding (a member skipped by gossipsub)\n`)
  if (process.env.WEFT_BENCH_VERBOSE !== undefined) {
    const why = new Map<string, number>()
    group.forEach((d, i) => { for (const e of d.events.slice(mark[i])) if (e.msg === 'sync session failed') why.set(`${e.code}: ${(e as { error?: string }).error}`, (why.get(`${e.code}: ${(e as { error?: string }).error}`) ?? 0) + 1) })
    for (const [k, v] of why) process.stdout.write(`    ${v} x ${k}\n`)
    process.stdout.write(`  CPU per daemon: ${group.map(d => d.cpuSeconds().toFixed(1)).join(' ')}\n`)
  }
  const counters = await Promise.all(group.map(async d => (await d.api<{ n?: number }>('GET', `/v1/data/bench/${tag}-counter`)).n ?? 0))
  const expected = writers.length * Math.floor(ops / 10)
  if (!counters.every(c => c === expected)) throw new Error(`counter differs: ${counters.join(', ')} (expected ${expected} everywhere)`)
  return {
    devices: group.length,
    ops: writers.length * ops,
    needed: writers.length * ops * (group.length - 1),
    ...s,
    cpuSeconds: cpu(group) - cpu0,
    loadSeconds,
    convergeMs,
    writeP50: percentile(latencies, 50),
    writeP95: percentile(latencies, 95),
    writeMax: Math.max(...latencies),
    counter: counters[0]!
  }
}

async function fanout (group: Daemon[], writes: number): Promise<{ p50: number, max: number, samples: number }> {
  const [writer, ...readers] = group
  const seen = new Map<string, Array<{ at: number, reader: number }>>()
  const stops = readers.map((d, reader) => d.follow(op => {
    if (!op.key?.startsWith('fanout-')) return
    const list = seen.get(op.key) ?? []
    list.push({ at: performance.now(), reader })
    seen.set(op.key, list)
  }))
  await sleep(500)
  const verbose = process.env.WEFT_BENCH_VERBOSE !== undefined
  const cpuOf = (): number[] => group.map(d => d.cpuSeconds())
  let idle: number[] = []
  if (verbose) {
    const c0 = cpuOf()
    await sleep(5000)
    idle = cpuOf().map((c, i) => (c - c0[i]!) / 5)
  }
  const cpu0 = cpuOf()
  const started = performance.now()
  const delays: number[] = []
  const calls: number[] = []
  const firsts: number[] = []
  const lasts: number[] = []
  const lastCount = new Map<number, number>()
  for (let i = 0; i < writes; i++) {
    const key = `fanout-${i}`
    const t = performance.now()
    await writer!.api('PUT', `/v1/data/bench/${key}`, { fields: { i } })
    calls.push(performance.now() - t)
    await until(`fan-out of write ${i}`, async () => (seen.get(key)?.length ?? 0) >= readers.length, 30_000, 5)
    const arrivals = seen.get(key)!.map(a => ({ delay: a.at - t, reader: a.reader })).sort((a, b) => a.delay - b.delay)
    for (const a of arrivals) delays.push(a.delay)
    firsts.push(arrivals[0]!.delay)
    lasts.push(arrivals.at(-1)!.delay)
    lastCount.set(arrivals.at(-1)!.reader, (lastCount.get(arrivals.at(-1)!.reader) ?? 0) + 1)
    await sleep(200)
  }
  if (verbose) {
    // CPU per write includes each daemon's background work; `idle` is that background, per second, measured just before.
    const perWrite = cpuOf().map((c, i) => (c - cpu0[i]!) * 1000 / writes)
    const msPerWrite = (performance.now() - started) / writes
    const spread = (xs: number[]): string => `${percentile(xs, 50).toFixed(1)} ms (${Math.min(...xs).toFixed(1)} to ${Math.max(...xs).toFixed(1)})`
    const order = [...lastCount].sort((a, b) => b[1] - a[1]).map(([r, n]) => `device ${r + 1} ${n}x`).join(', ')
    process.stdout.write(`  fan-out: write call p50 ${percentile(calls, 50).toFixed(1)} ms; first receiver p50 ${percentile(firsts, 50).toFixed(1)} ms, last p50 ${percentile(lasts, 50).toFixed(1)} ms, max ${Math.max(...lasts).toFixed(1)} ms; last receiver: ${order}\n`)
    process.stdout.write(`  fan-out CPU per write, background included: writer ${perWrite[0]!.toFixed(1)} ms, receivers ${spread(perWrite.slice(1))}; at rest a daemon uses ${spread(idle.map(c => c * 1000))} per second, ${(percentile(idle, 50) * msPerWrite).toFixed(1)} ms per ${msPerWrite.toFixed(0)} ms write cycle\n`)
  }
  for (const stop of stops) stop()
  return { p50: percentile(delays, 50), max: Math.max(...delays), samples: delays.length }
}

/** Each daemon's CPU per second at rest (ms/s), over `seconds` after `settle` seconds without writes: the median and the range. */
async function atRest (group: Daemon[], settle = 5, seconds = 10): Promise<{ p50: number, min: number, max: number }> {
  await sleep(settle * 1000)
  const c0 = group.map(d => d.cpuSeconds())
  await sleep(seconds * 1000)
  const perSecond = group.map((d, i) => (d.cpuSeconds() - c0[i]!) * 1000 / seconds)
  return { p50: percentile(perSecond, 50), min: Math.min(...perSecond), max: Math.max(...perSecond) }
}

const sessionsCell = (f: LoadFigures): string => `${fmt(f.sessions)}${f.antiEntropy > 0 ? ` (${fmt(f.antiEntropy)} anti-entropy)` : ''}`

/** Bursts run, unreported, between the second burst and the three of the "warm" row. */
const DEFAULT_WARM_BURSTS = 8
/** Bursts of which the "warm" row shows the one with the median CPU per op. */
const WARM_MEASURED = 3

export async function benchGroup (options: { devices?: number[], ops?: number, fanoutWrites?: number, warmBursts?: number } = {}): Promise<void> {
  const sizes = options.devices ?? [3, 10]
  const ops = options.ops ?? 220
  const fanoutWrites = options.fanoutWrites ?? 20
  const warmBursts = options.warmBursts ?? DEFAULT_WARM_BURSTS
  const rows: string[] = []
  process.stdout.write(`\nGroup sync (bench/group.ts): N daemons on loopback, full mesh, ${ops} ops per writer\n`)
  let portBase = BASE_PORT
  for (const n of sizes) {
    const { dir, cleanup } = tempDir(`group${n}`)
    let group: Daemon[] = []
    try {
      const formed = performance.now()
      group = await makeGroup(n, dir, portBase)
      portBase += n + 5
      process.stdout.write(`  ${n} devices paired and in sync in ${((performance.now() - formed) / 1000).toFixed(1)} s\n`)
      const rest = await atRest(group)
      const first = await load(group, group, ops, 'first')
      const all = await load(group, group, ops, 'all')
      let warm: LoadFigures | undefined
      if (warmBursts > 0) {
        for (let i = 0; i < warmBursts; i++) await load(group, group, ops, `warmup${i}`)
        const measured: LoadFigures[] = []
        for (let i = 0; i < WARM_MEASURED; i++) measured.push(await load(group, group, ops, `warm${i}`))
        measured.sort((a, b) => a.cpuSeconds / a.needed - b.cpuSeconds / b.needed)
        warm = measured[Math.floor(measured.length / 2)]
      }
      const one = await load(group, [group[0]!], ops, 'one')
      const fan = await fanout(group, fanoutWrites)
      const loadCells = (f: LoadFigures): string[] => [
        fmt(f.ops), sessionsCell(f), `${(f.sessions / n / f.loadSeconds).toFixed(2)}`,
        `${fmt(f.opsSent)} / ${fmt(f.needed)} (${(f.opsSent / f.needed).toFixed(2)}x)`, String(f.failed),
        f.cpuSeconds.toFixed(1), (f.cpuSeconds * 1000 / f.needed).toFixed(3), (f.convergeMs / 1000).toFixed(2),
        `${f.writeP50.toFixed(1)} / ${f.writeP95.toFixed(1)} / ${f.writeMax.toFixed(0)}`
      ]
      rows.push([`${n} (first burst)`, ...loadCells(first), '', '', ''].join(' | '))
      rows.push([String(n), ...loadCells(all), sessionsCell(one), `${fan.p50.toFixed(1)} / ${fan.max.toFixed(1)}`, `${rest.p50.toFixed(1)} (${rest.min.toFixed(1)} to ${rest.max.toFixed(1)})`].join(' | '))
      if (warm !== undefined) rows.push([`${n} (warm: after ${warmBursts + 2} bursts, median of ${WARM_MEASURED})`, ...loadCells(warm), '', '', ''].join(' | '))
    } finally {
      await Promise.all(group.map(async d => { await d.stop() }))
      cleanup()
    }
  }
  process.stdout.write('\n| devices | ops written | sessions | sessions/device/s | ops sent in sessions / needed | failed sessions | CPU-s | CPU ms/op/receiver | converged after last write (s) | write p50 / p95 / max (ms) | one writer: sessions | fan-out p50 / max (ms) | at rest: CPU ms/s per daemon |\n')
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n')
  for (const r of rows) process.stdout.write(`| ${r} |\n`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { devices: { type: 'string' }, ops: { type: 'string' }, fanout: { type: 'string' }, warm: { type: 'string' } } })
  const devices = values.devices?.split(',').map(Number)
  if (devices?.some(n => !Number.isSafeInteger(n) || n < 2 || n > 20) === true) { process.stderr.write('--devices: a list of group sizes from 2 to 20, e.g. 3,10\n'); process.exit(2) }
  const ops = values.ops === undefined ? undefined : Number(values.ops)
  if (ops !== undefined && (!Number.isSafeInteger(ops) || ops < 10 || ops > 100_000)) { process.stderr.write('--ops: an integer from 10 to 100000\n'); process.exit(2) }
  const fanoutWrites = values.fanout === undefined ? undefined : Number(values.fanout)
  if (fanoutWrites !== undefined && (!Number.isSafeInteger(fanoutWrites) || fanoutWrites < 1 || fanoutWrites > 1000)) { process.stderr.write('--fanout: an integer from 1 to 1000\n'); process.exit(2) }
  const warmBursts = values.warm === undefined ? undefined : Number(values.warm)
  if (warmBursts !== undefined && (!Number.isSafeInteger(warmBursts) || warmBursts < 0 || warmBursts > 100)) { process.stderr.write('--warm: an integer from 0 to 100 (bursts before the warm row; 0 leaves it out)\n'); process.exit(2) }
  await benchGroup({
    ...(warmBursts === undefined ? {} : { warmBursts }),
    ...(devices === undefined ? {} : { devices }),
    ...(ops === undefined ? {} : { ops }),
    ...(fanoutWrites === undefined ? {} : { fanoutWrites })
  })
}
