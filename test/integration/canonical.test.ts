/**
 * One encoding per value on the wire, and what a refused database and a
 * refused op leave behind. Each case failed before its fix.
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { openReplica } from '../../src/store/replica.js'
import { FakeClock, newReplica, RemoteDevice, tempDir, track } from '../helpers/fixtures.js'

const clock = new FakeClock(1_700_000_100_000)

describe('canonical values from peers', () => {
  it('refuses a -0 number as malformed', () => {
    const r = newReplica({ wallClock: clock.now })
    const d = new RemoteDevice()
    const minusZero = Uint8Array.from([3, 0x80, 0, 0, 0, 0, 0, 0, 0])
    const res = r.applyRemote(d.run([{ rawValue: minusZero }]))
    expect(res.applied).toBe(0)
    expect(res.rejected[0]).toMatchObject({ reason: 'malformed' })
    expect(res.rejected[0]!.message).toContain('-0')
  })

  it('refuses JSON that is not in canonical form, so equal objects are equal set elements', () => {
    const r = newReplica({ wallClock: clock.now })
    const d = new RemoteDevice()
    const text = Buffer.from('{"b":1,"a":2}')
    const raw = Uint8Array.from([6, text.length, ...text])
    const res = r.applyRemote(d.run([{ kind: 'add', rawValue: raw }]))
    expect(res.rejected[0]).toMatchObject({ reason: 'malformed' })
    expect(res.rejected[0]!.message).toContain('canonical')
    // The canonical form of the same object is accepted and removable by a local remove.
    const d2 = new RemoteDevice()
    expect(r.applyRemote(d2.run([{ kind: 'add', value: { b: 1, a: 2 } }])).applied).toBe(1)
    r.remove('c', 'k', 'f', { a: 2, b: 1 })
    expect(r.get('c', 'k')).toBeUndefined()
  })

  it('records the origin of a refused op for inspection', () => {
    const r = newReplica({ wallClock: clock.now })
    const d = new RemoteDevice()
    r.applyRemote(d.run([{ seq: 5 }]))
    const db = new Database(join(r.dir, 'replica.db'), { readonly: true })
    const row = db.prepare('SELECT origin, reason FROM rejections').get() as { origin: Buffer, reason: string }
    db.close()
    expect(row.reason).toBe('gap')
    expect(Buffer.from(row.origin).equals(Buffer.from(d.key.publicKey))).toBe(true)
  })
})

describe('a database from a newer weft', () => {
  it('is refused before anything writes to it (no WAL switch)', () => {
    const dir = tempDir()
    const file = join(dir, 'replica.db')
    track(openReplica({ dir, wallClock: clock.now })).close()
    const db = new Database(file)
    db.pragma('journal_mode = DELETE')
    db.pragma('user_version = 99')
    db.close()
    const before = statSync(file).mtimeMs
    expect(() => openReplica({ dir })).toThrow(/schema version 99/)
    expect(existsSync(`${file}-wal`)).toBe(false)
    const check = new Database(file, { readonly: true })
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete')
    check.close()
    expect(statSync(file).mtimeMs).toBe(before)
  })
})
