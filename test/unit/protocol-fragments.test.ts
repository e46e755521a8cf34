/**
 * Runs larger than a page cross a connection that is cut after a fixed
 * number of bytes (a stock relay's data limit, here 64 KiB over an in-memory
 * pipe): each session adds slices to a prefix shared by the receiver's
 * sessions, the next one resumes where the cut left it, and the run is
 * applied only once it is whole and verified.
 */
import { describe, expect, it } from 'vitest'
import { DeviceKey, deviceIdToString } from '../../src/oplog/keys.js'
import { DEFAULT_MAX_RUN_BYTES } from '../../src/protocol/constants.js'
import { planPage, RunAssembler } from '../../src/protocol/fragments.js'
import { SyncMessage } from '../../src/protocol/pb/sync.js'
import type { SessionResult } from '../../src/protocol/session.js'
import { MemoryStore } from '../helpers/memory-store.js'
import { syncPair, type PairOptions } from '../helpers/session-pair.js'

const KiB = 1024
const CUT = 64 * KiB
/** Page size on both sides, as on a relayed connection. */
const PAGE = 16 * KiB

function limited (b: RunAssembler, extra: Partial<PairOptions> = {}): PairOptions {
  return {
    cutAfterBytes: CUT,
    ...extra,
    initiator: { pageMaxBytes: PAGE, fragments: b, ...extra.initiator },
    responder: { pageMaxBytes: PAGE, ...extra.responder }
  }
}

/** Sessions B <- A over cut pipes until B holds A's ops, at most `max`; returns B's results. */
async function pullUntilSynced (
  b: MemoryStore,
  a: MemoryStore,
  assembler: RunAssembler,
  max: number,
  extra: Partial<PairOptions> = {}
): Promise<SessionResult[]> {
  const results: SessionResult[] = []
  for (let i = 0; i < max && (b.versionVector().get(a.deviceId) ?? 0) < a.count(); i++) {
    const [rb] = await syncPair(b, a, limited(assembler, extra))
    results.push(rb)
  }
  return results
}

