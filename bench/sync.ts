/**
 * Sync benchmark: two node processes on loopback, each with a real replica.
 *
 *   initial sync      B (empty) dials A holding N ops; time from dial to B's
 *                     vector reaching N; ops/s, bytes on the sync streams
 *                     (frames, both directions; Noise and yamux add ~1%).
 *   propagation       single writes on A, one every few ms, timed from A's
 *                     write call to B's change event (same monotonic clock,
 *                     CLOCK_MONOTONIC, in both processes): p50 and p99.
 *   incremental       B disconnects, A writes 100 ops (single writes), B
 *                     dials again: time from dial to B holding them, bytes.
 *   large values      B (empty) dials A holding 48 incompressible values of
 *                     1,000,000 bytes (one op each, as an app storing files
 *                     or images writes them): MB/s from dial to B holding all.
 *
 * Targets: initial sync >= 30,000 ops/s, p50 propagation < 50 ms, incremental
 * < 200 ms and < 64 KiB. Run alone with `node dist/bench/sync.js
 * [--sizes=100000,1000000] [--writes=1000]`; `npm run bench` calls
 * `benchSync()` after the core benchmark.
 */
import '../src/polyfill.js'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fmt, percentile, row, tempDir } from './util.js'

export interface SyncBenchOptions {
  /** Store sizes for the initial sync; the largest also hosts the incremental run. @default [100_000, 1_000_000] */
  sizes?: number[]
  /** Single writes timed for propagation. @default 1000 */
  writes?: number
  /** Gap between the timed single writes. @default 10 ms */
  writeIntervalMs?: number
  /** Ops written while B is away, for the incremental sync. @default 100 */
  incremental?: number
  /** Incremental rounds (B away, A writes, B back); the median is reported. @default 5 */
  incrementalRounds?: number
  /** Incompressible 1,000,000-byte values for the large-value sync; 0 skips it. @default 48 */
  largeValues?: number
  /** Print the result rows. @default true */
  print?: boolean
}

export interface InitialSyncFigures {
  ops: number
  generateSeconds: number
  seconds: number
  opsPerSecond: number
  wireBytes: number
  bytesPerOp: number
  sessions: number
}
export interface SyncBenchResult {
  initial: InitialSyncFigures[]
  propagation: { writes: number, p50Ms: number, p99Ms: number, maxMs: number, lost: number }
  incremental: { storeOps: number, newOps: number, rounds: number, ms: number, maxMs: number, connectMs: number, sessionMs: number, wireBytes: number }
  largeValues?: { values: number, valueBytes: number, seconds: number, mbPerSecond: number, wireBytes: number }
}

const LARGE_VALUE_BYTES = 1_000_000
/** Untimed pause before each incremental round's redial. */
const MIN_REDIAL_GAP_MS = 250

interface SessionSummary { bytes: number, ops: number, applied: number, ok: boolean, ms: number, error?: string }

