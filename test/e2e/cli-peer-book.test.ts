/**
 * The peer book through real daemon and CLI processes on loopback: after
 * pairing, each daemon records where the other was reached; with one
 * stopped, the other's `weft doctor` says why it is not connected and `weft
 * peers --verbose` shows the book; restarted (on a new port, with nothing
 * configured), it finds its member again from its book and catches up. An
 * op it cannot take says why in `weft status` and in its log.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (name: string, dir = tempDataDir(), config?: Record<string, unknown>): Promise<DaemonProcess> {
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify(config))
  const d = await startDaemon(dir, ['--device-name', name])
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)

describe('the peer book through the CLI', () => {
  it('records where a member was reached, explains why it is unreachable, and finds it again after a restart', async () => {
    const a = await daemon('alpha')
    const bDir = tempDataDir()
    // beta takes values up to 64 KiB only (see the end)
    let b = await daemon('beta', bDir, { maxValueBytes: 65_536 })
    const invite = json(await a.cli(['invite', '--json']))
    const joined = await b.cli(['join', invite.code, '--json'])
    expect(joined.code, joined.stderr).toBe(0)
    expect((await a.cli(['put', 'notes', 'n1', 'title=first'])).code).toBe(0)
    await eventually('the write reaches beta', async () => await b.cli(['get', 'notes', 'n1']), r => r.code === 0)

    // Beta reached alpha (the invite's addresses): its book says which address worked.
    const verbose = await eventually('beta\'s book holds alpha', async () => json(await b.cli(['peers', '--verbose', '--json'])),
      v => v.book.entries.some((e: any) => e.peer === a.deviceId && typeof e.okAt === 'number'))
    expect(verbose.book.entries.find((e: any) => e.peer === a.deviceId && typeof e.okAt === 'number')).toMatchObject({ kind: 'lan', failures: 0 })
    expect((await b.cli(['peers', '--verbose'])).stdout).toMatch(/PEER BOOK\s+KIND\s+ADDRESS\s+LAST WORKED/)

    // Beta stops: alpha keeps redialling it, and doctor says why it cannot reach it.
    await b.stop()
    const doctor = await eventually('alpha\'s doctor explains', async () => json(await a.cli(['doctor', '--json'])),
      (checks: any[]) => checks.some(c => c.check.startsWith('member ') && /refused/.test(c.detail)))
    const line = doctor.find((c: any) => c.check.startsWith('member '))
    expect(line).toMatchObject({ ok: false })
    expect(line.detail).toContain('beta: not connected: refused at /ip4/127.0.0.1/tcp/')
    const human = await a.cli(['doctor'])
    expect(human.code).toBe(1)
    expect(human.stdout).toMatch(/FAIL\s+member \S+\s+beta: not connected: refused/)
    const peers = json(await a.cli(['peers', '--json']))
    expect(peers.find((p: any) => p.peerId === b.deviceId)).toMatchObject({ connected: false })
    expect(peers.find((p: any) => p.peerId === b.deviceId).status).toMatch(/^unreachable since .*: refused/)
    const book = json(await a.cli(['peers', '--verbose', '--json'])).book
    expect(book.entries.some((e: any) => e.peer === b.deviceId && e.failures > 0 && /^refused: /.test(e.error))).toBe(true)
    expect(book.dialer.find((d: any) => d.peer === b.deviceId)).toMatchObject({ connected: false })

    // Beta comes back on a new port with nothing configured: it dials alpha from its book and catches up.
    expect((await a.cli(['put', 'notes', 'n2', 'title=while beta was down'])).code).toBe(0)
    b = await daemon('beta', bDir, { maxValueBytes: 65_536 })
    await eventually('beta finds alpha again and catches up', async () => await b.cli(['get', 'notes', 'n2']), r => r.code === 0, 120)
    await eventually('alpha shows beta connected', async () => json(await a.cli(['peers', '--json'])),
      (list: any[]) => list.some(p => p.peerId === b.deviceId && p.connected === true))

    // An op beta cannot take (its value limit is lower) says why, in weft status and in the log.
    expect((await a.cli(['put', 'notes', 'big', `text=${'x'.repeat(100_000)}`])).code).toBe(0)
    const status = await eventually('beta\'s status says why alpha\'s op does not pass', async () => json(await b.cli(['status', '--json'])),
      s => s.peers.some((p: any) => p.peerId === a.deviceId && /ops refused: too_large/.test(p.status)))
    expect(status.peers.find((p: any) => p.peerId === a.deviceId).status).toMatch(/^behind by 1; ops refused: too_large: .*over the 65536-byte limit/)
    expect(b.stderr()).toMatch(/"msg":"ops from a peer were refused".*"reason":"too_large"/)
  }, 120_000)
})
