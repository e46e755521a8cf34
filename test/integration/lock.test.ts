/**
 * The data dir lock is held by the kernel for the life of the process: a
 * second holder is refused, a killed holder (kill -9) leaves nothing behind,
 * and no pid, stale or reused, ever blocks a start.
 */
import { spawn } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { acquireLock } from '../../src/daemon/lock.js'
import { tempDir } from '../helpers/fixtures.js'

const LOCK_JS = resolve(import.meta.dirname, '../../dist/src/daemon/lock.js')

describe('the data dir lock', () => {
  it('refuses a second holder in the same process until released, and is 0600', () => {
    const dir = tempDir()
    const file = join(dir, 'daemon.lock')
    const release = acquireLock(file, dir)
    expect(() => acquireLock(file, dir)).toThrow(expect.objectContaining({ name: 'AlreadyRunningError', code: 'ALREADY_RUNNING', message: expect.stringMatching(/already running on .*holds the lock/) }))
    expect(statSync(file).mode & 0o777).toBe(0o600)
    release()
    acquireLock(file, dir)()
  })

  it('is free again once its holder is killed with SIGKILL, and refused while it lives', async () => {
    const dir = tempDir()
    const file = join(dir, 'daemon.lock')
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { acquireLock } = await import(${JSON.stringify(LOCK_JS)})
      acquireLock(${JSON.stringify(file)}, ${JSON.stringify(dir)})
      process.stdout.write('locked\\n')
      setInterval(() => {}, 1000)
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise(res => child.on('exit', res))
    try {
      await new Promise<void>((res, rej) => {
        child.stdout!.on('data', d => { if (String(d).includes('locked')) res() })
        child.on('exit', code => rej(new Error(`lock holder exited with ${code}`)))
      })
      expect(() => acquireLock(file, dir)).toThrow(/already running/)
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    acquireLock(file, dir)()
  })

  it('is not blocked by a pid file naming a live process (pid 1 in a container, or a pid reused after a reboot)', () => {
    for (const pid of [1, process.pid]) {
      const dir = tempDir()
      const file = join(dir, 'daemon.lock')
      writeFileSync(file, `${pid}\n`, { mode: 0o600 })
      const release = acquireLock(file, dir)
      expect(readFileSync(file).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000')
      release()
    }
  })
})
