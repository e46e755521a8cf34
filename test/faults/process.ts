/**
 * Rows of the fault suite about processes: a daemon that runs as pid 1 in a
 * PID namespace (a container) killed and restarted, and a sender stopped
 * with SIGSTOP in the middle of a sync.
 */
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { buildBacklog, storeDigest } from './crash.js'
import { apiOk, pair, rssMiB, sleep, startWeft, tempDir, tryStartWeft, waitFor, type WeftProcess } from './procs.js'
import { median, type RowResult } from './table.js'

export function canUnshare (): string | undefined {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `unshare --pid does not work here: ${(err as Error).message.slice(0, 120)}`
  }
}

export async function pid1Restarts (times = 5): Promise<RowResult> {
  const dir = tempDir()
  const prefix = ['unshare', '--pid', '--fork', '--mount-proc']
  const notes: string[] = []
  const starts: number[] = []
  let asPid1 = 0
  let secondRefused = false
  for (let i = 0; i <= times; i++) {
    let p: WeftProcess
    try {
      p = await startWeft(dir, { prefix })
    } catch (err) {
      notes.push(`start ${i} failed: ${(err as Error).message.slice(0, 300)}`)
      break
    }
    if (i > 0) starts.push(p.startMs)
    const s = await apiOk(dir, 'GET', '/v1/status')
    if (s.pid === 1) asPid1++
    await apiOk(dir, 'PUT', `/v1/data/rounds/r${i}`, { fields: { i } })
    if (i === 0) {
      // The lock still works: a second daemon on the same dir, outside the namespace, is refused.
      const second = await tryStartWeft(dir)
      secondRefused = 'exitCode' in second && /already running/.test(second.stderr)
      if (!('exitCode' in second)) await second.kill('SIGKILL')
    }
    await p.kill('SIGKILL')
  }
  const last = await startWeft(dir)
  let kept = 0
  for (let i = 0; i <= times; i++) if ((await apiOk(dir, 'GET', '/v1/data/rounds')).some((r: { key: string }) => r.key === `r${i}`)) kept++
  await last.kill('SIGTERM')
  return {
    ok: starts.length === times && asPid1 === times + 1 && secondRefused && kept === times + 1,
    figures: `${starts.length}/${times} restarts after kill -9 of a daemon running as pid 1 (pid 1 each time: ${asPid1}/${times + 1}), restart median ${median(starts)} ms; a second daemon on the same dir refused: ${secondRefused ? 'yes' : 'NO'}; writes kept ${kept}/${times + 1}`,
    notes
  }
}

interface LogLine { time: string, level: string, msg: string, [k: string]: unknown }

function logLines (stderr: string): LogLine[] {
  const out: LogLine[] = []
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue
    try { out.push(JSON.parse(line) as LogLine) } catch {}
  }
  return out
}

export async function stoppedSender (): Promise<RowResult> {
  const [aDir, bDir, cDir] = [tempDir(), tempDir(), tempDir()]
  buildBacklog(aDir, 240, () => randomBytes(187_500).toString('base64'), 10) // 60 MB of incompressible values
  const notes: string[] = []
  const a = await startWeft(aDir)
  const b = await startWeft(bDir)
  const c = await startWeft(cDir)
  const total = (await apiOk(aDir, 'GET', '/v1/vector'))[a.deviceId] as number
  const fromA = async (): Promise<number> => ((await apiOk(bDir, 'GET', '/v1/vector'))[a.deviceId] as number | undefined) ?? 0
  const rssBefore = rssMiB(b.pid)
  await pair(aDir, bDir)
  await waitFor(fromA, n => n > 0, 30_000, 20)
  const atStop = await fromA()
  a.child.kill('SIGSTOP')
  const stoppedAt = Date.now()
  let rssMax = rssMiB(b.pid)
  const sampler = setInterval(() => { try { rssMax = Math.max(rssMax, rssMiB(b.pid)) } catch {} }, 250)
  try {
    // A third device joins and writes while the sender is frozen: the receiver keeps syncing with it.
    await pair(bDir, cDir)
    const latencies: number[] = []
    for (let i = 0; i < 20; i++) {
      const t = Date.now()
      await apiOk(cDir, 'PUT', `/v1/data/live/c${i}`, { fields: { i } })
      const got = await waitFor(async () => await apiOk(bDir, 'GET', '/v1/vector'), v => (v[c.deviceId] ?? 0) >= i + 2, 20_000, 25)
      latencies.push(got.ok ? Date.now() - t : Infinity)
      await sleep(250)
    }
    // The receiver's session with the frozen sender ends with a timeout, not a hang.
    const timedOut = await waitFor(async () => logLines(b.stderr()).find(l => l.msg === 'sync session failed' && l.peer === a.deviceId && Date.parse(l.time) >= stoppedAt),
      l => l !== undefined, 45_000)
    const timeoutMs = timedOut.value === undefined ? undefined : Date.parse(timedOut.value.time) - stoppedAt
    const midSync = atStop > 0 && atStop < total && (await fromA()) < total
    a.child.kill('SIGCONT')
    const resumed = await waitFor(fromA, n => n >= total, 120_000)
    const all = await waitFor(async () => await Promise.all([aDir, bDir, cDir].map(async d => JSON.stringify(Object.entries(await apiOk(d, 'GET', '/v1/vector')).sort()))), v => v[0] === v[1] && v[1] === v[2], 60_000)
    clearInterval(sampler)
    for (const p of [a, b, c]) await p.kill('SIGTERM')
    const digests = [aDir, bDir, cDir].map(d => storeDigest(d).digest)
    const same = digests.every(d => d === digests[0])
    if (!midSync) notes.push(`the sender was not stopped mid-sync (receiver had ${atStop} of ${total})`)
    if (timedOut.value !== undefined) notes.push(`receiver's log: ${String(timedOut.value.code)} ${String(timedOut.value.error).slice(0, 120)}`)
    const p50 = median(latencies)
    const ok = midSync && timeoutMs !== undefined && timeoutMs <= 30_000 && latencies.every(l => l < 20_000) &&
      resumed.ok && all.ok && same && rssMax < rssBefore + 512
    return {
      ok,
      figures: `sender stopped at ${atStop} of ${total} ops (250 KB values); the receiver's session with it ended after ${timeoutMs === undefined ? 'NEVER' : `${(timeoutMs / 1000).toFixed(1)} s`}; meanwhile a third device's 20 writes reached it in p50 ${p50} ms (max ${Math.max(...latencies)} ms); receiver RSS ${rssBefore.toFixed(0)} MiB before, max ${rssMax.toFixed(0)} MiB while stalled; after SIGCONT all three converged, digests ${same ? 'equal' : 'DIFFERENT'}`,
      notes
    }
  } finally {
    clearInterval(sampler)
    try { a.child.kill('SIGCONT') } catch {}
  }
}
