/**
 * Looking inside: status, metrics, the version vector, the oplog (and a
 * stream of new ops), what a peer lacks, and the doctor's checks.
 *
 *   GET /metrics            Prometheus text
 *   GET /v1/status
 *   GET /v1/vector
 *   GET /v1/oplog           ?origin=&collection=&key=&since=&limit=
 *   GET /v1/oplog/follow    NDJSON, one op per line, until the client goes away
 *   GET /v1/diff/:peer
 *   GET /v1/doctor
 */
import { statfsSync } from 'node:fs'
import { InvalidArgumentError } from '../../errors.js'
import { decodeOp, type Op } from '../../oplog/op.js'
import { RECOVER_HINT } from '../../store/sqlite.js'
import type { Check, DiffResponse, OpView, StatusResponse, VersionVector } from '../api-types.js'
import { HttpError, type ApiRequest, type Route } from '../control-api.js'
import { renderMetrics } from '../metrics.js'
import { clockView, nameOf, opView, peersHoldingOurs, seconds, status } from '../views.js'
import { requireNetwork, type DaemonContext } from './context.js'
import { peers } from './peers.js'

/** The most ops one `GET /v1/oplog` returns. */
export const MAX_OPLOG_LIMIT = 10_000
/** Ops `GET /v1/oplog` returns without a limit. */
const DEFAULT_OPLOG_LIMIT = 50
/** `weft doctor` fails the disk check below this much free space. */
export const LOW_DISK_BYTES = 64 * 1024 * 1024

export function inspectRoutes (d: DaemonContext): Route[] {
  return [
    { path: 'metrics', methods: { GET: () => renderMetrics(status(d), d.network?.metrics(), d.replica.stats()) } },
    {
      path: 'v1/status',
      methods: {
        GET: async (): Promise<StatusResponse> => {
          const s = status(d)
          const known = await peers(d)
          return { ...s, clock: { ...s.clock, peersHolding: peersHoldingOurs(d, known) }, peers: known }
        }
      }
    },
    { path: 'v1/vector', methods: { GET: (): VersionVector => Object.fromEntries(d.replica.versionVector()) } },
    { path: 'v1/oplog', methods: { GET: req => oplog(d, req.query) } },
    { path: 'v1/oplog/follow', methods: { GET: req => follow(d, req) } },
    { path: 'v1/diff/:peer', methods: { GET: async (_req, p) => await diff(d, p.peer!) } },
    { path: 'v1/doctor', methods: { GET: async () => await doctor(d) } }
  ]
}

