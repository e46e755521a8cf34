/**
 * Files that cannot be opened are refused at open with a StoreOpenError that
 * says what is wrong, and are left as they were.
 */
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { openReplica } from '../../src/store/replica.js'
import { loadMigrations } from '../../src/store/migrate.js'
import { FakeClock, tempDir, track } from '../helpers/fixtures.js'
import { copyLiveFiles, interruptCheckpoint, scribbleMiddlePage } from '../helpers/damage.js'

function catchError (fn: () => unknown): unknown {
  try { fn() } catch (err) { return err }
  throw new Error('expected an error')
}

const storeOpenError = (message: RegExp): unknown => expect.objectContaining({ name: 'StoreOpenError', code: 'STORE_OPEN', message: expect.stringMatching(message) })

/** A real replica.db with some data, closed (so its WAL is checkpointed into the file). */
function populatedDir (): string {
  const dir = tempDir()
  const r = openReplica({ dir, wallClock: new FakeClock().now })
  r.batch(w => {
    for (let i = 0; i < 400; i++) w.put('notes', `n${i}`, { title: `note ${i}`, body: 'x'.repeat(200) })
  })
  r.close()
  return dir
}

const RECOVER = /weft recover <invite code>/

describe('opening damaged stores', () => {
  it('a file of garbage bytes is refused, names weft recover, and is left as it was', () => {
    const dir = tempDir()
    const file = join(dir, 'replica.db')
    const garbage = randomBytes(8192)
    writeFileSync(file, garbage)
    const err = catchError(() => openReplica({ dir }))
    expect(err).toEqual(storeOpenError(/not a SQLite database/))
    expect(err).toMatchObject({ reason: 'corrupt', message: expect.stringMatching(RECOVER) })
    expect(readFileSync(file)).toEqual(garbage)
    expect(existsSync(join(dir, 'device.key'))).toBe(false)
  })

  it('a file shorter than a SQLite header is refused', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'replica.db'), 'SQLite format 3\u0000')
    expect(() => openReplica({ dir })).toThrow(storeOpenError(RECOVER))
    expect(existsSync(join(dir, 'device.key'))).toBe(false)
  })

  it('a real replica.db truncated to half its size is refused by SQLite\'s own checks', () => {
    const dir = populatedDir()
    const file = join(dir, 'replica.db')
    const size = statSync(file).size
    expect(size).toBeGreaterThan(8 * 4096)
    truncateSync(file, Math.floor(size / 2))
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/damaged.*weft recover/))
  })

  it('a real replica.db with its pages overwritten by garbage', () => {
    const dir = populatedDir()
    const file = join(dir, 'replica.db')
    const bytes = readFileSync(file)
    const pageSize = bytes.readUInt16BE(16)
    // Keep page 1 (header and schema) intact; scribble over every other page
    // (a fixed pattern, so no run can draw bytes that happen to parse).
    for (let i = pageSize; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff
    writeFileSync(file, bytes)
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/damaged.*weft recover/))
  })

  it('one garbage page in the middle of the file is noticed at open (quick_check), not at some later read', () => {
    const dir = populatedDir()
    const page = scribbleMiddlePage(join(dir, 'replica.db'))
    expect(page).toBeGreaterThan(2)
    const err = catchError(() => openReplica({ dir }))
    expect(err).toMatchObject({ name: 'StoreOpenError', reason: 'corrupt', message: expect.stringMatching(RECOVER) })
  })

  it('a checkpoint interrupted after page 1 (header ahead of the file, pages in the WAL) opens with every write', () => {
    const dir = tempDir()
    const clock = new FakeClock()
    const r = track(openReplica({ dir, wallClock: clock.now }))
    r.put('notes', 'first', { v: 0 })
    // Grow the file well past its checkpointed size, in the WAL only (under
    // the 1000-page autocheckpoint), and copy the files while it is open.
    for (let i = 0; i < 20; i++) r.batch(w => { for (let j = 0; j < 20; j++) w.put('notes', `n${i}-${j}`, { body: 'y'.repeat(1500) }) })
    const digest = r.digest()
    const copy = copyLiveFiles(dir, tempDir())
    const { pages, size } = interruptCheckpoint(copy)
    expect(pages * 4096).toBeGreaterThan(size)
    const reopened = track(openReplica({ dir: copy, wallClock: clock.now }))
    expect(reopened.digest()).toBe(digest)
    expect(reopened.get('notes', 'n19-19')).toEqual({ body: 'y'.repeat(1500) })
    expect(reopened.integrityCheck()).toEqual([])
  })

  it('a database from a newer weft (user_version above what this build knows)', () => {
    const dir = populatedDir()
    const file = join(dir, 'replica.db')
    const db = new Database(file)
    db.pragma('user_version = 99')
    db.close()
    expect(() => openReplica({ dir })).toThrow(storeOpenError(new RegExp(`schema version 99.*newer than this weft understands \\(${loadMigrations().length}\\)`)))
    // Refused, not migrated: still version 99, data untouched.
    const check = new Database(file, { readonly: true })
    expect(check.pragma('user_version', { simple: true })).toBe(99)
    expect(check.prepare('SELECT count(*) FROM registers').pluck().get()).toBe(800)
    check.close()
  })

  it('an empty file with no key is a new database', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'replica.db'), '')
    const r = track(openReplica({ dir, wallClock: new FakeClock().now }))
    r.put('c', 'k', { a: 1 })
    expect(r.get('c', 'k')).toEqual({ a: 1 })
  })
})

