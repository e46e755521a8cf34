/**
 * `npm run test:faults`: the fault matrix with real processes and real
 * faults (kill -9, a tmpfs that fills, damaged files, a lost database, pid 1
 * in a PID namespace, a clock moved with libfaketime, SIGSTOP), printing a
 * table of figures. Needs root (tmpfs, PID namespaces); without it, prints
 * one line and exits 0. Installs libfaketime with apt-get when missing.
 * `node dist/test/faults/run.js [row...]` runs some rows only.
 * Exit code 1 when a row failed. Cleanup (processes, mounts, temp dirs) runs
 * on success, failure, SIGINT/SIGTERM and, as a last resort, on exit.
 */
import '../../src/polyfill.js'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { startClockRow, faketimeLibrary, type ClockRow } from './clock.js'
import { killDuringLocalWrites, killReceiverMidSync, killWhileGrowing } from './crash.js'
import { diskFullLocalWrites, diskFullMidSync } from './disk.js'
import { damagedFiles, lostDatabaseThenRecover } from './files.js'
import { canUnshare, pid1Restarts, stoppedSender } from './process.js'
import { CLI, cleanupAll, cleanupNow, mountTmpfs, setScope } from './procs.js'
import { renderTable, type Printed, type RowResult } from './table.js'

const out = (s: string): void => { process.stdout.write(s + '\n') }

if (process.getuid?.() !== 0) {
  out('fault suite: skipped (needs root for tmpfs mounts and PID namespaces)')
  process.exit(0)
}
if (!existsSync(CLI)) { out(`fault suite: weft is not built (${CLI}); run npm run build first`); process.exit(1) }
try { mountTmpfs(1); await cleanupAll() } catch (err) { out(`fault suite: skipped (cannot mount a tmpfs: ${(err as Error).message.slice(0, 120)})`); process.exit(0) }
const noUnshare = canUnshare()
if (faketimeLibrary() === undefined) {
  out('faults: installing faketime with apt-get')
  try {
    execFileSync('sh', ['-c', 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq faketime'], { stdio: 'pipe', timeout: 600_000 })
  } catch (err) {
    out(`faults: cannot install faketime: ${(err as Error).message.slice(0, 300)}`)
  }
}

process.on('exit', () => { cleanupNow() })
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { out(`faults: ${sig}, cleaning up`); void cleanupAll().finally(() => process.exit(130)) })
}

interface Row { name: string, label: string, run: () => Promise<RowResult>, skip?: string | undefined, deadlineS?: number }
/** How long a row may run unless it names its own deadline. */
const DEFAULT_ROW_DEADLINE_S = 300
const ROWS: Row[] = [
  { name: 'kill-local', label: 'kill -9 ×30 during local writes', run: async () => await killDuringLocalWrites(30) },
  { name: 'kill-growing', label: 'kill -9 ×20 while the database grows (250 KB values)', run: async () => await killWhileGrowing(20) },
  { name: 'kill-receiver', label: 'receiver killed ×10 mid-sync of a 100k-op backlog', run: async () => await killReceiverMidSync(10, 100_000) },
  { name: 'disk-local', label: 'disk full (tmpfs): local writes', run: diskFullLocalWrites },
  { name: 'disk-sync', label: 'disk full (tmpfs): receiver mid-sync', run: diskFullMidSync },
  { name: 'damaged', label: 'damaged files', run: damagedFiles },
  { name: 'recover', label: 'lost database, then weft recover', run: lostDatabaseThenRecover },
  { name: 'pid1', label: 'daemon as pid 1 in a PID namespace, kill -9 and restart ×5', run: async () => await pid1Restarts(5), skip: noUnshare },
  { name: 'sigstop', label: 'sender stopped with SIGSTOP mid-sync', run: stoppedSender }
]
const CLOCK = { name: 'clock', label: 'clock +10 min, then fixed' }

const wanted = process.argv.slice(2)
const known = [...ROWS.map(r => r.name), CLOCK.name]
const unknown = wanted.filter(w => !known.includes(w))
if (unknown.length > 0) { out(`faults: no row named ${unknown.join(', ')} (have: ${known.join(', ')})`); process.exit(2) }
const selected = (name: string): boolean => wanted.length === 0 || wanted.includes(name)

const printed: Printed[] = []
const started = Date.now()
const t = (t0: number): number => (Date.now() - t0) / 1000

// The clock row waits for real time to pass: it starts first and finishes last.
let clock: ClockRow | undefined
let clockError: string | undefined
const clockT0 = Date.now()
if (selected(CLOCK.name)) {
  out(`faults: ${CLOCK.label}: starting (finishes last, about 10 min from now)`)
  setScope('clock')
  try { clock = await startClockRow() } catch (err) { clockError = (err as Error).stack ?? String(err) }
  setScope('row')
}

for (const row of ROWS.filter(r => selected(r.name))) {
  if (row.skip !== undefined) { out(`faults: ${row.label}: skipped (${row.skip})`); printed.push({ name: row.label, result: { ok: true, figures: `skipped: ${row.skip}`, notes: [] }, seconds: 0 }); continue }
  out(`faults: ${row.label} ...`)
  const t0 = Date.now()
  // A row that hangs must not hold the suite: past its deadline it fails and
  // its processes, mounts and directories are cleaned up.
  const deadlineS = row.deadlineS ?? DEFAULT_ROW_DEADLINE_S
  let timer: NodeJS.Timeout | undefined
  try {
    const result = await Promise.race([
      row.run(),
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`did not finish within its deadline of ${deadlineS} s`)), deadlineS * 1000) })
    ])
    printed.push({ name: row.label, result, seconds: t(t0) })
    out(`  ${result.ok ? 'pass' : 'FAIL'} (${t(t0).toFixed(0)} s): ${result.figures}`)
    for (const n of result.notes) out(`    ${n}`)
  } catch (err) {
    printed.push({ name: row.label, result: undefined, error: (err as Error).message.slice(0, 300), seconds: t(t0) })
    out(`  ERROR (${t(t0).toFixed(0)} s): ${(err as Error).stack ?? String(err)}`)
  } finally {
    clearTimeout(timer)
  }
  await cleanupAll('row')
}

if (selected(CLOCK.name)) {
  out(`faults: ${CLOCK.label}: waiting for real time to reach the skewed ops ...`)
  try {
    if (clock === undefined) throw new Error(clockError ?? 'did not start')
    const result = await clock.finish()
    printed.push({ name: CLOCK.label, result, seconds: t(clockT0) })
    out(`  ${result.ok ? 'pass' : 'FAIL'} (${t(clockT0).toFixed(0)} s): ${result.figures}`)
    for (const n of result.notes) out(`    ${n}`)
  } catch (err) {
    printed.push({ name: CLOCK.label, result: undefined, error: (err as Error).message.slice(0, 300), seconds: t(clockT0) })
    out(`  ERROR: ${(err as Error).stack ?? String(err)}`)
  }
}
await cleanupAll()

const failed = printed.filter(p => p.result === undefined || !p.result.ok).length
out(`\n${renderTable(printed)}\n`)
out(`faults: ${printed.length - failed} passed, ${failed} failed, in ${t(started).toFixed(0)} s`)
process.exitCode = failed > 0 ? 1 : 0
