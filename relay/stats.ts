/**
 * The relay's counters and their Prometheus text exposition (written by the
 * runtime kit's src/runtime/prometheus.ts).
 * Counters only go up and are kept here; gauges are read from the live node
 * when /metrics is scraped, so they never drift from the truth.
 */
import { PrometheusText } from '../src/runtime/prometheus.js'
import type { BookRefusal, EndReason, ReservationClass } from './reservations.js'

export type RefusalReason = BookRefusal | 'not_admitted'
export type CloseReason = 'data_limit' | 'duration_limit' | 'reservation_ended' | 'closed'
export type LimitClass = 'group' | 'default'

export class RelayStats {
  readonly reservationsAccepted: Record<ReservationClass, number> = { member: 0, stranger: 0 }
  readonly reservationsRefused: Record<RefusalReason, number> = { full: 0, strangers_full: 0, ip_limit: 0, not_admitted: 0 }
  readonly reservationsEnded: Record<ReservationClass, Record<EndReason, number>> = {
    member: { disconnected: 0, expired: 0, evicted: 0, failed: 0 },
    stranger: { disconnected: 0, expired: 0, evicted: 0, failed: 0 }
  }

  readonly connectionsOpened: Record<LimitClass, number> = { group: 0, default: 0 }
  readonly connectionsClosed: Record<CloseReason, number> = { data_limit: 0, duration_limit: 0, reservation_ended: 0, closed: 0 }
  connectionsActive = 0
  /** Bytes carried between the two ends of relayed connections, both directions (their encrypted stream bytes). */
  bytesRelayed = 0
  readonly auth = new Map<string, number>()

  countAuth (result: string): void {
    this.auth.set(result, (this.auth.get(result) ?? 0) + 1)
  }
}

export interface RelayGauges {
  reservations: Record<ReservationClass, number>
  peersConnected: number
  peersAdmitted: number
  uptimeSeconds: number
}

export function renderMetrics (s: RelayStats, g: RelayGauges): string {
  const text = new PrometheusText()
  text.byLabel('weft_relay_reservations_active', 'gauge', 'Reservations held now, by class (member: admitted by relay-auth, group limits; stranger: default limits).', 'class', g.reservations)
  text.byLabel('weft_relay_reservations_accepted_total', 'counter', 'Reservation requests accepted (new and refreshed), by class.', 'class', s.reservationsAccepted)
  text.byLabel('weft_relay_reservations_refused_total', 'counter', 'Reservation requests refused, by reason.', 'reason', s.reservationsRefused)
  text.metric('weft_relay_reservations_ended_total', 'counter', 'Reservations ended, by class and reason (disconnected, expired, evicted for a member, failed to answer).',
    Object.entries(s.reservationsEnded).flatMap(([c, reasons]) => Object.entries(reasons).map(([r, value]) => ({ labels: { class: c, reason: r }, value }))))
  text.byLabel('weft_relay_connections_total', 'counter', 'Relayed connections opened, by the limits applied.', 'limits', s.connectionsOpened)
  text.single('weft_relay_connections_active', 'gauge', 'Relayed connections open now.', s.connectionsActive)
  text.byLabel('weft_relay_connections_closed_total', 'counter', 'Relayed connections closed, by reason.', 'reason', s.connectionsClosed)
  text.single('weft_relay_bytes_total', 'counter', 'Bytes relayed between the ends of relayed connections (both directions).', s.bytesRelayed)
  text.byLabel('weft_relay_auth_requests_total', 'counter', 'relay-auth requests, by result.', 'result', s.auth)
  text.single('weft_relay_peers_connected', 'gauge', 'Peers with a connection to the relay.', g.peersConnected)
  text.single('weft_relay_peers_admitted', 'gauge', 'Connected peers admitted by an allowed group.', g.peersAdmitted)
  text.single('weft_relay_uptime_seconds', 'gauge', 'Seconds since the relay started.', g.uptimeSeconds)
  return text.render()
}
