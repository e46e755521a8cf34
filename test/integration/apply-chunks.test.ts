/**
 * Local writes do not wait behind remote applies for more than one chunk: a
 * large batch from another replica (5,000 ops of about 1 KiB, real SQLite) is
 * applied in 64 KiB transactions with a turn of the event loop between them,
 * and local writes scheduled meanwhile land between chunks. The outcome is
 * the same as applying the batch in one go, rejections included. The same
 * holds for pages a sync session applies.
 */
import { describe, expect, it } from 'vitest'
import { applyInChunks, yieldToEventLoop } from '../../src/protocol/apply-chunks.js'
import type { EncodedOp } from '../../src/oplog/op.js'
import type { SyncStore } from '../../src/protocol/port.js'
import type { Replica } from '../../src/store/replica.js'
import { allOps, newReplica } from '../helpers/fixtures.js'
import { syncPair } from '../helpers/session-pair.js'

const KiB = 1024
const OPS = 5_000
/** Ops per signed batch: chunks end on a signature, so this is the grain a chunk is cut at (16 KiB). */
const BATCH = 16

/** A writer's OPS ops of about 1 KiB each, in signed batches of BATCH, and its digest (built once: it takes seconds). */
let written: { ops: EncodedOp[], digest: string } | undefined
function bigBatch (): { ops: EncodedOp[], digest: string } {
  if (written !== undefined) return written
  const writer = newReplica()
  const filler = 'x'.repeat(1_000)
  for (let done = 0; done < OPS; done += BATCH) {
    writer.batch(w => { for (let i = done; i < Math.min(OPS, done + BATCH); i++) w.put('bulk', `k${i}`, { text: `${i} ${filler}` }) })
  }
  written = { ops: allOps(writer), digest: writer.digest('bulk') }
  return written
}

/**
 * Local writes on `replica`, one per turn of the event loop, interleaved in
 * `events` with the chunks the store applies, until `stop()`.
 */
function localWriter (replica: Replica, events: string[]): { stop: () => void, count: () => number } {
  let n = 0
  let stopped = false
  const tick = (): void => {
    if (stopped) return
    replica.put('local', `w${n++}`, { n })
    events.push('local')
    setImmediate(tick)
  }
  setImmediate(tick)
  return { stop: () => { stopped = true }, count: () => n }
}

/** The longest run of chunks applied with no local write between them. */
function longestChunkRun (events: string[]): number {
  let longest = 0
  let run = 0
  for (const e of events) {
    if (e === 'chunk') longest = Math.max(longest, ++run)
    else run = 0
  }
  return longest
}

/** The replica as applyRemote sees it, each call (one transaction) recorded. */
function recording (replica: Replica, events: string[]): Pick<SyncStore, 'applyRemote'> {
  return { applyRemote: ops => { events.push('chunk'); return replica.applyRemote(ops) } }
}

describe('applying a large remote batch in chunks', () => {
  it('local writes land between chunks while 5,000 remote ops apply, and the outcome equals one transaction', async () => {
    const { ops, digest } = bigBatch()
    expect(ops).toHaveLength(OPS)
    const receiver = newReplica()
    const events: string[] = []
    let yields = 0
    const local = localWriter(receiver, events)
    const result = await applyInChunks(recording(receiver, events), ops, {
      chunkBytes: 64 * KiB,
      yieldBetween: async () => { yields++; await yieldToEventLoop() }
    })
    events.push('done')
    local.stop()

    // Many transactions, a turn of the event loop between each two.
    const chunks = events.filter(e => e === 'chunk').length
    expect(chunks).toBeGreaterThan(10)
    expect(yields).toBe(chunks - 1)
    // The local writes did not wait for the apply to finish: they ran between its chunks, never behind more than one.
    expect(events.indexOf('local')).toBeLessThan(events.indexOf('done'))
    expect(events.slice(0, events.indexOf('done')).filter(e => e === 'local').length).toBeGreaterThan(chunks / 2)
    expect(longestChunkRun(events)).toBe(1)

    // Same outcome as one transaction.
    const oneGo = newReplica()
    const expected = oneGo.applyRemote(ops)
    expect(result).toEqual({ applied: expected.applied, duplicates: expected.duplicates, rejected: expected.rejected })
    expect(result.applied).toBe(OPS)
    expect(receiver.digest('bulk')).toBe(oneGo.digest('bulk'))
    expect(receiver.digest('bulk')).toBe(digest)
    expect(receiver.list('local')).toHaveLength(local.count())
  })

  it('rejections name the same ops (indexes into the whole batch) as applying in one go', async () => {
    const ops = [...bigBatch().ops]
    // A forged op deep in the batch, in a later chunk than the first.
    const at = 3_001
    const forged = Uint8Array.from(ops[at]!.body)
    forged[forged.byteLength - 1]! ^= 0xff
    ops[at] = { ...ops[at]!, body: forged }
    const chunked = newReplica()
    const oneGo = newReplica()
    const result = await applyInChunks(chunked, ops, { chunkBytes: 64 * KiB })
    const expected = oneGo.applyRemote(ops)
    expect(expected.rejected.length).toBeGreaterThan(0)
    expect(result.applied).toBe(expected.applied)
    expect(result.duplicates).toBe(expected.duplicates)
    expect(result.rejected.map(r => [r.index, r.reason, r.seq])).toEqual(expected.rejected.map(r => [r.index, r.reason, r.seq]))
    expect(result.rejected.some(r => r.index === at)).toBe(true)
    expect(chunked.digest()).toBe(oneGo.digest())
  })

  it('a batch again is all duplicates, chunk after chunk', async () => {
    const { ops } = bigBatch()
    const receiver = newReplica()
    expect((await applyInChunks(receiver, ops)).applied).toBe(OPS)
    expect(await applyInChunks(receiver, ops)).toEqual({ applied: 0, duplicates: OPS, rejected: [] })
  })

  it('a sync session applies its pages in chunks too: local writes on the pulling side land while it runs', async () => {
    const { ops, digest } = bigBatch()
    // The serving side holds the batch.
    const writer = newReplica()
    expect((await applyInChunks(writer, ops)).applied).toBe(OPS)
    const puller = newReplica()
    const events: string[] = []
    let yields = 0
    // The pulling side's store, its applies recorded (everything else is the replica itself).
    const store: SyncStore = {
      get deviceId () { return puller.deviceId },
      versionVector: () => puller.versionVector(),
      opsSince: (v, o) => puller.opsSince(v, o),
      applyRemote: ops => { events.push('chunk'); return puller.applyRemote(ops) }
    }
    let local: ReturnType<typeof localWriter> | undefined
    const [served, pulled] = await syncPair(writer, store, {
      responder: {
        applyChunkBytes: 64 * KiB,
        yieldBetweenChunks: async () => { yields++; await yieldToEventLoop() },
        // Start writing locally once the first page arrives: from then on, local writes and chunks alternate.
        onHello: () => { local = localWriter(puller, events) }
      }
    })
    events.push('done')
    local?.stop()
    expect(served.error).toBeUndefined()
    expect(pulled.error).toBeUndefined()
    expect(pulled.applied).toBe(OPS)
    expect(yields).toBeGreaterThan(1)
    const firstChunk = events.indexOf('chunk')
    expect(events.slice(firstChunk, events.indexOf('done')).filter(e => e === 'local').length).toBeGreaterThan(1)
    expect(longestChunkRun(events)).toBe(1)
    expect(puller.digest('bulk')).toBe(digest)
  })
})
