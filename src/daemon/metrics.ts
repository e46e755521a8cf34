/** The daemon's metrics, in Prometheus text (written by the runtime kit's src/runtime/prometheus.ts). */
import { PrometheusText } from '../runtime/prometheus.js'
import type { DaemonStatus } from './api-types.js'
import type { NetworkMetrics } from './ports.js'

export function renderMetrics (status: DaemonStatus, net: NetworkMetrics | undefined, stats: { ops: number, rejected: Record<string, number> }): string {
  const text = new PrometheusText()
  text.byLabel('weft_peers_connected', 'gauge', 'Connected group peers by connection type.', 'type', { direct: net?.peers.direct ?? 0, relayed: net?.peers.relayed ?? 0 })
  text.single('weft_ops_sent_total', 'counter', 'Ops sent to peers: served in sync sessions, and published in announcements (once per recipient).', net?.opsSent ?? 0)
  text.single('weft_ops_received_total', 'counter', 'Ops received from peers and applied (sessions and announcements).', net?.opsReceived ?? 0)
  text.single('weft_ops_deferred_total', 'counter', 'Announced ops that arrived ahead of what this node held: not applied, pulled by a sync session instead.', net?.opsDeferred ?? 0)
  text.single('weft_sync_sessions_total', 'counter', 'Sync sessions that ended, cleanly or not.', net?.sessions ?? 0)
  text.byLabel('weft_sync_sessions_by_direction_total', 'counter', 'Sync sessions that ended, by who opened them; "crossed": a stream that met a session the peer had opened at the same moment and ended at once, with no error (that session served both sides).',
    'direction', { outbound: net?.sessionsOutbound ?? 0, inbound: net?.sessionsInbound ?? 0, crossed: net?.sessionsCrossed ?? 0 })
  text.byLabel('weft_ops_sent_by_path_total', 'counter', 'Ops sent to peers by path: served in sync sessions, or carried in announcements (once per recipient).',
    'path', { session: net?.opsSentInSessions ?? 0, announcement: net?.opsSentInAnnouncements ?? 0 })
  text.byLabel('weft_ops_applied_by_path_total', 'counter', 'Ops from peers applied, by path: pulled in sync sessions, or carried in announcements.',
    'path', { session: net?.opsAppliedFromSessions ?? 0, announcement: net?.opsAppliedFromAnnouncements ?? 0 })
  text.single('weft_announcements_republished_total', 'counter', 'Announcements published a second time, unmarked so that members forward them, because gossipsub did not send the first copy to every subscribed member.', net?.announcementsRepublished ?? 0)
  text.single('weft_ops_held_for_order_total', 'counter', 'Announced ops that arrived before the ops preceding them and were held, to be applied in order.', net?.opsHeld ?? 0)
  text.single('weft_sync_errors_total', 'counter', 'Sync sessions that ended in an error (each failed session counts).', net?.sessionErrors ?? 0)
  text.byLabel('weft_rejected_ops_total', 'counter', 'Ops refused, by reason.', 'reason', stats.rejected)
  text.single('weft_oplog_ops', 'gauge', 'Ops in the local oplog.', stats.ops)
  const last = net?.lastSyncAt
  text.single('weft_last_sync_age_seconds', 'gauge', 'Seconds since the last completed sync session (-1: never).', last === undefined ? -1 : Math.round((Date.now() - last) / 1000))
  text.single('weft_held_ops', 'gauge', 'Ops from the future held until this clock reaches them.', status.held.reduce((n, h) => n + h.ops, 0))
  text.single('weft_equivocating_devices', 'gauge', 'Devices that signed two different ops with one sequence number.', status.equivocating.length)
  text.single('weft_hlc_ahead_seconds', 'gauge', 'How far this device\'s HLC is ahead of its wall clock.', Math.max(0, Math.round(status.clock.aheadMs / 1000)))
  text.single('weft_store_bytes', 'gauge', 'Size of the SQLite files.', status.store.bytes)
  return text.render()
}
