/**
 * Real weft processes for the fault suite, and what it does to them: start
 * (optionally under faketime or in a PID namespace), kill -9, SIGSTOP, talk
 * to the control API over the Unix socket, mount a small tmpfs. Everything
 * started or mounted is registered, so cleanup stops exactly those (by pid,
 * never by name) even when a row throws or the run is interrupted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { resolvePaths } from '../../src/daemon/paths.js'
import { childEnv } from '../helpers/daemon.js'

/** The built CLI: this suite runs compiled, from dist/test/faults. */
export const CLI = resolve(import.meta.dirname, '../../src/bin/weft.cjs')

/** Where weft's tests listen: loopback only; mDNS and UPnP off. */
export const NET_ARGS = ['--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0']

export interface WeftProcess {
  readonly dataDir: string
  readonly child: ChildProcess
  /** The pid to signal: the node process itself (inside `unshare`, its child). */
  pid: number
  deviceId: string
  /** ms from spawn to "running as". */
  startMs: number
  stderr(): string
  readonly exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * What was started or made, by the scope it belongs to: a row cleans up its
 * own scope when it ends, and the clock row, which runs beside the others,
 * keeps its scope until it finishes.
 */
let scope = 'row'
const live = new Map<WeftProcess, string>()
const mounts = new Map<string, string>()
const dirs = new Map<string, string>()

export function setScope (name: string): void { scope = name }

export function tempDir (prefix = 'weft-faults-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.set(dir, scope)
  return dir
}

export function socketOf (dataDir: string): string {
  return resolvePaths({ dataDir }, { ...childEnv(), XDG_RUNTIME_DIR: '' }).socket
}

export interface StartOptions {
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** A command to run node under, e.g. ['unshare', '--pid', '--fork', '--mount-proc']. */
  prefix?: string[]
  timeoutMs?: number
  logLevel?: string
}

/** The pid of `parent`'s (first) child, for a node started under unshare --fork. */
function childPidOf (parent: number): number | undefined {
  try {
    const list = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    return list[0]
  } catch { return undefined }
}

/** Spawns `weft start`; resolves once it is running, rejects (with its stderr) if it exits first. */
export async function startWeft (dataDir: string, o: StartOptions = {}): Promise<WeftProcess> {
  const res = await tryStartWeft(dataDir, o)
  if ('exitCode' in res) throw new Error(`weft start on ${dataDir} exited with ${res.exitCode} before it was ready:\n${res.stderr.slice(-2000)}`)
  return res
}

/** Like startWeft, but a refusal to start is an answer: { exitCode, stderr }. */
export async function tryStartWeft (dataDir: string, o: StartOptions = {}): Promise<WeftProcess | { exitCode: number | null, stderr: string }> {
  const nodeArgs = [CLI, 'start', '--data-dir', dataDir, ...NET_ARGS, '--log-level', o.logLevel ?? 'info', ...(o.args ?? [])]
  const [cmd, ...pre] = o.prefix ?? []
  const t0 = Date.now()
  const child = cmd === undefined
    ? spawn(process.execPath, nodeArgs, { env: childEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd, [...pre, process.execPath, ...nodeArgs], { env: childEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', d => { stderr += String(d); if (stderr.length > 8_000_000) stderr = stderr.slice(-4_000_000) })
  const exited = new Promise<number | null>(res => { child.on('exit', code => res(code)); child.on('error', () => res(-1)) })
  const p: WeftProcess = {
    dataDir,
    child,
    pid: child.pid!,
    deviceId: '',
    startMs: 0,
    stderr: () => stderr,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      try { process.kill(p.pid, signal) } catch {}
      if (signal === 'SIGSTOP' || signal === 'SIGCONT') return null
      return await exited
    }
  }
  live.set(p, scope)
  const outcome = await new Promise<'ready' | 'exited'>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`weft start on ${dataDir} not ready in ${o.timeoutMs ?? 60_000} ms; stderr:\n${stderr.slice(-2000)}`)), o.timeoutMs ?? 60_000)
    child.stdout!.on('data', d => {
      stdout += String(d)
      const m = /running as (\S+);/.exec(stdout)
      if (m !== null) { clearTimeout(timer); p.deviceId = m[1]!; res('ready') }
    })
    void exited.then(() => { clearTimeout(timer); res('exited') })
  })
  if (outcome === 'exited') return { exitCode: child.exitCode, stderr }
  p.startMs = Date.now() - t0
  if (cmd !== undefined) p.pid = childPidOf(child.pid!) ?? child.pid!
  return p
}

