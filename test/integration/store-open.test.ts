/**
 * Files that cannot be opened are refused at open with a StoreOpenError that
 * says what is wrong, and are left as they were.
 */
import { chmodSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { openReplica } from '../../src/store/replica.js'
import { loadMigrations } from '../../src/store/migrate.js'
import { FakeClock, tempDir, track } from '../helpers/fixtures.js'

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

describe('opening damaged stores', () => {
  it('a file of garbage bytes', () => {
    const dir = tempDir()
    const file = join(dir, 'replica.db')
    const garbage = randomBytes(8192)
    writeFileSync(file, garbage)
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/not a SQLite database/))
    expect(readFileSync(file)).toEqual(garbage)
  })

  it('a file shorter than a SQLite header', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'replica.db'), 'SQLite format 3\u0000')
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/not a SQLite database .*truncated header/))
  })

  it('a real replica.db truncated to half its size', () => {
    const dir = populatedDir()
    const file = join(dir, 'replica.db')
    const size = statSync(file).size
    expect(size).toBeGreaterThan(8 * 4096)
    truncateSync(file, Math.floor(size / 2))
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/truncated/))
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
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/corrupt|malformed|integrity/))
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

  it('an empty file is a new database', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'replica.db'), '')
    const r = track(openReplica({ dir, wallClock: new FakeClock().now }))
    r.put('c', 'k', { a: 1 })
    expect(r.get('c', 'k')).toEqual({ a: 1 })
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
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/63 bytes, expected 64; it is damaged/))
  })

  it('whose public half does not match its seed is refused as damaged', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'device.key'), randomBytes(64), { mode: 0o600 })
    expect(() => openReplica({ dir })).toThrow(storeOpenError(/damaged/))
  })
})
