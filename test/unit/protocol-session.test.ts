import { describe, expect, it } from 'vitest'
import { parseDeviceId } from '../../src/oplog/keys.js'
import { SyncMessage } from '../../src/protocol/pb/sync.js'
import { SyncMessage as OldSyncMessage } from '../helpers/sync-pb-before-schemas.js'
import { isAhead, vectorsEqual } from '../../src/protocol/vector.js'
import { MemoryStore } from '../helpers/memory-store.js'
import { syncPair } from '../helpers/session-pair.js'

describe('sync session', () => {
  it('brings two stores to the same ops in both directions in one session', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(50, { batch: 7 })
    b.write(30, { batch: 4 })
    const [ra, rb] = await syncPair(a, b)
    expect(ra).toMatchObject({ ok: true, complete: true, applied: 30, opsSent: 50 })
    expect(rb).toMatchObject({ ok: true, complete: true, applied: 50, opsSent: 30 })
    expect(ra.error).toBeUndefined()
    expect(a.digest()).toBe(b.digest())
    expect(a.count()).toBe(80)
  })

  it('ends at once when neither side is ahead, and moves only hellos and dones', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(100)
    await syncPair(a, b)
    const [ra, rb] = await syncPair(a, b)
    expect(ra).toMatchObject({ ok: true, pagesSent: 0, pagesReceived: 0 })
    expect(rb).toMatchObject({ ok: true, pagesSent: 0, pagesReceived: 0 })
    expect(ra.bytesSent + ra.bytesReceived).toBeLessThan(400)
  })

  it('pages by op count and bytes, ending every page on a signed op', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(1_000, { batch: 10 })
    const [ra, rb] = await syncPair(a, b, { responder: { pageMaxOps: 64 }, initiator: { pageMaxOps: 64, pageMaxBytes: 4_096 } })
    expect(rb.pagesReceived).toBeGreaterThan(10)
    expect(rb.rejected).toBe(0)
    expect(ra.opsSent).toBe(1_000)
    expect(a.digest()).toBe(b.digest())
  })

  it('carries third-party origins (what C wrote reaches A through B)', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    const c = new MemoryStore()
    a.write(10); b.write(20); c.write(30, { batch: 5 })
    await syncPair(c, b)
    await syncPair(b, a)
    expect(a.digest()).toBe(b.digest())
    expect(a.count()).toBe(60)
    expect(a.versionVector().get(c.deviceId)).toBe(30)
  })

  it('resumes from the receiver\'s vector after a cut, never losing applied pages', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(3_000, { batch: 20 })
    b.write(500, { batch: 5 })
    let sessions = 0
    let lastApplied = -1
    for (; sessions < 100 && a.digest() !== b.digest(); sessions++) {
      const before = b.count()
      const [, rb] = await syncPair(a, b, { cutAfterBytes: 20_000, initiator: { pageMaxBytes: 4_096 }, responder: { pageMaxBytes: 4_096 } })
      // Every cut session still commits what arrived before the cut.
      if (!rb.ok) expect(rb.error?.code).toBe('CLOSED')
      expect(b.count() - before).toBe(rb.applied)
      lastApplied = rb.applied
    }
    expect(sessions).toBeGreaterThan(3)
    expect(lastApplied).toBeGreaterThanOrEqual(0)
    expect(a.digest()).toBe(b.digest())
    expect(vectorsEqual(a.versionVector(), b.versionVector())).toBe(true)
  })

  it('stops asking when a page makes no progress (refused ops do not loop)', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(100, { batch: 10 })
    // A server whose ops all carry a bad signature.
    const tampered = {
      deviceId: a.deviceId,
      versionVector: () => a.versionVector(),
      opsSince: (v: ReadonlyMap<string, number>, o?: { limit?: number, maxBytes?: number }) => {
        const page = a.opsSince(v, o)
        return { ...page, ops: page.ops.map(op => op.sig === undefined ? op : { body: op.body, sig: new Uint8Array(64) }) }
      },
      applyRemote: a.applyRemote.bind(a)
    }
    const [, rb] = await syncPair(tampered, b, { initiator: { pageMaxOps: 20 }, responder: { pageMaxOps: 20 } })
    expect(rb.ok).toBe(true)
    expect(rb.complete).toBe(false)
    // At most the page in flight when the first refusal turned pipelining off, then it stops.
    expect(rb.pagesReceived).toBeLessThanOrEqual(2)
    expect(rb.rejections[0]?.reason).toBe('bad_signature')
    expect(b.count()).toBe(0)
    expect(isAhead(a.versionVector(), b.versionVector())).toBe(true)
  })

  it('each side\'s Done tells the other what it holds once it applied what it pulled', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(50, { batch: 7 })
    b.write(30, { batch: 4 })
    const [ra, rb] = await syncPair(a, b, { responder: { pageMaxOps: 16 }, initiator: { pageMaxOps: 16 } })
    // The hellos said what each held before; the Dones what each holds after.
    expect(vectorsEqual(ra.remoteVector!, new Map([[b.deviceId, 30]]))).toBe(true)
    expect(vectorsEqual(ra.remoteDoneVector!, b.versionVector())).toBe(true)
    expect(vectorsEqual(rb.remoteDoneVector!, a.versionVector())).toBe(true)
    expect(b.versionVector().get(a.deviceId)).toBe(50)
  })

  it('a Done names only what the peer applied, not what it was sent and refused', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(100, { batch: 10 })
    b.write(5)
    // The first 40 ops are served intact, the rest with bad signatures (the store refuses them).
    const tampered = {
      deviceId: a.deviceId,
      versionVector: () => a.versionVector(),
      opsSince: (v: ReadonlyMap<string, number>, o?: { limit?: number, maxBytes?: number }) => {
        const page = a.opsSince(v, o)
        const from = v.get(a.deviceId) ?? 0
        return { ...page, ops: page.ops.map((op, i) => from + i < 40 || op.sig === undefined ? op : { body: op.body, sig: new Uint8Array(64) }) }
      },
      applyRemote: a.applyRemote.bind(a)
    }
    const [ra, rb] = await syncPair(tampered, b, { initiator: { pageMaxOps: 20 }, responder: { pageMaxOps: 20 } })
    expect(rb.rejected).toBeGreaterThan(0)
    expect(b.versionVector().get(a.deviceId)).toBe(40)
    // Its Wants ran ahead of what it applied (pipelined from page headers); its Done does not.
    expect(vectorsEqual(ra.remoteDoneVector!, b.versionVector())).toBe(true)
  })

  it('works with a peer whose Done carries no vector (it predates the field), and refuses a malformed one', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(20)
    // An older node (its codec kept in test/helpers) reads a new Done and skips the vector...
    const ours = SyncMessage.encode({ done: { vector: [{ origin: parseDeviceId(a.deviceId), seq: 20 }] } })
    expect(OldSyncMessage.decode(ours).done).toEqual({})
    // ... and sends its own without one: the responder's Dones here are re-encoded with its codec.
    const strip = (frame: Uint8Array, from: 0 | 1): Uint8Array => {
      const msg = SyncMessage.decode(frame)
      return from === 1 && msg.done !== undefined ? OldSyncMessage.encode({ done: {} }) : frame
    }
    const [ra, rb] = await syncPair(a, b, { transform: strip })
    expect(ra).toMatchObject({ ok: true, complete: true })
    expect(rb).toMatchObject({ ok: true, complete: true, applied: 20 })
    expect(ra.remoteDoneVector?.size).toBe(0)
    expect(vectorsEqual(rb.remoteDoneVector!, a.versionVector())).toBe(true)

    const c = new MemoryStore()
    const bad = (frame: Uint8Array, from: 0 | 1): Uint8Array => {
      const msg = SyncMessage.decode(frame)
      return from === 1 && msg.done !== undefined ? SyncMessage.encode({ done: { vector: [{ origin: new Uint8Array(3), seq: 1 }] } }) : frame
    }
    const [rc] = await syncPair(a, c, { transform: bad })
    expect(rc.ok).toBe(false)
    expect(rc.error?.code).toBe('BAD_REQUEST')
    expect(rc.error?.message).toMatch(/done vector: origin is 3 bytes/)
  })

  it('ends a session after maxPages; the next session continues', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(500)
    const [, rb] = await syncPair(a, b, { responder: { pageMaxOps: 50, maxPages: 3 } })
    expect(rb).toMatchObject({ ok: true, complete: false, pagesReceived: 3, applied: 150 })
    const [, rb2] = await syncPair(a, b, { responder: { pageMaxOps: 50 } })
    expect(rb2).toMatchObject({ ok: true, complete: true, applied: 350 })
  })

  it('gives the same result with and without pipelined Wants', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(2_000, { batch: 50 })
    const [, rb] = await syncPair(a, b, { responder: { pageMaxOps: 200 } })
    expect(rb).toMatchObject({ ok: true, complete: true, applied: 2_000, pagesReceived: 10 })
    expect(a.digest()).toBe(b.digest())
    const c = new MemoryStore()
    const [, rc] = await syncPair(a, c, { responder: { pageMaxOps: 200, pipeline: false } })
    expect(rc).toMatchObject({ ok: true, complete: true, applied: 2_000, pagesReceived: 10 })
  })

  it('applies a page in chunks that end on signed ops, reporting rejections at their page index', async () => {
    const a = new MemoryStore()
    a.write(300, { batch: 10 })
    const b = new MemoryStore()
    const [, rb] = await syncPair(a, b, { responder: { applyChunkBytes: 2_000 } })
    expect(rb).toMatchObject({ ok: true, applied: 300 })
    expect(b.applyCalls).toBeGreaterThan(5)
    expect(b.digest()).toBe(a.digest())

    // Op 150 (signed) altered in transit (its HLC, so it still decodes): its signature no longer verifies,
    // the newest that does is op 140's, and the refusal is reported at its index in the page, not the chunk.
    const tampered = {
      deviceId: a.deviceId,
      versionVector: () => a.versionVector(),
      opsSince: (v: ReadonlyMap<string, number>, o?: { limit?: number, maxBytes?: number }) => {
        const page = a.opsSince(v, o)
        return {
          ...page,
          ops: page.ops.map((op, i) => {
            if (i !== 149) return op
            const body = op.body.slice()
            body[42] = body[42]! ^ 1 // last HLC byte: version (1) + origin (32) + seq 150 (2 varint bytes) + 8
            return { body, sig: op.sig }
          })
        }
      },
      applyRemote: a.applyRemote.bind(a)
    }
    const c = new MemoryStore()
    const [, rc] = await syncPair(tampered, c, { responder: { applyChunkBytes: 2_000, pipeline: false } })
    expect(c.count()).toBe(140)
    expect(rc.rejections[0]).toMatchObject({ index: 140, seq: 141, reason: 'bad_signature' })
  })

  it('reports progress per page and the remote hello', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(200)
    const pages: number[] = []
    let helloVector: ReadonlyMap<string, number> | undefined
    await syncPair(a, b, { responder: { pageMaxOps: 50, onPage: p => pages.push(p.applied), onHello: h => { helloVector = h.vector } } })
    expect(pages).toEqual([50, 50, 50, 50])
    expect(helloVector?.get(a.deviceId)).toBe(200)
  })
})

