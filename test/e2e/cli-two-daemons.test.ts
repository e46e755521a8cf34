/**
 * Two daemons in temp data dirs on loopback, driven only through the CLI
 * binary: init, invite, join, write on one and read on the other, status,
 * peers, oplog, diff, sync, clean stop, and a restart that keeps the data.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, removeDir, runCli, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (name: string, dir = tempDataDir()): Promise<DaemonProcess> {
  const d = await startDaemon(dir, ['--device-name', name])
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)

describe('two daemons through the CLI', () => {
  it('pair, sync both ways, inspect, and survive a restart', async () => {
    const a = await daemon('alpha')
    const bDir = tempDataDir()
    let b = await daemon('beta', bDir)

    const init = json(await a.cli(['init', '--json']))
    expect(init.created).toBe(false) // the first start already made a group of one
    expect(init.group).toMatch(/^wg/)

    const invite = json(await a.cli(['invite', '--json']))
    expect(invite.code).toMatch(/^weft1:/)
    const joined = await b.cli(['join', invite.code, '--json'])
    expect(joined.code, joined.stderr).toBe(0)
    expect(json(joined).group).toBe(init.group)

    expect((await a.cli(['put', 'notes', 'n1', 'title=from alpha'])).code).toBe(0)
    const got = await eventually('alpha\'s write reaches beta', async () => await b.cli(['get', 'notes', 'n1', '--json']), r => r.code === 0)
    expect(json(got)).toEqual({ title: 'from alpha' })
    expect((await b.cli(['put', 'notes', 'n2', 'title=from beta'])).code).toBe(0)
    await eventually('beta\'s write reaches alpha', async () => await a.cli(['get', 'notes', 'n2', '--json']), r => r.code === 0)

    const syncRun = await b.cli(['sync', '--json'])
    expect(syncRun.code, syncRun.stderr).toBe(0)
    expect(json(syncRun)).toEqual([expect.objectContaining({ peer: a.deviceId, ok: true })])
    const single = json(await b.cli(['sync', a.deviceId, '--json']))
    expect(single).toMatchObject({ peer: a.deviceId, ok: true })
    const singleRun = await b.cli(['sync', a.deviceId])
    expect(singleRun.code, singleRun.stderr).toBe(0)
    expect(singleRun.stdout).toMatch(new RegExp(`${a.deviceId}.*\\bok$`, 'm'))

    const status = await eventually('status shows in sync', async () => json(await a.cli(['status', '--json'])),
      s => s.peers.some((p: any) => p.peerId === b.deviceId && p.status === 'in sync'))
    expect(status.group).toBe(init.group)

    const peers = json(await a.cli(['peers', '--json']))
    expect(peers).toEqual([expect.objectContaining({ peerId: b.deviceId, connected: true })])
    expect(peers[0].path).toMatch(/^direct/)
    const human = await a.cli(['peers'])
    expect(human.stdout).toContain(b.deviceId)

    const oplog = json(await b.cli(['oplog', '--json', '--collection', 'notes']))
    expect(oplog.map((o: any) => o.key)).toEqual(['n2', 'n1'])
    expect(oplog.find((o: any) => o.key === 'n1').origin).toBe(a.deviceId)

    const diff = json(await a.cli(['diff', b.deviceId, '--json']))
    expect(diff.localOnly.perOrigin).toEqual({})
    expect(diff.peerOnly.perOrigin).toEqual({})

    const devices = json(await a.cli(['devices', '--json']))
    expect(devices.map((d: any) => d.name).sort()).toEqual(['alpha', 'beta'])

    expect(await b.stop()).toBe(0)
    await a.cli(['put', 'notes', 'n3', 'title=while beta was down'])
    b = await startDaemon(bDir, ['--peer', (json(await a.cli(['status', '--json'])).network.addresses as string[])[0]!])
    cleanup.push(async () => { await b.stop('SIGKILL') })
    expect(json(await b.cli(['get', 'notes', 'n2', '--json']))).toEqual({ title: 'from beta' })
    await eventually('beta catches up after restart', async () => await b.cli(['get', 'notes', 'n3', '--json']), r => r.code === 0)
    // About 25 CLI processes, three daemon starts and a restart: ~30 s on an
    // idle machine, ~40 s in the full suite; the default 60 s left too little
    // room on two shared cores under other load.
  }, 120_000)

  it('refuses expired, reused and wrong invite codes, each with its reason', async () => {
    const a = await daemon('alpha')
    const b = await daemon('beta')
    const c = await daemon('gamma')
    const invite = json(await a.cli(['invite', '--json']))
    expect((await b.cli(['join', invite.code])).code).toBe(0)
    const reused = await c.cli(['join', invite.code])
    expect(reused.code).toBe(1)
    expect(reused.stderr).toMatch(/already used/)

    const typo = invite.code.slice(0, 20) + (invite.code[20] === 'a' ? 'b' : 'a') + invite.code.slice(21)
    const wrong = await c.cli(['join', typo])
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr).toMatch(/checksum|typo|mistyped/i)

    const short = json(await a.cli(['invite', '--ttl', '0.0005', '--json'])) // 30 ms
    await new Promise(resolve => setTimeout(resolve, 100))
    const expired = await c.cli(['join', short.code])
    expect(expired.code).toBe(1)
    expect(expired.stderr).toMatch(/expired/)
  })
})

void runCli
