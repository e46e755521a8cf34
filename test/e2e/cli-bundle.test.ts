/**
 * The `weft` binary users run is one bundled CommonJS file
 * (dist/src/bin/weft.cjs, scripts/build.mjs) that loads the daemon's entry
 * point from tsc's modules beside it only for the commands that need it.
 * What that must keep true, checked on the built file:
 * - `get` and `put` need nothing but the bundle and Node's built-ins: a copy
 *   of the bundle alone, in a folder with no dist/ modules and no
 *   node_modules anywhere above it, answers them;
 * - the daemon's entry point is found beside the bundle, not inside it;
 * - paths the bundled modules take from `import.meta.url` are the bundle's;
 * - an error thrown by the daemon's entry point (its own copy of errors.ts)
 *   keeps its code, so its exit status and `--json` line.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { childEnv, CLI, removeDir, runCli, startDaemon, tempDataDir, type CliResult } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

/** Every folder from `dir` up to the root that holds a node_modules. */
function nodeModulesAbove (dir: string): string[] {
  const found: string[] = []
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(d)
    if (dirname(d) === d) return found
  }
}

/** A copy of the bundle alone, at the same depth as in a checkout (dist/src/bin/). */
function loneBundle (): string {
  const root = tempDataDir('weft-lone-bundle')
  cleanup.push(() => removeDir(root))
  const lone = join(root, 'dist', 'src', 'bin', 'weft.cjs')
  mkdirSync(dirname(lone), { recursive: true })
  copyFileSync(CLI, lone)
  return lone
}

/** Runs the `weft` at `file` with `args`, as runCli runs the one in dist/. */
async function runAt (file: string, args: string[]): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, [file, ...args], { env: childEnv(), timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err)
      else resolve({ code: err === null ? 0 : err.code as number, stdout, stderr })
    })
  })
}

const errorLine = (r: CliResult): unknown => JSON.parse(r.stderr.trim().split('\n').at(-1)!)

describe('the weft bundle', () => {
  it('answers get and put with nothing but itself and Node\'s built-ins, and loads the daemon only from beside itself', async () => {
    const lone = loneBundle()
    // A node_modules above the copy would let a bundled `require` of a package succeed here.
    expect(nodeModulesAbove(dirname(lone))).toEqual([])
    const dir = tempDataDir()
    cleanup.push(() => removeDir(dir))
    const d = await startDaemon(dir)
    cleanup.push(async () => await d.stop())

    const put = await runAt(lone, ['put', 'notes', 'n1', 'title=from the lone bundle', '--data-dir', dir])
    expect(put.code, put.stderr).toBe(0)
    const get = await runAt(lone, ['get', 'notes', 'n1', '--json', '--data-dir', dir])
    expect(get.code, get.stderr).toBe(0)
    expect(JSON.parse(get.stdout)).toEqual({ title: 'from the lone bundle' })

    // `start` needs the daemon's entry point, which is not in the bundle: it is looked for beside it.
    const other = tempDataDir()
    cleanup.push(() => removeDir(other))
    const start = await runAt(lone, ['start', '--data-dir', other, '--no-mdns', '--no-upnp'])
    expect(start.code).toBe(1)
    expect(start.stderr).toContain(join(dirname(dirname(lone)), 'daemon', 'main.js'))
  })

  it('puts its own path in the service unit (import.meta.url inside the bundle)', async () => {
    const lone = loneBundle()
    const r = await runAt(lone, ['service', 'install', '--system', '--print'])
    expect(r.code, r.stderr).toBe(0)
    const execStart = r.stdout.split('\n').find(l => l.startsWith('ExecStart='))
    expect(execStart?.split(' ').slice(0, 3)).toEqual([`ExecStart=${process.execPath}`, lone, 'start'])
  })

  it('keeps the code of an error thrown by the daemon\'s entry point: its exit status and --json line', async () => {
    const dir = tempDataDir()
    cleanup.push(() => removeDir(dir))
    const badPort = await runCli(['start', '--api-port', 'eighty', '--json', '--data-dir', dir])
    expect(badPort.code).toBe(2)
    expect(errorLine(badPort)).toEqual({ error: { code: 'INVALID_ARGUMENT', message: '--api-port must be a port number, got "eighty"' } })
    const badLevel = await runCli(['start', '--log-level', 'loud', '--json', '--data-dir', dir])
    expect(badLevel.code).toBe(2)
    expect(errorLine(badLevel)).toMatchObject({ error: { code: 'BAD_CONFIG' } })
  })
})
