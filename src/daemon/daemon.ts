/**
 * The daemon: the composition root, the only place that knows every part.
 * It takes the data-dir lock, opens the replica, starts the network node,
 * serves the control API, and stops all of it in reverse order.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { formatHlc } from '../hlc/index.js'
import { encodeAdmission } from '../auth/certificate.js'
import { createInvite, decodeInviteCode, type Invite } from '../auth/invite.js'
import type { Joined } from '../auth/pairing.js'
import { renderInviteQr } from '../auth/qr.js'
import { deviceIdToString, parseDeviceId } from '../oplog/keys.js'
import { InvalidArgumentError, WeftError } from '../errors.js'
import { decodeOp, OP_KINDS, type Op } from '../oplog/op.js'
import { decodeValue, type Value } from '../oplog/value.js'
import { openReplica, type Replica } from '../store/replica.js'
import type { DaemonConfig } from './config.js'
import { ControlApi, HttpError, type ApiRequest } from './control-api.js'
import { fromJson, toJson } from './json-values.js'
import { acquireLock } from './lock.js'
import type { Logger } from './log.js'
import type { Paths } from './paths.js'
import { renderMetrics } from './metrics.js'
import { QueryRoutes } from './query-routes.js'

/** What the daemon needs from the network layer; absent until it is started. */
export interface Network {
  readonly peerId: string
  addresses(): string[]
  peers(): Promise<unknown[]>
  syncNow(peer?: string, signal?: AbortSignal): Promise<unknown>
  metrics(): NetworkMetrics
  /** Where a joiner can reach us, for invite codes. */
  inviteAddresses(): string[]
  /** Relay connection and reservation state. */
  relays?(): unknown
  /** Network checks for `weft doctor`. */
  doctor?(): Promise<Array<{ check: string, ok: boolean | null, detail: string }>>
  /** The joiner's side of pairing. */
  join(invite: Invite, name: string, signal?: AbortSignal): Promise<Joined>
  stop(): Promise<void>
}

export interface NetworkMetrics {
  peers: { direct: number, relayed: number }
  opsSent: number
  opsReceived: number
  sessions: number
  sessionErrors: number
  lastSyncAt: number | undefined
}