/** The oplog, newest first by HLC, filtered by the query's origin prefix, collection, key and time. */
export function oplog (d: DaemonContext, q: URLSearchParams): OpView[] {
  const limit = q.has('limit') ? Number(q.get('limit')) : DEFAULT_OPLOG_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_OPLOG_LIMIT) throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_OPLOG_LIMIT}`)
  const origin = q.get('origin')
  const collection = q.get('collection')
  const key = q.get('key')
  const since = q.get('since')
  const sinceMs = since === null ? undefined : Date.parse(since)
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) throw new InvalidArgumentError(`since must be a date or time (ISO 8601), got ${JSON.stringify(since)}`)
  const out: Array<{ op: Op, view: OpView }> = []
  for (const row of d.replica.oplog.scan()) {
    const id = row.origin?.deviceId ?? '?'
    if (origin !== null && !id.startsWith(origin)) continue
    const op = decodeOp({ body: row.body })
    if (collection !== null && op.collection !== collection) continue
    if (key !== null && op.key !== key) continue
    if (sinceMs !== undefined && op.hlc.ms < sinceMs) continue
    out.push({ op, view: opView(op, id, row.signed) })
  }
  // Newest first by HLC (ties by origin), then cut.
  out.sort((a, b) => b.op.hlc.ms - a.op.hlc.ms || b.op.hlc.counter - a.op.hlc.counter || (a.view.origin < b.view.origin ? 1 : -1))
  return out.slice(0, limit).map(o => o.view)
}

/** Streams new ops as JSON lines until the client disconnects. */
function follow (d: DaemonContext, req: ApiRequest): undefined {
  const res = req.res
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  const deviceIdOf = (op: Op): string => d.replica.oplog.origin(op.origin)?.deviceId ?? Buffer.from(op.origin).toString('hex')
  const unsubscribe = d.replica.subscribe(e => {
    for (const op of e.ops) res.write(JSON.stringify(opView(op, deviceIdOf(op), op.sig !== undefined)) + '\n')
  })
  req.signal.addEventListener('abort', () => unsubscribe(), { once: true })
  return undefined
}

/**
 * What each side has that the other lacks, from the peer's version vector
 * as of its last hello (a sync refreshes it): per origin both ways, and per
 * collection for the ops we hold beyond it (we cannot read ops we lack).
 */
export async function diff (d: DaemonContext, peer: string): Promise<DiffResponse> {
  const views = await requireNetwork(d).peers()
  const v = views.find(p => p.peerId === peer || p.peerId.startsWith(peer))
  if (v === undefined) throw new HttpError('NOT_FOUND', `no known peer ${JSON.stringify(peer)}; see weft peers`)
  const theirs = new Map(Object.entries(v.theirVector))
  const ours = d.replica.versionVector()
  const weHave = d.replica.countBeyond(theirs)
  const theyHave: Record<string, number> = {}
  for (const [o, s] of theirs) if (s > (ours.get(o) ?? 0)) theyHave[o] = s - (ours.get(o) ?? 0)
  return { peer: v.peerId, asOf: v.lastSync ?? null, localOnly: weHave, peerOnly: { perOrigin: theyHave } }
}

/**
 * Checks what usually goes wrong and says it in plain words. Never fails
 * as a whole: a check that cannot run is reported as failed, with why.
 */
export async function doctor (d: DaemonContext): Promise<Check[]> {
  const checks: Check[] = []
  const run = async (name: string, fn: () => Check[] | Promise<Check[]>): Promise<void> => {
    try {
      checks.push(...await fn())
    } catch (err) {
      checks.push({ check: name, ok: false, detail: `could not check: ${(err as Error).message}` })
    }
  }
  await run('database integrity', () => {
    const problems = d.replica.integrityCheck()
    return [{ check: 'database integrity', ok: problems.length === 0, detail: problems.length === 0 ? 'quick_check found no problem' : `quick_check: ${problems.slice(0, 3).join('; ')}. ${RECOVER_HINT}` }]
  })
  await run('disk space', () => {
    const fs = statfsSync(d.paths.dataDir)
    const free = fs.bavail * fs.bsize
    const mib = (free / 1024 / 1024).toFixed(0)
    return [{ check: 'disk space', ok: free >= LOW_DISK_BYTES, detail: free >= LOW_DISK_BYTES ? `${mib} MiB free` : `only ${mib} MiB free on the disk holding ${d.paths.dataDir}: writes fail with DISK_FULL once it is full (reads keep working); free some space` }]
  })
  await run('network', async () => {
    const net = d.network?.doctor?.()
    return net === undefined ? [{ check: 'network', ok: false, detail: 'the network is not running in this daemon' }] : await net
  })
  await run('equivocation', () => {
    const eq = d.replica.stats().equivocating
    const successors = d.replica.successors()
    if (eq.length === 0) return [{ check: 'equivocation', ok: true, detail: 'no device signed two different ops with one sequence number' }]
    return eq.map(id => {
      const name = nameOf(d, id)
      const who = name === null ? id : `${name} (${id})`
      const replaced = successors.get(id)
      return {
        check: 'equivocation',
        ok: false,
        detail: `${who} signed two different ops with the same sequence number: its store was reset or restored while it kept its key, and its ops from there on are refused. ` +
          (replaced !== undefined ? `It was replaced by ${replaced} (weft recover).` : `On that device, stop weft and run weft recover with a code from weft invite here; to cut it off now: weft devices revoke ${id}`)
      }
    })
  })
  await run('clock skew', async () => {
    const out: Check[] = []
    const clock = clockView(d)
    if (!clock.ok) out.push({ check: 'clock skew', ok: false, detail: clock.detail })
    for (const p of peersHoldingOurs(d, await peers(d))) {
      out.push({ check: 'clock skew', ok: false, detail: `${p.name ?? p.peer} holds this device's ops from seq ${p.fromSeq}: they are stamped ${seconds(p.aheadMs)} ahead of the wall clock, beyond the drift bound; they apply there once its clock reaches them` })
    }
    for (const h of d.replica.held()) {
      const name = nameOf(d, h.deviceId)
      out.push({ check: 'clock skew', ok: false, detail: `${name === null ? h.deviceId : `${name} (${h.deviceId})`} stamps ops ${seconds(h.firstMs - Date.now())} ahead of this clock: ${h.ops} held until this clock is within ${seconds(d.config.maxDriftMs)} of them (its clock is ahead, or this one is behind)` })
    }
    const drift = d.replica.stats().rejected.drift ?? 0
    if (drift > 0) out.push({ check: 'clock skew', ok: false, detail: `${drift} ops were refused for clock drift (too far ahead of this clock, with no room to hold them)` })
    if (out.length === 0) out.push({ check: 'clock skew', ok: true, detail: 'no device stamps ops beyond the drift bound of this clock, and this clock\'s HLC is within it' })
    return out
  })
  return checks
}