/** A node in a child process, driven over IPC. */
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
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#proc.send({ id, cmd, ...args })
    })
  }

  async stop (): Promise<void> {
    await this.call('stop').catch(() => {})
    if (this.#proc.exitCode === null) this.#proc.kill()
  }
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6

interface PulledBacklog { seconds: number, sessions: SessionSummary[], a: Remote, b: Remote, aId: string, aAddr: string, cleanup: () => void }

/**
 * A holds `ops` ops written by `fill`; B (empty) dials A. Returns the seconds
 * from the dial until B holds them all, and the sync sessions that took.
 * WEFT_BENCH_CPU_PROFILE=<prefix> writes a V8 CPU profile of each side.
 */
async function pullBacklog (ops: number, label: string, fill: (a: Remote) => Promise<void>): Promise<PulledBacklog> {
  const ta = tempDir('sync-a')
  const tb = tempDir('sync-b')
  const a = new Remote()
  const b = new Remote()
  const cleanup = (): void => { ta.cleanup(); tb.cleanup() }
  try {
    const { peerId: aId, addr: aAddr } = await a.call<{ peerId: string, addr: string }>('init', { dir: ta.dir })
    await b.call('init', { dir: tb.dir })
    await fill(a)
    const profile = process.env.WEFT_BENCH_CPU_PROFILE
    if (profile !== undefined) await Promise.all([a.call('profile', { start: true }), b.call('profile', { start: true })])
    const t0 = now()
    await b.call('dial', { addr: aAddr })
    const t1 = await b.call<number>('waitSeq', { origin: aId, seq: ops })
    if (profile !== undefined) await Promise.all([a.call('profile', { file: `${profile}-a-${label}.cpuprofile` }), b.call('profile', { file: `${profile}-b-${label}.cpuprofile` })])
    const sessions = await b.call<SessionSummary[]>('sessions', { settle: true })
    return { seconds: (t1 - t0) / 1000, sessions, a, b, aId, aAddr, cleanup }
  } catch (err) {
    // A failed run must not leave its two node processes behind.
    await a.stop(); await b.stop(); cleanup()
    throw err
  }
}

async function initialSync (size: number): Promise<{ figures: InitialSyncFigures } & PulledBacklog> {
  let genMs = 0
  const pulled = await pullBacklog(size, String(size), async a => { genMs = (await a.call<{ ms: number }>('write', { n: size, batch: 1_000 })).ms })
  const wireBytes = pulled.sessions.reduce((n, s) => n + s.bytes, 0)
  const seconds = pulled.seconds
  return {
    ...pulled,
    figures: {
      ops: size,
      generateSeconds: genMs / 1000,
      seconds,
      opsPerSecond: size / seconds,
      wireBytes,
      bytesPerOp: wireBytes / size,
      sessions: pulled.sessions.length
    }
  }
}

export async function benchSync (options: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const sizes = options.sizes ?? [100_000, 1_000_000]
  const print = options.print ?? true
  const writes = options.writes ?? 1_000
  const newOps = options.incremental ?? 100
  if (print) process.stdout.write('\nsync (two processes on loopback, real replicas)\n')
  const initial: InitialSyncFigures[] = []
  let last: Awaited<ReturnType<typeof initialSync>> | undefined
  for (const size of [...sizes].sort((x, y) => x - y)) {
    if (last !== undefined) { await last.a.stop(); await last.b.stop(); last.cleanup() }
    last = await initialSync(size)
    const f = last.figures
    initial.push(f)
    if (print) {
      row(`initial sync of ${fmt(size)} ops (generated in ${f.generateSeconds.toFixed(1)} s)`, `${fmt(f.opsPerSecond)} ops/s, ${f.seconds.toFixed(2)} s`)
      row('  on the wire (sync frames, both directions)', `${(f.wireBytes / 1e6).toFixed(1)} MB, ${f.bytesPerOp.toFixed(1)} bytes/op, ${f.sessions} session(s)`)
    }
  }
  const { a, b, aId, aAddr } = last!

  // Propagation of single writes, A to B, over the connection the initial sync opened.
  await b.call('listen')
  const sent = await a.call<Record<string, number>>('singles', { count: writes, intervalMs: options.writeIntervalMs ?? 10 })
  const storeOps = last!.figures.ops + writes
  await b.call<number>('waitSeq', { origin: aId, seq: storeOps, timeoutMs: 30_000 }).catch(() => undefined)
  const arrived = await b.call<Record<string, number>>('arrivals')
  const latencies = Object.entries(sent).flatMap(([key, t]) => arrived[key] === undefined ? [] : [arrived[key]! - t])
  const propagation = {
    writes,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    lost: writes - latencies.length
  }
  if (print) row(`propagation of ${fmt(writes)} single writes A to B`, `p50 ${propagation.p50Ms.toFixed(1)} ms, p99 ${propagation.p99Ms.toFixed(1)} ms`)

  // Incremental: B away while A writes, then B dials again. Several rounds; the median is reported.
  const rounds: Array<{ ms: number, connectMs: number, sessionMs: number, wireBytes: number }> = []
  let held = storeOps
  for (let round = 0; round < (options.incrementalRounds ?? 5); round++) {
    // libp2p refuses a host's sixth inbound connection within a second
    // (inboundConnectionThreshold); with a small store the rounds come faster.
    await new Promise(resolve => setTimeout(resolve, MIN_REDIAL_GAP_MS))
    await b.call('hangup', { peer: aId })
    await b.call('sessions')
    await a.call('singles', { count: newOps, intervalMs: 0 })
    held += newOps
    const t0 = now()
    const connected = await b.call<number>('dial', { addr: aAddr })
    const t1 = await b.call<number>('waitSeq', { origin: aId, seq: held })
    const s = await b.call<SessionSummary[]>('sessions', { settle: true })
    rounds.push({ ms: t1 - t0, connectMs: connected - t0, sessionMs: s.reduce((n, x) => n + x.ms, 0), wireBytes: s.reduce((n, x) => n + x.bytes, 0) })
  }
  const mid = [...rounds].sort((x, y) => x.ms - y.ms)[Math.floor(rounds.length / 2)]!
  const incremental = { storeOps, newOps, rounds: rounds.length, ...mid, maxMs: Math.max(...rounds.map(r => r.ms)) }
  if (print) {
    row(`incremental: ${newOps} new ops into a ${fmt(storeOps)}-op store (median of ${rounds.length})`, `${incremental.ms.toFixed(0)} ms (max ${incremental.maxMs.toFixed(0)}), ${fmt(incremental.wireBytes)} bytes`)
    row('  of which: dial (TCP, Noise, yamux) / sync session', `${incremental.connectMs.toFixed(0)} ms / ${incremental.sessionMs.toFixed(0)} ms`)
  }

  await a.stop(); await b.stop(); last!.cleanup()
  const count = options.largeValues ?? 48
  const largeValues = count > 0 ? await largeValueSync(count) : undefined
  if (print && largeValues !== undefined) {
    row(`initial sync of ${count} incompressible values of 1 MB`, `${largeValues.mbPerSecond.toFixed(1)} MB/s, ${largeValues.seconds.toFixed(2)} s, ${(largeValues.wireBytes / 1e6).toFixed(1)} MB on the wire`)
  }
  return { initial, propagation, incremental, ...(largeValues === undefined ? {} : { largeValues }) }
}

export async function largeValueSync (count: number): Promise<NonNullable<SyncBenchResult['largeValues']>> {
  const pulled = await pullBacklog(count, `large-${count}`, async a => { await a.call('writeBlobs', { n: count, bytes: LARGE_VALUE_BYTES }) })
  try {
    const { seconds, sessions } = pulled
    return {
      values: count,
      valueBytes: LARGE_VALUE_BYTES,
      seconds,
      mbPerSecond: count * LARGE_VALUE_BYTES / 1e6 / seconds,
      wireBytes: sessions.reduce((n, s) => n + s.bytes, 0)
    }
  } finally {
    await pulled.a.stop(); await pulled.b.stop(); pulled.cleanup()
  }
}

// ---- child process: one node with its replica, driven by IPC messages ----

async function child (): Promise<void> {
  const { openReplica } = await import('../src/index.js')
  const { createNode } = await import('../src/net/index.js')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { peerIdFromString } = await import('@libp2p/peer-id')
  let replica: ReturnType<typeof openReplica> | undefined
  let node: Awaited<ReturnType<typeof createNode>> | undefined
  let sessions: SessionSummary[] = []
  const arrivals: Record<string, number> = {}
  let profiler: import('node:inspector/promises').Session | undefined
  const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

  const handlers: Record<string, (m: any) => Promise<unknown> | unknown> = {
    init: async (m: { dir: string }) => {
      replica = openReplica({ dir: m.dir })
      node = await createNode({ privateKey: replica.deviceKey.raw, store: replica, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, upnp: false, dcutr: false, syncIntervalMs: 0 })
      node.services.sync.addEventListener('session:end', e => {
        const r = e.detail.result
        sessions.push({
          bytes: r.bytesSent + r.bytesReceived,
          ops: r.opsReceived,
          applied: r.applied,
          ok: r.ok,
          ms: e.detail.durationMs,
          ...(r.error === undefined ? {} : { error: r.error.message })
        })
      })
      return { peerId: node.peerId.toString(), addr: node.getMultiaddrs()[0]!.toString() }
    },
    write: (m: { n: number, batch: number }) => {
      const t = now()
      for (let done = 0; done < m.n;) {
        const size = Math.min(m.batch, m.n - done)
        replica!.batch(w => { for (let i = 0; i < size; i++) w.put('bench', `k${done + i}`, { s: `some text value ${done + i}` }) })
        done += size
      }
      return { ms: now() - t }
    },
    writeBlobs: async (m: { n: number, bytes: number }) => {
      const { randomBytes } = await import('node:crypto')
      for (let i = 0; i < m.n; i++) replica!.put('blobs', `b${i}`, { data: randomBytes(m.bytes) })
    },
    singles: async (m: { count: number, intervalMs: number }) => {
      const sent: Record<string, number> = {}
      for (let i = 0; i < m.count; i++) {
        const key = `single-${Date.now()}-${i}`
        sent[key] = now()
        replica!.put('latency', key, { i })
        if (m.intervalMs > 0) await sleep(m.intervalMs)
        else if (i % 10 === 9) await sleep(0)
      }
      return sent
    },
    listen: () => {
      replica!.subscribe(e => {
        if (e.source !== 'remote') return
        const t = now()
        for (const op of e.ops) if (op.collection === 'latency') arrivals[op.key] = t
      })
    },
    arrivals: () => arrivals,
    dial: async (m: { addr: string }) => { await node!.dial(multiaddr(m.addr)); return now() },
    waitSeq: async (m: { origin: string, seq: number, timeoutMs?: number }) => {
      const until = now() + (m.timeoutMs ?? 600_000)
      while (now() < until) {
        if ((replica!.versionVector().get(m.origin) ?? 0) >= m.seq) return now()
        await sleep(2)
      }
      throw new Error(`timed out waiting for seq ${m.seq} of ${m.origin}`)
    },
    sessions: async (m: { settle?: boolean }) => {
      if (m.settle === true) {
        for (let i = 0; i < 500 && (sessions.length === 0 || node!.services.sync.getPeerStates().some(s => s.sessionActive)); i++) await sleep(2)
      }
      const out = sessions
      sessions = []
      return out
    },
    hangup: async (m: { peer: string }) => {
      const peer = peerIdFromString(m.peer)
      await node!.hangUp(peer)
      for (let i = 0; i < 500 && node!.getConnections(peer).length > 0; i++) await sleep(2)
    },
    /** WEFT_BENCH_CPU_PROFILE=<path prefix>: a V8 CPU profile of each side during the initial sync. */
    profile: async (m: { start?: boolean, file?: string }) => {
      const inspector = await import('node:inspector/promises')
      const { writeFileSync } = await import('node:fs')
      profiler ??= new inspector.Session()
      if (m.start === true) {
        profiler.connect()
        await profiler.post('Profiler.enable')
        await profiler.post('Profiler.start')
        return
      }
      const { profile } = await profiler.post('Profiler.stop')
      writeFileSync(m.file!, JSON.stringify(profile))
      profiler.disconnect()
    },
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

function parseArgs (argv: string[]): SyncBenchOptions {
  const out: SyncBenchOptions = {}
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, '').split('=')
    if (k === 'sizes' && v !== undefined) out.sizes = v.split(',').map(s => Number(s.replace(/_/g, '')))
    else if (k === 'writes' && v !== undefined) out.writes = Number(v)
    else if (k === 'incremental' && v !== undefined) out.incremental = Number(v)
    else if (k === 'large-values' && v !== undefined) out.largeValues = Number(v)
    else throw new Error(`unknown argument ${a} (use --sizes=100000,1000000 --writes=1000 --incremental=100 --large-values=48)`)
  }
  return out
}

if (process.argv[2] === 'child') {
  await child()
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchSync(parseArgs(process.argv.slice(2)))
  process.stdout.write(`${JSON.stringify(result)}\n`)
}
