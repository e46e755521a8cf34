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