describe('fragmented runs', () => {
  it('a 200,000-byte value crosses connections cut at 64 KiB, resuming where each cut left it, and later ops follow', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(1, { valueBytes: 200_000, random: true })
    a.write(40, { batch: 4 })
    const assembler = new RunAssembler({ now: () => 0 })
    const results = await pullUntilSynced(b, a, assembler, 20)
    expect(b.versionVector().get(a.deviceId)).toBe(41)
    expect(b.digest()).toBe(a.digest())
    // about 200 KB in slices of 16 KiB over 64 KiB connections: a handful of sessions, each one making progress
    expect(results.length).toBeGreaterThanOrEqual(4)
    expect(results.length).toBeLessThanOrEqual(8)
    expect(results.every(r => (r.fragmentsReceived ?? 0) > 0 || r.applied > 0)).toBe(true)
    const slices = results.reduce((n, r) => n + (r.fragmentsReceived ?? 0), 0)
    expect(slices).toBeGreaterThanOrEqual(13)
    // nothing was fetched twice but the slices in flight at each cut (two at most)
    expect(slices).toBeLessThanOrEqual(13 + 2 * results.length)
    expect(assembler.held()).toEqual([])
    expect(assembler.heldBytes).toBe(0)
  })

  it('without fragments the same value never crosses (the failure this fixes)', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(1, { valueBytes: 200_000, random: true })
    a.write(5)
    const results = await pullUntilSynced(b, a, new RunAssembler({ now: () => 0 }), 6, { initiator: { fragmentAboveBytes: 0 } })
    expect(results).toHaveLength(6)
    expect(results.every(r => r.error?.code === 'CLOSED' && r.applied === 0)).toBe(true)
    expect(b.versionVector().get(a.deviceId)).toBeUndefined()
  })

  it('a run begun from one peer is finished from another that holds the same ops', async () => {
    const a = new MemoryStore()
    const c = new MemoryStore()
    const b = new MemoryStore()
    a.write(1, { valueBytes: 150_000, random: true })
    await syncPair(c, a)
    expect(c.digest()).toBe(a.digest())
    const assembler = new RunAssembler({ now: () => 0 })
    const [first] = await syncPair(b, a, limited(assembler))
    expect(first.error?.code).toBe('CLOSED')
    const held = assembler.held()[0]!
    expect(held.heldBytes).toBeGreaterThan(32 * KiB)
    const results = await pullUntilSynced(b, c, assembler, 10)
    expect(b.digest()).toBe(a.digest())
    // C continued A's prefix instead of starting over
    const fromC = results.reduce((n, r) => n + (r.fragmentsReceived ?? 0), 0)
    expect(fromC).toBeLessThan(Math.ceil(150_000 / PAGE))
  })

  it('a slice that does not match the run\'s digest is refused with BAD_REQUEST and nothing is applied', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(1, { valueBytes: 40_000, random: true })
    const assembler = new RunAssembler({ now: () => 0 })
    // Flip one byte of every slice on its way from A to B (a tampering forwarder that re-frames honestly).
    const [rb, ra] = await syncPair(b, a, {
      initiator: { pageMaxBytes: PAGE, fragments: assembler },
      responder: { pageMaxBytes: PAGE },
      transform: (frame, from) => {
        if (from !== 1) return frame
        const msg = SyncMessage.decode(frame)
        if (msg.page?.fragment === undefined) return frame
        const ops = Uint8Array.from(msg.page.ops)
        ops[ops.length >> 1]! ^= 0xff
        return SyncMessage.encode({ page: { ...msg.page, ops } })
      }
    })
    expect(rb.error?.code).toBe('BAD_REQUEST')
    expect(rb.error?.message).toMatch(/digest/)
    expect(ra.error?.code).toBe('BAD_REQUEST')
    expect(rb.applied).toBe(0)
    expect(b.count()).toBe(0)
    expect(assembler.heldBytes).toBe(0)
  })

  it('a slice of a run that another session applied meanwhile starts no new prefix', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(1, { valueBytes: 60_000, random: true })
    const assembler = new RunAssembler({ now: () => 0 })
    let applied = false
    const [rb] = await syncPair(b, a, {
      initiator: { pageMaxBytes: PAGE, fragments: assembler },
      responder: { pageMaxBytes: PAGE },
      transform: (frame, from) => {
        // the first slice is on its way when the whole run arrives from elsewhere (another peer's session)
        if (from === 1 && !applied && SyncMessage.decode(frame).page?.fragment !== undefined) {
          applied = true
          b.applyRemote(a.opsSince(new Map()).ops)
        }
        return frame
      }
    })
    expect(applied).toBe(true)
    expect(rb.ok).toBe(true)
    // the rest of the run was not pulled again
    expect(rb.fragmentsReceived).toBe(1)
    expect(b.digest()).toBe(a.digest())
    expect(assembler.held()).toEqual([])
  })

  it('a run over the receiver\'s limit ends the session with TOO_LARGE naming the ops', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(1, { valueBytes: 100_000, random: true })
    const [rb] = await syncPair(b, a, {
      initiator: { pageMaxBytes: PAGE, fragments: new RunAssembler({ now: () => 0, maxRunBytes: 64 * KiB }) },
      responder: { pageMaxBytes: PAGE }
    })
    expect(rb.error?.code).toBe('TOO_LARGE')
    expect(rb.error?.message).toContain(`ops 1..1 of ${a.deviceId}`)
    expect(b.count()).toBe(0)
  })

  it('a requester that does not ask for fragments gets whole runs, as before', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(3, { valueBytes: 100_000, random: true })
    const [rb] = await syncPair(b, a, { initiator: { pageMaxBytes: PAGE, fragmentAboveBytes: 0 }, responder: { pageMaxBytes: PAGE } })
    expect(rb).toMatchObject({ ok: true, complete: true, applied: 3, fragmentsReceived: 0 })
    expect(b.digest()).toBe(a.digest())
  })

  it('an uncut session carries large and small runs, in fragments only where a run is larger than the threshold', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(20, { batch: 5 })
    a.write(2, { valueBytes: 70_000, random: true })
    a.write(20, { batch: 5 })
    const [rb] = await syncPair(b, a, { initiator: { pageMaxBytes: PAGE }, responder: { pageMaxBytes: PAGE } })
    expect(rb).toMatchObject({ ok: true, complete: true, applied: 42 })
    expect(rb.fragmentsReceived).toBeGreaterThanOrEqual(2 * Math.ceil(70_000 / PAGE))
    expect(b.digest()).toBe(a.digest())
  })
})