describe('session refusals', () => {
  it('answers NOT_MEMBER when authorize refuses, and both sides see it', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    a.write(5)
    const [ra, rb] = await syncPair(a, b, { responder: { authorize: () => false } })
    expect(rb.error).toMatchObject({ code: 'NOT_MEMBER', remote: false })
    expect(ra.error).toMatchObject({ code: 'NOT_MEMBER', remote: true })
    expect(b.count()).toBe(0)
  })

  it('answers NOT_MEMBER for another group', async () => {
    const [ra, rb] = await syncPair(new MemoryStore(), new MemoryStore(), { initiator: { groupId: 'other' } })
    expect(rb.error?.code).toBe('NOT_MEMBER')
    expect(ra.error).toMatchObject({ code: 'NOT_MEMBER', remote: true })
    expect(ra.error?.message).not.toMatch(/\bat .*\.[jt]s:\d+/)
  })

  it('answers BAD_REQUEST when the hello claims another device than the connection', async () => {
    const [ra, rb] = await syncPair(new MemoryStore(), new MemoryStore(), { responder: { expectedDeviceId: new MemoryStore().deviceId } })
    expect(rb.error?.code).toBe('BAD_REQUEST')
    expect(ra.error).toMatchObject({ code: 'BAD_REQUEST', remote: true })
  })

  it('times out a peer that never answers', async () => {
    const { duplexPair } = await import('../helpers/memory-pipe.js')
    const { FramedChannel } = await import('../../src/protocol/framing.js')
    const { runSyncSession } = await import('../../src/protocol/session.js')
    const [pa] = duplexPair()
    const r = await runSyncSession(new FramedChannel(pa), new MemoryStore(), { initiator: true, groupId: 'g', helloTimeoutMs: 50 })
    expect(r.error).toMatchObject({ code: 'TIMEOUT' })
  })

  it('ends at once when cancelled', async () => {
    const { duplexPair } = await import('../helpers/memory-pipe.js')
    const { FramedChannel } = await import('../../src/protocol/framing.js')
    const { runSyncSession } = await import('../../src/protocol/session.js')
    const [pa] = duplexPair()
    const controller = new AbortController()
    const running = runSyncSession(new FramedChannel(pa), new MemoryStore(), { initiator: true, groupId: 'g', signal: controller.signal })
    controller.abort()
    expect((await running).error).toMatchObject({ code: 'CLOSED' })
  })
})
