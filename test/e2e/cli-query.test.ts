/**
 * Declared tables through real daemon and CLI processes: schemas from a
 * file, `weft query` (table and --json), errors with their reasons and exit
 * codes, a runaway query killed at its deadline while the daemon keeps
 * answering, `weft query --watch` seeing local and remote writes, and
 * `weft status` showing a peer on another schema version.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { call } from '../../src/cli/client.js'
import { childEnv, CLI, eventually, removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (name: string): Promise<DaemonProcess> {
  const dir = tempDataDir()
  const d = await startDaemon(dir, ['--device-name', name])
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)

function schemaFile (dir: string, schemas: unknown): string {
  const file = join(dir, 'schemas.json')
  writeFileSync(file, JSON.stringify(schemas))
  return file
}

const NOTES_V1 = { notes: { version: 1, fields: { title: 'text', pinned: 'boolean', views: 'counter', tags: 'set' }, indexes: [['pinned']] } }

/** Processes whose parent is `pid` (the daemon's query process, here). */
function childrenOf (pid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(entry))
    } catch {}
  }
  return out
}

/** `weft query --watch` as a process: its stdout lines, parsed. */
function watch (d: DaemonProcess, sql: string): { lines: any[], stop: () => void } {
  const child = spawn(process.execPath, [CLI, 'query', sql, '--watch', '--json', '--data-dir', d.dataDir], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: any[] = []
  let pending = ''
  child.stdout.on('data', (c: Buffer) => {
    pending += c.toString()
    let i
    while ((i = pending.indexOf('\n')) >= 0) { lines.push(JSON.parse(pending.slice(0, i))); pending = pending.slice(i + 1) }
  })
  const stop = (): void => { if (child.exitCode === null) child.kill('SIGKILL') }
  cleanup.push(stop)
  return { lines, stop }
}

describe('weft query and weft schema', () => {
  it('declares from a file, queries as a table and as JSON, names every problem, and kills a runaway query', async () => {
    const a = await daemon('alpha')
    const applied = await a.cli(['schema', 'apply', schemaFile(a.dataDir, NOTES_V1)])
    expect(applied.code, applied.stderr).toBe(0)
    expect(applied.stdout).toMatch(/notes: created \(table notes, version 1\)/)
    await a.cli(['put', 'notes', 'n1', 'title=hello', 'pinned=true'])
    await a.cli(['inc', 'notes', 'n1', 'views', '3'])
    await a.cli(['add', 'notes', 'n1', 'tags', 'work'])
    await a.cli(['put', 'notes', 'n2', 'title=world', 'pinned=false'])

    const table = await a.cli(['query', 'SELECT key, title, pinned, views, tags FROM notes ORDER BY key'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout.split('\n').slice(0, 3)).toEqual([
      'key  title  pinned  views  tags',
      'n1   hello  true    3      ["work"]',
      'n2   world  false   NULL   NULL'
    ])
    expect(table.stdout).toMatch(/\(2 rows, [\d.]+ ms\)/)
    const asJson = json(await a.cli(['query', '--json', 'SELECT key, views FROM notes WHERE pinned = ?', '--param', 'true']))
    expect(asJson).toEqual({ columns: ['key', 'views'], rows: [{ key: 'n1', views: 3 }] })

    const list = json(await a.cli(['schema', 'ls', '--json']))
    expect(list).toEqual([expect.objectContaining({ collection: 'notes', table: 'notes', version: 1, rows: 2 })])

    for (const [sql, message] of [
      ['SELECT * FROM registers', /no such table: registers: queries read only the declared tables \(notes\)/],
      ["DELETE FROM notes WHERE key = 'n1'", /read-only/],
      ['PRAGMA table_info(notes)', /only a SELECT/]
    ] as const) {
      const r = await a.cli(['query', sql])
      expect(r.code, sql).toBe(2) // the SQL is the command's input: exit 2, as for every usage error
      expect(r.stderr).toMatch(message)
    }
    const limited = await a.cli(['query', 'SELECT key FROM notes', '--max-rows', '1', '--json'])
    expect(limited.code).toBe(1)
    expect(JSON.parse(limited.stderr)).toEqual({ error: { code: 'QUERY_LIMIT', message: expect.stringMatching(/more than 1 rows/) } })
    expect((await a.cli(['query', 'SELECT 1', '--max-rows', 'lots'])).code).toBe(2)
    const neither = await a.cli(['query'])
    expect(neither.code).toBe(2)
    expect(neither.stderr).toMatch(/give the SQL as one argument or with --file/)
    // SQL that starts with a comment would read as an option: --file takes it.
    writeFileSync(join(a.dataDir, 'q.sql'), '-- pinned notes\nSELECT key FROM notes WHERE pinned\n')
    expect(json(await a.cli(['query', '--json', '--file', join(a.dataDir, 'q.sql')])).rows).toEqual([{ key: 'n1' }])
    // The control API itself: bytes and big integers as JSON, and bad bodies refused by name.
    const socket = join(a.dataDir, 'run', 'control.sock')
    expect(await call(socket, 'POST', '/v1/query', { body: { sql: 'SELECT ? AS b, 9007199254740993 AS big', params: [{ $bytes: 'AQI=' }] } }))
      .toEqual({ columns: ['b', 'big'], rows: [[{ $bytes: 'AQI=' }, '9007199254740993']], ms: expect.any(Number) })
    await expect(call(socket, 'POST', '/v1/query', { body: { sql: 'SELECT 1', limit: 5 } })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/unknown key "limit"/) })
    await expect(call(socket, 'POST', '/v1/query', { body: { sql: 'SELECT 1', timeoutMs: 60_000 } })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/at most 25000/) })
    await expect(call(socket, 'POST', '/v1/query', { body: { sql: 'SELEC 1' } })).rejects.toMatchObject({ status: 400, code: 'INVALID_QUERY' })
    await expect(call(socket, 'PUT', '/v1/schemas/x', { body: { version: 1 } })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/fields must be an object/) })
    await expect(call(socket, 'DELETE', '/v1/schemas/nothing')).rejects.toMatchObject({ status: 404 })
    const badFile = await a.cli(['schema', 'apply', schemaFile(a.dataDir, { bad: { version: 1, fields: { x: 'float' } } })])
    expect(badFile.code).toBe(2) // a schema that is wrong is bad input: exit 2, as for every usage error
    expect(badFile.stderr).toMatch(/field "x": type must be one of text/)

    // One step that never yields a row: the query process is killed at the deadline; the daemon answers throughout.
    const before = childrenOf(a.child.pid!)
    expect(before).toHaveLength(1)
    const started = Date.now()
    const runaway = a.cli(['query', 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', '--timeout', '500', '--json'])
    await new Promise(resolve => setTimeout(resolve, 200))
    expect((await a.cli(['status', '--json'])).code).toBe(0)
    const r = await runaway
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stderr).error.code).toBe('QUERY_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(10_000)
    await eventually('the runaway query process is gone', async () => childrenOf(a.child.pid!), pids => !pids.includes(before[0]!), 20)
    expect(json(await a.cli(['query', '--json', 'SELECT count(*) AS n FROM notes'])).rows).toEqual([{ n: 2 }])
    // About 30 CLI processes: 20 s on a quiet machine, 72 s in the full suite with the load average at 15.
  }, 180_000)

  it('watches a query across two devices, and shows a peer on another schema version', async () => {
    const a = await daemon('alpha')
    const b = await daemon('beta')
    const invite = json(await a.cli(['invite', '--json']))
    expect((await b.cli(['join', invite.code, '--json'])).code).toBe(0)
    expect((await a.cli(['schema', 'apply', schemaFile(a.dataDir, NOTES_V1)])).code).toBe(0)

    const w = watch(a, 'SELECT key, title FROM notes WHERE pinned = 1 ORDER BY key')
    await eventually('the watch prints its first result', async () => w.lines.length, n => n >= 1)
    expect(w.lines[0]).toEqual({ columns: ['key', 'title'], rows: [] })
    await a.cli(['put', 'notes', 'n1', 'title=local', 'pinned=true'])
    await eventually('a local write reaches the watch', async () => w.lines.at(-1), l => l.rows.length === 1)
    await b.cli(['put', 'notes', 'n2', 'title=remote', 'pinned=true', 'color=red'])
    await eventually('a remote write reaches the watch', async () => w.lines.at(-1), l => l.rows.length === 2)
    expect(w.lines.at(-1)).toEqual({ columns: ['key', 'title'], rows: [{ key: 'n1', title: 'local' }, { key: 'n2', title: 'remote' }] })
    const count = w.lines.length
    await b.cli(['put', 'notes', 'n3', 'title=not pinned', 'pinned=false'])
    await eventually('the unpinned note arrives', async () => json(await a.cli(['query', '--json', 'SELECT count(*) AS n FROM notes'])).rows[0].n, n => n === 3)
    expect(w.lines).toHaveLength(count) // same result: nothing printed
    w.stop()

    // A field declared later shows what was merged before (the remote "color").
    const v2 = { notes: { ...NOTES_V1.notes, version: 2, fields: { ...NOTES_V1.notes.fields, color: 'text' } } }
    expect((await a.cli(['schema', 'apply', schemaFile(a.dataDir, v2)])).stdout).toMatch(/notes: extended/)
    expect(json(await a.cli(['query', '--json', "SELECT color FROM notes WHERE key = 'n2'"])).rows).toEqual([{ color: 'red' }])

    // B declares version 1: after a sync, each side's status names the other's version.
    expect((await b.cli(['schema', 'apply', schemaFile(b.dataDir, NOTES_V1)])).code).toBe(0)
    await b.cli(['sync'])
    const status = await eventually('alpha sees beta\'s schema version', async () => json(await a.cli(['status', '--json'])),
      s => s.peers.some((p: any) => p.peerId === b.deviceId && p.schemaDiffers.length > 0))
    expect(status.peers.find((p: any) => p.peerId === b.deviceId).schemaDiffers).toEqual([{ collection: 'notes', local: 2, peer: 1 }])
    expect((await a.cli(['status'])).stdout).toContain(`schemas  ${b.deviceId} is on other schema versions: notes v1 there, v2 here`)
    // Two daemons and about 20 CLI processes: 60 s in the full suite with the load average at 15.
  }, 180_000)
})
