/**
 * The peers: who is known and connected, the relays, the peer book, and a
 * sync on demand.
 *
 *   GET  /v1/peers
 *   GET  /v1/relays
 *   GET  /v1/peer-book
 *   POST /v1/sync       { peer? }
 */
import { InvalidArgumentError } from '../../errors.js'
import type { PeerBookResponse, PeerView, RelayView, SyncResult } from '../api-types.js'
import type { Route } from '../control-api.js'
import { bodyObject, requireNetwork, type DaemonContext } from './context.js'

export function peerRoutes (d: DaemonContext): Route[] {
  return [
    { path: 'v1/peers', methods: { GET: async (): Promise<PeerView[]> => await peers(d) } },
    { path: 'v1/relays', methods: { GET: (): RelayView[] => d.network?.relays?.() ?? [] } },
    { path: 'v1/peer-book', methods: { GET: (): PeerBookResponse => d.network?.peerBook?.() ?? { entries: [], dialer: [] } } },
    {
      path: 'v1/sync',
      methods: {
        POST: async req => {
          const { peer } = bodyObject(req.body)
          if (peer !== undefined && typeof peer !== 'string') throw new InvalidArgumentError('"peer" must be a peer id string')
          return await requireNetwork(d).syncNow(peer, req.signal)
        }
      }
    }
  ]
}

/** The known peers; none without a network. */
export async function peers (d: DaemonContext): Promise<PeerView[]> {
  return d.network === undefined ? [] : await d.network.peers()
}

/** One sync session with `peer` (weft recover pulls the group's data through it). */
export async function syncWith (d: DaemonContext, peer: string, signal?: AbortSignal): Promise<SyncResult> {
  const res = await requireNetwork(d).syncNow(peer, signal)
  if (Array.isArray(res)) throw new InvalidArgumentError('syncWith needs one peer') // syncNow with a peer returns one result
  return res
}
