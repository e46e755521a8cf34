/**
 * The abort signal a control-API handler gets (`req.signal`, made only when a
 * handler reads it): aborted when the client goes away, whether the handler
 * read it before or after. A real server on a Unix socket in a temporary
 * directory, real HTTP clients.
 */
import { request } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ControlApi, type ApiRequest } from '../../src/daemon/control-api.js'
import { tempDir } from '../helpers/fixtures.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

async function serve (handle: (req: ApiRequest) => Promise<unknown> | unknown): Promise<string> {
  const dir = tempDir('weft-api-signal-')
  const socket = join(dir, 'run', 'api.sock')
  const api = new ControlApi({ socket, runtimeDir: join(dir, 'run'), tokenFile: join(dir, 'api.token'), apiPort: null, handle, log: () => {} })
  await api.start()
  cleanups.push(async () => { await api.stop() })
  return socket
}

/** A GET that the client abandons once the server has started on it (`started` resolves). */
function abandon (socket: string, path: string, started: Promise<void>): void {
  const req = request({ socketPath: socket, path })
  req.on('error', () => {})
  req.end()
  void started.then(() => req.destroy())
}

describe('req.signal', () => {
  it('aborts when the client leaves while the handler runs, read before or after it left', async () => {
    let startedEarly!: () => void
    let startedLate!: () => void
    const early = new Promise<void>(resolve => { startedEarly = resolve })
    const late = new Promise<void>(resolve => { startedLate = resolve })
    const seen = new Map<string, Promise<boolean>>()
    const socket = await serve(async req => {
      if (req.rawPath === '/early') {
        // Read at once, then the client leaves.
        const signal = req.signal
        seen.set('early', new Promise(resolve => signal.addEventListener('abort', () => resolve(true), { once: true })))
        startedEarly()
        await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
        return undefined
      }
      // Read only once the client has gone.
      startedLate()
      await new Promise(resolve => req.res.once('close', resolve))
      seen.set('late', Promise.resolve(req.signal.aborted))
      return undefined
    })
    abandon(socket, '/early', early)
    abandon(socket, '/late', late)
    await Promise.all([early, late])
    await expect.poll(() => seen.size).toBe(2)
    expect(await seen.get('early')).toBe(true)
    expect(await seen.get('late')).toBe(true)
  })
})
