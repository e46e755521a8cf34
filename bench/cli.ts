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
 * Run: `npm run bench:cli [-- --runs 20] [--cli PATH]`; `--cli` times another
 * build of the CLI (another checkout's dist/src/bin/weft.cjs) against this
 * build's daemon, to compare two versions in the same minutes. Target: `get`
 * and `put` median under 150 ms on an idle machine.
 */
import '../src/polyfill.js'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { median, percentile, row, tempDir } from './util.js'

const DAEMON_CLI = resolve(import.meta.dirname, '../src/bin/weft.cjs')
const DAEMON_START_TIMEOUT_MS = 60_000
const CALL_TIMEOUT_MS = 30_000

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, cli: { type: 'string' } } })
const CLI = values.cli === undefined ? DAEMON_CLI : resolve(values.cli)
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
const daemon = spawn(process.execPath, [DAEMON_CLI, 'start', '--data-dir', dir, '--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
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
  const cli = (...a: string[]): string[] => [CLI, ...a, '--data-dir', dir]
  await timed(cli('put', 'notes', 'n1', 'title=warm-up'))
  const bare: number[] = []
  const get: number[] = []
  const put: number[] = []
  for (let i = 0; i < runs; i++) {
    bare.push(await timed(['-e', '']))
    get.push(await timed(cli('get', 'notes', 'n1')))
    put.push(await timed(cli('put', 'notes', 'n1', `title=run-${i}`)))
  }
  const show = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms, p90 ${percentile(xs, 90).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`
  process.stdout.write(`CLI call, process start to exit (${runs} runs each, interleaved; ${CLI})\n`)
  row('node -e \'\' (bare Node start, same run)', show(bare))
  row('weft get notes n1', show(get))
  row('weft put notes n1 title=…', show(put))
  row('get minus bare Node (medians)', `${(median(get) - median(bare)).toFixed(0)} ms`)
} finally {
  daemon.kill('SIGTERM')
  await exited
  cleanup()
}
