/** Per-peer sync state: a peer's sessions can overlap (one each way), and it stays active until the last ends. */
import { describe, expect, it } from 'vitest'
import { PeerStates } from '../../src/net/peer-state.js'
import type { SessionResult } from '../../src/protocol/session.js'

const ok: SessionResult = { initiator: true, ok: true, complete: true, rejections: [], bytesSent: 10, bytesReceived: 10, pagesSent: 0, opsSent: 0, pagesReceived: 0, opsReceived: 0, applied: 0, duplicates: 0, rejected: 0 }

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