describe('a store whose database or key is lost', () => {
  it('a 0-byte replica.db beside the device key is refused, never a fresh replica with the old key', () => {
    const dir = populatedDir()
    const key = readFileSync(join(dir, 'device.key'))
    writeFileSync(join(dir, 'replica.db'), '')
    for (const side of ['-wal', '-shm']) rmSync(join(dir, 'replica.db' + side), { force: true })
    const err = catchError(() => openReplica({ dir }))
    expect(err).toMatchObject({ name: 'StoreOpenError', reason: 'lost', message: expect.stringMatching(/empty \(0 bytes\).*reuse its sequence numbers.*weft recover <invite code>/) })
    expect(statSync(join(dir, 'replica.db')).size).toBe(0)
    expect(readFileSync(join(dir, 'device.key'))).toEqual(key)
  })

  it('a missing replica.db beside the device key is refused', () => {
    const dir = populatedDir()
    rmSync(join(dir, 'replica.db'))
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/missing.*store is lost.*weft recover/))
    expect(existsSync(join(dir, 'replica.db'))).toBe(false)
  })

  it('a missing device key beside a replica.db that holds data is refused, never a silent new identity', () => {
    const dir = populatedDir()
    rmSync(join(dir, 'device.key'))
    const err = catchError(() => openReplica({ dir }))
    expect(err).toMatchObject({ name: 'StoreOpenError', reason: 'key_missing', message: expect.stringMatching(/device.key is missing.*holds this device's data.*weft recover/) })
    expect(existsSync(join(dir, 'device.key'))).toBe(false)
  })

  it('a first start interrupted before the key was written starts again cleanly', () => {
    const dir = tempDir()
    track(openReplica({ dir, wallClock: new FakeClock().now })).close()
    rmSync(join(dir, 'device.key'))
    const r = track(openReplica({ dir, wallClock: new FakeClock().now }))
    r.put('c', 'k', { a: 1 })
    expect(r.versionVector().get(r.deviceId)).toBe(1)
    expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600)
  })

  it('another device\'s key over a replica.db is refused', () => {
    const dir = populatedDir()
    const other = populatedDir()
    copyFileSync(join(other, 'device.key'), join(dir, 'device.key'))
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/is not the key .* was written with.*weft recover/))
  })
})

describe('file modes', () => {
  it('replica.db, its -wal and -shm and the key are created 0600 in a 0700 directory', () => {
    const dir = join(tempDir(), 'data')
    const r = track(openReplica({ dir, wallClock: new FakeClock().now }))
    r.put('c', 'k', { a: 1 })
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    for (const f of ['replica.db', 'replica.db-wal', 'replica.db-shm', 'device.key']) {
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600)
    }
  })
})

describe('the device key file', () => {
  it('is created with mode 0600 and reused', () => {
    const dir = tempDir()
    const r1 = openReplica({ dir, wallClock: new FakeClock().now })
    const id = r1.deviceId
    r1.close()
    expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'device.key')).size).toBe(64)
    const r2 = track(openReplica({ dir, wallClock: new FakeClock().now }))
    expect(r2.deviceId).toBe(id)
  })

  it('with mode 0644 is refused', () => {
    const dir = tempDir()
    openReplica({ dir, wallClock: new FakeClock().now }).close()
    const key = join(dir, 'device.key')
    chmodSync(key, 0o644)
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/readable by other users \(mode 644\).*chmod 600/))
  })

  it('of the wrong size is refused as damaged', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'device.key'), randomBytes(63), { mode: 0o600 })
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/63 bytes, expected 64; it is damaged.*weft recover/))
  })

  it('whose public half does not match its seed is refused as damaged', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'device.key'), randomBytes(64), { mode: 0o600 })
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/damaged/))
  })
})
