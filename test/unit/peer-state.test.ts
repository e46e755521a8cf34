/** Per-peer sync state: a peer's sessions can overlap (one each way), and it stays active until the last ends. */
import { describe, expect, it } from 'vitest'
import { PeerStates } from '../../src/net/sync/peer-state.js'
import type { SessionResult } from '../../src/protocol/session.js'

const ok: SessionResult = {
  initiator: true,
  ok: true,
  complete: true,
  rejections: [],
  bytesSent: 10,
  bytesReceived: 10,
  pagesSent: 0,
  opsSent: 0,
  pagesReceived: 0,
  opsReceived: 0,
  applied: 0,
  duplicates: 0,
  rejected: 0
}

describe('PeerStates', () => {
  it('keeps a peer active until its last overlapping session ends', () => {
    const states = new PeerStates(() => 1000)
    states.sessionStarted('p')
    states.sessionStarted('p')
    states.sessionEnded('p', ok, 5, new Map())
    expect(states.get('p')?.sessionActive).toBe(true)
    states.sessionEnded('p', ok, 5, new Map())
    expect(states.get('p')?.sessionActive).toBe(false)
    expect(states.get('p')?.sessions).toBe(2)
  })
})

describe('PeerStates totals', () => {
  const failed = (code: 'VERSION_MISMATCH' | 'CLOSED'): SessionResult => ({ ...ok, ok: false, complete: false, error: Object.assign(new Error('x'), { code, remote: false }) as never })

  it('count every failed session, not every peer whose last session failed', () => {
    const states = new PeerStates(() => 1000)
    for (let i = 0; i < 3; i++) states.sessionEnded('p', failed('CLOSED'), 5, new Map())
    states.sessionEnded('p', ok, 5, new Map())
    states.sessionFailed('q', 'NOT_MEMBER', 'not a member')
    expect(states.totals()).toMatchObject({ sessions: 5, sessionErrors: 4 })
    expect(states.get('p')?.lastSessionOk).toBe(true)
  })

  it('count ops published to each recipient as sent, and deferred announced ops apart from applied ones', () => {
    const states = new PeerStates(() => 1000)
    states.published('p', 3, 100)
    states.published('q', 3, 100)
    states.announced('p', 4, 1, 50, 3)
    expect(states.totals()).toMatchObject({ opsSent: 6, bytesSent: 200, opsReceived: 4, opsApplied: 1, opsDeferred: 3 })
    expect(states.get('p')).toMatchObject({ opsSent: 3, opsDeferred: 3 })
  })

  it('remember a version mismatch until a clean session or a matching announcement', () => {
    const states = new PeerStates(() => 1000)
    states.sessionEnded('p', failed('VERSION_MISMATCH'), 5, new Map())
    expect(states.get('p')?.versionMismatch).toMatchObject({ via: 'sync' })
    states.sessionEnded('p', failed('CLOSED'), 5, new Map())
    expect(states.get('p')?.versionMismatch).toMatchObject({ via: 'sync' })
    states.sessionEnded('p', ok, 5, new Map())
    expect(states.get('p')?.versionMismatch).toBeUndefined()
    states.announcedVersions('p', 'announces with sync protocol 1 and op format 2')
    expect(states.get('p')?.versionMismatch).toMatchObject({ via: 'gossip' })
    states.announcedVersions('p', undefined)
    expect(states.get('p')?.versionMismatch).toBeUndefined()
    // A matching announcement from a writer we never saw adds no entry.
    states.announcedVersions('far', undefined)
    expect(states.get('far')).toBeUndefined()
  })
})

describe('PeerStates vectors from gossip', () => {
  it('a peer\'s own announcements raise what we know it holds (never lower it), and how far it is ahead of us', () => {
    const states = new PeerStates(() => 1000)
    states.vector('p', new Map([['p', 5], ['q', 9]]), new Map([['p', 5], ['q', 9]]))
    expect(states.get('p')?.theyAreAheadBy).toBe(0)
    // p wrote 3 more: its announcement says p:8. We hold p:5 still.
    states.announcedVector('p', new Map([['p', 8], ['q', 9]]), new Map([['p', 5], ['q', 9]]))
    expect(states.get('p')).toMatchObject({ theirVector: { p: 8, q: 9 }, theyAreAheadBy: 3 })
    // A delayed, older announcement does not take it back; a new origin is added.
    states.announcedVector('p', new Map([['p', 6], ['r', 2]]), new Map([['p', 8], ['q', 9]]))
    expect(states.get('p')).toMatchObject({ theirVector: { p: 8, q: 9, r: 2 }, theyAreAheadBy: 2 })
    // A writer we have no entry for (two hops away) gets none.
    states.announcedVector('far', new Map([['far', 3]]), new Map())
    expect(states.get('far')).toBeUndefined()
  })

  it('a session ends with what the peer\'s Done says it holds, keeping what its announcements said meanwhile', () => {
    const states = new PeerStates(() => 1000)
    const ours = new Map([['me', 40], ['q', 9]])
    // Its hello: it held 10 of ours and 9 of q's (set when the hello came).
    states.sessionStarted('p')
    states.vector('p', new Map([['me', 10], ['q', 9]]), new Map([['me', 40], ['q', 9]]))
    // During the session it announced a write of its own.
    states.announcedVector('p', new Map([['me', 10], ['q', 9], ['p', 3]]), ours)
    // It pulled our 30 ops: its Done says me:40. It applied them, and still holds its own 3.
    states.sessionEnded('p', { ...ok, remoteVector: new Map([['me', 10], ['q', 9]]), remoteDoneVector: new Map([['me', 40], ['q', 9]]) }, 5, ours)
    expect(states.get('p')).toMatchObject({ theirVector: { me: 40, q: 9, p: 3 }, theyAreAheadBy: 3 })
    // A peer that predates the Done vector: its view stays the hello's (and what announcements added).
    states.vector('r', new Map([['me', 10]]), ours)
    states.sessionEnded('r', { ...ok, remoteVector: new Map([['me', 10]]), remoteDoneVector: new Map() }, 5, ours)
    expect(states.get('r')).toMatchObject({ theirVector: { me: 10 }, theyAreAheadBy: 0 })
    // A peer restored from an older backup: its hello lowers what we knew (the session then raises it again).
    states.vector('p', new Map([['me', 5]]), ours)
    expect(states.knownVector('p')?.get('me')).toBe(5)
  })

  it('our own announcements to a peer raise what it holds of ours only when they continue what it held', () => {
    const states = new PeerStates(() => 1000)
    states.vector('p', new Map([['me', 4]]), new Map([['me', 4]]))
    // Ops 5..7 sent to p: it holds 1..4, so now 1..7.
    states.sentOwnOps('p', 'me', 5, 7)
    expect(states.knownVector('p')?.get('me')).toBe(7)
    // Ops 9..10 skip 8 (the announcement of 8 went elsewhere, or was lost): p cannot apply them yet.
    states.sentOwnOps('p', 'me', 9, 10)
    expect(states.knownVector('p')?.get('me')).toBe(7)
    // Ops it already held do not move it back.
    states.sentOwnOps('p', 'me', 2, 3)
    expect(states.knownVector('p')?.get('me')).toBe(7)
    // Unknown peers get no entry.
    states.sentOwnOps('q', 'me', 1, 3)
    expect(states.get('q')).toBeUndefined()
  })
})
