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
import { compareHlc, decodeHlc, encodeHlc, HybridClock, MAX_COUNTER, maxHlc, ZERO_HLC, type Hlc, type WallClock } from '../hlc/index.js'
import { ClosedError, InvalidArgumentError, StoreOpenError } from '../errors.js'
import { bytesEqual } from '../oplog/bytes.js'
import { DeviceKey, deviceIdToString, SignatureVerifier } from '../oplog/keys.js'
import { createOp, decodeOp, DEFAULT_MAX_VALUE_BYTES, MAX_COLLECTION_BYTES, MAX_FIELD_BYTES, MAX_INCREMENT, MAX_KEY_BYTES, signingMessage, withSignature, ZERO_HASH, type EncodedOp, type Op, type OpKind } from '../oplog/op.js'
import { decodeValue, encodeValue, type Value } from '../oplog/value.js'
import type { ApplyResult, OpsPage, OpsSinceOptions, Rejection, SyncStore, VersionVector } from '../protocol/port.js'
import { planApply, resultOf, writePlan, type ApplyContext, type OriginAuthorizer } from './apply-remote.js'
import { loadDeviceKey, writeDeviceKey } from './device-key-file.js'
import { loadMigrations, migrate } from './migrate.js'
import { TrustTables } from './trust-tables.js'
import { DEFAULT_MAX_HELD_BYTES, Quarantine, type HeldRun } from './quarantine.js'
import { createGroup, groupIdToString } from '../auth/group.js'
import { decodeRecord, encodeRecord, recordId, signAdmission, signRevocation, type Admission, type MembershipRecord, type Revocation } from '../auth/certificate.js'
import { Membership, type AddResult } from '../auth/membership.js'
import { decodeSuccession, encodeSuccession, signSuccession, verifySuccession } from '../auth/succession.js'
import type { InviteStore } from '../auth/invite-store.js'
import { OplogTables, SIGNATURE_EVERY_BYTES, SIGNATURE_EVERY_OPS, type OriginHead } from './oplog-store.js'
import { databaseState } from './store-files.js'
import { isCorruption, openDatabase, openError, quickCheck, RECOVER_HINT, storeError, type Db } from './sqlite.js'
import { PeerBookTables } from './peer-book.js'
import { fieldToValue, StateTables } from './state.js'
import { DeclaredTables, TABLES_FILE, type CollectionSchema, type DeclareResult, type LiveQuery, type LiveQueryListener, type LiveQueryOptions, type QueryOptions, type QueryParams, type QueryResult, type SchemaInfo } from './tables/index.js'

