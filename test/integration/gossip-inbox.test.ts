/**
 * The receiving end of announcements on a real replica (SQLite in a temp
 * dir): announced ops that arrive out of order are held and applied in order
 * once the ops before them arrive (no `gap` rejection, no session); held ops
 * expire after `holdMs`; the hold's op and byte bounds and the queue's byte
 * bound refuse what is beyond them (counted as deferred, left for a pull).
 *
 * The announced ops are a second replica's real signed ops, taken from its
 * oplog as its announcer would send them.
 */
import { defaultLogger } from '@libp2p/logger'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { GossipInbox, type GossipInboxInit } from '../../src/net/sync/gossip-inbox.js'
import type { EncodedOp } from '../../src/oplog/op.js'
import type { Replica } from '../../src/store/replica.js'
import { allOps, FakeClock, newReplica } from '../helpers/fixtures.js'

const log = defaultLogger().forComponent('weft:test:gossip-inbox')

/** A writer's `n` puts, each its own signed op: seqs 1..n of one origin, in order. */
function writerOps (n: number): { writer: Replica, ops: EncodedOp[] } {
  const writer = newReplica()
  for (let i = 1; i <= n; i++) writer.put('notes', `n${i}`, { text: `note ${i}` })
  const ops = allOps(writer)
  expect(ops).toHaveLength(n)
  return { writer, ops }
}

const bytesOf = (ops: readonly EncodedOp[]): number => ops.reduce((n, o) => n + o.body.byteLength + (o.sig?.byteLength ?? 0), 0)

/** ops[from-1 .. to-1]: seqs from..to. */
const seqs = (ops: EncodedOp[], from: number, to: number): EncodedOp[] => ops.slice(from - 1, to)

function inbox (store: Replica, init: Partial<GossipInboxInit> = {}): GossipInbox {
  const i = new GossipInbox({ store, log, ...init })
  cleanup.push(async () => { await i.stop() })
  return i
}

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn()
})

