/**
 * Real daemon and CLI processes for end-to-end tests: the `weft` binary
 * users run (the bundle `dist/src/bin/weft.cjs`, which `npm test` builds
 * first) started in temp data dirs. mDNS and UPnP are off and libp2p listens
 * on 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { call } from '../../src/cli/client.js'

export const CLI = resolve(import.meta.dirname, '../../dist/src/bin/weft.cjs')

export interface CliResult { code: number, stdout: string, stderr: string }

export function tempDataDir (prefix = 'weft-e2e'): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`))
}

/**
 * Environment for child processes: none of this shell's path variables (no
 * XDG runtime dir, so the socket sits in <data dir>/run), then `extra`.
 */
export function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.XDG_RUNTIME_DIR
  delete env.WEFT_DATA_DIR
  delete env.WEFT_CONFIG
  return { ...env, ...extra }
}

export async function runCli (args: string[], opts: { env?: NodeJS.ProcessEnv, timeoutMs?: number, prefix?: string[] } = {}): Promise<CliResult> {
  return await new Promise((resolvePromise, reject) => {
    const [cmd, ...pre] = opts.prefix ?? [process.execPath]
    const child = spawn(cmd!, [...pre, ...(opts.prefix === undefined ? [] : [process.execPath]), CLI, ...args], { env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += String(d) })
    child.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`weft ${args.join(' ')} did not finish in time; stderr: ${stderr}`)) }, opts.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolvePromise({ code: code ?? -1, stdout, stderr }) })
  })
}

export interface DaemonProcess {
  readonly dataDir: string
  readonly child: ChildProcess
  readonly deviceId: string
  stderr: () => string
  /** SIGTERM and wait for exit; returns the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
  cli: (args: string[]) => Promise<CliResult>
  /** One control API request over the daemon's socket (no CLI process: for many writes). */
  api: (method: string, path: string, body?: unknown) => Promise<unknown>
}

export async function startDaemon (dataDir: string, extraArgs: string[] = [], timeoutMs = 30_000): Promise<DaemonProcess> {
  const args = [CLI, 'start', '--data-dir', dataDir, '--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'debug', ...extraArgs]
  const child = spawn(process.execPath, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', d => { stderr += String(d) })
  const exited = new Promise<number | null>(res => child.on('exit', code => res(code)))
  const deviceId = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`daemon did not start in ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs)
    child.stdout!.on('data', d => {
      stdout += String(d)
      const m = /running as (\S+);/.exec(stdout)
      if (m !== null) { clearTimeout(timer); res(m[1]!) }
    })
    void exited.then(code => { clearTimeout(timer); rej(new Error(`daemon exited with ${code} before it was ready; stderr:\n${stderr}`)) })
  })
  return {
    dataDir,
    child,
    deviceId,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode
      child.kill(signal)
      return await exited
    },
    cli: async (a: string[]) => await runCli([...a, '--data-dir', dataDir]),
    // childEnv() drops XDG_RUNTIME_DIR, so the daemon's socket is in <data dir>/run (see src/daemon/paths.ts).
    api: async (method, path, body) => await call(join(dataDir, 'run', 'control.sock'), method, path, body === undefined ? {} : { body })
  }
}

export function removeDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/** Polls `fn` until `check` passes; bounded, so a broken sync fails the test instead of hanging. */
export async function eventually<T> (what: string, fn: () => Promise<T>, check: (v: T) => boolean, tries = 80): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < tries; i++) {
    last = await fn()
    if (check(last)) return last
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`${what}: never happened; last value ${JSON.stringify(last)}`)
}
