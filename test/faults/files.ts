/**
 * Rows of the fault suite about damaged and lost files: each damage is a
 * clear refusal (naming weft recover where the store is lost or damaged) or
 * a safe start, never a silent new identity; and a lost database brought
 * back with weft recover, with no equivocation anywhere.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openReplica } from '../../src/store/replica.js'
import { copyLiveFiles, interruptCheckpoint, scribbleMiddlePage } from '../helpers/damage.js'
import { addressOf, api, apiOk, cli, NET_ARGS, pair, startWeft, tempDir, tryStartWeft, waitFor } from './procs.js'
import type { RowResult } from './table.js'

const hashOf = (file: string): string | undefined => existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined

interface Template { dir: string, deviceId: string }

function template (): Template {
  const dir = tempDir()
  const r = openReplica({ dir })
  r.createGroup('template')
  r.batch(w => { for (let i = 0; i < 400; i++) w.put('notes', `n${i}`, { body: 'x'.repeat(200) }) })
  const deviceId = r.deviceId
  r.close()
  return { dir, deviceId }
}

interface Case {
  name: string
  damage: (dir: string, t: Template) => void
  /** A refusal whose message matches, or a start as the same device with its data. */
  expect: RegExp | 'start'
  after?: (dir: string) => string | undefined
}

const CASES: Case[] = [
  { name: 'truncated db', damage: dir => { const f = join(dir, 'replica.db'); truncateSync(f, Math.floor(statSync(f).size / 2)) }, expect: /damaged.*weft recover/ },
  { name: 'garbage header', damage: dir => { const f = join(dir, 'replica.db'); const b = readFileSync(f); randomBytes(100).copy(b, 0); writeFileSync(f, b) }, expect: /not a SQLite database.*weft recover/ },
  { name: 'garbage middle page', damage: dir => { scribbleMiddlePage(join(dir, 'replica.db')) }, expect: /damaged.*weft recover/ },
  { name: '0-byte db', damage: dir => { writeFileSync(join(dir, 'replica.db'), '') }, expect: /empty \(0 bytes\).*weft recover/ },
  { name: 'missing db', damage: dir => { rmSync(join(dir, 'replica.db')) }, expect: /missing.*store is lost.*weft recover/ },
  { name: 'missing key', damage: dir => { rmSync(join(dir, 'device.key')) }, expect: /device.key is missing.*weft recover/ },
  { name: 'short key', damage: dir => { const f = join(dir, 'device.key'); writeFileSync(f, readFileSync(f).subarray(0, 32)) }, expect: /32 bytes, expected 64.*damaged.*weft recover/ },
  { name: '0644 key', damage: dir => { chmodSync(join(dir, 'device.key'), 0o644) }, expect: /readable by other users.*chmod 600/ },
  { name: 'bad config', damage: dir => { writeFileSync(join(dir, 'config.json'), '{"mdns": "yes", "colour": 1}') }, expect: /invalid configuration.*mdns.*colour/s },
  {
    name: 'header ahead of file (interrupted checkpoint)',
    damage: (dir) => {
      // Rebuilt from a live copy: a kill -9 with the WAL holding the newest pages, then page 1 backfilled.
      const live = tempDir()
      cpSync(dir, live, { recursive: true })
      for (const f of ['replica.db', 'replica.db-wal', 'replica.db-shm']) rmSync(join(dir, f), { force: true })
      const r = openReplica({ dir: live })
      r.batch(w => { for (let i = 0; i < 300; i++) w.put('notes', `m${i}`, { body: 'y'.repeat(1500) }) })
      copyLiveFiles(live, dir)
      r.close()
      interruptCheckpoint(dir)
    },
    expect: 'start'
  },
  {
    name: 'data dir 0755, replica.db 0644',
    damage: dir => { chmodSync(dir, 0o755); chmodSync(join(dir, 'replica.db'), 0o644) },
    expect: 'start',
    after: dir => (statSync(dir).mode & 0o777) === 0o700 && (statSync(join(dir, 'replica.db')).mode & 0o777) === 0o600 ? undefined : 'modes not narrowed to 0700 / 0600'
  }
]