/** Chunks of held ops `releaseHeld` applies per call (each one transaction): bounds one call's work. */
const MAX_RELEASE_CHUNKS_PER_CALL = 8

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
  /** Run SQLite's quick_check at open and refuse a damaged file. @default true */
  integrityCheck?: boolean
  /**
   * Largest total size of ops from the future held in quarantine (see
   * quarantine.ts); 0 refuses them (`drift`) instead. @default DEFAULT_MAX_HELD_BYTES (256 MiB)
   */
  maxHeldBytes?: number
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
/** Keys of succession statements in MEMBERS_COLLECTION: this prefix and the old device's id. */
export const SUCCESSION_KEY_PREFIX = 'succession-'

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
  readonly #file: string
  readonly #oplog: OplogTables
  readonly #state: StateTables
  readonly #quarantine: Quarantine
  readonly #tables: DeclaredTables
  readonly #clock: HybridClock
  readonly #ctx: ApplyContext
  readonly #maxValueBytes: number
  readonly #listeners = new Set<ChangeListener>()
  #trust!: TrustTables
  #peerBook!: PeerBookTables
  #membership: Membership | undefined
  #closed = false
  #sync: 'FULL' | 'NORMAL' = 'FULL'

  constructor (options: ReplicaOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') throw new InvalidArgumentError('openReplica needs { dir }: the directory for the replica files')
    this.dir = options.dir
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
    const file = join(this.dir, 'replica.db')
    this.#file = file
    const keyFile = join(this.dir, 'device.key')
    let key = options.deviceKey
    if (key === undefined) {
      key = loadDeviceKey(keyFile)
      // The key file is written only once a database has recorded it, so a
      // key without a database means the database is gone: a fresh one would
      // sign new ops with seq 1, 2, … again, which the group already holds.
      if (key !== undefined && databaseState(file) !== 'present') {
        throw new StoreOpenError(`${file} is ${databaseState(file) === 'empty' ? 'empty (0 bytes)' : 'missing'}, but ${keyFile} exists: this device's store is lost. Starting a fresh store with the old key would reuse its sequence numbers, and its group would refuse it as equivocating. ${RECOVER_HINT}`, { reason: 'lost' })
      }
    }
    this.#db = openDatabase(file, loadMigrations().length)
    let newKey: DeviceKey | undefined
    try {
      const migrated = migrate(this.#db, file)
      if (migrated.length === 0 && options.integrityCheck !== false) {
        const problems = quickCheck(this.#db)
        if (problems.length > 0) throw new StoreOpenError(`database ${file} is damaged (quick_check: ${problems.slice(0, 3).join('; ')}). ${RECOVER_HINT}`, { reason: 'corrupt' })
      }
      this.#oplog = new OplogTables(this.#db)
      this.#state = new StateTables(this.#db)
      this.#trust = new TrustTables(this.#db)
      this.#quarantine = new Quarantine(this.#db, options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES)
      const recorded = this.#oplog.getMeta('device')
      if (key === undefined) {
        if (this.#oplog.origins().some(o => o.seq > 0) || this.#trust.group() !== undefined) {
          throw new StoreOpenError(`${keyFile} is missing, but ${file} holds this device's data${recorded === undefined ? '' : ` (device ${deviceIdToString(recorded)})`}: weft will not make a new identity over it. Put the key file back (mode 0600), or: ${RECOVER_HINT}`, { reason: 'key_missing' })
        }
        // A first start (or one interrupted before it wrote the key): nothing was signed yet.
        newKey = DeviceKey.generate()
        key = newKey
      } else if (recorded !== undefined && !bytesEqual(recorded, key.publicKey)) {
        throw new StoreOpenError(`the device key (${key.id}) is not the key ${file} was written with (${deviceIdToString(recorded)}): the key file was replaced. Put the original back, or: ${RECOVER_HINT}`, { reason: 'key_mismatch' })
      }
      const own = key
      this.deviceKey = own
      this.deviceId = own.id
      this.#db.transaction(() => {
        if (recorded === undefined || newKey !== undefined) this.#oplog.setMeta('device', own.publicKey)
        this.#oplog.ensureOrigin(own.publicKey)
      })()
      // Only now, with the database holding the key's public half, is the key written.
      if (newKey !== undefined) writeDeviceKey(keyFile, newKey)
      this.#tables = new DeclaredTables(this.#db, join(this.dir, TABLES_FILE))
      const persisted = this.#oplog.getMeta('hlc')
      const last = persisted === undefined ? ZERO_HLC : decodeHlc(Buffer.from(persisted).toString('latin1'))
      this.#clock = new HybridClock({ ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }), ...(options.maxDriftMs === undefined ? {} : { maxDriftMs: options.maxDriftMs }), last })
      this.#peerBook = new PeerBookTables(this.#db)
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
        harvest: ops => { this.#harvest(ops) },
        quarantine: options.maxHeldBytes === 0 ? undefined : this.#quarantine
      }
    } catch (err) {
      this.#db.close()
      throw openError(err, file)
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
      this.#quarantine.reload()
      // SQLITE_FULL becomes DiskFullError and SQLITE_CORRUPT StoreCorruptError: what a caller can act on.
      throw storeError(err, this.#file)
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
    // Held ops our clock has reached go first, so the batch extends them rather than waiting behind them.
    this.releaseHeld()
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

  /**
   * Applies the ops held in quarantine that our clock has now reached (within
   * the drift bound of their HLC), through the same checks as any remote op.
   * `applyRemote` does this first; a daemon also calls it on a timer, so held
   * ops apply on time without new traffic. Bounded work per call.
   */
  releaseHeld (): ApplyResult {
    this.#open()
    const q = this.#quarantine
    let applied = 0
    let duplicates = 0
    const rejected: Rejection[] = []
    for (let chunk = 0; chunk < MAX_RELEASE_CHUNKS_PER_CALL; chunk++) {
      const earliest = q.earliestMs()
      if (earliest === undefined || earliest - this.#clock.wall() > this.#clock.maxDriftMs) break
      this.#synchronous('NORMAL')
      let ops: Op[] = []
      const plan = this.#transact(() => {
        // A run that no longer starts right after its origin's head (a refused op cut the chain) can never apply: its senders offer it again.
        for (const run of q.runs()) if (run.first !== (this.#oplog.origin(run.origin)?.seq ?? 0) + 1) q.drop(run.origin)
        const now = this.#clock.wall()
        const batch = q.takeDue(now + this.#clock.maxDriftMs)
        if (batch === undefined) return undefined
        const p = planApply(this.#ctx, batch)
        ops = writePlan(this.#ctx, p, now)
        if (p.maxHlc !== undefined) {
          this.#clock.receive(p.maxHlc)
          this.#persistClock()
        }
        return p
      })
      if (plan === undefined) continue
      applied += ops.length
      duplicates += plan.duplicates
      rejected.push(...plan.rejected)
      if (ops.length > 0) this.#emit({ source: 'remote', ops })
    }
    return { applied, duplicates, rejected }
  }

  /** Runs of ops held in quarantine, per origin (see quarantine.ts). */
  held (): HeldRun[] { this.#open(); return this.#quarantine.runs() }

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

  /**
   * Retires `old`, this device's predecessor whose store was lost but whose
   * key survived (`weft recover`): a revocation of `old` signed by its own
   * key, and a statement naming this device as its successor (succession.ts),
   * both published as ops of this device. The revocation time is the later
   * of now and just after `old`'s newest op we hold, so every op of `old`
   * that exists is still accepted everywhere and none can follow it.
   */
  retirePredecessor (old: DeviceKey): { at: Hlc } {
    this.#open()
    const g = this.group
    if (g === undefined) throw new InvalidArgumentError('this device is in no group')
    if (bytesEqual(old.publicKey, this.deviceKey.publicKey)) throw new InvalidArgumentError('a device cannot retire itself as its own predecessor')
    if (this.#membership!.member(old.publicKey) === undefined) throw new InvalidArgumentError(`${old.id} was never a member of group ${g.id}: nothing to retire`)
    let at = this.#clock.now()
    const head = this.#oplog.origin(old.publicKey)?.hlc
    if (head !== undefined && compareHlc(head, at) >= 0) at = head.counter < MAX_COUNTER ? { ms: head.ms, counter: head.counter + 1 } : { ms: head.ms + 1, counter: 0 }
    this.publishRecord(signRevocation({ group: g.pub, device: old.publicKey, at }, old))
    const statement = encodeSuccession(signSuccession({ group: g.pub, successor: this.deviceKey.publicKey, at }, old))
    this.#commitLocal([{ kind: 'set', collection: MEMBERS_COLLECTION, key: `${SUCCESSION_KEY_PREFIX}${old.id}`, field: 'statement', value: encodeValue(statement) }])
    return { at }
  }

  /** Verified succession statements of this group: old device id to its successor's. */
  successors (): Map<string, string> {
    this.#open()
    const out = new Map<string, string>()
    const g = this.group
    if (g === undefined) return out
    for (const key of this.#state.keys(MEMBERS_COLLECTION, SUCCESSION_KEY_PREFIX, 10_000)) {
      if (!key.startsWith(SUCCESSION_KEY_PREFIX)) break
      const field = this.#state.row(MEMBERS_COLLECTION, key).find(f => f.name === 'statement')
      const bytes = field === undefined ? undefined : fieldToValue(field)
      if (!(bytes instanceof Uint8Array)) continue
      try {
        const s = decodeSuccession(bytes)
        verifySuccession(s, g.pub)
        out.set(deviceIdToString(s.old), deviceIdToString(s.successor))
      } catch {}
    }
    return out
  }

  /** SQLite's quick_check: the problems found, empty when the file is sound. */
  integrityCheck (): string[] {
    this.#open()
    try {
      return quickCheck(this.#db)
    } catch (err) {
      // A file damaged badly enough makes quick_check itself fail: that is its answer too.
      if (isCorruption(err)) return [(err as Error).message]
      throw storeError(err, this.#file)
    }
  }

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

  /** Where the group's devices were reached (src/net dials members from it). */
  get peerBook (): PeerBookTables { this.#open(); return this.#peerBook }

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