describe('planPage', () => {
  const key = DeviceKey.generate()
  const store = new MemoryStore(key)
  const small = store.write(6, { batch: 2 })
  const big = store.write(1, { valueBytes: 10_000, random: true })
  const size = (ops: typeof small): number => ops.reduce((n, o) => n + o.body.byteLength + (o.sig?.byteLength ?? 0), 0)

  it('keeps a page within the threshold as it is', () => {
    expect(planPage(small, 100_000)).toEqual({ kind: 'ops', ops: small, trimmed: false })
  })
  it('trims a page to its longest prefix that ends on a signed op within the threshold', () => {
    const plan = planPage([...small, ...big], size(small) + 10)
    expect(plan).toEqual({ kind: 'ops', ops: small, trimmed: true })
  })
  it('sends the first run alone when even it is over the threshold', () => {
    expect(planPage([...big, ...small], 5_000)).toEqual({ kind: 'run', ops: big })
  })
})

describe('RunAssembler bounds', () => {
  const origin = (n: number): Uint8Array => new Uint8Array(32).fill(n)
  const header = (n: number, total: number, offset = 0): Parameters<RunAssembler['add']>[0] => ({ origin: origin(n), firstSeq: 1, lastSeq: 1, digest: new Uint8Array(32).fill(n), totalBytes: total, offset })

  it('drops the least recently extended run to stay within its byte budget, and idle runs', () => {
    let now = 0
    const r = new RunAssembler({ now: () => now, maxRunBytes: 100, maxHeldBytes: 250, idleMs: 1_000 })
    r.add(header(1, 100), new Uint8Array(50))
    r.add(header(2, 100), new Uint8Array(50))
    r.add(header(3, 100), new Uint8Array(50))
    expect(r.heldBytes).toBe(150)
    r.add(header(1, 100, 50), new Uint8Array(10))
    // a fourth run would overflow 250 bytes with its 100: the least recently extended (2) goes
    r.add(header(4, 100), new Uint8Array(10))
    expect(r.held().map(h => h.origin).sort()).toEqual([1, 3, 4].map(n => deviceIdToString(origin(n))).sort())
    expect(r.held()).toHaveLength(3)
    expect(r.heldBytes).toBe(50 + 10 + 50 + 10)
    now = 5_000
    expect(r.held()).toEqual([])
    expect(r.heldBytes).toBe(0)
  })

  it('ignores a slice past what it holds, and keeps only the new part of an overlapping one', () => {
    const r = new RunAssembler({ now: () => 0 })
    expect(r.add(header(1, 100, 20), new Uint8Array(10))).toEqual({ complete: false, grew: false, held: 0 })
    expect(r.add(header(1, 100, 0), new Uint8Array(30))).toEqual({ complete: false, grew: true, held: 30 })
    expect(r.add(header(1, 100, 10), new Uint8Array(30))).toEqual({ complete: false, grew: true, held: 40 })
    expect(r.heldBytes).toBe(40)
    expect(r.add(header(1, 100, 0), new Uint8Array(20))).toEqual({ complete: false, grew: false, held: 40 })
  })

  it('the default run limit is the frame limit', () => {
    expect(new RunAssembler({ now: () => 0 }).maxRunBytes).toBe(DEFAULT_MAX_RUN_BYTES)
  })
})
