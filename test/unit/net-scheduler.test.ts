import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SessionClosedError, NotMemberError } from '../../src/protocol/errors.js'
import type { SessionResult } from '../../src/protocol/session.js'
import { SyncScheduler } from '../../src/net/sync/scheduler.js'
import { MemoryStore } from '../helpers/memory-store.js'

const peerStore = new MemoryStore()
const peer: PeerId = peerIdFromString(peerStore.deviceId)
const noop = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => noop })

function result (over: Partial<SessionResult>): SessionResult {
  return {
    initiator: true,
    ok: true,
    complete: true,
    rejections: [],
    bytesSent: 0,
    bytesReceived: 0,
    pagesSent: 0,
    opsSent: 0,
    pagesReceived: 0,
    opsReceived: 0,
    applied: 0,
    duplicates: 0,
    rejected: 0,
    ...over
  }
}

describe('sync scheduler', () => {
  let requests: string[]
  let causes: string[]
  let lastStart: number
  let ours: Map<string, number>
  let scheduler: SyncScheduler
  beforeEach(() => {
    vi.useFakeTimers()
    requests = []
    causes = []
    lastStart = 0
    ours = new Map()
    scheduler = new SyncScheduler({
      requestSync: (p, cause) => { requests.push(p.toString()); causes.push(cause) },
      lastSessionStart: () => lastStart,
      idlePeers: () => [peer.toString()],
      ourVector: () => ours,
      log: noop as never
    }, { syncIntervalMs: 30_000, connectGraceMs: 1_000, retryMinMs: 100, retryMaxMs: 1_000 })
    scheduler.start()
  })
  afterEach(() => { scheduler.stop(); vi.useRealTimers() })

  const conn = (id: string, direction: 'inbound' | 'outbound'): Connection => ({ id, direction }) as unknown as Connection

  it('the dialer syncs at once; the dialed side only if nothing started within the grace period', () => {
    scheduler.connected(peer, conn('c1', 'outbound'))
    scheduler.connected(peer, conn('c1', 'outbound'))
    expect(requests).toHaveLength(1)
    scheduler.connected(peer, conn('c2', 'inbound'))
    lastStart = Date.now() + 1
    vi.advanceTimersByTime(1_000)
    expect(requests).toHaveLength(1)
    scheduler.connected(peer, conn('c3', 'inbound'))
    vi.advanceTimersByTime(1_000)
    expect(requests).toHaveLength(2)
    expect(causes).toEqual(['connected', 'connected'])
  })

  it('the dialed side counts a session that began after the connection opened, even before it heard of the connection', () => {
    // The connection opened 300 ms ago; the dialer's session reached us 100 ms later; identify told the scheduler now.
    const opened = Date.now() - 300
    lastStart = opened + 100
    scheduler.connected(peer, { id: 'c5', direction: 'inbound', timeline: { open: opened } } as unknown as Connection)
    vi.advanceTimersByTime(1_000)
    expect(requests).toHaveLength(0)
    // A session from before this connection opened does not count.
    lastStart = Date.now() - 10
    scheduler.connected(peer, { id: 'c6', direction: 'inbound', timeline: { open: Date.now() - 5 } } as unknown as Connection)
    vi.advanceTimersByTime(1_000)
    expect(requests).toHaveLength(1)
  })

  it('retries with backoff while we are behind after a cut, and stops once complete', () => {
    const cut = result({ ok: false, complete: false, error: new SessionClosedError('reset'), remoteVector: new Map() })
    // 100 ms, jittered down by at most a quarter.
    scheduler.sessionEnded(peer, cut)
    vi.advanceTimersByTime(74)
    expect(requests).toHaveLength(0)
    vi.advanceTimersByTime(26)
    expect(requests).toHaveLength(1)
    // Then 200 ms (no progress in between).
    scheduler.sessionEnded(peer, cut)
    vi.advanceTimersByTime(149)
    expect(requests).toHaveLength(1)
    vi.advanceTimersByTime(51)
    expect(requests).toHaveLength(2)
    scheduler.sessionEnded(peer, result({}))
    vi.advanceTimersByTime(10_000)
    expect(requests).toHaveLength(2)
    expect(causes).toEqual(['retry', 'retry'])
  })

  it('when only the peer was behind, retries later and only if no session began since', () => {
    ours.set(peerStore.deviceId, 10)
    const cut = result({ ok: false, complete: true, error: new SessionClosedError('reset'), remoteVector: new Map() })
    // Four times the base delay (400 ms, jittered down by at most a quarter).
    scheduler.sessionEnded(peer, cut)
    vi.advanceTimersByTime(299)
    expect(requests).toHaveLength(0)
    lastStart = Date.now() + 1 // the peer came back by itself
    vi.advanceTimersByTime(101)
    expect(requests).toHaveLength(0)
    // Had it not, we would have dialed it (next attempt: 4 x 200 ms).
    scheduler.sessionEnded(peer, cut)
    lastStart = 0
    vi.advanceTimersByTime(800)
    expect(requests).toHaveLength(1)
  })

  it('does not retry refusals, nor strangers that never said hello', () => {
    scheduler.sessionEnded(peer, result({ ok: false, complete: false, error: new NotMemberError('no') }))
    scheduler.sessionEnded(peer, result({ initiator: false, ok: false, complete: false, error: new SessionClosedError('reset') }))
    vi.advanceTimersByTime(60_000)
    expect(requests.filter(r => r === peer.toString())).toHaveLength(2) // anti-entropy ticks only
  })

  it('runs anti-entropy with an idle peer every interval', () => {
    vi.advanceTimersByTime(30_000)
    expect(requests).toEqual([peer.toString()])
    expect(causes).toEqual(['anti-entropy'])
  })
})