/** Runs the CLI to completion. */
export async function cli (args: string[], timeoutMs = 60_000): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += String(d) })
    child.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`weft ${args.join(' ')} took over ${timeoutMs} ms`)) }, timeoutMs)
    child.on('close', code => { clearTimeout(timer); res({ code: code ?? -1, stdout, stderr }) })
  })
}

export interface ApiResponse { status: number, body: any }

/** One control API request over the daemon's Unix socket. */
export async function api (dataDir: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return await new Promise((res, rej) => {
    const req = request({ socketPath: socketOf(dataDir), method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }, timeout: timeoutMs }, r => {
      const chunks: Buffer[] = []
      r.on('data', c => chunks.push(c as Buffer))
      r.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch {}
        res({ status: r.statusCode ?? 0, body: parsed })
      })
      r.on('error', rej)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)))
    req.on('error', rej)
    req.end(payload)
  })
}

export async function apiOk (dataDir: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await api(dataDir, method, path, body)
  if (r.status !== 200) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
  return r.body
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(res => setTimeout(res, ms)) }

/** Polls until `check` passes or `timeoutMs` passes; returns the last value and whether it passed. */
export async function waitFor<T> (
  fn: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs: number,
  everyMs = 250
): Promise<{ ok: boolean, value: T | undefined, ms: number }> {
  const t0 = Date.now()
  let value: T | undefined
  while (Date.now() - t0 < timeoutMs) {
    try {
      value = await fn()
      if (check(value)) return { ok: true, value, ms: Date.now() - t0 }
    } catch {}
    await sleep(everyMs)
  }
  return { ok: false, value, ms: Date.now() - t0 }
}

/** Pairs `joiner` into `inviter`'s group through the CLI. */
export async function pair (inviter: string, joiner: string): Promise<void> {
  const invite = await cli(['invite', '--json', '--data-dir', inviter])
  if (invite.code !== 0) throw new Error(`weft invite: ${invite.stderr}`)
  const code = JSON.parse(invite.stdout).code as string
  const join = await cli(['join', code, '--json', '--data-dir', joiner])
  if (join.code !== 0) throw new Error(`weft join: ${join.stderr}`)
}

export async function addressOf (dataDir: string): Promise<string> {
  const s = await apiOk(dataDir, 'GET', '/v1/status')
  return (s.network.addresses as string[])[0]!
}

/** Mounts a tmpfs of `mib` MiB (root only); unmounted by cleanup. */
export function mountTmpfs (mib: number): string {
  const dir = tempDir('weft-faults-tmpfs-')
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
  mounts.set(dir, scope)
  return dir
}

/** Fills the file system holding `dir` with a ballast file, leaving about `leaveKiB`. */
export function fillDisk (dir: string, leaveKiB: number): string {
  const avail = Number(execFileSync('df', ['--output=avail', '-k', dir], { encoding: 'utf8' }).trim().split('\n').pop())
  const ballast = join(dir, 'ballast')
  writeFileSync(ballast, Buffer.alloc(Math.max(0, avail - leaveKiB) * 1024))
  return ballast
}

export function freeKiB (dir: string): number {
  return Number(execFileSync('df', ['--output=avail', '-k', dir], { encoding: 'utf8' }).trim().split('\n').pop())
}

/** Resident set size of a process, in MiB. */
export function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) / 1024
}

/** Stops the processes of `only` (every scope without it) and removes its mounts and temp dirs. */
export async function cleanupAll (only?: string): Promise<void> {
  const mine = <T>(m: Map<T, string>): T[] => [...m].filter(([, s]) => only === undefined || s === only).map(([k]) => k)
  await Promise.all(mine(live).map(async p => { try { process.kill(p.pid, 'SIGCONT') } catch {} await p.kill('SIGKILL') }))
  for (const p of mine(live)) live.delete(p)
  for (const m of mine(mounts)) { try { execFileSync('umount', ['-l', m], { stdio: 'pipe' }) } catch {} mounts.delete(m) }
  for (const d of mine(dirs)) { rmSync(d, { recursive: true, force: true }); dirs.delete(d) }
}

/** The synchronous last resort (process exit). */
export function cleanupNow (): void {
  for (const p of live.keys()) { try { process.kill(p.pid, 'SIGKILL') } catch {} try { p.child.kill('SIGKILL') } catch {} }
  live.clear()
  for (const m of mounts.keys()) { try { execFileSync('umount', ['-l', m], { stdio: 'pipe' }) } catch {} }
  mounts.clear()
  for (const d of dirs.keys()) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}