describe('GossipInbox on a real replica', () => {
  it('holds announcements that arrive ahead and applies them in order when the ops before them arrive', async () => {
    const { writer, ops } = writerOps(12)
    const receiver = newReplica()
    const box = inbox(receiver)
    const origin = writer.deviceId

    // The announcement of 9..12 overtakes the ones of 5..8 and 1..4.
    expect(await box.receive('peer-x', seqs(ops, 9, 12), bytesOf(seqs(ops, 9, 12)))).toEqual({ applied: 0, fromHold: 0, held: 4, deferred: 0, rejected: 0 })
    expect(await box.receive('peer-y', seqs(ops, 5, 8), bytesOf(seqs(ops, 5, 8)))).toEqual({ applied: 0, fromHold: 0, held: 4, deferred: 0, rejected: 0 })
    expect(receiver.versionVector().get(origin)).toBeUndefined()
    expect(box.held.ops).toBe(8)
    // Nothing was refused as a gap: the store never saw them.
    expect(receiver.stats().rejected).toEqual({})

    const last = await box.receive('peer-x', seqs(ops, 1, 4), bytesOf(seqs(ops, 1, 4)))
    expect(last).toEqual({ applied: 12, fromHold: 8, held: 0, deferred: 0, rejected: 0 })
    expect(receiver.versionVector().get(origin)).toBe(12)
    expect(box.held).toEqual({ ops: 0, bytes: 0 })
    expect(receiver.stats().rejected).toEqual({})
    expect(receiver.digest()).toBe(writer.digest())
    expect(receiver.get('notes', 'n12')).toEqual({ text: 'note 12' })
  })

  it('announcements received at once in reverse order apply in order (one at a time, in arrival order)', async () => {
    const { writer, ops } = writerOps(30)
    const receiver = newReplica()
    const box = inbox(receiver)
    const parts = [seqs(ops, 21, 30), seqs(ops, 11, 20), seqs(ops, 1, 10)]
    const results = await Promise.all(parts.map(async (p, i) => await box.receive(`peer-${i}`, p, bytesOf(p))))
    expect(results.map(r => r.held)).toEqual([10, 10, 0])
    expect(results[2]).toMatchObject({ applied: 30, fromHold: 20, rejected: 0 })
    expect(results.reduce((n, r) => n + r.rejected + r.deferred, 0)).toBe(0)
    expect(receiver.versionVector().get(writer.deviceId)).toBe(30)
    expect(receiver.digest()).toBe(writer.digest())
  })

  it('an announcement that repeats applied ops and runs ahead applies what extends the prefix and holds the rest', async () => {
    const { writer, ops } = writerOps(10)
    const receiver = newReplica()
    const box = inbox(receiver)
    expect(await box.receive('p', seqs(ops, 1, 3), 0)).toMatchObject({ applied: 3, held: 0 })
    // 2..5 and 8..10 in one announcement (a forwarder's batch with a hole): 4..5 apply, 8..10 wait for 6..7.
    const mixed = [...seqs(ops, 2, 5), ...seqs(ops, 8, 10)]
    expect(await box.receive('p', mixed, bytesOf(mixed))).toEqual({ applied: 2, fromHold: 0, held: 3, deferred: 0, rejected: 0 })
    expect(receiver.versionVector().get(writer.deviceId)).toBe(5)
    expect(await box.receive('q', seqs(ops, 6, 7), 0)).toEqual({ applied: 5, fromHold: 3, held: 0, deferred: 0, rejected: 0 })
    expect(receiver.digest()).toBe(writer.digest())
  })

  it('a forged op in the hold is refused when its turn comes, and the ops after it stay missing (no spin)', async () => {
    const { writer, ops } = writerOps(6)
    const receiver = newReplica()
    const box = inbox(receiver)
    const forged = { ...ops[3]!, body: Uint8Array.from(ops[3]!.body) }
    forged.body[forged.body.byteLength - 1]! ^= 0xff
    const ahead = [forged, ...seqs(ops, 5, 6)]
    expect(await box.receive('p', ahead, bytesOf(ahead))).toMatchObject({ held: 3 })
    const r = await box.receive('p', seqs(ops, 1, 3), 0)
    // 1..3 applied; seq 4 is forged and refused, so 5..6 cannot follow it.
    expect(r.applied).toBe(3)
    expect(r.rejected).toBeGreaterThan(0)
    expect(receiver.versionVector().get(writer.deviceId)).toBe(3)
    expect(box.held.ops).toBe(0)
    // The genuine ops still apply when they come (by a pull, or another announcement).
    expect(await box.receive('q', seqs(ops, 4, 6), 0)).toMatchObject({ applied: 3, rejected: 0 })
    expect(receiver.digest()).toBe(writer.digest())
  })

  describe('with a clock the test moves', () => {
    let clock: FakeClock
    beforeEach(() => {
      clock = new FakeClock()
      // Only the expiry timer is faked; the turns of the event loop between chunks stay real.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    })
    afterEach(() => { vi.useRealTimers() })

    const advance = (ms: number): void => { clock.advance(ms); vi.advanceTimersByTime(ms) }

    it('held ops expire after holdMs and are reported per forwarding peer; the missing ones still apply later', async () => {
      const { writer, ops } = writerOps(8)
      const receiver = newReplica()
      const expired: Array<Map<string, number>> = []
      const box = inbox(receiver, { holdMs: 1_000, now: clock.now, onExpired: m => { expired.push(new Map(m)) } })
      expect(await box.receive('peer-x', seqs(ops, 5, 8), 0)).toMatchObject({ held: 4 })
      advance(999)
      expect(expired).toEqual([])
      expect(box.held.ops).toBe(4)
      advance(1)
      expect(expired).toEqual([new Map([['peer-x', 4]])])
      expect(box.held).toEqual({ ops: 0, bytes: 0 })
      // 1..4 arrive late: they apply, 5..8 are gone from the hold (the gap tracker pulls them).
      expect(await box.receive('peer-y', seqs(ops, 1, 4), 0)).toEqual({ applied: 4, fromHold: 0, held: 0, deferred: 0, rejected: 0 })
      expect(receiver.versionVector().get(writer.deviceId)).toBe(4)
      expect(receiver.applyRemote(seqs(ops, 5, 8)).applied).toBe(4)
      expect(receiver.digest()).toBe(writer.digest())
    })

    it('held ops the store got another way (a session) expire as stale, still reported', async () => {
      const { writer, ops } = writerOps(6)
      const receiver = newReplica()
      const expired: Array<Map<string, number>> = []
      const box = inbox(receiver, { holdMs: 500, now: clock.now, onExpired: m => { expired.push(new Map(m)) } })
      expect(await box.receive('peer-x', seqs(ops, 4, 6), 0)).toMatchObject({ held: 3 })
      // A session brings everything meanwhile, without going through the inbox.
      expect(receiver.applyRemote(ops).applied).toBe(6)
      advance(500)
      expect(expired).toEqual([new Map([['peer-x', 3]])])
      expect(box.held.ops).toBe(0)
      expect(receiver.digest()).toBe(writer.digest())
    })

    it('the expiry timer follows the oldest held op', async () => {
      const { ops } = writerOps(9)
      const receiver = newReplica()
      const expired: Array<Map<string, number>> = []
      const box = inbox(receiver, { holdMs: 1_000, now: clock.now, onExpired: m => { expired.push(new Map(m)) } })
      await box.receive('a', seqs(ops, 8, 9), 0)
      advance(600)
      await box.receive('b', seqs(ops, 4, 5), 0)
      advance(400)
      expect(expired).toEqual([new Map([['a', 2]])])
      expect(box.held.ops).toBe(2)
      advance(599)
      expect(expired).toHaveLength(1)
      advance(1)
      expect(expired).toEqual([new Map([['a', 2]]), new Map([['b', 2]])])
      expect(box.held.ops).toBe(0)
    })
  })

  it('the hold\'s op bound refuses ops beyond it: counted as deferred, left for a pull', async () => {
    const { writer, ops } = writerOps(10)
    const receiver = newReplica()
    const box = inbox(receiver, { maxOps: 3 })
    expect(await box.receive('p', seqs(ops, 5, 10), 0)).toEqual({ applied: 0, fromHold: 0, held: 3, deferred: 3, rejected: 0 })
    // 1..4 arrive: 5..7 follow from the hold; 8..10 were never held.
    expect(await box.receive('p', seqs(ops, 1, 4), 0)).toEqual({ applied: 7, fromHold: 3, held: 0, deferred: 0, rejected: 0 })
    expect(receiver.versionVector().get(writer.deviceId)).toBe(7)
  })

  it('the hold\'s byte bound refuses ops beyond it', async () => {
    const { writer, ops } = writerOps(6)
    const receiver = newReplica()
    // Room for two of these ops and not three.
    const two = bytesOf(seqs(ops, 3, 4))
    const box = inbox(receiver, { maxBytes: two + 1 })
    expect(await box.receive('p', seqs(ops, 3, 6), 0)).toEqual({ applied: 0, fromHold: 0, held: 2, deferred: 2, rejected: 0 })
    expect(box.held).toEqual({ ops: 2, bytes: two })
    expect(await box.receive('p', seqs(ops, 1, 2), 0)).toEqual({ applied: 4, fromHold: 2, held: 0, deferred: 0, rejected: 0 })
    expect(receiver.versionVector().get(writer.deviceId)).toBe(4)
  })

  it('announcements beyond the queue\'s byte bound are not applied at all: every op deferred', async () => {
    const { writer, ops } = writerOps(4)
    const receiver = newReplica()
    const box = inbox(receiver, { maxQueuedBytes: 1_000 })
    expect(await box.receive('p', ops, 1_001)).toEqual({ applied: 0, fromHold: 0, held: 0, deferred: 4, rejected: 0 })
    expect(receiver.versionVector().get(writer.deviceId)).toBeUndefined()
    expect(await box.receive('p', ops, 1_000)).toMatchObject({ applied: 4, deferred: 0 })
  })

  it('after stop, announcements are deferred and nothing is held', async () => {
    const { ops } = writerOps(4)
    const receiver = newReplica()
    const box = inbox(receiver)
    await box.receive('p', seqs(ops, 3, 4), 0)
    await box.stop()
    expect(box.held.ops).toBe(0)
    expect(await box.receive('p', seqs(ops, 1, 2), 0)).toEqual({ applied: 0, fromHold: 0, held: 0, deferred: 2, rejected: 0 })
  })
})
