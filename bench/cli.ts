/**
 * `npm run bench:cli`: how long one CLI call takes from the shell's point of
 * view, process start to exit, against a running daemon. Hooks call
 * `weft put`/`weft add` once per event, so this is the latency they add.
 *
 * One daemon (`weft start`, mDNS and UPnP off, 127.0.0.1 only) in a temp data
 * dir; then `--runs` rounds, each running, one after another: bare
 * `node -e ''` (what Node itself costs on this machine right now),
 * `weft get notes n1` and `weft put notes n1 title=…`. Interleaving them puts
 * the three under the same load, so the CLI's own share is the difference
 * with the bare start measured in the same run.
 *
 * Run: `npm run bench:cli [-- --runs 20] [--cli PATH]`; `--cli` adds another
 * build of the CLI (another checkout's `weft` binary) to each round, against
 * this build's daemon, and reports the difference per round (this build
 * minus the other, its median): two versions compared under the same load.
 * Target: `get` and `put` median under 150 ms on an idle machine.
 */
import '../src/polyfill.js'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { median, percentile, row, tempDir } from './util.js'

const CLI = resolve(import.meta.dirname, '../src/bin/weft.cjs')
const DAEMON_START_TIMEOUT_MS = 60_000
const CALL_TIMEOUT_MS = 30_000

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, cli: { type: 'string' } } })
const OTHER_CLI = values.cli === undefined ? undefined : resolve(values.cli)
const runs = Number(values.runs)
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${JSON.stringify(values.runs)}`)

/** No path variables from this shell: the daemon's socket goes in <data dir>/run. */
function env (): NodeJS.ProcessEnv {
  const e = { ...process.env }
  delete e.XDG_RUNTIME_DIR
  delete e.WEFT_DATA_DIR
  delete e.WEFT_CONFIG
  return e
}

/** Runs one process to its end; returns its wall time in ms (throws unless it exits 0). */
async function timed (args: string[]): Promise<number> {
  const start = process.hrtime.bigint()
  return await new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { env: env(), stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: no exit within ${CALL_TIMEOUT_MS} ms`)) }, CALL_TIMEOUT_MS)
    child.on('error', reject)
    child.on('exit', code => {
      clearTimeout(timer)
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (code === 0) resolvePromise(ms)
      else reject(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`))
    })
  })
}

const { dir, cleanup } = tempDir('cli')
const daemon = spawn(process.execPath, [CLI, 'start', '--data-dir', dir, '--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
const exited = new Promise<void>(res => daemon.on('exit', () => res()))
try {
  await new Promise<void>((res, rej) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => rej(new Error(`the daemon did not start within ${DAEMON_START_TIMEOUT_MS} ms: ${err}`)), DAEMON_START_TIMEOUT_MS)
    daemon.stderr.on('data', d => { err += String(d) })
    daemon.stdout.on('data', d => {
      out += String(d)
      if (out.includes('running as')) { clearTimeout(timer); res() }
    })
    void exited.then(() => { clearTimeout(timer); rej(new Error(`the daemon exited before it was ready: ${err}`)) })
  })
  const builds = OTHER_CLI === undefined ? [CLI] : [CLI, OTHER_CLI]
  for (const b of builds) await timed([b, 'put', 'notes', 'n1', 'title=warm-up', '--data-dir', dir])
  const bare: number[] = []
  const get = builds.map((): number[] => [])
  const put = builds.map((): number[] => [])
  for (let i = 0; i < runs; i++) {
    bare.push(await timed(['-e', '']))
    // Alternate which build goes first, so neither always runs in the other's wake.
    const order = i % 2 === 0 ? [...builds.entries()] : [...builds.entries()].reverse()
    for (const [j, b] of order) {
      get[j]!.push(await timed([b, 'get', 'notes', 'n1', '--data-dir', dir]))
      put[j]!.push(await timed([b, 'put', 'notes', 'n1', `title=run-${i}`, '--data-dir', dir]))
    }
  }
  const show = (xs: number[]): string => `median ${median(xs).toFixed(1)} ms, p90 ${percentile(xs, 90).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`
  process.stdout.write(`CLI call, process start to exit (${runs} runs each, interleaved)\n`)
  row('node -e \'\' (bare Node start, same run)', show(bare))
  for (const [j, b] of builds.entries()) {
    const name = j === 0 ? '' : ' (other build)'
    if (builds.length > 1) process.stdout.write(`  ${b}\n`)
    row(`weft get notes n1${name}`, show(get[j]!))
    row(`weft put notes n1 title=…${name}`, show(put[j]!))
    row(`get minus bare Node (medians)${name}`, `${(median(get[j]!) - median(bare)).toFixed(1)} ms`)
  }
  if (builds.length > 1) {
    const paired = (xs: number[][]): string => `${median(xs[0]!.map((x, i) => x - xs[1]![i]!)).toFixed(1)} ms`
    row('get: this build minus the other (paired, median)', paired(get))
    row('put: this build minus the other (paired, median)', paired(put))
  }
} finally {
  daemon.kill('SIGTERM')
  await exited
  cleanup()
}
