/**
 * The device key loaded once by the composition root (`loadStoreDeviceKey`)
 * and handed to the store: the same safety as `openReplica({ dir })` loading
 * it itself. A new key reaches the disk only after the database recorded it;
 * a key whose database is lost is refused before anything is opened; a bare
 * DeviceKey is the caller's and is never written.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeviceKey } from '../../src/oplog/keys.js'
import { loadStoreDeviceKey } from '../../src/store/device-key-file.js'
import { openReplica } from '../../src/store/replica.js'
import { tempDir, track } from '../helpers/fixtures.js'

describe('the device key, loaded once and handed to the store', () => {
  it('a first start: a new key, written 0600 once the database holds it, the same key the replica signs with', () => {
    const dir = tempDir()
    const loaded = loadStoreDeviceKey(dir)
    expect(loaded.onDisk).toBe(false)
    expect(existsSync(join(dir, 'device.key'))).toBe(false)
    const r = track(openReplica({ dir, deviceKey: loaded }))
    expect(loaded.onDisk).toBe(true)
    expect(r.deviceKey).toBe(loaded.key)
    expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600)
    expect(new Uint8Array(readFileSync(join(dir, 'device.key')))).toEqual(loaded.key.raw)
    r.put('notes', 'n1', { v: 1 })
    r.close()

    // The next start loads the same key, and the store takes it; so does a reopen with the same object.
    const again = loadStoreDeviceKey(dir)
    expect(again.onDisk).toBe(true)
    expect(again.key.id).toBe(loaded.key.id)
    track(openReplica({ dir, deviceKey: again })).close()
    expect(track(openReplica({ dir, deviceKey: loaded })).get('notes', 'n1')).toEqual({ v: 1 })
  })

  it('refuses a key file whose database is gone, before opening anything', () => {
    const dir = tempDir()
    track(openReplica({ dir })).close()
    rmSync(join(dir, 'replica.db'))
    expect(() => loadStoreDeviceKey(dir)).toThrow(expect.objectContaining({ name: 'StoreOpenError', reason: 'lost' }))
    expect(existsSync(join(dir, 'replica.db'))).toBe(false)
  })

  it('refuses a new key over a database that holds this device\'s data (the key file was lost)', () => {
    const dir = tempDir()
    const r = track(openReplica({ dir }))
    r.put('notes', 'n1', { v: 1 })
    r.close()
    rmSync(join(dir, 'device.key'))
    const loaded = loadStoreDeviceKey(dir)
    expect(() => openReplica({ dir, deviceKey: loaded })).toThrow(expect.objectContaining({ name: 'StoreOpenError', reason: 'key_missing' }))
    expect(existsSync(join(dir, 'device.key'))).toBe(false)
  })

  it('refuses a key loaded for another directory', () => {
    const loaded = loadStoreDeviceKey(tempDir())
    expect(() => openReplica({ dir: tempDir(), deviceKey: loaded })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', message: expect.stringMatching(/not from this replica's directory/) }))
  })

  it('a bare DeviceKey is the caller\'s: used, checked against the database, never written', () => {
    const dir = tempDir()
    const key = DeviceKey.generate()
    const r = track(openReplica({ dir, deviceKey: key }))
    expect(r.deviceKey).toBe(key)
    r.close()
    expect(existsSync(join(dir, 'device.key'))).toBe(false)
    expect(() => openReplica({ dir, deviceKey: DeviceKey.generate() })).toThrow(expect.objectContaining({ name: 'StoreOpenError', reason: 'key_mismatch' }))
  })
})
