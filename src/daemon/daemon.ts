/**
 * The daemon: the composition root, the only place that knows every part.
 * It takes the data-dir lock, opens the replica, starts the network node,
 * serves the control API, and stops all of it in reverse order.
 */
import { statfsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { formatHlc } from '../hlc/index.js'
import { encodeAdmission } from '../auth/certificate.js'
import { createInvite, decodeInviteCode } from '../auth/invite.js'
import { renderInviteQr } from '../auth/qr.js'
import { deviceIdToString, parseDeviceId } from '../oplog/keys.js'
import { InvalidArgumentError, WeftError } from '../errors.js'
import { decodeOp, OP_KINDS, type Op } from '../oplog/op.js'
import { decodeValue, type Value } from '../oplog/value.js'
import { openReplica, type Replica } from '../store/replica.js'
import { RECOVER_HINT } from '../store/sqlite.js'
import { securePermissions } from '../store/store-files.js'
import { checkNoPendingRecovery } from './recover-files.js'
import type { DaemonConfig } from './config.js'
import { ControlApi, HttpError, Router, type ApiRequest, type Route } from './control-api.js'
import { fromJson, toJson } from './json-values.js'
import { acquireLock } from './lock.js'
import type { Logger } from './log.js'
import type { Paths } from './paths.js'
import { renderMetrics } from './metrics.js'
import type { Check, Network, NetworkFactory } from './ports.js'
import { QueryRoutes } from './query-routes.js'

export interface OpView {
  origin: string
  seq: number
  hlc: string
  kind: string
  collection: string
  key: string
  field?: string
  value?: unknown
  signed: boolean
}

function opView (op: Op, origin: string, signed: boolean): OpView {
  const v: OpView = { origin, seq: op.seq, hlc: formatHlc(op.hlc), kind: op.kind, collection: op.collection, key: op.key, signed }
  if (op.field !== '') v.field = op.field
  if (op.kind !== 'delete') v.value = toJson(decodeValue(op.value))
  return v
}

const MAX_OPLOG_LIMIT = 10_000
/** How often the daemon applies held ops the clock has reached, and checks its own clock. */
export const HOUSEKEEPING_INTERVAL_MS = 1000
/** Housekeeping ticks between looks at which peers hold our ops (while our HLC runs ahead). */
const PEER_HOLD_CHECK_TICKS = 15
/** `weft doctor` fails the disk check below this much free space. */
export const LOW_DISK_BYTES = 64 * 1024 * 1024

export interface DaemonOptions {
  /** On a first start, make a group with this device as its only member (`weft recover` joins one instead). @default true */
  createGroup?: boolean
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`

/** A request body as an object of named arguments; no body is an empty one. */
function bodyObject (body: unknown): Record<string, unknown> {
  if (body === undefined) return {}
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgumentError('request body must be a JSON object')
  return body as Record<string, unknown>
}

export class Daemon {
  readonly paths: Paths
  readonly config: DaemonConfig
  readonly log: Logger
  readonly startedAt = Date.now()
  #release: (() => void) | undefined
  #replica: Replica | undefined
  #network: Network | undefined
  #api: ControlApi | undefined
  #queries: QueryRoutes | undefined
  #stopping: Promise<void> | undefined
  readonly #networkFactory: NetworkFactory | undefined
  /** Built on the first request: the query routes exist once the replica is open. */
  #router: Router | undefined
  readonly #options: DaemonOptions
  #housekeeping: NodeJS.Timeout | undefined
  #clockWarned = false
  readonly #heldSeen = new Map<string, number>()
  #lastHousekeepingError: string | undefined
  #ticks = 0
  #holdingLogged = ''

  constructor (paths: Paths, config: DaemonConfig, log: Logger, networkFactory?: NetworkFactory, options: DaemonOptions = {}) {
    this.paths = paths
    this.config = config
    this.log = log
    this.#networkFactory = networkFactory
    this.#options = options
  }

  get replica (): Replica {
    if (this.#replica === undefined) throw new WeftError('the replica is not open', 'NOT_READY')
    return this.#replica
  }

  async start (): Promise<void> {
    this.#release = acquireLock(this.paths.lockFile, this.paths.dataDir)
    try {
      // A data dir made by hand (--data-dir) or restored from a backup may be open to other users: captured data is theirs to read.
      for (const fix of securePermissions(this.paths.dataDir)) {
        this.log('warn', 'narrowed the permissions of the data dir (it was readable by other local users)', { path: fix.path, from: fix.from.toString(8), to: fix.to.toString(8) })
      }
      checkNoPendingRecovery(this.paths.dataDir)
      this.#replica = openReplica({ dir: this.paths.dataDir, maxDriftMs: this.config.maxDriftMs, maxValueBytes: this.config.maxValueBytes })
      if (this.#replica.group === undefined && this.#options.createGroup !== false) {
        // A first start makes a group of one device, so `weft invite` works at once.
        const { groupId } = this.#replica.createGroup(this.config.deviceName)
        this.log('info', 'created a new sync group with this device as its first member', { group: groupId })
      }
      this.#queries = new QueryRoutes(this.#replica, this.log)
      if (this.#networkFactory !== undefined) this.#network = await this.#networkFactory(this.#replica, this.config, this.log)
      this.#api = new ControlApi({
        socket: this.paths.socket,
        runtimeDir: this.paths.runtimeDir,
        tokenFile: this.paths.tokenFile,
        apiPort: this.config.apiPort,
        handle: async req => await this.#route(req),
        log: (level, msg) => this.log(level, msg)
      })
      await this.#api.start()
      this.#housekeep()
      this.#housekeeping = setInterval(() => this.#housekeep(), HOUSEKEEPING_INTERVAL_MS)
      this.#housekeeping.unref()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Stop accepting work, finish the current transaction (better-sqlite3 runs them synchronously), stop libp2p, close the database. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#housekeeping)
      await this.#api?.stop().catch(err => this.log('warn', `stopping the control API: ${String(err)}`))
      await this.#queries?.close().catch(err => this.log('warn', `stopping the query process: ${String(err)}`))
      await this.#network?.stop().catch(err => this.log('warn', `stopping the network: ${String(err)}`))
      this.#replica?.close()
      this.#release?.()
    })()
    await this.#stopping
  }

  status (): Record<string, unknown> {
    const r = this.replica
    let bytes = 0
    for (const f of ['replica.db', 'replica.db-wal', 'tables.db', 'tables.db-wal']) {
      try { bytes += statSync(join(this.paths.dataDir, f)).size } catch {}
    }
    const stats = r.stats()
    return {
      device: r.deviceId,
      deviceName: this.config.deviceName,
      group: r.group?.id ?? null,
      dataDir: this.paths.dataDir,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      hlc: formatHlc(r.hlc),
      clock: this.#clockView(),
      store: { bytes, ops: stats.ops, origins: stats.origins },
      vector: Object.fromEntries(r.versionVector()),
      rejected: stats.rejected,
      equivocating: stats.equivocating.map(id => ({ device: id, name: this.#nameOf(id) })),
      held: r.held().map(h => ({ device: h.deviceId, name: this.#nameOf(h.deviceId), ops: h.ops, fromSeq: h.first, aheadMs: h.firstMs - Date.now(), appliesInMs: Math.max(0, h.firstMs - this.config.maxDriftMs - Date.now()) })),
      network: this.#network === undefined ? null : { peerId: this.#network.peerId, addresses: this.#network.addresses(), incoming: this.#network.incoming?.() ?? [] }
    }
  }

  /** The device's name in the group, if it is a member. */
  #nameOf (deviceId: string): string | null {
    try { return this.replica.membership?.member(parseDeviceId(deviceId))?.name ?? null } catch { return null }
  }

  /**
   * This device's HLC against its wall clock. Once the wall clock was ahead
   * (a wrong RTC, an NTP step back), the HLC keeps stamping that far ahead
   * (it never goes back), and peers hold those ops until their clocks reach them.
   */
  #clockView (): { hlc: string, wall: string, aheadMs: number, maxDriftMs: number, ok: boolean, detail: string } {
    const r = this.replica
    const now = Date.now()
    const ahead = r.hlc.ms - now
    const ok = ahead <= this.config.maxDriftMs
    const detail = ok
      ? 'the HLC is within the drift bound of the wall clock'
      : `this device's HLC is ${seconds(ahead)} ahead of its wall clock (drift bound ${seconds(this.config.maxDriftMs)}): the wall clock was ahead earlier (a wrong RTC or an NTP step back), and the HLC never goes back. ` +
        `Its new ops are stamped that far ahead, so peers hold them until their clocks are within the bound (in about ${seconds(ahead - this.config.maxDriftMs)}); they apply on their own then, nothing to do`
    return { hlc: formatHlc(r.hlc), wall: new Date(now).toISOString(), aheadMs: ahead, maxDriftMs: this.config.maxDriftMs, ok, detail }
  }

  /**
   * Peers that lack our ops stamped beyond the drift bound after a sync:
   * they hold them (or, an older weft, refuse them as drift) until their
   * clocks reach them.
   */
  #peersHoldingOurs (peers: unknown[]): Array<{ peer: string, name: string | null, fromSeq: number, aheadMs: number }> {
    const r = this.replica
    const self = r.oplog.origin(r.deviceKey.publicKey)
    if (self === undefined || self.seq === 0) return []
    const out: Array<{ peer: string, name: string | null, fromSeq: number, aheadMs: number }> = []
    for (const p of peers as Array<{ peerId: string, lastSync?: string, theirVector?: Record<string, number> }>) {
      if (p.lastSync === undefined || p.theirVector === undefined) continue
      const theirs = p.theirVector[r.deviceId] ?? 0
      if (theirs >= self.seq) continue
      const first = r.oplog.read(self, theirs, theirs + 1, 1)[0]
      if (first === undefined) continue
      const ahead = decodeOp({ body: first.body }).hlc.ms - Date.now()
      if (ahead > this.config.maxDriftMs) out.push({ peer: p.peerId, name: this.#nameOf(p.peerId), fromSeq: theirs + 1, aheadMs: ahead })
    }
    return out
  }

  /** Applies held ops the clock has reached, and says in the log when the clock or the quarantine needs attention. */
  #housekeep (): void {
    const r = this.#replica
    if (r === undefined) return
    try {
      const res = r.releaseHeld()
      if (res.applied > 0) this.log('info', 'applied ops that were held until this clock reached them', { applied: res.applied, rejected: res.rejected.length })
      const held = new Map(r.held().map(h => [h.deviceId, h]))
      for (const [device, h] of held) {
        if ((this.#heldSeen.get(device) ?? 0) < h.ops) {
          this.log('warn', 'holding ops stamped ahead of this clock beyond the drift bound; they apply once this clock reaches them', { device, name: this.#nameOf(device), ops: h.ops, aheadSeconds: Math.round((h.firstMs - Date.now()) / 1000) })
        }
      }
      this.#heldSeen.clear()
      for (const [device, h] of held) this.#heldSeen.set(device, h.ops)
      const clock = this.#clockView()
      if (!clock.ok && !this.#clockWarned) this.log('warn', clock.detail, { aheadSeconds: Math.round(clock.aheadMs / 1000) })
      else if (clock.ok && this.#clockWarned) this.log('info', 'this device\'s HLC is back within the drift bound of its wall clock')
      this.#clockWarned = !clock.ok
      // While our stamps run ahead, say which peers hold our ops (a look at the peers' vectors, now and then).
      if (!clock.ok && this.#network !== undefined && ++this.#ticks % PEER_HOLD_CHECK_TICKS === 0) {
        void this.#network.peers().then(peers => {
          const holding = this.#peersHoldingOurs(peers).map(p => p.name ?? p.peer).sort().join(', ')
          if (holding !== '' && holding !== this.#holdingLogged) this.log('warn', 'peers hold this device\'s ops, stamped beyond the drift bound of their clocks, until their clocks reach them', { peers: holding })
          this.#holdingLogged = holding
        }).catch(() => {})
      }
      this.#lastHousekeepingError = undefined
    } catch (err) {
      // Once per distinct failure (a full disk would otherwise log every second).
      const message = (err as Error).message
      if (message !== this.#lastHousekeepingError) this.log('warn', `applying held ops failed: ${message}`, { code: (err as WeftError).code })
      this.#lastHousekeepingError = message
    }
  }

  oplog (q: URLSearchParams): OpView[] {
    const limit = q.has('limit') ? Number(q.get('limit')) : 50
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_OPLOG_LIMIT) throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_OPLOG_LIMIT}`)
    const origin = q.get('origin')
    const collection = q.get('collection')
    const key = q.get('key')
    const since = q.get('since')
    const sinceMs = since === null ? undefined : Date.parse(since)
    if (sinceMs !== undefined && Number.isNaN(sinceMs)) throw new InvalidArgumentError(`since must be a date or time (ISO 8601), got ${JSON.stringify(since)}`)
    const out: Array<{ op: Op, view: OpView }> = []
    for (const row of this.replica.oplog.scan()) {
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

  async #route (req: ApiRequest): Promise<unknown> {
    this.#router ??= new Router(this.#routes())
    return await this.#router.handle(req)
  }

  /** Every endpoint of the control API; docs/control-api.md lists the same. */
  #routes (): Route[] {
    const network = (): Network => {
      if (this.#network === undefined) throw new HttpError(503, 'NO_NETWORK', 'the network is not running in this daemon')
      return this.#network
    }
    const data = (p: Readonly<Record<string, string>>): { collection: string, key: string } => ({ collection: p.collection!, key: p.key! })
    return [
      { path: 'metrics', methods: { GET: () => renderMetrics(this.status(), this.#network?.metrics(), this.replica.stats()) } },
      {
        path: 'v1/status',
        methods: {
          GET: async () => {
            const status = this.status()
            const peers = this.#network === undefined ? [] : await this.#network.peers()
            return { ...status, clock: { ...status.clock as object, peersHolding: this.#peersHoldingOurs(peers) }, peers }
          }
        }
      },
      { path: 'v1/peers', methods: { GET: async () => this.#network === undefined ? [] : await this.#network.peers() } },
      { path: 'v1/relays', methods: { GET: () => this.#network?.relays?.() ?? [] } },
      { path: 'v1/peer-book', methods: { GET: () => this.#network?.peerBook?.() ?? { entries: [], dialer: [] } } },
      ...(this.#queries?.routes() ?? []),
      { path: 'v1/vector', methods: { GET: () => Object.fromEntries(this.replica.versionVector()) } },
      { path: 'v1/oplog', methods: { GET: req => this.oplog(req.query) } },
      { path: 'v1/oplog/follow', methods: { GET: req => this.#follow(req) } },
      { path: 'v1/collections', methods: { GET: () => this.replica.collections() } },
      {
        path: 'v1/sync',
        methods: {
          POST: async req => {
            const peer = bodyObject(req.body).peer
            if (peer !== undefined && typeof peer !== 'string') throw new InvalidArgumentError('"peer" must be a peer id string')
            return await network().syncNow(peer, req.signal)
          }
        }
      },
      { path: 'v1/data/:collection', methods: { GET: (req, p) => this.#list(p.collection!, req.query) } },
      {
        path: 'v1/data/:collection/:key',
        methods: {
          GET: (_, p) => this.#getRow(data(p)),
          PUT: (req, p) => this.#put(data(p), req.body),
          DELETE: (_, p) => { this.replica.delete(p.collection!, p.key!); return { ok: true } }
        }
      },
      { path: 'v1/data/:collection/:key/increment', methods: { POST: (req, p) => this.#increment(data(p), req.body) } },
      { path: 'v1/data/:collection/:key/add', methods: { POST: (req, p) => this.#setOp('add', data(p), req.body) } },
      { path: 'v1/data/:collection/:key/remove', methods: { POST: (req, p) => this.#setOp('remove', data(p), req.body) } },
      { path: 'v1/diff/:peer', methods: { GET: async (_, p) => await this.diff(p.peer!) } },
      { path: 'v1/doctor', methods: { GET: async () => await this.doctor() } },
      { path: 'v1/devices', methods: { GET: () => this.devices() } },
      { path: 'v1/devices/revoke', methods: { POST: req => this.revoke(req.body) } },
      { path: 'v1/invite', methods: { POST: async req => await this.invite(req.body) } },
      { path: 'v1/join', methods: { POST: async req => await this.join(req.body, req.signal) } }
    ]
  }

  /**
   * What each side has that the other lacks, from the peer's version vector
   * as of its last hello (a sync refreshes it): per origin both ways, and per
   * collection for the ops we hold beyond it (we cannot read ops we lack).
   */
  async diff (peer: string): Promise<unknown> {
    if (this.#network === undefined) throw new HttpError(503, 'NO_NETWORK', 'the network is not running in this daemon')
    const views = await this.#network.peers() as Array<{ peerId: string, theirVector?: Record<string, number>, lastSync?: string }>
    const v = views.find(p => p.peerId === peer || p.peerId.startsWith(peer))
    if (v === undefined) throw new HttpError(404, 'NOT_FOUND', `no known peer ${JSON.stringify(peer)}; see weft peers`)
    const theirs = new Map(Object.entries(v.theirVector ?? {}))
    const ours = this.replica.versionVector()
    const weHave = this.replica.countBeyond(theirs)
    const theyHave: Record<string, number> = {}
    for (const [o, s] of theirs) if (s > (ours.get(o) ?? 0)) theyHave[o] = s - (ours.get(o) ?? 0)
    return { peer: v.peerId, asOf: v.lastSync ?? null, localOnly: weHave, peerOnly: { perOrigin: theyHave } }
  }

  /**
   * Checks what usually goes wrong and says it in plain words. Never fails
   * as a whole: a check that cannot run is reported as failed, with why.
   */
  async doctor (): Promise<Check[]> {
    const checks: Check[] = []
    const run = async (name: string, fn: () => Check[] | Promise<Check[]>): Promise<void> => {
      try {
        checks.push(...await fn())
      } catch (err) {
        checks.push({ check: name, ok: false, detail: `could not check: ${(err as Error).message}` })
      }
    }
    await run('database integrity', () => {
      const problems = this.replica.integrityCheck()
      return [{ check: 'database integrity', ok: problems.length === 0, detail: problems.length === 0 ? 'quick_check found no problem' : `quick_check: ${problems.slice(0, 3).join('; ')}. ${RECOVER_HINT}` }]
    })
    await run('disk space', () => {
      const fs = statfsSync(this.paths.dataDir)
      const free = fs.bavail * fs.bsize
      const mib = (free / 1024 / 1024).toFixed(0)
      return [{ check: 'disk space', ok: free >= LOW_DISK_BYTES, detail: free >= LOW_DISK_BYTES ? `${mib} MiB free` : `only ${mib} MiB free on the disk holding ${this.paths.dataDir}: writes fail with DISK_FULL once it is full (reads keep working); free some space` }]
    })
    await run('network', async () => {
      const net = this.#network?.doctor?.()
      return net === undefined ? [{ check: 'network', ok: false, detail: 'the network is not running in this daemon' }] : await net
    })
    await run('equivocation', () => {
      const eq = this.replica.stats().equivocating
      const successors = this.replica.successors()
      if (eq.length === 0) return [{ check: 'equivocation', ok: true, detail: 'no device signed two different ops with one sequence number' }]
      return eq.map(id => {
        const name = this.#nameOf(id)
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
      const clock = this.#clockView()
      if (!clock.ok) out.push({ check: 'clock skew', ok: false, detail: clock.detail })
      const peers = this.#network === undefined ? [] : await this.#network.peers()
      for (const p of this.#peersHoldingOurs(peers)) {
        out.push({ check: 'clock skew', ok: false, detail: `${p.name ?? p.peer} holds this device's ops from seq ${p.fromSeq}: they are stamped ${seconds(p.aheadMs)} ahead of the wall clock, beyond the drift bound; they apply there once its clock reaches them` })
      }
      for (const h of this.replica.held()) {
        const name = this.#nameOf(h.deviceId)
        out.push({ check: 'clock skew', ok: false, detail: `${name === null ? h.deviceId : `${name} (${h.deviceId})`} stamps ops ${seconds(h.firstMs - Date.now())} ahead of this clock: ${h.ops} held until this clock is within ${seconds(this.config.maxDriftMs)} of them (its clock is ahead, or this one is behind)` })
      }
      const drift = this.replica.stats().rejected.drift ?? 0
      if (drift > 0) out.push({ check: 'clock skew', ok: false, detail: `${drift} ops were refused for clock drift (too far ahead of this clock, with no room to hold them)` })
      if (out.length === 0) out.push({ check: 'clock skew', ok: true, detail: 'no device stamps ops beyond the drift bound of this clock, and this clock\'s HLC is within it' })
      return out
    })
    return checks
  }

  devices (): unknown[] {
    const m = this.replica.membership
    if (m === undefined) return []
    const successors = this.replica.successors()
    return m.members().map(d => ({
      device: d.id,
      name: d.name,
      self: d.id === this.replica.deviceId,
      addedBy: d.addedById,
      addedAt: new Date(d.addedAt).toISOString(),
      revoked: d.revoked === undefined ? null : { at: formatHlc(d.revoked.at), by: d.revoked.byId },
      replacedBy: successors.get(d.id) ?? null
    }))
  }

  revoke (body: unknown): unknown {
    const device = (body as { device?: unknown } | undefined)?.device
    if (typeof device !== 'string') throw new InvalidArgumentError('body needs "device": the device id to revoke')
    const pub = parseDeviceId(device)
    const r = this.replica.revoke(pub)
    this.log('info', 'revoked a device', { device })
    return { device, at: formatHlc(r.at) }
  }

  async invite (body: unknown): Promise<unknown> {
    const ttl = (body as { ttlMs?: unknown } | undefined)?.ttlMs
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl))) throw new InvalidArgumentError('"ttlMs" must be an integer number of milliseconds')
    const g = this.replica.group
    if (g === undefined) throw new WeftError('this device is in no group', 'NO_GROUP')
    if (this.#network === undefined) throw new HttpError(503, 'NO_NETWORK', 'the network is not running in this daemon, so no device could reach this one')
    const addresses = this.#network.inviteAddresses()
    const created = createInvite({ group: g.pub, inviter: this.replica.deviceKey.publicKey, addresses, now: Date.now(), ...(ttl === undefined ? {} : { ttlMs: ttl }) })
    await this.replica.invites.add(created.issued)
    await this.replica.invites.prune(Date.now() - 24 * 3600_000)
    let qr: string | null = null
    try { qr = await renderInviteQr(created.code) } catch {}
    return { code: created.code, group: g.id, addresses, expiresAt: new Date(created.invite.expiresAt).toISOString(), qr }
  }

  async join (body: unknown, signal: AbortSignal): Promise<unknown> {
    const b = bodyObject(body)
    if (typeof b.code !== 'string') throw new InvalidArgumentError('body needs "code": the invite code from weft invite')
    if (b.name !== undefined && typeof b.name !== 'string') throw new InvalidArgumentError('"name" must be a string: the name this device shows to the group')
    const name = b.name ?? this.config.deviceName
    const invite = decodeInviteCode(b.code)
    if (this.#network === undefined) throw new HttpError(503, 'NO_NETWORK', 'the network is not running in this daemon')
    const joined = await this.#network.join(invite, name, signal)
    const before = this.replica.group?.id
    this.replica.joinGroup(joined.groupPub, joined.chain.map(encodeAdmission))
    this.log('info', 'joined a group', { group: joined.groupId, left: before })
    // The node's group id, topic and authorization come from the group: start it again, and reach the inviter first.
    const inviter = deviceIdToString(invite.inviter)
    await this.#restartNetwork(invite.addresses.map(a => `${a}/p2p/${inviter}`))
    return { group: joined.groupId, inviter, previousGroup: before ?? null }
  }

  /** One sync session with `peer` (weft recover pulls the group's data through it). */
  async syncWith (peer: string, signal?: AbortSignal): Promise<{ ok: boolean, complete: boolean, opsSent: number, opsReceived: number, error: { code: string, message: string } | null }> {
    if (this.#network === undefined) throw new HttpError(503, 'NO_NETWORK', 'the network is not running in this daemon')
    return await this.#network.syncNow(peer, signal) as { ok: boolean, complete: boolean, opsSent: number, opsReceived: number, error: { code: string, message: string } | null }
  }

  async #restartNetwork (extraPeers: string[]): Promise<void> {
    if (this.#networkFactory === undefined) return
    await this.#network?.stop().catch(err => this.log('warn', `stopping the network: ${String(err)}`))
    this.#network = undefined
    this.#network = await this.#networkFactory(this.replica, this.config, this.log, extraPeers)
  }

  #list (collection: string, q: URLSearchParams): unknown {
    const limit = q.has('limit') ? Number(q.get('limit')) : 100
    const after = q.get('after')
    return this.replica.list(collection, { limit, ...(after === null ? {} : { after }) }).map(row => ({ key: row.key, fields: toJson(row.fields) }))
  }

  #getRow ({ collection, key }: { collection: string, key: string }): unknown {
    const row = this.replica.get(collection, key)
    if (row === undefined) throw new HttpError(404, 'NOT_FOUND', `no row ${JSON.stringify(key)} in ${JSON.stringify(collection)}`)
    return toJson(row)
  }

  #put ({ collection, key }: { collection: string, key: string }, body: unknown): unknown {
    this.replica.put(collection, key, fromJson(bodyObject(body).fields, 'fields') as Record<string, Value>)
    return { ok: true }
  }

  #increment ({ collection, key }: { collection: string, key: string }, body: unknown): unknown {
    const { field, by = 1 } = bodyObject(body)
    if (typeof field !== 'string') throw new InvalidArgumentError('body needs "field": the field name')
    if (typeof by !== 'number') throw new InvalidArgumentError('"by" must be an integer')
    this.replica.increment(collection, key, field, by)
    return { ok: true }
  }

  #setOp (action: 'add' | 'remove', { collection, key }: { collection: string, key: string }, body: unknown): unknown {
    const obj = bodyObject(body)
    if (typeof obj.field !== 'string') throw new InvalidArgumentError('body needs "field": the field name')
    if (!('element' in obj)) throw new InvalidArgumentError('body needs "element": the set element')
    const element = fromJson(obj.element, 'element') as Value
    if (action === 'add') this.replica.add(collection, key, obj.field, element)
    else this.replica.remove(collection, key, obj.field, element)
    return { ok: true }
  }

  /** Streams new ops as JSON lines until the client disconnects. */
  #follow (req: ApiRequest): undefined {
    const res = req.res
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const unsubscribe = this.replica.subscribe(e => {
      for (const op of e.ops) res.write(JSON.stringify(opView(op, this.#deviceIdOf(op), op.sig !== undefined)) + '\n')
    })
    req.signal.addEventListener('abort', () => unsubscribe(), { once: true })
    return undefined
  }

  #deviceIdOf (op: Op): string {
    return this.replica.oplog.origin(op.origin)?.deviceId ?? Buffer.from(op.origin).toString('hex')
  }
}

export { OP_KINDS }
