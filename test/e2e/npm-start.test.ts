/**
 * `npm start` as a user runs it: the real npm, scripts/start.mjs and the
 * daemon, three processes. Stopping npm stops the daemon (no orphan left
 * holding the data dir), and a Ctrl-C, which reaches the script twice (from
 * the terminal and forwarded by npm), stops it cleanly, once.
 *
 * mDNS and UPnP off, libp2p on 127.0.0.1 only. npm runs in a process group of
 * its own, as in a terminal, so the test can signal that group like Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { call } from '../../src/cli/client.js'
import { acquireLock } from '../../src/daemon/lock.js'
import { ROOT, staleReason } from '../../scripts/build.mjs'
import { childEnv, removeDir, tempDataDir } from '../helpers/daemon.js'

const TEST_TIMEOUT_MS = 180_000
const POLL_MS = 100

const cleanup: Array<() => void> = []
afterEach(() => { for (const f of cleanup.splice(0).reverse()) f() })

beforeAll(() => {
  // A build started from here would rewrite dist/ under the other test files' feet.
  const reason = staleReason()
  if (reason !== null) throw new Error(`dist/ is not up to date (${reason}): run npm run build first`)
})

/** Live (not zombie) processes whose parent is `pid`, and theirs, from /proc. */
function descendants (pid: number): number[] {
  const parentOf = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      // The command name (2nd field) is in parentheses and may hold spaces: read after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state !== 'Z') parentOf.set(Number(name), Number(ppid))
    } catch { /* it exited while we read */ }
  }
  const found: number[] = []
  const walk = (p: number): void => { for (const [c, pp] of parentOf) if (pp === p) { found.push(c); walk(c) } }
  walk(pid)
  return found
}

function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch { return false }
}

async function until (what: string, check: () => boolean, capMs: number): Promise<void> {
  const deadline = Date.now() + capMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${capMs} ms`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

interface NpmStart { npm: ChildProcess, output: () => string, exited: Promise<number | null>, daemonPid: number }

async function npmStart (dataDir: string): Promise<NpmStart> {
  const npm = spawn('npm', ['start', '--', '--data-dir', dataDir, '--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0'], {
    cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true
  })
  cleanup.push(() => {
    // Whatever the test left behind: the group, and a daemon that escaped it.
    for (const pid of descendants(npm.pid!)) try { process.kill(pid, 'SIGKILL') } catch {}
    try { process.kill(-npm.pid!, 'SIGKILL') } catch {}
  })
  let output = ''
  npm.stdout!.on('data', d => { output += String(d) })
  npm.stderr!.on('data', d => { output += String(d) })
  const exited = new Promise<number | null>(resolve => npm.on('exit', code => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    npm.stdout!.on('data', () => { if (output.includes('weft: running as')) resolve() })
    void exited.then(code => reject(new Error(`npm start exited (${code}) before the daemon ran:\n${output}`)))
  })
  // npm -> node scripts/start.mjs (the shell exec'd into it) -> node dist/src/bin/weft.cjs start
  const daemon = descendants(npm.pid!).find(pid => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('start') &&
    readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/src/bin/weft.cjs'))
  if (daemon === undefined) throw new Error(`no daemon process under npm:\n${output}`)
  return { npm, output: () => output, exited, daemonPid: daemon }
}

describe('npm start', () => {
  it('does not rebuild an up-to-date dist/, and SIGTERM to npm stops the daemon: no orphan, the lock released', async () => {
    const dir = tempDataDir('weft-npm-start')
    cleanup.push(() => removeDir(dir))
    const s = await npmStart(dir)
    expect(s.output()).not.toContain('building first')
    // The daemon answers on its control socket (childEnv has no XDG_RUNTIME_DIR: it is in <data dir>/run).
    const status = await call(join(dir, 'run', 'control.sock'), 'GET', '/v1/status') as { dataDir: string }
    expect(status.dataDir).toBe(dir)
    const tree = [s.npm.pid!, ...descendants(s.npm.pid!)]

    s.npm.kill('SIGTERM')
    await until('the daemon exits', () => !alive(s.daemonPid), 60_000)
    await until('npm, the start script and the daemon all exit', () => tree.every(pid => !alive(pid)), 60_000)
    await s.exited
    expect(s.output()).toContain('SIGTERM: stopping')
    expect(s.output()).toContain('"msg":"stopped"')
    expect(s.output()).not.toContain('exiting now')
    // The daemon let go of its data dir: another process can take the lock.
    acquireLock(join(dir, 'daemon.lock'), dir)()
  }, TEST_TIMEOUT_MS)

  it('Ctrl-C (SIGINT to the whole foreground group) stops the daemon cleanly, with one signal', async () => {
    const dir = tempDataDir('weft-npm-start')
    cleanup.push(() => removeDir(dir))
    const s = await npmStart(dir)
    const tree = [s.npm.pid!, ...descendants(s.npm.pid!)]

    process.kill(-s.npm.pid!, 'SIGINT')
    await until('the daemon exits', () => !alive(s.daemonPid), 60_000)
    await until('npm, the start script and the daemon all exit', () => tree.every(pid => !alive(pid)), 60_000)
    await s.exited
    expect(s.output().match(/SIGINT: stopping/g)).toHaveLength(1)
    expect(s.output()).toContain('"msg":"stopped"')
    // Not the forced exit that a second signal means.
    expect(s.output()).not.toContain('exiting now')
    acquireLock(join(dir, 'daemon.lock'), dir)()
  }, TEST_TIMEOUT_MS)
})
