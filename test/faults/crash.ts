/**
 * Rows of the fault suite about kill -9: during local writes (a ledger of
 * acknowledged puts, counter increments and set adds), while the database
 * grows fast (250 KB values, WAL checkpoints), and a receiver mid-sync of a
 * 100k-op backlog.
 */
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { openReplica } from '../../src/store/replica.js'
import { addressOf, api, apiOk, pair, sleep, startWeft, tempDir, waitFor, type WeftProcess } from './procs.js'
import { median, type RowResult } from './table.js'

interface Ledger { puts: Set<number>, incAcked: number, incSent: number, adds: Set<number> }

/** Every acknowledged write must be there; a counter may hold at most the increments sent but not acknowledged on top. */
async function checkLedger (dir: string, l: Ledger): Promise<{ lost: number, detail: string[] }> {
  const detail: string[] = []
  const keys = new Set<string>()
  let after: string | undefined
  for (;;) {
    const rows = await apiOk(dir, 'GET', `/v1/data/ledger?limit=10000${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`) as Array<{ key: string }>
    for (const r of rows) keys.add(r.key)
    if (rows.length < 10000) break
    after = rows[rows.length - 1]!.key
  }
  let lost = 0
  for (const id of l.puts) if (!keys.has(`k${id}`)) { lost++; if (detail.length < 5) detail.push(`put k${id} lost`) }
  const counter = await api(dir, 'GET', '/v1/data/counters/c')
  const n = counter.status === 200 ? counter.body.n as number : 0
  if (n < l.incAcked) { lost += l.incAcked - n; detail.push(`counter ${n} < ${l.incAcked} acknowledged increments`) }
  if (n > l.incSent) { lost += n - l.incSent; detail.push(`counter ${n} > ${l.incSent} increments ever sent`) }
  const set = await api(dir, 'GET', '/v1/data/sets/s')
  const members = new Set<number>(set.status === 200 ? set.body.members as number[] : [])
  for (const id of l.adds) if (!members.has(id)) { lost++; if (detail.length < 10) detail.push(`set add ${id} lost`) }
  return { lost, detail }
}

export async function killDuringLocalWrites (kills = 30): Promise<RowResult> {
  const dir = tempDir()
  const l: Ledger = { puts: new Set(), incAcked: 0, incSent: 0, adds: new Set() }
  const restarts: number[] = []
  const notes: string[] = []
  let lost = 0
  let next = 0
  let p: WeftProcess = await startWeft(dir)
  for (let round = 0; round < kills; round++) {
    let stop = false
    const writer = async (): Promise<void> => {
      while (!stop) {
        const id = next++
        try {
          if (id % 3 === 0) {
            if ((await api(dir, 'PUT', `/v1/data/ledger/k${id}`, { fields: { id } })).status !== 200) return
            l.puts.add(id)
          } else if (id % 3 === 1) {
            l.incSent++
            if ((await api(dir, 'POST', '/v1/data/counters/c/increment', { field: 'n', by: 1 })).status !== 200) return
            l.incAcked++
          } else {
            if ((await api(dir, 'POST', '/v1/data/sets/s/add', { field: 'members', element: id })).status !== 200) return
            l.adds.add(id)
          }
        } catch { return } // the daemon died under it: unacknowledged
      }
    }
    const writers = [writer(), writer(), writer()]
    await sleep(150 + Math.random() * 1200)
    await p.kill('SIGKILL')
    stop = true
    await Promise.all(writers)
    p = await startWeft(dir)
    restarts.push(p.startMs)
    const check = await checkLedger(dir, l)
    if (check.lost > 0) { lost += check.lost; notes.push(`after kill ${round + 1}: ${check.detail.join('; ')}`) }
  }
  const doctor = await apiOk(dir, 'GET', '/v1/doctor') as Array<{ check: string, ok: boolean }>
  const integrity = doctor.find(c => c.check === 'database integrity')?.ok === true
  await p.kill('SIGTERM')
  const acked = l.puts.size + l.incAcked + l.adds.size
  return {
    ok: lost === 0 && integrity && restarts.length === kills,
    figures: `${kills} kills, ${acked} acknowledged writes (${l.puts.size} puts, ${l.incAcked} increments, ${l.adds.size} set adds), ${lost} lost, integrity ${integrity ? 'ok' : 'FAILED'}, restart median ${median(restarts)} ms (max ${Math.max(...restarts)} ms)`,
    notes
  }
}

