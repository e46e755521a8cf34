/**
 * The daemon's state as the control API and the log show it: status, the
 * clock against the wall clock, who holds whose ops, ops as JSON. Shared by
 * the routes, the housekeeping and the metrics.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { formatHlc } from '../hlc/index.js'
import { parseDeviceId } from '../oplog/keys.js'
import { decodeOp, type Op } from '../oplog/op.js'
import { decodeValue } from '../oplog/value.js'
import type { ClockView, DaemonStatus, OpView, PeerHolding, PeerView } from './api-types.js'
import { toJson } from './json-values.js'
import type { DaemonContext } from './routes/context.js'

export const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`

/** The files whose sizes `status.store.bytes` adds up. */
const STORE_FILES = ['replica.db', 'replica.db-wal', 'tables.db', 'tables.db-wal']

export function status (d: DaemonContext): DaemonStatus {
  const r = d.replica
  let bytes = 0
  for (const f of STORE_FILES) {
    try { bytes += statSync(join(d.paths.dataDir, f)).size } catch {}
  }
  const stats = r.stats()
  const network = d.network
  return {
    device: r.deviceId,
    deviceName: d.config.deviceName,
    group: r.group?.id ?? null,
    dataDir: d.paths.dataDir,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
    hlc: formatHlc(r.hlc),
    clock: clockView(d),
    store: { bytes, ops: stats.ops, origins: stats.origins },
    vector: Object.fromEntries(r.versionVector()),
    rejected: stats.rejected,
    equivocating: stats.equivocating.map(id => ({ device: id, name: nameOf(d, id) })),
    held: r.held().map(h => ({
      device: h.deviceId,
      name: nameOf(d, h.deviceId),
      ops: h.ops,
      fromSeq: h.first,
      aheadMs: h.firstMs - Date.now(),
      appliesInMs: Math.max(0, h.firstMs - d.config.maxDriftMs - Date.now())
    })),
    network: network === undefined ? null : { peerId: network.peerId, addresses: network.addresses(), incoming: network.incoming?.() ?? [] }
  }
}

/** The device's name in the group, if it is a member. */
export function nameOf (d: DaemonContext, deviceId: string): string | null {
  try { return d.replica.membership?.member(parseDeviceId(deviceId))?.name ?? null } catch { return null }
}

/**
 * This device's HLC against its wall clock. Once the wall clock was ahead
 * (a wrong RTC, an NTP step back), the HLC keeps stamping that far ahead
 * (it never goes back), and peers hold those ops until their clocks reach them.
 */
export function clockView (d: DaemonContext): ClockView {
  const r = d.replica
  const maxDriftMs = d.config.maxDriftMs
  const now = Date.now()
  const ahead = r.hlc.ms - now
  const ok = ahead <= maxDriftMs
  const detail = ok
    ? 'the HLC is within the drift bound of the wall clock'
    : `this device's HLC is ${seconds(ahead)} ahead of its wall clock (drift bound ${seconds(maxDriftMs)}): the wall clock was ahead earlier (a wrong RTC or an NTP step back), and the HLC never goes back. ` +
      `Its new ops are stamped that far ahead, so peers hold them until their clocks are within the bound (in about ${seconds(ahead - maxDriftMs)}); they apply on their own then, nothing to do`
  return { hlc: formatHlc(r.hlc), wall: new Date(now).toISOString(), aheadMs: ahead, maxDriftMs, ok, detail }
}

/**
 * Peers that lack our ops stamped beyond the drift bound after a sync:
 * they hold them (or, an older weft, refuse them as drift) until their
 * clocks reach them.
 */
export function peersHoldingOurs (d: DaemonContext, peers: readonly PeerView[]): PeerHolding[] {
  const r = d.replica
  const self = r.oplog.origin(r.deviceKey.publicKey)
  if (self === undefined || self.seq === 0) return []
  const out: PeerHolding[] = []
  for (const p of peers) {
    if (p.lastSync === undefined) continue
    const theirs = p.theirVector[r.deviceId] ?? 0
    if (theirs >= self.seq) continue
    const first = r.oplog.read(self, theirs, theirs + 1, 1)[0]
    if (first === undefined) continue
    const ahead = decodeOp({ body: first.body }).hlc.ms - Date.now()
    if (ahead > d.config.maxDriftMs) out.push({ peer: p.peerId, name: nameOf(d, p.peerId), fromSeq: theirs + 1, aheadMs: ahead })
  }
  return out
}

export function opView (op: Op, origin: string, signed: boolean): OpView {
  const v: OpView = { origin, seq: op.seq, hlc: formatHlc(op.hlc), kind: op.kind, collection: op.collection, key: op.key, signed }
  if (op.field !== '') v.field = op.field
  if (op.kind !== 'delete') v.value = toJson(decodeValue(op.value))
  return v
}
