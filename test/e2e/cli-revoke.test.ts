/**
 * Revocation through the CLI, three daemons: the revoked device is cut off,
 * its old ops stay on every member, and its new ops are refused everywhere.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (name: string): Promise<DaemonProcess> {
  const dir = tempDataDir()
  const d = await startDaemon(dir, ['--device-name', name])
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)

describe('weft devices revoke', () => {
  it('cuts the device off: old ops kept, new ops refused on all members', async () => {
    const a = await daemon('alpha')
    const b = await daemon('beta')
    const c = await daemon('gamma')
    for (const d of [b, c]) {
      const invite = json(await a.cli(['invite', '--json']))
      const r = await d.cli(['join', invite.code])
      expect(r.code, r.stderr).toBe(0)
    }
    // b learns of gamma through alpha; everyone connects to alpha only.
    expect((await c.cli(['put', 'notes', 'old', 'by=gamma'])).code).toBe(0)
    for (const d of [a, b]) await eventually('gamma\'s old write spreads', async () => await d.cli(['get', 'notes', 'old']), r => r.code === 0)

    const revoke = await a.cli(['devices', 'revoke', c.deviceId, '--json'])
    expect(revoke.code, revoke.stderr).toBe(0)
    await eventually('beta learns of the revocation', async () => json(await b.cli(['devices', '--json'])),
      (list: any[]) => list.some(d => d.device === c.deviceId && d.revoked !== null))

    // alpha closes gamma's connection and refuses it from now on.
    await eventually('alpha cuts gamma off', async () => json(await a.cli(['peers', '--json'])),
      (peers: any[]) => !peers.some(p => p.peerId === c.deviceId && p.connected === true))
    expect((await c.cli(['put', 'notes', 'new', 'by=gamma'])).code).toBe(0)
    await c.cli(['sync'])
    await a.cli(['sync'])
    await b.cli(['sync'])
    for (const d of [a, b]) {
      expect(json(await d.cli(['get', 'notes', 'old', '--json']))).toEqual({ by: 'gamma' })
      expect((await d.cli(['get', 'notes', 'new'])).code).toBe(1)
    }
    // three daemons and ~20 CLI processes: 35 s on an idle machine, over 60 s in the full suite
  }, 120_000)
})
