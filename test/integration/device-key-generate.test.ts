/**
 * New device keys: many in a row never hang the process, and each is the key
 * stock libp2p derives from the same raw bytes.
 *
 * On Node 20, `generateKeyPairSync('ed25519')` followed by an export of the
 * key it returned deadlocks when a garbage collection lands inside the export
 * (the finished job's destructor waits for the lock the export holds); a
 * loop of a few thousand keys hit it two times in three. A hang cannot be
 * caught inside the test's own process, so the loop runs in a child process
 * with a deadline.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { DeviceKey, SignatureVerifier } from '../../src/oplog/keys.js'

const KEYS_MODULE = join(import.meta.dirname, '../../dist/src/oplog/keys.js')
const LOOP_DEADLINE_MS = 50_000

describe('DeviceKey.generate', () => {
  // The old way hung in about half of such loops: two of them make a miss unlikely.
  it('makes 2 × 20,000 keys in a row, with the heap churning, without hanging', async () => {
    const script = `
      const { DeviceKey } = await import(${JSON.stringify(KEYS_MODULE)})
      const keep = []
      for (let i = 0; i < 20000; i++) {
        keep.push(DeviceKey.generate().id + 'x'.repeat(i % 200))
        if (keep.length > 500) keep.length = 0
      }
      console.log('done')`
    const loop = async (): Promise<{ code: number | string, out: string }> => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', d => { out += String(d) })
      child.stderr.on('data', d => { out += String(d) })
      const code = await new Promise<number | string>(resolve => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('hung') }, LOOP_DEADLINE_MS)
        child.on('exit', c => { clearTimeout(timer); resolve(c ?? 'signal') })
      })
      return { code, out: out.trim() }
    }
    for (const { code, out } of await Promise.all([loop(), loop()])) {
      expect(code, out).toBe(0)
      expect(out).toBe('done')
    }
  }, LOOP_DEADLINE_MS + 10_000)

  it('is the key stock libp2p makes of the same raw bytes, and its signatures verify', async () => {
    const verifier = new SignatureVerifier()
    const ids = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const key = DeviceKey.generate()
      const stock = privateKeyFromRaw(key.raw)
      expect(stock.publicKey.raw).toEqual(key.publicKey)
      expect(key.id).toBe(peerIdFromPrivateKey(stock).toString())
      const message = new TextEncoder().encode(`message ${i}`)
      expect(verifier.verify(key.publicKey, message, key.sign(message))).toBe(true)
      expect(await stock.publicKey.verify(message, key.sign(message))).toBe(true)
      ids.add(key.id)
    }
    expect(ids.size).toBe(20)
  })
})
