/**
 * Replica core benchmark: local write throughput, remote apply throughput,
 * and the raw better-sqlite3 insert rate of the same rows as the physical
 * reference. Medians of several runs, all in one process on one machine, so
 * the ratio is measured under the same noise.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { openReplica, type EncodedOp } from '../src/index.js'
import { decodeOp } from '../src/oplog/op.js'
import { fmt, median, row, seconds, tempDir } from './util.js'

const RUNS = Number(process.env.WEFT_BENCH_RUNS ?? 3)

function localSingle (n: number): number {
  const t = tempDir('single')
  const r = openReplica({ dir: t.dir })
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) r.put('bench', `k${i % 500}`, { v: i, s: 'some text value' })
  const s = seconds(start)
  r.close(); t.cleanup()
  return n / s
}

function localBatches (batches: number, size: number): number {
  const t = tempDir('batch')
  const r = openReplica({ dir: t.dir })
  const start = process.hrtime.bigint()
  for (let b = 0; b < batches; b++) {
    r.batch(w => { for (let i = 0; i < size; i++) w.put('bench', `k${b}-${i}`, { v: i }) })
  }
  const s = seconds(start)
  r.close(); t.cleanup()
  return (batches * size) / s
}

/** 100,000 ops from 4 origins, as the pages a peer would send. */
export function makeRemoteWorkload (total: number, origins: number): { pages: EncodedOp[][], cleanup: () => void } {
  const dirs: Array<{ cleanup: () => void }> = []
  const pages: EncodedOp[][] = []
  const per = total / origins
  for (let o = 0; o < origins; o++) {
    const t = tempDir(`origin${o}`)
    dirs.push(t)
    const r = openReplica({ dir: t.dir })
    // Writes as an app would make them: batches of 100 mixed ops.
    for (let b = 0; b < per / 100; b++) {
      r.batch(w => {
        for (let i = 0; i < 100; i++) {
          const k = `row-${o}-${b}-${i % 20}`
          if (i % 10 === 9) w.increment('counters', k, 'n', 1)
          else w.put('items', k, { [`f${i % 3}`]: i % 2 === 0 ? `item ${b}/${i}` : i })
        }
      })
    }
    let vector = new Map<string, number>()
    for (;;) {
      const page = r.opsSince(vector, { limit: 5000, maxBytes: 4 * 1024 * 1024 })
      if (page.ops.length === 0) break
      pages.push([...page.ops])
      const last = decodeOp(page.ops[page.ops.length - 1]!)
      vector = new Map([[r.deviceId, last.seq]])
      if (!page.more) break
    }
    r.close()
  }
  return { pages, cleanup: () => { for (const d of dirs) d.cleanup() } }
}

function remoteApply (pages: EncodedOp[][], total: number): number {
  const t = tempDir('apply')
  const r = openReplica({ dir: t.dir })
  const start = process.hrtime.bigint()
  let applied = 0
  for (const p of pages) applied += r.applyRemote(p).applied
  const s = seconds(start)
  r.close(); t.cleanup()
  if (applied !== total) throw new Error(`applied ${applied} of ${total}`)
  return total / s
}

/** The same rows into a bare table keyed (origin, seq): what SQLite itself allows here. */
function rawInsert (pages: EncodedOp[][], total: number): number {
  const t = tempDir('raw')
  const db = new Database(join(t.dir, 'raw.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE ops (origin BLOB NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL, sig BLOB, PRIMARY KEY (origin, seq))')
  const ins = db.prepare('INSERT INTO ops (origin, seq, body, sig) VALUES (?, ?, ?, ?)')
  // Parse outside the timed part: this is the storage reference only.
  const parsed = pages.map(p => p.map(e => { const op = decodeOp(e); return [op.origin, op.seq, e.body, e.sig ?? null] as const }))
  const start = process.hrtime.bigint()
  let n = 0
  for (const p of parsed) {
    db.transaction(() => { for (const r of p) { ins.run(r[0], r[1], r[2], r[3]); n++ } })()
  }
  const s = seconds(start)
  db.close(); t.cleanup()
  if (n !== total) throw new Error('raw insert count mismatch')
  return total / s
}

export async function benchCore (): Promise<void> {
  process.stdout.write(`\nReplica core (median of ${RUNS} runs)\n`)
  const single = median(Array.from({ length: RUNS }, () => localSingle(1000)))
  row('local write, 1 op per call (durable, fsync each)', `${fmt(single)} ops/s`)
  const batched = median(Array.from({ length: RUNS }, () => localBatches(100, 1000)))
  row('local write, batches of 1,000', `${fmt(batched)} ops/s`)
  const total = 100_000
  const w = makeRemoteWorkload(total, 4)
  try {
    const applies: number[] = []
    const raws: number[] = []
    const ratios: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const a = remoteApply(w.pages, total)
      const b = rawInsert(w.pages, total)
      applies.push(a); raws.push(b); ratios.push(a / b)
    }
    row('remote apply, 100,000 ops from 4 origins', `${fmt(median(applies))} ops/s`)
    row('raw better-sqlite3 insert of the same rows', `${fmt(median(raws))} rows/s`)
    row('ratio apply / raw (median of per-run ratios)', `${median(ratios).toFixed(2)}`)
  } finally {
    w.cleanup()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchCore()
}
