/**
 * The clock row of the fault suite: a device whose wall clock runs 10
 * minutes ahead (libfaketime, reading its offset from a file, so the clock
 * is "fixed" while the daemon runs, as an NTP step would), writes, has its
 * clock fixed, and writes more (its HLC stays ahead). Its peers hold those
 * ops and apply them once real time reaches them; it says so meanwhile. The
 * row takes about 10 minutes of real time, so it starts first and finishes
 * last, while the other rows run.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { storeDigest } from './crash.js'
import { apiOk, pair, sleep, startWeft, tempDir, waitFor, type WeftProcess } from './procs.js'
import type { RowResult } from './table.js'

const SKEW_S = 600
const LIBS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1']

export function faketimeLibrary (): string | undefined { return LIBS.find(f => existsSync(f)) }

export interface ClockRow { finish(): Promise<RowResult> }

/** Starts the row; `finish` waits for the end (about 10 minutes after the skewed writes) and returns its result. */
export async function startClockRow (): Promise<ClockRow> {
  const lib = faketimeLibrary()
  if (lib === undefined) throw new Error('libfaketime is not installed (Debian package faketime)')
  const offsetFile = join(tempDir(), 'offset')
  writeFileSync(offsetFile, '+0\n')
  const setOffset = async (s: number): Promise<void> => {
    writeFileSync(offsetFile, `${s >= 0 ? '+' : ''}${s}\n`)
    await sleep(2500) // FAKETIME_CACHE_DURATION is 1 s
  }
  const [aDir, bDir, cDir] = [tempDir(), tempDir(), tempDir()]
  const env = { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }
  const a = await startWeft(aDir, { env, args: ['--device-name', 'skewed'] })
  const b = await startWeft(bDir, { args: ['--device-name', 'peer-b'] })
  const c = await startWeft(cDir, { args: ['--device-name', 'peer-c'] })
  await pair(bDir, aDir)
  await pair(bDir, cDir)
  for (let i = 0; i < 5; i++) await apiOk(aDir, 'PUT', `/v1/data/notes/before${i}`, { fields: { i } })
  await setOffset(SKEW_S)
  const skewedAt = Date.now()
  for (let i = 0; i < 20; i++) await apiOk(aDir, 'PUT', `/v1/data/notes/ahead${i}`, { fields: { i } })
  await setOffset(0)
  for (let i = 0; i < 20; i++) await apiOk(aDir, 'PUT', `/v1/data/notes/fixed${i}`, { fields: { i } })
  for (let i = 0; i < 5; i++) await apiOk(bDir, 'PUT', `/v1/data/notes/b${i}`, { fields: { i } })
  const target = (await apiOk(aDir, 'GET', '/v1/vector'))[a.deviceId] as number

  // While held: the peers say they hold them, the skewed device says its clock runs ahead and its peers hold its ops.
  const checks: Record<string, boolean> = {}
  // Every op of the skewed device is accounted for on its peer: applied (the ones before the skew) or held.
  const heldRun = (s: any): { ops: number, name: string | null } | undefined =>
    (s.held as Array<{ device: string, ops: number, name: string | null }>).find(h => h.device === a.deviceId)
  const held = await waitFor(async () => await apiOk(bDir, 'GET', '/v1/status'), s => (s.vector[a.deviceId] ?? 0) + (heldRun(s)?.ops ?? 0) >= target, 60_000)
  const heldOps = held.value === undefined ? 0 : heldRun(held.value)?.ops ?? 0
  checks['peer status shows the held ops by name'] = held.ok && heldOps >= 35 && heldRun(held.value)?.name === 'skewed'
  const seen = `peer-b held ${JSON.stringify(held.value?.held ?? null)} after ${held.ms} ms; vector ${JSON.stringify(held.value?.vector ?? null)}`
  const own = await waitFor(async () => await apiOk(aDir, 'GET', '/v1/status'), s => s.clock.ok === false && (s.clock.peersHolding as unknown[]).length > 0, 90_000)
  checks['skewed device status: clock ahead and peers holding its ops'] = own.ok
  const doctor = await apiOk(aDir, 'GET', '/v1/doctor') as Array<{ check: string, ok: boolean, detail: string }>
  checks['skewed device doctor: clock skew fails'] = doctor.some(d => d.check === 'clock skew' && !d.ok && /ahead of its wall clock/.test(d.detail))
  // Logged at the daemon's next housekeeping tick (every second) after its clock turned: the status can say so first.
  const warned = await waitFor(async () => a.stderr(), e => /HLC is \d+ s ahead of its wall clock/.test(e), 10_000)
  checks['skewed device log says so'] = warned.ok
  const logged = await waitFor(async () => a.stderr(), e => /peers hold this device's ops/.test(e), 60_000)
  checks['skewed device log names the peers holding its ops'] = logged.ok
  checks['peer log says it holds ops'] = /holding ops stamped ahead/.test(b.stderr())
  checks['nothing applied early'] = ((await apiOk(bDir, 'GET', '/v1/vector'))[a.deviceId] ?? 0) < target
  const bWritesOnA = await waitFor(async () => (await apiOk(aDir, 'GET', '/v1/data/notes?limit=1000')) as Array<{ key: string }>, rows => rows.some(r => r.key === 'b4'), 60_000)
  checks['the peers\' writes still reach the skewed device'] = bWritesOnA.ok

  return {
    finish: async () => {
      const notes: string[] = []
      const deadline = skewedAt + (SKEW_S + 120) * 1000
      const done: Record<string, number> = {}
      for (const [name, dir] of [['b', bDir], ['c', cDir]] as const) {
        const got = await waitFor(async () => await apiOk(dir, 'GET', '/v1/vector'), v => (v[a.deviceId] ?? 0) >= target, Math.max(1000, deadline - Date.now()), 1000)
        if (got.ok) done[name] = Date.now() - skewedAt
        checks[`peer ${name} applied every op`] = got.ok
      }
      const rejected = await Promise.all([bDir, cDir].map(async d => (await apiOk(d, 'GET', '/v1/status')).rejected as Record<string, number>))
      // A gossiped op that overtook its predecessors is refused as a gap and comes again by sync: only a refusal for the clock would lose time.
      checks['no op refused for the clock'] = rejected.every(r => (r.drift ?? 0) === 0)
      const end = await apiOk(aDir, 'GET', '/v1/status')
      checks['the skewed device\'s clock is back within the bound'] = end.clock.ok === true
      const procs: WeftProcess[] = [a, b, c]
      for (const p of procs) await p.kill('SIGTERM')
      const digests = [aDir, bDir, cDir].map(d => storeDigest(d).digest)
      checks['digests equal'] = digests.every(d => d === digests[0])
      const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([what]) => what)
      if (failed.length > 0) notes.push(`failed: ${failed.join(', ')}`, seen)
      const refusals = rejected.map(r => Object.entries(r).map(([why, n]) => `${n} ${why}`).join(', ') || 'none').join(' / ')
      return {
        ok: failed.length === 0,
        figures: `40 ops written with the clock ${SKEW_S / 60} min ahead and then fixed: ${heldOps} held by the peer it syncs with (named in status, doctor and the log on both sides; the third device gets them from that peer once applied), applied on every peer ${Object.values(done).map(ms => `${(ms / 1000).toFixed(0)} s`).join(' and ')} after the first of them (skew minus the 60 s drift bound: ${SKEW_S - 60} s), refusals on the peers: ${refusals} (none for drift), digests ${checks['digests equal'] ? 'equal' : 'DIFFERENT'}`,
        notes
      }
    }
  }
}
