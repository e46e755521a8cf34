/**
 * A full disk, for real: the replica lives on a small tmpfs (root only) that
 * a ballast file fills. Writes fail with DiskFullError and change nothing,
 * reads keep working, the store reopens while full, and writes resume once
 * space is freed.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { openReplica, type Replica } from '../../src/store/replica.js'
import { allOps, FakeClock, tempDir } from '../helpers/fixtures.js'

const isRoot = process.getuid?.() === 0
const mounts: string[] = []

function smallDisk (mib: number): string | undefined {
  const dir = tempDir('weft-tmpfs-')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch {
    return undefined
  }
  mounts.push(dir)
  return dir
}

afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m])
})

/** Fills what is left of the tmpfs with a ballast file, leaving `leaveKiB`. */
function fill (disk: string, leaveKiB: number): string {
  const ballast = join(disk, 'ballast')
  const out = execFileSync('df', ['--output=avail', '-k', disk], { encoding: 'utf8' })
  const avail = Number(out.trim().split('\n').pop())
  writeFileSync(ballast, Buffer.alloc(Math.max(0, avail - leaveKiB) * 1024))
  return ballast
}

describe.skipIf(!isRoot)('a full disk', () => {
  it('refuses local writes with DiskFullError, keeps reads and reopens, and resumes once space is freed', (ctx) => {
    const disk = smallDisk(16)
    if (disk === undefined) { ctx.skip(); return }
    const dir = join(disk, 'data')
    mkdirSync(dir)
    const clock = new FakeClock()
    let r: Replica = openReplica({ dir, wallClock: clock.now })
    const ballast = fill(disk, 1024)
    const acked: string[] = []
    let error: unknown
    for (let i = 0; i < 200; i++) {
      try {
        r.put('big', `k${i}`, { v: randomBytes(50_000) })
        acked.push(`k${i}`)
      } catch (err) { error = err; break }
    }
    expect(error).toMatchObject({ name: 'DiskFullError', code: 'DISK_FULL', message: expect.stringMatching(/disk holding .* is full.*Free some space/) })
    expect(acked.length).toBeGreaterThan(0)
    const vector = r.versionVector()
    // Still full: more writes fail the same way, and change nothing.
    expect(() => r.put('big', 'again', { v: randomBytes(50_000) })).toThrow(expect.objectContaining({ code: 'DISK_FULL' }))
    expect(r.versionVector()).toEqual(vector)
    for (const k of acked) expect(r.get('big', k)).toBeDefined()
    // A restart while full.
    r.close()
    r = openReplica({ dir, wallClock: clock.now })
    expect(r.versionVector()).toEqual(vector)
    expect(r.integrityCheck()).toEqual([])
    rmSync(ballast)
    r.put('after', 'k', { v: 1 })
    expect(r.get('after', 'k')).toEqual({ v: 1 })
    for (const k of acked) expect(r.get('big', k)).toBeDefined()
    r.close()
  })

  it('refuses a remote batch as a whole with DiskFullError, and takes it once space is freed', (ctx) => {
    const disk = smallDisk(16)
    if (disk === undefined) { ctx.skip(); return }
    const dir = join(disk, 'data')
    mkdirSync(dir)
    const clock = new FakeClock()
    const r = openReplica({ dir, wallClock: clock.now })
    const source = openReplica({ dir: tempDir(), wallClock: clock.now })
    source.batch(w => { for (let i = 0; i < 40; i++) w.put('big', `k${i}`, { v: randomBytes(50_000) }) })
    const ballast = fill(disk, 512)
    const ops = allOps(source)
    expect(() => r.applyRemote(ops)).toThrow(expect.objectContaining({ name: 'DiskFullError' }))
    expect(r.versionVector().get(source.deviceId)).toBeUndefined()
    rmSync(ballast)
    expect(r.applyRemote(ops)).toMatchObject({ applied: 40, rejected: [] })
    expect(r.digest()).toBe(source.digest())
    r.close()
    source.close()
  })
})
