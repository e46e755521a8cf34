/**
 * A replica: one device's copy of the data, in one SQLite file.
 *
 * Local writes become ops stamped with the device's HLC, chained to the
 * device's previous op and signed once per call (or per `batch`). Remote ops
 * go through `applyRemote`. Both update the materialized state tables in the
 * same transaction as the oplog and the persisted clock, so the store is
 * never half-applied and the HLC stays monotonic across restarts.
 *
 * Durability: local writes commit with synchronous=FULL (WAL fsynced before
 * the call returns). Remote batches commit with synchronous=NORMAL: a power
 * cut can lose the last remote batches, never corrupt the file, and the
 * version vector then asks peers for them again.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { decodeHlc, encodeHlc, HybridClock, maxHlc, ZERO_HLC, type Hlc, type WallClock } from '../hlc/index.js'
import { ClosedError, InvalidArgumentError, StoreOpenError } from '../errors.js'
import { DeviceKey, deviceIdToString, SignatureVerifier } from '../oplog/keys.js'
import { createOp, decodeOp, DEFAULT_MAX_VALUE_BYTES, MAX_COLLECTION_BYTES, MAX_FIELD_BYTES, MAX_INCREMENT, MAX_KEY_BYTES, signingMessage, withSignature, ZERO_HASH, type EncodedOp, type Op, type OpKind } from '../oplog/op.js'
import { decodeValue, encodeValue, type Value } from '../oplog/value.js'
import type { ApplyResult, OpsPage, OpsSinceOptions, SyncStore, VersionVector } from '../protocol/port.js'
import { planApply, resultOf, writePlan, type ApplyContext, type OriginAuthorizer } from './apply-remote.js'
import { loadOrCreateDeviceKey } from './device-key-file.js'
import { loadMigrations, migrate } from './migrate.js'
import { TrustTables } from './trust-tables.js'
import { createGroup, groupIdToString } from '../auth/group.js'
import { decodeRecord, encodeRecord, recordId, signAdmission, signRevocation, type Admission, type MembershipRecord, type Revocation } from '../auth/certificate.js'
import { Membership, type AddResult } from '../auth/membership.js'
import type { InviteStore } from '../auth/invite-store.js'
import { OplogTables, SIGNATURE_EVERY_BYTES, SIGNATURE_EVERY_OPS, type OriginHead } from './oplog-store.js'
import { openDatabase, quickCheck, type Db } from './sqlite.js'
import { fieldToValue, StateTables } from './state.js'
import { DeclaredTables, TABLES_FILE, type CollectionSchema, type DeclareResult, type LiveQuery, type LiveQueryListener, type LiveQueryOptions, type QueryOptions, type QueryParams, type QueryResult, type SchemaInfo } from './tables/index.js'

/** Most ops one local call (or batch) may write: a batch is signed once and must fit one sync page. */
export const MAX_BATCH_OPS = 10_000

export interface ReplicaOptions {
  /** Directory holding `replica.db` and `device.key` (created 0700 if missing). */
  dir: string
  /** Wall clock in ms. @default Date.now */
  wallClock?: WallClock
  /** Max ms a remote HLC may be ahead of our wall clock. @default 60000 */
  maxDriftMs?: number
  /** Max encoded size of one value. @default 1048576 (1 MiB) */
  maxValueBytes?: number
  /** Use this key instead of the directory's `device.key`. */
  deviceKey?: DeviceKey
  /** Called for every remote op's origin before it is applied (group membership). */
  authorize?: OriginAuthorizer
  /**
   * Collection schemas to declare at open (see `declareSchema`): weft keeps
   * a SQL table of each, for `query`. Declaring is idempotent; a changed
   * schema needs a new version. @default {}
   */
  schemas?: Record<string, CollectionSchema>
}

export interface ChangeEvent {
  readonly source: 'local' | 'remote'
  /** The ops applied, in order. Local batches end with a signed op. */
  readonly ops: readonly Op[]
}

export type ChangeListener = (event: ChangeEvent) => void

