/**
 * Rows of the fault suite about a full disk, on a real tmpfs filled by a
 * ballast file: local writes through the control API, and a receiver whose
 * disk fills mid-sync.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildBacklog, storeDigest } from './crash.js'
import { addressOf, api, apiOk, fillDisk, mountTmpfs, pair, startWeft, tempDir, waitFor, type WeftProcess } from './procs.js'
import type { RowResult } from './table.js'

const value100k = (): string => randomBytes(75_000).toString('base64')

export async function diskFullLocalWrites (): Promise<RowResult> {
  const disk = mountTmpfs(48)
  const dir = join(disk, 'data')
  mkdirSync(dir, { mode: 0o700 })
  const notes: string[] = []
  let p: WeftProcess = await startWeft(dir)
  const acked: string[] = []
  const ballast = fillDisk(disk, 3 * 1024)
  let full: { status: number, body: any } | undefined
  for (let i = 0; i < 400 && full === undefined; i++) {
    const r = await api(dir, 'PUT', `/v1/data/big/k${i}`, { fields: { v: value100k() } })
    if (r.status === 200) acked.push(`k${i}`)
    else full = r
  }
  const code = full?.body?.error?.code as string | undefined
  const checks: Record<string, boolean> = {}
  checks['HTTP 507 DISK_FULL'] = full?.status === 507 && code === 'DISK_FULL'
  checks['still 507 on the next write'] = (await api(dir, 'PUT', '/v1/data/big/again', { fields: { v: value100k() } })).status === 507
  checks['reads 200'] = acked.length === 0 || (await api(dir, 'GET', `/v1/data/big/${acked[0]!}`)).status === 200
  checks['status 200'] = (await api(dir, 'GET', '/v1/status')).status === 200
  const doctor = await api(dir, 'GET', '/v1/doctor')
  checks['doctor 200, disk check fails'] = doctor.status === 200 && (doctor.body as Array<{ check: string, ok: boolean }>).some(c => c.check === 'disk space' && !c.ok)
  await p.kill('SIGKILL')
  let restartMs = -1
  try {
    p = await startWeft(dir)
    restartMs = p.startMs
    checks['restart while full'] = true
  } catch (err) {
    checks['restart while full'] = false
    notes.push((err as Error).message.slice(0, 400))
  }
  rmSync(ballast)
  if (!checks['restart while full']) p = await startWeft(dir)
  checks['writes resume once space is freed'] = (await api(dir, 'PUT', '/v1/data/big/after', { fields: { v: value100k() } })).status === 200
  let lost = 0
  for (const k of acked) if ((await api(dir, 'GET', `/v1/data/big/${k}`)).status !== 200) lost++
  await p.kill('SIGTERM')
  const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([what]) => what)
  if (failed.length > 0) notes.push(`failed: ${failed.join(', ')}`)
  return {
    ok: failed.length === 0 && lost === 0,
    figures: `${acked.length} writes of 100 KB acknowledged, then HTTP ${full?.status ?? '-'} ${code ?? ''} ("${String(full?.body?.error?.message ?? '').slice(0, 60)}…"); reads, status and doctor ${checks['reads 200'] && checks['status 200'] && checks['doctor 200, disk check fails'] ? '200' : 'FAILED'}; restart while full ${restartMs >= 0 ? `ok (${restartMs} ms)` : 'FAILED'}; writes resumed after freeing: ${checks['writes resume once space is freed'] ? 'yes' : 'NO'}; ${lost} lost`,
    notes
  }
}

export async function diskFullMidSync (): Promise<RowResult> {
  const aDir = tempDir()
  // 120 incompressible values of 250 KB: 30 MB of values, about twice that on the receiver (oplog and state).
  buildBacklog(aDir, 120, () => randomBytes(187_500).toString('base64'), 10)
  const disk = mountTmpfs(192)
  const bDir = join(disk, 'data')
  mkdirSync(bDir, { mode: 0o700 })
  const notes: string[] = []
  const a = await startWeft(aDir)
  let b = await startWeft(bDir)
  const total = (await apiOk(aDir, 'GET', '/v1/vector'))[a.deviceId] as number
  const ballast = fillDisk(disk, 24 * 1024)
  const have = async (): Promise<number> => ((await apiOk(bDir, 'GET', '/v1/vector'))[a.deviceId] as number | undefined) ?? 0
  await pair(aDir, bDir)
  const hitFull = await waitFor(async () => b.stderr(), s => /is full/.test(s), 90_000, 250)
  const atFull = await have()
  const checks: Record<string, boolean> = {}
  checks['receiver reports the full disk'] = hitFull.ok
  checks['receiver stays up'] = b.child.exitCode === null
  checks['status 200 while full'] = (await api(bDir, 'GET', '/v1/status')).status === 200
  checks['reads 200 while full'] = (await api(bDir, 'GET', '/v1/data/backlog/k0')).status === 200 || atFull <= 1
  rmSync(ballast)
  const freedAt = Date.now()
  const resumed = await waitFor(have, n => n >= total, 120_000, 250)
  checks['sync resumes and completes once space is freed'] = resumed.ok
  const resumeMs = Date.now() - freedAt
  // And it survives a restart after all that.
  await b.kill('SIGKILL')
  b = await startWeft(bDir, { args: ['--peer', await addressOf(aDir)] })
  await b.kill('SIGTERM')
  await a.kill('SIGTERM')
  const same = storeDigest(aDir).digest === storeDigest(bDir).digest
  checks['digests equal'] = same
  const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([what]) => what)
  if (failed.length > 0) notes.push(`failed: ${failed.join(', ')}`)
  return {
    ok: failed.length === 0,
    figures: `receiver's disk full after ${atFull} of ${total} ops (250 KB values); it stayed up, status and reads 200; after freeing space it completed in ${(resumeMs / 1000).toFixed(1)} s without a manual step; digests ${same ? 'equal' : 'DIFFERENT'}`,
    notes
  }
}
