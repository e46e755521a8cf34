/**
 * The runtime kit's process shell in a real child process (node running the
 * built module): SIGTERM stops gracefully and exits 0; a second signal cuts
 * a stop short with 130; a stop that hangs past its deadline is logged and
 * exits 1; a stop that throws is logged and exits 1; and stdout whose reader
 * went away ends the writes quietly instead of crashing on EPIPE.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { EXIT } from '../../src/runtime/process.js'

const PROCESS_JS = pathToFileURL(resolve(import.meta.dirname, '../../dist/src/runtime/process.js')).href
const LOG_JS = pathToFileURL(resolve(import.meta.dirname, '../../dist/src/runtime/log.js')).href

/** A child that installs the stop handlers, says "ready", and on a signal runs `stop` (JS source of an async function) under `deadlineMs`. */
function child (stop: string, deadlineMs = 10_000): ChildProcessWithoutNullStreams {
  const script = `
    const { onStopSignals, gracefulStop } = await import(${JSON.stringify(PROCESS_JS)})
    const { createLogger } = await import(${JSON.stringify(LOG_JS)})
    const log = createLogger('info')
    const signals = onStopSignals(log)
    // Signal handlers alone keep no process alive; a server would.
    const alive = setInterval(() => {}, 60_000)
    process.stdout.write('ready\\n')
    await signals.requested
    clearInterval(alive)
    await gracefulStop(log, ${stop}, ${deadlineMs})
  `
  return spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' })
}

async function ready (p: ChildProcessWithoutNullStreams): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let seen = ''
    p.stdout.on('data', c => { seen += String(c); if (seen.includes('ready\n')) resolve() })
    p.once('exit', () => { reject(new Error('the child ended before it was ready')) })
  })
}

/** Exit code and the `msg` of each JSON log line on stderr. */
async function ended (p: ChildProcessWithoutNullStreams): Promise<{ code: number | null, logs: string[] }> {
  let err = ''
  p.stderr.on('data', c => { err += String(c) })
  const [code] = await once(p, 'exit') as [number | null]
  const logs = err.split('\n').filter(l => l.startsWith('{')).map(l => (JSON.parse(l) as { msg: string }).msg)
  return { code, logs }
}

describe('runtime process shell', () => {
  it('stops gracefully on SIGTERM and exits 0', async () => {
    const p = child('async () => {}')
    const done = ended(p)
    await ready(p)
    p.kill('SIGTERM')
    expect(await done).toEqual({ code: EXIT.ok, logs: ['SIGTERM: stopping', 'stopped'] })
  })

  it('exits 130 on a second signal during a stop', async () => {
    // The stop never ends; a second signal must not wait for it.
    const p = child('async () => { process.stdout.write("stopping\\\\n"); await new Promise(() => { setInterval(() => {}, 1000) }) }')
    const done = ended(p)
    await ready(p)
    let out = ''
    const stopping = new Promise<void>(resolve => { p.stdout.on('data', c => { out += String(c); if (out.includes('stopping')) resolve() }) })
    p.kill('SIGINT')
    await stopping
    p.kill('SIGTERM')
    expect(await done).toEqual({ code: EXIT.interrupted, logs: ['SIGINT: stopping', 'second SIGTERM: exiting now'] })
  })

  it('exits 1 with a log line when the stop outlives its deadline', async () => {
    const p = child('async () => { await new Promise(() => { setInterval(() => {}, 1000) }) }', 200)
    const done = ended(p)
    await ready(p)
    p.kill('SIGTERM')
    expect(await done).toEqual({ code: EXIT.error, logs: ['SIGTERM: stopping', 'stop did not finish within 200 ms: exiting now'] })
  })

  it('exits 1 when the stop fails, saying why', async () => {
    const p = child('async () => { throw new Error("disk gone") }')
    const done = ended(p)
    await ready(p)
    p.kill('SIGTERM')
    expect(await done).toEqual({ code: EXIT.error, logs: ['SIGTERM: stopping', 'stop failed: Error: disk gone'] })
  })

  it('ends writes quietly when the reader of stdout goes away', async () => {
    const script = `
      const { stdoutGone, writeLine } = await import(${JSON.stringify(PROCESS_JS)})
      const gone = stdoutGone()
      for (let i = 0; !gone.aborted; i++) {
        writeLine('line ' + i)
        await new Promise(resolve => setImmediate(resolve))
      }
      process.stderr.write('reader gone\\n')
    `
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' })
    let err = ''
    p.stderr.on('data', c => { err += String(c) })
    await once(p.stdout, 'data')
    p.stdout.destroy()
    const [code] = await once(p, 'exit') as [number | null]
    expect(err).toBe('reader gone\n')
    expect(code).toBe(0)
  })
})