export async function damagedFiles (): Promise<RowResult> {
  const notes: string[] = []
  const outcomes: string[] = []
  let ok = true
  for (const c of CASES) {
    const t = template()
    const dir = tempDir()
    cpSync(t.dir, dir, { recursive: true })
    c.damage(dir, t)
    const keyBefore = hashOf(join(dir, 'device.key'))
    const dbBefore = hashOf(join(dir, 'replica.db'))
    const res = await tryStartWeft(dir, { timeoutMs: 60_000 })
    let problem: string | undefined
    if ('exitCode' in res) {
      const message = res.stderr.trim().split('\n').filter(l => l.startsWith('weft:')).join(' ')
      if (c.expect === 'start') problem = `refused: ${message.slice(0, 300)}`
      else if (!c.expect.test(res.stderr)) problem = `refused without the expected message: ${message.slice(0, 300)}`
      // Never a silent new identity, never a rewritten store.
      if (hashOf(join(dir, 'device.key')) !== keyBefore) problem = 'device.key was created or changed'
      if (c.name !== 'missing db' && hashOf(join(dir, 'replica.db')) !== dbBefore) problem = 'replica.db was changed'
      outcomes.push(`${c.name}: refused`)
    } else {
      if (c.expect !== 'start') problem = 'started instead of refusing'
      else if (res.deviceId !== t.deviceId) problem = `started as another device (${res.deviceId})`
      else if ((await api(dir, 'GET', '/v1/data/notes/n399')).status !== 200) problem = 'started without its data'
      problem ??= c.after?.(dir)
      await res.kill('SIGTERM')
      outcomes.push(`${c.name}: safe start`)
    }
    if (problem !== undefined) { ok = false; notes.push(`${c.name}: ${problem}`) }
  }
  return { ok, figures: `${CASES.length} cases: ${outcomes.join('; ')}`, notes }
}

export async function lostDatabaseThenRecover (): Promise<RowResult> {
  const notes: string[] = []
  const [aDir, bDir, cDir] = [tempDir(), tempDir(), tempDir()]
  const a = await startWeft(aDir, { args: ['--device-name', 'desk'] })
  let b = await startWeft(bDir, { args: ['--device-name', 'laptop'] })
  const c = await startWeft(cDir, { args: ['--device-name', 'phone'] })
  const oldId = b.deviceId
  await pair(aDir, bDir)
  await pair(aDir, cDir)
  for (let i = 0; i < 100; i++) await apiOk(bDir, 'PUT', `/v1/data/notes/old${i}`, { fields: { i } })
  const target = (await apiOk(bDir, 'GET', '/v1/vector'))[oldId] as number
  for (const d of [aDir, cDir]) {
    const got = await waitFor(async () => await apiOk(d, 'GET', '/v1/vector'), v => (v[oldId] ?? 0) >= target, 60_000)
    if (!got.ok) notes.push(`${d} never got the laptop's ops before the loss`)
  }
  await b.kill('SIGKILL')
  for (const f of ['replica.db', 'replica.db-wal', 'replica.db-shm']) rmSync(join(bDir, f), { force: true })
  const refused = await tryStartWeft(bDir)
  const refusedOk = 'exitCode' in refused && /weft recover <invite code>/.test(refused.stderr)
  if (!('exitCode' in refused)) await refused.kill('SIGKILL')
  const code = JSON.parse((await cli(['invite', '--json', '--data-dir', cDir])).stdout).code as string
  const t0 = Date.now()
  const rec = await cli(['recover', code, '--json', '--name', 'laptop', '--data-dir', bDir, ...NET_ARGS], 180_000)
  const recoverMs = Date.now() - t0
  if (rec.code !== 0) return { ok: false, figures: `weft recover failed: ${rec.stderr.slice(0, 300)}`, notes }
  const res = JSON.parse(rec.stdout) as { device: string, previousOps: number, ops: number, retired: string }
  b = await startWeft(bDir, { args: ['--peer', await addressOf(aDir), '--peer', await addressOf(cDir)] })
  let oldBack = 0
  for (let i = 0; i < 100; i++) if ((await api(bDir, 'GET', `/v1/data/notes/old${i}`)).status === 200) oldBack++
  for (let i = 0; i < 10; i++) await apiOk(bDir, 'PUT', `/v1/data/notes/new${i}`, { fields: { i } })
  const t1 = Date.now()
  let accepted = 0
  for (const d of [aDir, cDir]) {
    if ((await waitFor(async () => await api(d, 'GET', '/v1/data/notes/new9'), r => r.status === 200, 90_000)).ok) accepted++
  }
  const acceptMs = Date.now() - t1
  let equivocating = 0
  let replaced = 0
  for (const d of [aDir, bDir, cDir]) {
    const s = await apiOk(d, 'GET', '/v1/status')
    equivocating += (s.equivocating as unknown[]).length + (s.rejected.equivocation ?? 0)
    const devices = await waitFor(async () => await apiOk(d, 'GET', '/v1/devices') as Array<{ device: string, replacedBy: string | null, revoked: unknown }>,
      list => list.some(x => x.device === oldId && x.revoked !== null && x.replacedBy === res.device), 60_000)
    if (devices.ok) replaced++
  }
  for (const p of [a, b, c]) await p.kill('SIGTERM')
  const ok = refusedOk && oldBack === 100 && accepted === 2 && equivocating === 0 && replaced === 3 && res.retired === 'self'
  return {
    ok,
    figures: `start refused naming weft recover: ${refusedOk ? 'yes' : 'NO'}; weft recover (invite from a third device) took ${(recoverMs / 1000).toFixed(1)} s, pulled ${res.ops} ops (${res.previousOps} of the old identity's); old data back ${oldBack}/100; new writes accepted by ${accepted}/2 peers in ${(acceptMs / 1000).toFixed(1)} s; equivocation flags ${equivocating}; old identity shown revoked and replaced on ${replaced}/3 devices`,
    notes
  }
}
