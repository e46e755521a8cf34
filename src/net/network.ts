/**
 * The network as the daemon uses it: a started node plus the few calls the
 * control API and the metrics endpoint need, all returning plain JSON-able
 * values (no Error objects, no libp2p types). The daemon's `NetworkFactory`
 * maps its config onto `NodeConfig` and calls `startNetwork`.
 */
import type { SessionResult } from '../protocol/session.js'
import type { NodeConfig } from './config.js'
import { createNode, type WeftNode } from './node.js'
import type { PeerSyncState } from './peer-state.js'

export interface SessionSummary {
  readonly peerId: string
  readonly ok: boolean
  readonly complete: boolean
  readonly applied: number
  readonly opsReceived: number
  readonly opsSent: number
  readonly bytesReceived: number
  readonly bytesSent: number
  readonly error?: { readonly code: string, readonly message: string, readonly remote: boolean }
}

export interface NetworkMetrics {
  peers: { direct: number, relayed: number }
  opsSent: number
  opsReceived: number
  opsDeferred: number
  sessions: number
  sessionErrors: number
  lastSyncAt: number | undefined
}

export interface Network {
  readonly node: WeftNode
  readonly peerId: string
  addresses(): string[]
  peers(): Promise<PeerSyncState[]>
  /** A session with `peer`, or with every connected peer when omitted. */
  syncNow(peer?: string, signal?: AbortSignal): Promise<SessionSummary[]>
  metrics(): NetworkMetrics
  stop(): Promise<void>
}

export function summarize (peerId: string, r: SessionResult): SessionSummary {
  return {
    peerId,
    ok: r.ok,
    complete: r.complete,
    applied: r.applied,
    opsReceived: r.opsReceived,
    opsSent: r.opsSent,
    bytesReceived: r.bytesReceived,
    bytesSent: r.bytesSent,
    ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message, remote: r.error.remote } })
  }
}

export async function startNetwork (config: NodeConfig): Promise<Network> {
  const node = await createNode({ ...config, start: true })
  const sync = node.services.sync
  return {
    node,
    peerId: node.peerId.toString(),
    addresses: () => node.getMultiaddrs().map(m => m.toString()),
    peers: async () => sync.getPeerStates(),
    syncNow: async (peer, signal) => {
      const options = signal === undefined ? {} : { signal }
      if (peer !== undefined) return [summarize(peer, await sync.syncWith(peer, options))]
      return (await sync.syncAll(options)).map(({ peerId, result }) => summarize(peerId, result))
    },
    metrics: () => {
      const conns = node.getConnections().filter(c => c.status === 'open' && node.services.members.isMember(c.remotePeer))
      const t = sync.getTotals()
      return {
        peers: { direct: conns.filter(c => c.limits == null).length, relayed: conns.filter(c => c.limits != null).length },
        opsSent: t.opsSent,
        opsReceived: t.opsReceived,
        opsDeferred: t.opsDeferred,
        sessions: t.sessions,
        sessionErrors: t.sessionErrors,
        lastSyncAt: t.lastSyncAt
      }
    },
    stop: async () => { await node.stop() }
  }
}
