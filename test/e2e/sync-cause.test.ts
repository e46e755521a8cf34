/**
 * Each session says why this device started it (`cause` on `session:end`,
 * and in the daemon's `sync session` log line), with real nodes on
 * 127.0.0.1 and real replicas:
 * - a new connection: the dialer's session is `connected`;
 * - `syncWith`: `request`;
 * - the periodic round: `anti-entropy`;
 * - the peer's side of each has no cause: it is not told why.
 * (`gap` is checked in sync-gossip.test.ts, `retry` in the scheduler's unit test.)
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncSessionEvent } from '../../src/net/index.js'
import { connect, recordSessions, startNode, stopAll, waitFor } from '../helpers/net-nodes.js'

afterEach(stopAll)

const summary = (list: SyncSessionEvent[]): Array<{ direction: string, cause: string | undefined }> =>
  list.map(e => ({ direction: e.direction, cause: e.cause }))

describe('session cause', () => {
  it('the dialer\'s session on a new connection is "connected", syncWith\'s is "request", and the serving side has none', async () => {
    const a = await startNode()
    const b = await startNode()
    const events = { a: recordSessions(a), b: recordSessions(b) }
    a.replica.put('notes', 'n1', { v: 1 })
    await connect(a, b)
    await waitFor(() => events.a.length >= 1 && events.b.length >= 1, 'the connect session on both sides')
    expect(summary(events.a)).toEqual([{ direction: 'outbound', cause: 'connected' }])
    expect(summary(events.b)).toEqual([{ direction: 'inbound', cause: undefined }])
    expect(events.b[0]!.result.applied).toBe(1)

    const r = await b.node.services.sync.syncWith(a.id)
    expect(r.ok).toBe(true)
    await waitFor(() => events.a.length >= 2, 'A\'s side of B\'s session')
    expect(summary(events.b).at(-1)).toEqual({ direction: 'outbound', cause: 'request' })
    expect(summary(events.a).at(-1)).toEqual({ direction: 'inbound', cause: undefined })
  })

  it('the periodic round\'s sessions are "anti-entropy"', async () => {
    const a = await startNode({ syncIntervalMs: 300 })
    const b = await startNode()
    const events = recordSessions(a)
    await connect(a, b)
    await waitFor(() => events.filter(e => e.cause === 'anti-entropy').length >= 2, 'two anti-entropy sessions', 10_000)
    // The connect session, then only the round's.
    expect(summary(events)[0]).toEqual({ direction: 'outbound', cause: 'connected' })
    for (const e of events.slice(1)) expect(e).toMatchObject({ direction: 'outbound', cause: 'anti-entropy' })
  })
})
