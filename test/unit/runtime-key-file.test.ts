/**
 * The runtime kit's secret files, on real files in a temp dir: written 0600
 * whatever the umask, atomically (no temp file left, an old file replaced
 * whole), read back, missing is undefined, and the caller's check sees the
 * stat before a byte is read so it can refuse a file others can read.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readableByOthers, readSecretFile, SECRET_FILE_MODE, writeSecretFile } from '../../src/runtime/key-file.js'

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'weft-key-file-')) })
afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

const refuseExposed = (st: import('node:fs').Stats): void => { if (readableByOthers(st)) throw new Error(`exposed ${(st.mode & 0o777).toString(8)}`) }

describe.skipIf(process.platform === 'win32')('secret files', () => {
  it('writes 0600 from the first byte, even under a permissive umask, and leaves no temp file', () => {
    const file = join(dir, 'k.key')
    const old = process.umask(0)
    try {
      writeSecretFile(file, new Uint8Array([1, 2, 3]))
    } finally {
      process.umask(old)
    }
    expect(statSync(file).mode & 0o777).toBe(SECRET_FILE_MODE)
    expect([...readFileSync(file)]).toEqual([1, 2, 3])
    expect(readdirSync(dir)).toEqual(['k.key'])
  })

  it('replaces an existing file whole and keeps it 0600', () => {
    const file = join(dir, 'k.key')
    writeFileSync(file, 'old contents that are longer', { mode: 0o600 })
    writeSecretFile(file, new Uint8Array([9]))
    expect([...readFileSync(file)]).toEqual([9])
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['k.key'])
  })

  it('refuses to overwrite a temp file it did not create (exclusive create)', () => {
    const file = join(dir, 'k.key')
    writeFileSync(`${file}.${process.pid}.tmp`, 'someone else')
    expect(() => { writeSecretFile(file, new Uint8Array([1])) }).toThrow(/EEXIST/)
  })

  it('reads a file back, and a missing file is undefined without calling the check', () => {
    const file = join(dir, 'k.key')
    writeSecretFile(file, new Uint8Array([4, 5]))
    expect([...readSecretFile(file, refuseExposed) ?? []]).toEqual([4, 5])
    let checked = false
    expect(readSecretFile(join(dir, 'none.key'), () => { checked = true })).toBeUndefined()
    expect(checked).toBe(false)
  })

  it('lets the check refuse a file other users can read, before it is read', () => {
    const file = join(dir, 'k.key')
    writeSecretFile(file, new Uint8Array([1]))
    chmodSync(file, 0o644)
    expect(() => readSecretFile(file, refuseExposed)).toThrow('exposed 644')
    chmodSync(file, 0o640)
    expect(() => readSecretFile(file, refuseExposed)).toThrow('exposed 640')
    chmodSync(file, 0o600)
    expect(readSecretFile(file, refuseExposed)).toBeDefined()
  })

  it('passes the size to the check, so an oversized file is refused unread', () => {
    const file = join(dir, 'big.key')
    writeSecretFile(file, new Uint8Array(1000))
    expect(() => readSecretFile(file, st => { if (st.size > 100) throw new Error(`${st.size} bytes`) })).toThrow('1000 bytes')
  })

  it('reports other errors than a missing file', () => {
    // A directory where the file should be: reading it fails with EISDIR.
    expect(() => readSecretFile(dir, () => {})).toThrow(/EISDIR/)
  })
})