export interface ListOptions {
  /** Return keys strictly after this one. */
  after?: string
  /** @default 100 */
  limit?: number
}

export interface Row { readonly key: string, readonly fields: Record<string, unknown> }

interface Intent { kind: OpKind, collection: string, key: string, field: string, value: Uint8Array, element?: Uint8Array }

/** Writes available inside `batch`. */
export interface Writer {
  put(collection: string, key: string, fields: Record<string, Value>): void
  delete(collection: string, key: string): void
  increment(collection: string, key: string, field: string, by?: number): void
  add(collection: string, key: string, field: string, element: Value): void
  remove(collection: string, key: string, field: string, element: Value): void
}

const textBytes = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Collections weft keeps for itself (membership records); apps cannot write them. */
export const RESERVED_PREFIX = '_weft.'
export const MEMBERS_COLLECTION = '_weft.members'

function checkNotReserved (collection: string): void {
  if (collection.startsWith(RESERVED_PREFIX)) throw new InvalidArgumentError(`collection names starting with ${RESERVED_PREFIX} are reserved for weft`)
}

function checkName (what: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string, got ${v === '' ? 'an empty string' : typeof v}`)
  if (textBytes(v) > max) throw new InvalidArgumentError(`${what} is ${textBytes(v)} bytes, over the ${max}-byte limit`)
  // SQLite TEXT cuts at U+0000, and a lone surrogate would be stored as other
  // bytes than the op's UTF-8 body carries to peers: both break convergence.
  if (v.includes('\u0000')) throw new InvalidArgumentError(`${what} may not contain U+0000`)
  if (LONE_SURROGATE.test(v)) throw new InvalidArgumentError(`${what} is not well-formed Unicode (it holds a lone surrogate)`)
  return v
}

const LONE_SURROGATE = /\p{Cs}/u

export class Replica implements SyncStore {
  readonly dir: string
  readonly deviceKey: DeviceKey
  readonly deviceId: string
  readonly #db: Db
  readonly #oplog: OplogTables
  readonly #state: StateTables
  readonly #tables: DeclaredTables
  readonly #clock: HybridClock
  readonly #ctx: ApplyContext
  readonly #maxValueBytes: number
  readonly #listeners = new Set<ChangeListener>()
  #trust!: TrustTables
  #membership: Membership | undefined
  #closed = false
  #sync: 'FULL' | 'NORMAL' = 'FULL'

  constructor (options: ReplicaOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') throw new InvalidArgumentError('openReplica needs { dir }: the directory for the replica files')
    this.dir = options.dir
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
    this.deviceKey = options.deviceKey ?? loadOrCreateDeviceKey(join(this.dir, 'device.key'))
    this.deviceId = this.deviceKey.id
    const file = join(this.dir, 'replica.db')
    this.#db = openDatabase(file, loadMigrations().length)
    try {
      migrate(this.#db, file)
      this.#oplog = new OplogTables(this.#db)
      this.#state = new StateTables(this.#db)
      this.#tables = new DeclaredTables(this.#db, join(this.dir, TABLES_FILE))
      const persisted = this.#oplog.getMeta('hlc')
      const last = persisted === undefined ? ZERO_HLC : decodeHlc(Buffer.from(persisted).toString('latin1'))
      this.#clock = new HybridClock({ ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }), ...(options.maxDriftMs === undefined ? {} : { maxDriftMs: options.maxDriftMs }), last })
      this.#trust = new TrustTables(this.#db)
      this.#loadMembership()
      const external = options.authorize
      this.#ctx = {
        oplog: this.#oplog,
        state: this.#state,
        clock: this.#clock,
        verifier: new SignatureVerifier(),
        limits: { maxValueBytes: this.#maxValueBytes },
        // In a group, only members write, and a revoked device only before its revocation.
        authorize: (origin, hlc) => (this.#membership === undefined || this.#membership.isMember(origin, hlc)) &&
          (external === undefined || external(deviceIdToString(origin), hlc)),
        harvest: ops => { this.#harvest(ops) }
      }
      this.#db.transaction(() => this.#oplog.ensureOrigin(this.deviceKey.publicKey))()
    } catch (err) {
      this.#db.close()
      // Damage past the pages openDatabase probes shows up here, reading the heads.
      if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('SQLITE_')) {
        throw new StoreOpenError(`database ${file} is corrupt or unreadable: ${(err as Error).message}. Move it aside to start a fresh replica, or restore it from a backup`, { cause: err })
      }
      throw err
    }
    try {
      for (const [collection, schema] of Object.entries(options.schemas ?? {})) this.declareSchema(collection, schema)
    } catch (err) {
      this.close()
      throw err
    }
  }

  #open (): void { if (this.#closed) throw new ClosedError() }

  /** Our own head. Looked up, not kept: a rolled-back transaction reloads the heads as new objects. */
  get #self (): OriginHead { return this.#oplog.origin(this.deviceKey.publicKey)! }

  #synchronous (mode: 'FULL' | 'NORMAL'): void {
    if (this.#sync !== mode) { this.#db.pragma(`synchronous = ${mode}`); this.#sync = mode }
  }

  /** Runs `fn` in a transaction; on failure restores the clock and the cached heads. */
  #transact<T> (fn: () => T): T {
    const clockBefore = this.#clock.last
    try {
      return this.#db.transaction(fn)()
    } catch (err) {
      this.#clock.reset(clockBefore)
      this.#oplog.reload()
      throw err
    }
  }

  #persistClock (): void {
    this.#oplog.setMeta('hlc', Buffer.from(encodeHlc(this.#clock.last), 'latin1'))
  }

  #emit (event: ChangeEvent): void {
    this.#tables.committed(event.ops)
    for (const l of this.#listeners) {
      try { l(event) } catch { /* a listener's failure is its own */ }
    }
  }

  #value (v: Value, what: string): Uint8Array {
    const bytes = encodeValue(v, what)
    if (bytes.length > this.#maxValueBytes) throw new InvalidArgumentError(`${what} encodes to ${bytes.length} bytes, over the ${this.#maxValueBytes}-byte limit`)
    return bytes
  }

  #writer (intents: Intent[]): Writer {
    const push = (i: Intent): void => {
      if (intents.length >= MAX_BATCH_OPS) throw new InvalidArgumentError(`a batch may hold at most ${MAX_BATCH_OPS} ops`)
      intents.push(i)
    }
    return {
      put: (collection, key, fields) => {
        checkName('collection', collection, MAX_COLLECTION_BYTES); checkName('key', key, MAX_KEY_BYTES)
        checkNotReserved(collection)
        if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new InvalidArgumentError('put needs an object of fields, e.g. { title: "hello" }')
        const names = Object.keys(fields)
        if (names.length === 0) throw new InvalidArgumentError('put needs at least one field')
        for (const field of names) {
          checkName('field name', field, MAX_FIELD_BYTES)
          push({ kind: 'set', collection, key, field, value: this.#value(fields[field] as Value, `field ${JSON.stringify(field)}`) })
        }
      },
      delete: (collection, key) => {
        checkName('collection', collection, MAX_COLLECTION_BYTES); checkName('key', key, MAX_KEY_BYTES)
        checkNotReserved(collection)
        push({ kind: 'delete', collection, key, field: '', value: new Uint8Array(0) })
      },
      increment: (collection, key, field, by = 1) => {
        checkName('collection', collection, MAX_COLLECTION_BYTES); checkName('key', key, MAX_KEY_BYTES); checkName('field', field, MAX_FIELD_BYTES)
        checkNotReserved(collection)
        if (typeof by !== 'number' || !Number.isSafeInteger(by) || Math.abs(by) > MAX_INCREMENT) throw new InvalidArgumentError(`increment amount must be an integer within ±${MAX_INCREMENT}, got ${String(by)}`)
        push({ kind: 'increment', collection, key, field, value: encodeValue(by) })
      },
      add: (collection, key, field, element) => {
        checkName('collection', collection, MAX_COLLECTION_BYTES); checkName('key', key, MAX_KEY_BYTES); checkName('field', field, MAX_FIELD_BYTES)
        checkNotReserved(collection)
        push({ kind: 'add', collection, key, field, value: this.#value(element, 'set element') })
      },
      remove: (collection, key, field, element) => {
        checkName('collection', collection, MAX_COLLECTION_BYTES); checkName('key', key, MAX_KEY_BYTES); checkName('field', field, MAX_FIELD_BYTES)
        checkNotReserved(collection)
        push({ kind: 'remove', collection, key, field, value: this.#value(element, 'set element') })
      }
    }
  }

  /** Stamps, chains, applies and signs (once) a list of local intents. */
  #commitLocal (intents: Intent[]): Op[] {
    this.#open()
    if (intents.length === 0) return []
    this.#synchronous('FULL')
    const ops = this.#transact(() => {
      const self = this.#self
      const out: Op[] = []
      for (const intent of intents) {
        const tags = intent.kind === 'remove' ? this.#state.observedAdds(intent.collection, intent.key, intent.field, intent.value) : []
        const op = createOp({
          origin: self.key,
          seq: self.seq + 1 + out.length,
          hlc: this.#clock.now(),
          kind: intent.kind,
          collection: intent.collection,
          key: intent.key,
          field: intent.field,
          value: intent.value,
          tags,
          prev: out.length > 0 ? out[out.length - 1]!.hash : self.hash ?? ZERO_HASH
        })
        // Adds and deletes are applied at once, so that a remove later in the
        // batch sees an add earlier in it; sets are reduced to one upsert per field.
        if (op.kind !== 'set') this.#state.apply(op)
        out.push(op)
      }
      this.#state.applyMany(out.filter(op => op.kind === 'set'))
      this.#tables.afterApply(out)
      // Signed at its end, and every SIGNATURE_EVERY_OPS / _BYTES along the
      // way, so a big batch can still travel in small pages (a stock relay
      // allows 128 KiB per relayed connection).
      const keep = new Set<number>()
      let opsSince = 0
      let bytesSince = 0
      for (let i = 0; i < out.length; i++) {
        opsSince++
        bytesSince += out[i]!.body.length
        if (i === out.length - 1 || opsSince >= SIGNATURE_EVERY_OPS || bytesSince >= SIGNATURE_EVERY_BYTES) {
          out[i] = withSignature(out[i]!, this.deviceKey.sign(signingMessage(out[i]!.hash)))
          keep.add(i)
          opsSince = 0
          bytesSince = 0
        }
      }
      this.#oplog.append(self, out, keep)
      this.#persistClock()
      return out
    })
    this.#emit({ source: 'local', ops })
    return ops
  }

  put (collection: string, key: string, fields: Record<string, Value>): void {
    const intents: Intent[] = []
    this.#writer(intents).put(collection, key, fields)
    this.#commitLocal(intents)
  }

  delete (collection: string, key: string): void {
    const intents: Intent[] = []
    this.#writer(intents).delete(collection, key)
    this.#commitLocal(intents)
  }

  increment (collection: string, key: string, field: string, by = 1): void {
    const intents: Intent[] = []
    this.#writer(intents).increment(collection, key, field, by)
    this.#commitLocal(intents)
  }

  add (collection: string, key: string, field: string, element: Value): void {
    const intents: Intent[] = []
    this.#writer(intents).add(collection, key, field, element)
    this.#commitLocal(intents)
  }

  remove (collection: string, key: string, field: string, element: Value): void {
    const intents: Intent[] = []
    this.#writer(intents).remove(collection, key, field, element)
    this.#commitLocal(intents)
  }

  /** Several writes in one transaction and one signature. `fn` must be synchronous. */
  batch (fn: (w: Writer) => void): number {
    if (typeof fn !== 'function') throw new InvalidArgumentError('batch needs a function that receives a writer')
    const intents: Intent[] = []
    const result = fn(this.#writer(intents)) as unknown
    if (result instanceof Promise) throw new InvalidArgumentError('batch callbacks must be synchronous (the batch is one SQLite transaction)')
    return this.#commitLocal(intents).length
  }

  get (collection: string, key: string): Record<string, unknown> | undefined {
    this.#open()
    checkName('collection', collection, MAX_COLLECTION_BYTES); checkName('key', key, MAX_KEY_BYTES)
    const fields = this.#state.row(collection, key)
    if (fields.length === 0) return undefined
    return Object.fromEntries(fields.map(f => [f.name, fieldToValue(f)]))
  }

  list (collection: string, options: ListOptions = {}): Row[] {
    this.#open()
    checkName('collection', collection, MAX_COLLECTION_BYTES)
    const limit = options.limit ?? 100
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidArgumentError(`list limit must be an integer from 1 to 10000, got ${String(limit)}`)
    if (options.after !== undefined && typeof options.after !== 'string') throw new InvalidArgumentError('list `after` must be a key string')
    return this.#state.keys(collection, options.after ?? '', limit).map(key => ({ key, fields: this.get(collection, key)! }))
  }

  collections (): string[] { this.#open(); return this.#state.collections() }

  subscribe (listener: ChangeListener): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('subscribe needs a function')
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  versionVector (): Map<string, number> { this.#open(); return this.#oplog.versionVector() }

  opsSince (vector: VersionVector, options?: OpsSinceOptions): OpsPage {
    this.#open()
    if (!(vector instanceof Map)) throw new InvalidArgumentError('opsSince needs a version vector (a Map of device id to seq)')
    return this.#oplog.opsSince(vector, options)
  }

  applyRemote (ops: readonly EncodedOp[]): ApplyResult {
    this.#open()
    if (!Array.isArray(ops)) throw new InvalidArgumentError('applyRemote needs an array of encoded ops')
    const now = this.#clock.wall()
    this.#synchronous('NORMAL')
    let applied: Op[] = []
    const plan = this.#transact(() => {
      // Planned inside the transaction so the heads it reads are the ones it extends.
      const p = planApply(this.#ctx, ops)
      applied = writePlan(this.#ctx, p, now)
      this.#tables.afterApply(applied)
      if (p.maxHlc !== undefined) {
        this.#clock.receive(p.maxHlc)
        this.#persistClock()
      }
      return p
    })
    if (applied.length > 0) this.#emit({ source: 'remote', ops: applied })
    return resultOf(plan, applied.length)
  }

  digest (collection?: string): string {
    this.#open()
    if (collection !== undefined) checkName('collection', collection, MAX_COLLECTION_BYTES)
    return this.#state.digest(collection)
  }

  /** The clock's last issued or received timestamp. */
  get hlc (): Hlc { return maxHlc(this.#clock.last, ZERO_HLC) }

  stats (): { ops: number, origins: number, rejected: Record<string, number>, equivocating: string[] } {
    this.#open()
    const origins = this.#oplog.origins()
    return {
      ops: this.#oplog.opCount(),
      origins: origins.filter(o => o.seq > 0).length,
      rejected: this.#oplog.rejectionCounts(),
      equivocating: origins.filter(o => o.equivocating).map(o => o.deviceId)
    }
  }

  #loadMembership (): void {
    const group = this.#trust.group()
    if (group === undefined) { this.#membership = undefined; return }
    this.#membership = new Membership(group)
    this.#membership.addEncoded(this.#trust.records())
  }

  /** Takes membership records out of ops (from any origin: each record proves itself). */
  #harvest (ops: readonly Op[]): void {
    const m = this.#membership
    if (m === undefined) return
    for (const op of ops) {
      if (op.collection !== MEMBERS_COLLECTION || op.kind !== 'set' || op.field !== 'record') continue
      let bytes: unknown
      try { bytes = decodeValue(op.value) } catch { continue }
      if (bytes instanceof Uint8Array) this.addMembershipRecords([bytes])
    }
  }

  /** The group this replica belongs to, if any. */
  get group (): { pub: Uint8Array, id: string } | undefined {
    const pub = this.#membership === undefined ? undefined : this.#trust.group()
    return pub === undefined ? undefined : { pub, id: groupIdToString(pub) }
  }

  get membership (): Membership | undefined { return this.#membership }

  /** Invites this device issued (an InviteStore for pairing). */
  get invites (): InviteStore { this.#open(); return this.#trust }

  /**
   * Adds signed membership records (from a peer's chain, or harvested from
   * ops); the new ones are kept. Never throws for bad records.
   */
  addMembershipRecords (encoded: readonly Uint8Array[]): AddResult {
    this.#open()
    const m = this.#membership
    if (m === undefined) return { added: 0, duplicates: 0, rejected: encoded.map((_, index) => ({ index, reason: 'wrong_group' as never, message: 'this replica is in no group' })) }
    const result = m.addEncoded(encoded)
    if (result.added > 0) {
      const fresh = new Set(m.records().map(r => recordId(r)))
      for (const bytes of encoded) {
        try {
          const id = recordId(decodeRecord(bytes))
          if (fresh.has(id)) this.#trust.saveRecord(id, bytes)
        } catch {}
      }
    }
    return result
  }

  /** Writes a membership record (one we created, or a joiner's admission from pairing) as an op, so it replicates like any data. */
  publishRecord (record: MembershipRecord): void {
    this.#open()
    if (this.#membership === undefined) throw new InvalidArgumentError('this device is in no group')
    const bytes = encodeRecord(record)
    this.#transact(() => this.#trust.saveRecord(recordId(record), bytes))
    this.#membership!.add(record)
    this.#commitLocal([{ kind: 'set', collection: MEMBERS_COLLECTION, key: recordId(record), field: 'record', value: encodeValue(bytes) }])
  }

  /**
   * Creates a group with this device as its first member (`weft init`).
   * The group key signs the genesis admission and is returned, not stored:
   * keep it offline to recover a group whose devices are all lost.
   */
  createGroup (deviceName: string): { groupId: string, groupKey: DeviceKey } {
    this.#open()
    if (this.#membership !== undefined) throw new InvalidArgumentError(`this device is already in group ${this.group!.id}`)
    const g = createGroup({ device: this.deviceKey.publicKey, name: deviceName, now: this.#clock.wall() })
    this.#transact(() => this.#trust.setGroup(g.groupPub))
    this.#loadMembership()
    this.publishRecord(g.genesis)
    return { groupId: g.groupId, groupKey: g.groupKey }
  }

  /**
   * Switches this replica to another group (after pairing): the chain proves
   * our admission. Our data is kept: our own ops sync into the new group;
   * ops from devices of the old group stay here but other members refuse
   * them (those devices are not members of the new group).
   */
  joinGroup (groupPub: Uint8Array, chain: readonly Uint8Array[]): void {
    this.#open()
    const m = new Membership(groupPub)
    m.addEncoded(chain)
    if (!m.isMember(this.deviceKey.publicKey)) throw new InvalidArgumentError('the admission chain does not make this device a member of the group')
    this.#transact(() => {
      this.#trust.setGroup(groupPub)
      for (const r of m.records()) this.#trust.saveRecord(recordId(r), encodeRecord(r))
    })
    this.#loadMembership()
  }

  /** Admits another device (the inviter's side of pairing). */
  admit (device: Uint8Array, name: string): Admission {
    this.#open()
    const g = this.group
    if (g === undefined) throw new InvalidArgumentError('this device is in no group; run weft init first')
    const a = signAdmission({ group: g.pub, device, name, addedAt: this.#clock.wall() }, this.deviceKey)
    this.publishRecord(a)
    return a
  }

  /** Revokes a device: its ops stamped from now on are refused by every member once this syncs. */
  revoke (device: Uint8Array): Revocation {
    this.#open()
    const g = this.group
    if (g === undefined) throw new InvalidArgumentError('this device is in no group')
    if (this.#membership!.member(device) === undefined) throw new InvalidArgumentError(`${deviceIdToString(device)} is not a member of this group`)
    const r = signRevocation({ group: g.pub, device, at: this.#clock.now() }, this.deviceKey)
    this.publishRecord(r)
    return r
  }

  /** SQLite's quick_check: the problems found, empty when the file is sound. */
  integrityCheck (): string[] { this.#open(); return quickCheck(this.#db) }

  /**
   * Ops we hold beyond `vector`, counted per origin and per collection
   * (for `weft diff`). Reads the ops, so it costs what they cost.
   */
  countBeyond (vector: VersionVector): { perOrigin: Record<string, number>, perCollection: Record<string, number> } {
    this.#open()
    const perOrigin: Record<string, number> = {}
    const perCollection: Record<string, number> = {}
    for (const o of this.#oplog.origins()) {
      const have = vector.get(o.deviceId) ?? 0
      if (o.seq <= have) continue
      perOrigin[o.deviceId] = o.seq - have
      for (const s of this.#oplog.range(o, have, o.seq)) {
        const c = decodeOp({ body: s.body }).collection
        perCollection[c] = (perCollection[c] ?? 0) + 1
      }
    }
    return { perOrigin, perCollection }
  }

  /**
   * Declares (or changes) a collection's schema: weft then keeps a SQL table
   * of the collection's merged rows, in the same transaction as every write
   * (local or remote), for `query`. A new field or index is filled in from
   * the merged state (ops for it were merged all along); a removed or
   * retyped field rebuilds the table. The version is what peers see.
   */
  declareSchema (collection: string, schema: CollectionSchema): DeclareResult {
    this.#open()
    checkName('collection', collection, MAX_COLLECTION_BYTES)
    return this.#tables.declare(collection, schema)
  }

  /** Forgets a collection's schema and drops its table; its data stays (get, list, sync). Returns false when none was declared. */
  dropSchema (collection: string): boolean { this.#open(); return this.#tables.drop(collection) }

  /** The declared schemas, with each table's row count. */
  schemas (): Array<SchemaInfo & { rows: number }> { this.#open(); return this.#tables.list() }

  /** collection -> declared schema version (what the sync Hello carries). */
  schemaVersions (): Map<string, number> { this.#open(); return this.#tables.versions() }

  /** Rebuilds declared tables (one, or all) from the merged state. Returns the rows written. */
  rebuildTables (collection?: string): number { this.#open(); return this.#tables.rebuild(collection) }

  /**
   * Read-only SQL over the declared tables (each named by its schema's
   * `table`, with a `key` column and one column per field). Only a SELECT
   * runs; rows, result size and time are limited (see QueryOptions).
   */
  query (sql: string, params?: QueryParams, options?: QueryOptions & { rowMode?: 'object' }): QueryResult
  query (sql: string, params: QueryParams | undefined, options: QueryOptions & { rowMode: 'array' }): QueryResult<unknown[]>
  query (sql: string, params?: QueryParams, options: QueryOptions & { rowMode?: 'object' | 'array' } = {}): QueryResult<unknown> {
    this.#open()
    return this.#tables.query(sql, params, options as QueryOptions & { rowMode: 'array' })
  }

  /**
   * A live query: runs `sql` now (the result is in the returned handle) and
   * again after each write, local or remote, to a table it reads; `listener`
   * gets each result that differs from the one before.
   */
  watch (sql: string, params: QueryParams | undefined, listener: LiveQueryListener, options?: LiveQueryOptions): LiveQuery {
    this.#open()
    return this.#tables.watch(sql, params, listener, options)
  }

  /**
   * Calls `listener` after each commit that changed declared tables (a
   * local or remote write to a declared collection, a declare, drop or
   * rebuild), with the tables' names: what a live query elsewhere (another
   * process) needs to know to run again. Returns the unsubscribe function.
   */
  onTablesChanged (listener: (tables: readonly string[]) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('onTablesChanged needs a function')
    return this.#tables.onTablesChanged(listener)
  }

  /** The file holding the declared tables (what a separate query process opens read-only). */
  get tablesFile (): string { return this.#tables.file }

  /** Raw access for the CLI and tests that inspect the oplog. */
  get oplog (): OplogTables { this.#open(); return this.#oplog }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#listeners.clear()
    this.#tables.close()
    this.#db.close()
  }
}

export function openReplica (options: ReplicaOptions): Replica {
  return new Replica(options)
}
