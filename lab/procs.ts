/**
 * Commands and long-running processes for the NAT lab. Every process the lab
 * starts is registered here, so cleanup can stop exactly those (by pid, never
 * by name) even when a scenario throws or the run is interrupted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'

export class CommandError extends Error {
  static override name = 'CommandError'
}

/** Runs a command to completion; throws with its stderr on a non-zero exit. */
export function run (cmd: string, args: string[], opts: { input?: string, timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000, ...(opts.input === undefined ? {} : { input: opts.input }) })
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new CommandError(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`)
  }
}

/** Like `run`, but failure is an answer, not an exception. */
export function tryRun (cmd: string, args: string[]): boolean {
  try { run(cmd, args); return true } catch { return false }
}

export const inNs = (ns: string, cmd: string, args: string[]): string => run('ip', ['netns', 'exec', ns, cmd, ...args])

export interface LabProcess {
  readonly name: string
  readonly child: ChildProcess
  /** stdout lines so far. */
  readonly lines: string[]
  stdout(): string
  stderr(): string
  /** Waits for a stdout line matching `test`; returns it. Rejects on exit or timeout. */
  waitForLine(test: RegExp | ((line: string) => boolean), what: string, timeoutMs?: number): Promise<string>
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves with the exit code (null: killed by a signal). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>
  readonly exited: Promise<number | null>
}

const live = new Set<LabProcess>()

/** Starts `cmd args` in network namespace `ns` (`ip netns exec` execs into it, so the pid is the command's). */
export function spawnIn (ns: string, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): LabProcess {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let out = ''
  let err = ''
  let partial = ''
  const waiters = new Set<() => void>()
  child.stdout!.on('data', (d: Buffer) => {
    out += String(d)
    partial += String(d)
    const parts = partial.split('\n')
    partial = parts.pop()!
    lines.push(...parts)
    for (const w of waiters) w()
  })
  child.stderr!.on('data', (d: Buffer) => { err += String(d); if (err.length > 4_000_000) err = err.slice(-2_000_000) })
  const exited = new Promise<number | null>(resolve => {
    child.on('exit', code => { for (const w of waiters) w(); resolve(code) })
    child.on('error', () => { resolve(-1) })
  })
  const p: LabProcess = {
    name,
    child,
    lines,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLine: async (test, what, timeoutMs = 30_000) => {
      const match = typeof test === 'function' ? test : (l: string) => test.test(l)
      return await new Promise<string>((resolve, reject) => {
        let seen = 0
        const check = (): void => {
          for (; seen < lines.length; seen++) {
            if (match(lines[seen]!)) { done(); resolve(lines[seen]!); return }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            done()
            reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr tail:\n${err.slice(-2000)}`))
          }
        }
        const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from ${name}; stderr tail:\n${err.slice(-2000)}`)) }, timeoutMs)
        const done = (): void => { clearTimeout(timer); waiters.delete(check) }
        waiters.add(check)
        check()
      })
    },
    stop: async (signal = 'SIGTERM', graceMs = 5_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
        await exited
        clearTimeout(timer)
      }
      live.delete(p)
      return await exited
    }
  }
  live.add(p)
  return p
}

/** Stops every process the lab started and that is still running. */
export async function stopAllProcesses (): Promise<void> {
  await Promise.all([...live].map(async p => await p.stop('SIGTERM', 3_000)))
}

/** Synchronous last resort (process 'exit' handler): SIGKILL what is left. */
export function killAllProcessesNow (): void {
  for (const p of live) { try { p.child.kill('SIGKILL') } catch {} }
  live.clear()
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Polls until `check` holds; bounded. */
export async function poll (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 250): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await sleep(intervalMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}