export async function killWhileGrowing (kills = 20): Promise<RowResult> {
  const dir = tempDir()
  const acked = new Map<number, string>()
  const restarts: number[] = []
  const notes: string[] = []
  let refused = 0
  let lost = 0
  let next = 0
  let headerAhead = 0
  let p: WeftProcess | undefined = await startWeft(dir)
  for (let round = 0; round < kills; round++) {
    let stop = false
    const thisRound: number[] = []
    const writer = async (): Promise<void> => {
      while (!stop) {
        const id = next++
        const value = randomBytes(187_500).toString('base64') // 250,000 characters
        try {
          if ((await api(dir, 'PUT', `/v1/data/big/k${id}`, { fields: { v: value } })).status !== 200) return
          acked.set(id, createHash('sha256').update(value).digest('hex'))
          thisRound.push(id)
        } catch { return }
      }
    }
    const writers = [writer(), writer()]
    await sleep(300 + Math.random() * 1500)
    await p.kill('SIGKILL')
    stop = true
    await Promise.all(writers)
    if (headerAheadOfFile(join(dir, 'replica.db'))) headerAhead++
    try {
      p = await startWeft(dir)
      restarts.push(p.startMs)
    } catch (err) {
      refused++
      notes.push(`restart after kill ${round + 1} refused: ${(err as Error).message.slice(0, 300)}`)
      p = undefined
      break
    }
    // The writes acknowledged just before the kill, read back through the daemon.
    for (const id of thisRound.slice(-3)) {
      const r = await api(dir, 'GET', `/v1/data/big/k${id}`)
      if (r.status !== 200 || createHash('sha256').update(r.body.v as string).digest('hex') !== acked.get(id)) { lost++; notes.push(`k${id} missing or wrong after kill ${round + 1}`) }
    }
  }
  await p?.kill('SIGTERM')
  // Then every acknowledged value, offline through the library.
  const bytes = statSync(join(dir, 'replica.db')).size
  const r = openReplica({ dir })
  try {
    for (const [id, hash] of acked) {
      const row = r.get('big', `k${id}`)
      if (row === undefined || createHash('sha256').update(row.v as string).digest('hex') !== hash) { lost++; if (notes.length < 10) notes.push(`k${id} lost`) }
    }
    if (r.integrityCheck().length > 0) notes.push('integrity check failed')
  } finally {
    r.close()
  }
  return {
    ok: refused === 0 && lost === 0 && restarts.length === kills,
    figures: `${kills} kills, ${acked.size} acknowledged 250 KB writes, database grew to ${(bytes / 1024 / 1024).toFixed(0)} MiB, ${headerAhead} kills left the header's page count ahead of the file (an interrupted checkpoint, which must start, not be refused as truncated), ${refused} refused restarts, ${lost} lost, restart median ${median(restarts)} ms (max ${restarts.length === 0 ? '-' : Math.max(...restarts)} ms)`,
    notes
  }
}

/** The main file's header counts more pages than the file holds: a checkpoint was cut short (the WAL still has the pages). */
function headerAheadOfFile (file: string): boolean {
  const fd = openSync(file, 'r')
  try {
    const header = Buffer.alloc(100)
    if (readSync(fd, header, 0, 100, 0) < 100) return false
    const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16)
    return header.readUInt32BE(28) * pageSize > fstatSync(fd).size
  } finally {
    closeSync(fd)
  }
}

/** A sender's store with a backlog of `ops` small ops, built offline (the daemon's own store format). */
export function buildBacklog (dir: string, ops: number, value: (i: number) => unknown = i => i, perBatch = 1000): void {
  const r = openReplica({ dir })
  try {
    r.createGroup('sender')
    for (let i = 0; i < ops; i += perBatch) {
      r.batch(w => { for (let j = i; j < Math.min(ops, i + perBatch); j++) w.put('backlog', `k${j}`, { v: value(j) as never }) })
    }
  } finally {
    r.close()
  }
}

/** Digest and version vector of a stopped daemon's store, read offline. */
export function storeDigest (dir: string): { digest: string, vector: string } {
  const r = openReplica({ dir })
  try {
    return { digest: r.digest(), vector: JSON.stringify([...r.versionVector()].sort()) }
  } finally {
    r.close()
  }
}

export async function killReceiverMidSync (kills = 10, backlog = 100_000): Promise<RowResult> {
  const aDir = tempDir()
  const bDir = tempDir()
  buildBacklog(aDir, backlog)
  const a = await startWeft(aDir)
  let b = await startWeft(bDir)
  const aAddr = await addressOf(aDir)
  const total = (await apiOk(aDir, 'GET', '/v1/vector'))[a.deviceId] as number
  const notes: string[] = []
  const atKill: number[] = []
  const restarts: number[] = []
  const have = async (): Promise<number> => ((await apiOk(bDir, 'GET', '/v1/vector'))[a.deviceId] as number | undefined) ?? 0
  await pair(aDir, bDir)
  const t0 = Date.now()
  for (let round = 0; round < kills; round++) {
    // Kill as soon as the receiver has taken a page (the session is in full flow), or after 1.5 s.
    const start = await have().catch(() => 0)
    await waitFor(have, n => n > start, 1500, 20)
    const n = await have().catch(() => -1)
    await b.kill('SIGKILL')
    atKill.push(n)
    b = await startWeft(bDir, { args: ['--peer', aAddr] })
    restarts.push(b.startMs)
  }
  const done = await waitFor(have, n => n >= total, 180_000, 250)
  const convergeMs = Date.now() - t0
  await b.kill('SIGTERM')
  await a.kill('SIGTERM')
  const da = storeDigest(aDir)
  const db = storeDigest(bDir)
  const midSync = atKill.filter(n => n >= 0 && n < total).length
  if (!done.ok) notes.push(`receiver stopped at ${String(done.value)} of ${total} ops`)
  return {
    ok: done.ok && da.digest === db.digest && midSync === kills,
    figures: `${kills} kills of the receiver, ${midSync} mid-sync (at ${atKill.map(n => `${Math.round(n / 1000)}k`).join(', ')} of ${Math.round(total / 1000)}k ops), converged in ${(convergeMs / 1000).toFixed(1)} s, digests ${da.digest === db.digest ? 'equal' : 'DIFFERENT'}, restart median ${median(restarts)} ms`,
    notes
  }
}