export type NetworkFactory = (replica: Replica, config: DaemonConfig, log: Logger, extraPeers?: string[]) => Promise<Network>

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

  constructor (paths: Paths, config: DaemonConfig, log: Logger, networkFactory?: NetworkFactory) {
    this.paths = paths
    this.config = config
    this.log = log
    this.#networkFactory = networkFactory
  }

  get replica (): Replica {
    if (this.#replica === undefined) throw new WeftError('the replica is not open', 'NOT_READY')
    return this.#replica
  }

  async start (): Promise<void> {
    this.#release = acquireLock(this.paths.lockFile, this.paths.dataDir)
    try {
      this.#replica = openReplica({ dir: this.paths.dataDir, maxDriftMs: this.config.maxDriftMs, maxValueBytes: this.config.maxValueBytes })
      if (this.#replica.group === undefined) {
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
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Stop accepting work, finish the current transaction (better-sqlite3 runs them synchronously), stop libp2p, close the database. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
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
      store: { bytes, ops: stats.ops, origins: stats.origins },
      vector: Object.fromEntries(r.versionVector()),
      rejected: stats.rejected,
      equivocating: stats.equivocating,
      network: this.#network === undefined ? null : { peerId: this.#network.peerId, addresses: this.#network.addresses() }
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
    const [root, ...rest] = req.path
    const m = req.method
    const r = this.replica
    if (root === 'metrics' && m === 'GET') return renderMetrics(this.status(), this.#network?.metrics(), r.stats())
    if (root !== 'v1') throw new HttpError(404, 'NOT_FOUND', `no such endpoint: /${req.path.join('/')}`)
    const [what, a, b, c] = rest
    switch (what) {
      case 'status':
        if (m === 'GET') return { ...this.status(), peers: this.#network === undefined ? [] : await this.#network.peers() }
        break
      case 'peers':
        if (m === 'GET') return this.#network === undefined ? [] : await this.#network.peers()
        break
      case 'relays':
        if (m === 'GET') return this.#network?.relays?.() ?? []
        break
      case 'vector':
        if (m === 'GET') return Object.fromEntries(r.versionVector())
        break
      case 'oplog':
        if (m === 'GET' && a === undefined) return this.oplog(req.query)
        if (m === 'GET' && a === 'follow') return this.#follow(req)
        break
      case 'collections':
        if (m === 'GET') return r.collections()
        break
      case 'sync':
        if (m === 'POST') {
          if (this.#network === undefined) throw new HttpError(503, 'NO_NETWORK', 'the network is not running in this daemon')
          const peer = (req.body as { peer?: unknown } | undefined)?.peer
          if (peer !== undefined && typeof peer !== 'string') throw new InvalidArgumentError('peer must be a peer id string')
          return await this.#network.syncNow(peer, req.signal)
        }
        break
      case 'data':
        return this.#data(m, a, b, c, req.body, req.query)
      case 'query':
      case 'schemas':
        return await this.#queries!.route(req)
      case 'diff':
        if (m === 'GET' && a !== undefined) return await this.diff(a)
        break
      case 'doctor':
        if (m === 'GET') return await this.doctor()
        break
      case 'devices':
        if (m === 'GET' && a === undefined) return this.devices()
        if (m === 'POST' && a === 'revoke') return this.revoke(req.body)
        break
      case 'invite':
        if (m === 'POST') return await this.invite(req.body)
        break
      case 'join':
        if (m === 'POST') return await this.join(req.body, req.signal)
        break
    }
    throw new HttpError(405, 'BAD_REQUEST', `${m} /${req.path.join('/')} is not an endpoint`)
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

  /** Checks what usually goes wrong and says it in plain words. */
  async doctor (): Promise<unknown> {
    const checks: Array<{ check: string, ok: boolean | null, detail: string }> = []
    const problems = this.replica.integrityCheck()
    checks.push({ check: 'database integrity', ok: problems.length === 0, detail: problems.length === 0 ? 'quick_check found no problem' : problems.slice(0, 3).join('; ') })
    const doctorNet = this.#network?.doctor?.()
    if (doctorNet !== undefined) checks.push(...await doctorNet)
    else checks.push({ check: 'network', ok: false, detail: 'the network is not running in this daemon' })
    // Clock skew: a device whose newest op is stamped ahead of our wall clock runs fast (or we run slow).
    const now = Date.now()
    const skewed: string[] = []
    for (const o of this.replica.oplog.origins()) {
      if (o.hlc === undefined || o.deviceId === this.replica.deviceId) continue
      const ahead = o.hlc.ms - now
      if (ahead > 1000) skewed.push(`${o.deviceId} stamps ops ${Math.round(ahead / 1000)} s ahead of this clock`)
    }
    const drift = this.replica.stats().rejected.drift ?? 0
    checks.push({ check: 'clock skew', ok: skewed.length === 0 && drift === 0, detail: skewed.length === 0 && drift === 0 ? 'no peer stamps ops ahead of this clock' : [...skewed, drift > 0 ? `${drift} ops were refused for clock drift` : ''].filter(x => x !== '').join('; ') })
    return checks
  }

  devices (): unknown[] {
    const m = this.replica.membership
    if (m === undefined) return []
    return m.members().map(d => ({
      device: d.id,
      name: d.name,
      self: d.id === this.replica.deviceId,
      addedBy: d.addedById,
      addedAt: new Date(d.addedAt).toISOString(),
      revoked: d.revoked === undefined ? null : { at: formatHlc(d.revoked.at), by: d.revoked.byId }
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
    const b = (body ?? {}) as { code?: unknown, name?: unknown }
    if (typeof b.code !== 'string') throw new InvalidArgumentError('body needs "code": the invite code from weft invite')
    const name = typeof b.name === 'string' ? b.name : this.config.deviceName
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

  async #restartNetwork (extraPeers: string[]): Promise<void> {
    if (this.#networkFactory === undefined) return
    await this.#network?.stop().catch(err => this.log('warn', `stopping the network: ${String(err)}`))
    this.#network = undefined
    this.#network = await this.#networkFactory(this.replica, this.config, this.log, extraPeers)
  }

  #data (m: string, collection: string | undefined, key: string | undefined, action: string | undefined, body: unknown, q: URLSearchParams): unknown {
    const r = this.replica
    if (collection === undefined) throw new InvalidArgumentError('name a collection: /v1/data/<collection>[/<key>]')
    if (key === undefined) {
      if (m !== 'GET') throw new HttpError(405, 'BAD_REQUEST', 'a collection can only be listed (GET)')
      const limit = q.has('limit') ? Number(q.get('limit')) : 100
      const after = q.get('after')
      return r.list(collection, { limit, ...(after === null ? {} : { after }) }).map(row => ({ key: row.key, fields: toJson(row.fields) }))
    }
    const obj = (body ?? {}) as Record<string, unknown>
    if (typeof obj !== 'object' || Array.isArray(obj)) throw new InvalidArgumentError('request body must be a JSON object')
    if (action === undefined) {
      if (m === 'GET') {
        const row = r.get(collection, key)
        if (row === undefined) throw new HttpError(404, 'NOT_FOUND', `no row ${JSON.stringify(key)} in ${JSON.stringify(collection)}`)
        return toJson(row)
      }
      if (m === 'PUT') { r.put(collection, key, fromJson(obj.fields) as Record<string, Value>); return { ok: true } }
      if (m === 'DELETE') { r.delete(collection, key); return { ok: true } }
    } else if (m === 'POST') {
      const field = obj.field
      if (typeof field !== 'string') throw new InvalidArgumentError('body needs "field": the field name')
      if (action === 'increment') {
        const by = obj.by ?? 1
        if (typeof by !== 'number') throw new InvalidArgumentError('"by" must be an integer')
        r.increment(collection, key, field, by); return { ok: true }
      }
      if (action === 'add' || action === 'remove') {
        if (!('element' in obj)) throw new InvalidArgumentError('body needs "element": the set element')
        const element = fromJson(obj.element) as Value
        if (action === 'add') r.add(collection, key, field, element)
        else r.remove(collection, key, field, element)
        return { ok: true }
      }
    }
    throw new HttpError(405, 'BAD_REQUEST', `${m} on /v1/data/${collection}/${key}${action === undefined ? '' : '/' + action} is not an endpoint`)
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
