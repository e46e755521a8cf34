/**
 * A device that lost its store: refused at start with a message naming weft
 * recover; `weft recover <code>` brings it back as a new identity admitted
 * through an invite, that succeeds the old one (revoked by its own key), with
 * its old data pulled back and its new writes accepted; nobody equivocates.
 * And a peer that does see an equivocating device names it in status and doctor.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DeviceKey } from '../../src/oplog/keys.js'
import { openReplica } from '../../src/store/replica.js'
import { eventually, removeDir, runCli, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (dir: string, args: string[] = []): Promise<DaemonProcess> {
  const d = await startDaemon(dir, args)
  cleanup.push(async () => { await d.stop('SIGKILL') })
  return d
}

function dataDir (): string {
  const dir = tempDataDir()
  cleanup.push(() => removeDir(dir))
  return dir
}

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)
const NET = ['--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('weft recover', () => {
  it('a lost replica.db is refused at start, and weft recover brings the device back as the successor of its old identity', async () => {
    const a = await daemon(dataDir(), ['--device-name', 'alpha'])
    const bDir = dataDir()
    let b = await daemon(bDir, ['--device-name', 'laptop'])
    const oldId = b.deviceId
    const invite = json(await a.cli(['invite', '--json']))
    expect((await b.cli(['join', invite.code])).code).toBe(0)
    for (let i = 0; i < 5; i++) expect((await b.cli(['put', 'notes', `old${i}`, `n=${i}`])).code).toBe(0)
    await eventually('laptop\'s writes reach alpha', async () => await a.cli(['get', 'notes', 'old4', '--json']), r => r.code === 0)

    await b.stop('SIGKILL')
    for (const f of ['replica.db', 'replica.db-wal', 'replica.db-shm']) rmSync(join(bDir, f), { force: true })
    const refused = await runCli(['start', '--data-dir', bDir, ...NET])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/replica.db is missing.*store is lost.*weft recover <invite code>/)

    const code = json(await a.cli(['invite', '--json'])).code
    const recovered = await runCli(['recover', code, '--data-dir', bDir, '--name', 'laptop', '--json', ...NET], { timeoutMs: 60_000 })
    expect(recovered.code, recovered.stderr).toBe(0)
    const res = json(recovered)
    // Its 5 notes and the genesis record of the group of one it made on its first start.
    expect(res).toMatchObject({ mode: 'joined', previous: oldId, retired: 'self', previousOps: 6 })
    expect(res.device).not.toBe(oldId)
    expect(res.kept).toMatch(/replaced-/)

    const aAddr = (json(await a.cli(['status', '--json'])).network.addresses as string[])[0]!
    b = await daemon(bDir, ['--peer', aAddr])
    expect(b.deviceId).toBe(res.device)
    // Its old data came back, and its new writes are accepted by its peer.
    expect(json(await b.cli(['get', 'notes', 'old3', '--json']))).toEqual({ n: 3 })
    expect((await b.cli(['put', 'notes', 'new', 'n=after recovery'])).code).toBe(0)
    await eventually('the new identity\'s write reaches alpha', async () => await a.cli(['get', 'notes', 'new', '--json']), r => r.code === 0)
    const status = json(await a.cli(['status', '--json']))
    expect(status.equivocating).toEqual([])
    expect(status.rejected).toEqual({})
    const devices = json(await a.cli(['devices', '--json']))
    expect(devices.find((d: any) => d.device === oldId)).toMatchObject({ name: 'laptop', revoked: expect.any(Object), replacedBy: res.device })
    expect(devices.find((d: any) => d.device === res.device)).toMatchObject({ name: 'laptop', revoked: null })
    const doctor = json(await a.cli(['doctor', '--json']))
    expect(doctor.find((c: any) => c.check === 'equivocation')).toMatchObject({ ok: true })
  }, 120_000)

  it('a group of one has nobody to recover from: weft recover says so, and --fresh starts over with a new key', async () => {
    const dir = dataDir()
    const d = await daemon(dir, ['--device-name', 'solo'])
    expect((await d.cli(['put', 'notes', 'n', 'v=1'])).code).toBe(0)
    await d.stop('SIGKILL')
    rmSync(join(dir, 'device.key'))
    const refused = await runCli(['start', '--data-dir', dir, ...NET])
    expect(refused.stderr).toMatch(/device.key is missing.*weft recover/)
    const noCode = await runCli(['recover', '--data-dir', dir, ...NET])
    expect(noCode.code).not.toBe(0)
    expect(noCode.stderr).toMatch(/needs an invite code.*alone in its group.*--fresh/)
    const fresh = await runCli(['recover', '--fresh', '--data-dir', dir, '--json', ...NET])
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(json(fresh)).toMatchObject({ mode: 'fresh', previous: null, kept: expect.stringMatching(/replaced-/) })
    const again = await daemon(dir)
    expect(again.deviceId).not.toBe(d.deviceId)
  }, 60_000)

  it('a peer names an equivocating device in weft status and weft doctor', async () => {
    const dir = dataDir()
    const laptop = DeviceKey.generate()
    const r = openReplica({ dir })
    r.createGroup('desk')
    r.admit(laptop.publicKey, 'laptop')
    // The laptop's store was reset with its key kept: two different op 1s.
    for (const body of ['before', 'after reset']) {
      const other = openReplica({ dir: tempDataDir(), deviceKey: laptop })
      other.put('notes', 'n', { body })
      const ops = other.opsSince(new Map()).ops.filter(op => Buffer.from(op.body.subarray(1, 33)).equals(Buffer.from(laptop.publicKey)))
      r.applyRemote(ops)
      removeDir(other.dir)
      other.close()
    }
    expect(r.stats().equivocating).toEqual([laptop.id])
    r.close()
    const d = await daemon(dir)
    const status = json(await d.cli(['status', '--json']))
    expect(status.equivocating).toEqual([{ device: laptop.id, name: 'laptop' }])
    expect((await d.cli(['status'])).stdout).toMatch(new RegExp(`laptop \\(${laptop.id}\\) is equivocating`))
    const doctor = await d.cli(['doctor'])
    expect(doctor.code).toBe(1)
    expect(doctor.stdout).toMatch(new RegExp(`FAIL +equivocation +laptop \\(${laptop.id}\\) signed two different ops.*weft recover`))
  }, 60_000)
})
