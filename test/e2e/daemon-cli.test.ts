/**
 * The daemon and the CLI as a user runs them: real processes, temp data dirs,
 * driven only through the CLI binary.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, request } from 'node:http'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { childEnv, CLI, removeDir, runCli, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (extra: string[] = [], dir = tempDataDir()): Promise<DaemonProcess> {
  const d = await startDaemon(dir, extra)
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

describe('weft daemon and CLI', () => {
  it('writes, reads, lists, shows the oplog and status, stops cleanly, and keeps data across a restart', async () => {
    const dir = tempDataDir()
    let d = await startDaemon(dir)
    cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })

    expect((await d.cli(['put', 'notes', 'n1', 'title=hello', 'n=3', 'tags=["a","b"]'])).code).toBe(0)
    expect((await d.cli(['inc', 'notes', 'n1', 'views', '2'])).code).toBe(0)
    expect((await d.cli(['add', 'notes', 'n1', 'labels', 'red'])).code).toBe(0)
    const got = await d.cli(['get', 'notes', 'n1'])
    expect(got.code).toBe(0)
    expect(JSON.parse(got.stdout)).toEqual({ title: 'hello', n: 3, tags: ['a', 'b'], views: 2, labels: ['red'] })

    const ls = await d.cli(['ls', 'notes', '--json'])
    expect(JSON.parse(ls.stdout)).toEqual([{ key: 'n1', fields: { title: 'hello', n: 3, tags: ['a', 'b'], views: 2, labels: ['red'] } }])

    const oplog = JSON.parse((await d.cli(['oplog', '--json', '--collection', 'notes'])).stdout) as Array<{ kind: string, field?: string, value?: unknown, origin: string }>
    expect(oplog.map(o => o.kind)).toEqual(['add', 'increment', 'set', 'set', 'set'])
    expect(oplog.every(o => o.origin === d.deviceId)).toBe(true)

    const status = JSON.parse((await d.cli(['status', '--json'])).stdout) as { device: string, store: { ops: number } }
    expect(status.device).toBe(d.deviceId)
    // Five writes, plus the group's genesis admission made on first start (it replicates as an op).
    expect(status.store.ops).toBe(6)

    expect(await d.stop()).toBe(0)
    expect(d.stderr()).toContain('stopped')
    const down = await runCli(['status', '--data-dir', dir])
    expect(down.code).toBe(3)
    expect(down.stderr).toContain('not running')

    d = await startDaemon(dir)
    const again = await d.cli(['get', 'notes', 'n1', '--json'])
    expect(JSON.parse(again.stdout)).toMatchObject({ title: 'hello', views: 2 })
    expect(await d.stop()).toBe(0)
  })

  it('streams new ops with oplog --follow', async () => {
    const d = await daemon()
    const follow = spawn(process.execPath, [CLI, 'oplog', '--follow', '--json', '--limit', '1', '--data-dir', d.dataDir], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    follow.stdout.on('data', c => { out += String(c) })
    try {
      for (let i = 0; i < 40 && !out.includes('"hlc"'); i++) await new Promise(resolve => setTimeout(resolve, 100)) // the existing newest op
      expect((await d.cli(['put', 'live', 'k', 'v=1'])).code).toBe(0)
      for (let i = 0; i < 40 && !out.includes('"live"'); i++) await new Promise(resolve => setTimeout(resolve, 100))
      const lines = out.trim().split('\n').map(l => JSON.parse(l))
      expect(lines.some(o => o.collection === 'live' && o.key === 'k' && o.field === 'v' && o.value === 1)).toBe(true)
    } finally {
      follow.kill()
    }
  })

  it('writes and removes a systemd user unit', async () => {
    const config = tempDataDir('weft-xdg')
    cleanup.push(() => removeDir(config))
    const dataDir = join(config, 'data')
    const installed = await runCli(['service', 'install', '--data-dir', dataDir, '--json'], { env: { XDG_CONFIG_HOME: config } })
    expect(installed.code, installed.stderr).toBe(0)
    const unit = join(config, 'systemd', 'user', 'weft.service')
    expect(JSON.parse(installed.stdout).path).toBe(unit)
    const text = readFileSync(unit, 'utf8')
    expect(text).toContain('ExecStart=')
    expect(text).toContain(`start --data-dir ${dataDir}`)
    expect((await runCli(['service', 'uninstall'], { env: { XDG_CONFIG_HOME: config } })).code).toBe(0)
    expect(existsSync(unit)).toBe(false)
  })

  it('refuses a second daemon on the same data dir', async () => {
    const d = await daemon()
    const second = await runCli(['start', '--data-dir', d.dataDir, '--no-mdns', '--no-upnp', '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(second.code).not.toBe(0)
    expect(second.stderr).toMatch(/already running/)
    // The first one is unaffected.
    expect((await d.cli(['status'])).code).toBe(0)
  })

  it('reports every problem of a bad config and does not start', async () => {
    const dir = tempDataDir()
    cleanup.push(() => removeDir(dir))
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ mdns: 'yes', syncIntervalMs: -5, colour: 'blue', relays: ['/ip4/1.2.3.4/tcp/1'] }))
    const r = await runCli(['start', '--data-dir', dir])
    // A configuration error is a usage error: exit 2, like a bad flag.
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('mdns must be true or false')
    expect(r.stderr).toContain('syncIntervalMs must be an integer')
    expect(r.stderr).toContain('unknown key "colour"')
    expect(r.stderr).toContain('must end with /p2p/')
  })

  it('gives clear errors and exit codes for bad arguments', async () => {
    const d = await daemon()
    const missing = await d.cli(['get', 'notes', 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no row "nope"')
    const usage = await d.cli(['put', 'notes'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('usage: weft put')
    const badField = await d.cli(['put', 'notes', 'k', 'novalue'])
    expect(badField.code).toBe(2)
    const badInc = await d.cli(['inc', 'notes', 'k', 'n', '1.5'])
    expect(badInc.code).toBe(2)
    const unknown = await runCli(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command')
    const json = await d.cli(['get', 'notes', 'nope', '--json'])
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: 'no row "nope" in "notes"' } })
    expect(json.stderr).not.toContain('    at ')
  })

  it('exits 2 for argument errors whoever finds them: the CLI, the daemon or the config loader', async () => {
    const d = await daemon()
    // Found by the daemon (a 400 from the control API).
    const limit = await d.cli(['oplog', '--limit', '0'])
    expect(limit.code).toBe(2)
    expect(limit.stderr).toContain('limit must be an integer from 1 to 10000')
    const list = await d.cli(['ls', 'notes', '--limit', 'many'])
    expect(list.code).toBe(2)
    const since = await d.cli(['oplog', '--since', 'yesterday-ish'])
    expect(since.code).toBe(2)
    expect(since.stderr).toContain('since must be a date')
    // Found by the config loader, from a flag.
    const level = await runCli(['start', '--data-dir', d.dataDir, '--log-level', 'loud'])
    expect(level.code).toBe(2)
    expect(level.stderr).toContain('command line: logLevel must be one of error, warn, info, debug')
  })

  it('refuses empty collection and key names instead of reading another collection', async () => {
    const d = await daemon()
    expect((await d.cli(['put', 'notes', 'n1', 'title=hello'])).code).toBe(0)
    // Before: the empty name vanished from the path and this listed "notes".
    const empty = await d.cli(['get', '', 'notes'])
    expect(empty.code).toBe(2)
    expect(empty.stdout).toBe('')
    expect(empty.stderr).toContain('the collection is empty (collection names must be non-empty)')
    for (const args of [['get', 'notes', ''], ['put', 'notes', '', 'a=1'], ['del', '', 'n1'], ['inc', 'notes', 'n1', ''], ['add', 'notes', 'n1', '', 'x'], ['ls', '']]) {
      const r = await d.cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(/the (collection|key|field) is empty/)
    }
    expect(JSON.parse((await d.cli(['get', 'notes', 'n1', '--json'])).stdout)).toEqual({ title: 'hello' })
  })

  it('reads negative numbers as values', async () => {
    const d = await daemon()
    const dec = await d.cli(['inc', 'c', 'k', 'n', '-1'])
    expect(dec.code, dec.stderr).toBe(0)
    expect((await d.cli(['inc', 'c', 'k', 'n', '-41'])).code).toBe(0)
    expect((await d.cli(['add', 'c', 'k', 's', '-2.5'])).code).toBe(0)
    expect(JSON.parse((await d.cli(['get', 'c', 'k'])).stdout)).toEqual({ n: -42, s: [-2.5] })
    // Still an error where a negative number is not a valid value.
    const limit = await d.cli(['oplog', '--limit', '-5'])
    expect(limit.code).toBe(2)
    expect(limit.stderr).toContain('limit must be an integer')
  })

  it('weft sync exits 1 when the sync failed or there was no one to sync with', async () => {
    const d = await daemon()
    const none = await d.cli(['sync'])
    expect(none.code).toBe(1)
    expect(none.stdout).toContain('no connected peers')
    // A well-formed peer id (an Ed25519 key) that nobody here answers for.
    const absent = '12D3KooWGC8cUJpE1gtsKvbfq7DL7xPBCAjii76syNB59ntwEabY'
    const failed = await d.cli(['sync', absent])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toContain('FAILED')
    const asJson = await d.cli(['sync', absent, '--json'])
    expect(asJson.code).toBe(1)
    expect(JSON.parse(asJson.stdout)).toMatchObject({ peer: absent, ok: false })
  })

  it('exits quietly when the reader of its output goes away (weft ls | head -1)', async () => {
    const d = await daemon()
    for (let i = 0; i < 3; i++) expect((await d.cli(['put', `c${i}`, 'k', 'a=1'])).code).toBe(0)
    // --follow too: it ends instead of streaming into a closed pipe forever.
    for (const cmd of [['ls'], ['ls', 'c1'], ['doctor'], ['oplog'], ['oplog', '--follow']]) {
      // stdout is a pipe whose reader is gone before weft writes: every write is EPIPE.
      const r = await new Promise<{ code: number | null, stderr: string }>(resolve => {
        const child = spawn(process.execPath, [CLI, ...cmd, '--data-dir', d.dataDir], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
        child.stdout.destroy()
        let stderr = ''
        child.stderr.on('data', c => { stderr += String(c) })
        child.on('close', code => resolve({ code, stderr }))
      })
      expect(r.stderr, cmd.join(' ')).toBe('')
      // Its own status: what the command found, not a crash.
      const expected = cmd.includes('--follow') ? 0 : (await d.cli(cmd)).code
      expect(r.code, cmd.join(' ')).toBe(expected)
    }
  }, 120_000)

  it('keeps the control socket to its user and guards the TCP port with a token', async () => {
    const port = await freePort()
    const d = await daemon(['--api-port', String(port)])
    const sock = statSync(join(d.dataDir, 'run', 'control.sock'))
    expect(sock.mode & 0o777).toBe(0o600)
    expect(statSync(join(d.dataDir, 'run')).mode & 0o777).toBe(0o700)
    if (process.getuid?.() === 0) {
      // Another user cannot reach the socket. A plain HTTP client run as
      // nobody (not the CLI: a fresh clone may sit where nobody cannot read it).
      const socket = join(d.dataDir, 'run', 'control.sock')
      const probe = `require('http').get({ socketPath: ${JSON.stringify(socket)}, path: '/v1/status' }, r => { console.log('status', r.statusCode); process.exit(0) }).on('error', e => { console.error(e.code); process.exit(1) })`
      const other = await new Promise<{ code: number | null, stderr: string }>(resolve => {
        const child = spawn('runuser', ['-u', 'nobody', '--', process.execPath, '-e', probe], { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' })
        let stderr = ''
        child.stderr.on('data', c => { stderr += String(c) })
        child.on('close', code => resolve({ code, stderr }))
      })
      expect(other.code).not.toBe(0)
      expect(other.stderr).toMatch(/EACCES/)
    }
    const token = readFileSync(join(d.dataDir, 'api.token'), 'utf8').trim()
    expect(statSync(join(d.dataDir, 'api.token')).mode & 0o777).toBe(0o600)
    expect((await httpGet(port, '/v1/status')).status).toBe(401)
    expect((await httpGet(port, '/v1/status', 'wrong-token')).status).toBe(401)
    const ok = await httpGet(port, '/v1/status', token)
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body).device).toBe(d.deviceId)
    const metrics = await httpGet(port, '/metrics', token)
    expect(metrics.body).toContain('weft_oplog_ops 1') // the genesis admission
    // How ops travel, for operators: sessions by direction (and crossed), ops by path, ops held for order, announcements published again.
    for (const sample of ['weft_sync_sessions_by_direction_total{direction="crossed"} 0', 'weft_ops_sent_by_path_total{path="announcement"} 0',
      'weft_ops_applied_by_path_total{path="session"} 0', 'weft_ops_held_for_order_total 0', 'weft_announcements_republished_total 0']) expect(metrics.body).toContain(sample)
  })
})

async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(res => srv.listen(0, '127.0.0.1', () => res()))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>(res => srv.close(() => res()))
  return port
}

async function httpGet (port: number, path: string, token?: string): Promise<{ status: number, body: string }> {
  return await new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, r => {
      let body = ''
      r.on('data', d => { body += String(d) })
      r.on('end', () => res({ status: r.statusCode ?? 0, body }))
    })
    req.on('error', rej)
    req.end()
  })
}
