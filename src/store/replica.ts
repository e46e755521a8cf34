/**
 * A replica: one device's copy of the data, in one SQLite file.
 *
 * `Replica` is the facade: opening and closing, reads, the `SyncStore` port
 * (remote ops through `applyRemote`) and change events. The rest has modules
 * of its own, each handed the tables, clock and key it needs: local writes
 * (local-writes.ts), the group lifecycle (group-records.ts) and diagnostics
 * (diagnostics.ts). Every write updates the materialized state tables in the
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
import { maxHlc, ZERO_HLC, type Hlc, type HybridClock, type WallClock } from '../hlc/index.js'
import { ClosedError, InvalidArgumentError } from '../errors.js'
import { deviceIdToString, SignatureVerifier, type DeviceKey } from '../oplog/keys.js'
import { DEFAULT_MAX_VALUE_BYTES, MAX_COLLECTION_BYTES, MAX_KEY_BYTES, type EncodedOp, type Op } from '../oplog/op.js'
import type { Value } from '../oplog/value.js'
import type { ApplyResult, OpsPage, OpsSinceOptions, Rejection, SyncStore, VersionVector } from '../protocol/port.js'
import type { MembershipRecord, Admission, Revocation } from '../auth/certificate.js'
import type { AddResult, Membership } from '../auth/membership.js'
import type { InviteStore } from '../auth/invite-store.js'
import { planApply, resultOf, writePlan, type ApplyPlan, type ApplyTarget, type ApplyView, type OriginAuthorizer } from './apply-remote.js'
import type { StoreDeviceKey } from './device-key-file.js'
import { countBeyond, integrityCheck, stats, type StoreStats } from './diagnostics.js'
import { GroupRecords } from './group-records.js'
import { checkName, loadClock, LocalWrites, persistClock, type Writer } from './local-writes.js'
import { openStore } from './open-store.js'
import type { HeldRun, Quarantine } from './quarantine.js'
import type { OplogTables } from './oplog-store.js'
import { openError, storeError, type Db } from './sqlite.js'
import { PeerBookTables } from './peer-book.js'
import { fieldToValue, type StateTables } from './state.js'
import { DeclaredTables, TABLES_FILE, type CollectionSchema, type DeclareResult, type LiveQuery, type LiveQueryListener, type LiveQueryOptions, type QueryOptions, type QueryParams, type QueryResult, type SchemaInfo } from './tables/index.js'

export { MAX_BATCH_OPS, RESERVED_PREFIX, type Writer } from './local-writes.js'
export { MEMBERS_COLLECTION, SUCCESSION_KEY_PREFIX } from './group-records.js'

/** Chunks of held ops `releaseHeld` applies per call (each one transaction): bounds one call's work. */
const MAX_RELEASE_CHUNKS_PER_CALL = 8

export interface ReplicaOptions {
  /** Directory holding `replica.db` and `device.key` (created 0700 if missing). */
  dir: string
  /** Wall clock in ms. @default Date.now */
  wallClock?: WallClock
  /** Max ms a remote HLC may be ahead of our wall clock. @default 60000 */
  maxDriftMs?: number
  /** Max encoded size of one value. @default 1048576 (1 MiB) */
  maxValueBytes?: number
  /**
   * The device key, loaded once by the composition root: what
   * `loadStoreDeviceKey(dir)` returned (a new one is written to
   * `dir/device.key` once the database records it), or a `DeviceKey` the
   * caller keeps itself (never written here).
   * @default loadStoreDeviceKey(dir): the directory's `device.key`, made on a first start
   */
  deviceKey?: StoreDeviceKey | DeviceKey
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
  readonly #view: ApplyView
  readonly #target: ApplyTarget
  readonly #writes: LocalWrites
  readonly #groups: GroupRecords
  readonly #listeners = new Set<ChangeListener>()
  #peerBook!: PeerBookTables
  #closed = false
  #sync: 'FULL' | 'NORMAL' = 'FULL'
  // Made once: db.transaction() builds its wrappers at every call. (The
  // synchronous pragma stays a db.pragma() call: SQLite applies a pragma's
  // value while preparing it, so a prepared PRAGMA run again does not
  // reliably switch the mode.)
  readonly #inTransaction: (fn: () => unknown) => unknown

  constructor (options: ReplicaOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') throw new InvalidArgumentError('openReplica needs { dir }: the directory for the replica files')
    this.dir = options.dir
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const store = openStore(this.dir, options)
    const { db, file, key } = store
    this.#db = db
    this.#file = file
    this.#oplog = store.oplog
    this.#state = store.state
    this.#quarantine = store.quarantine
    this.#inTransaction = db.transaction((fn: () => unknown) => fn())
    this.deviceKey = key
    this.deviceId = key.id
    try {
      this.#tables = new DeclaredTables(this.#db, join(this.dir, TABLES_FILE))
      this.#clock = loadClock(this.#oplog, options)
      this.#peerBook = new PeerBookTables(this.#db)
      const transact = <T>(fn: () => T): T => this.#transact(fn)
      this.#writes = new LocalWrites({
        oplog: this.#oplog,
        state: this.#state,
        clock: this.#clock,
        key,
        maxValueBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
        checkOpen: () => this.#open(),
        transact: fn => { this.#synchronous('FULL'); return transact(fn) },
        afterApply: ops => this.#tables.afterApply(ops),
        committed: ops => this.#emit({ source: 'local', ops })
      })
      this.#groups = new GroupRecords({
        trust: store.trust,
        state: this.#state,
        oplog: this.#oplog,
        clock: this.#clock,
        key,
        transact,
        commit: intents => { this.#writes.commit(intents) }
      })
      const external = options.authorize
      const quarantine = options.maxHeldBytes === 0 ? undefined : this.#quarantine
      this.#view = {
        oplog: this.#oplog,
        clock: this.#clock,
        verifier: new SignatureVerifier(),
        limits: { maxValueBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES },
        // In a group, only members write, and a revoked device only before its revocation.
        membership: () => this.#groups.membership === undefined ? undefined : this.#groups,
        authorize: external === undefined ? undefined : (origin, hlc) => external(deviceIdToString(origin), hlc),
        quarantine
      }
      this.#target = { oplog: this.#oplog, state: this.#state, quarantine }
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

  #synchronous (mode: 'FULL' | 'NORMAL'): void {
    if (this.#sync !== mode) { this.#db.pragma(`synchronous = ${mode}`); this.#sync = mode }
  }

  /** Runs `fn` in a transaction; on failure restores the clock and the cached heads. */
  #transact<T> (fn: () => T): T {
    const clockBefore = this.#clock.last
    try {
      return this.#inTransaction(fn) as T
    } catch (err) {
      this.#clock.reset(clockBefore)
      this.#oplog.reload()
      this.#quarantine.reload()
      // SQLITE_FULL becomes DiskFullError and SQLITE_CORRUPT StoreCorruptError: what a caller can act on.
      throw storeError(err, this.#file)
    }
  }

  /**
   * Plans `batch`, saves the membership records it carries, writes the plan
   * and advances the clock; runs inside a transaction (the heads the plan
   * reads are the ones it extends). Returns the plan and the applied ops.
   * The declared tables are the caller's to update.
   */
  #applyBatch (batch: readonly EncodedOp[], now: number): { plan: ApplyPlan, applied: Op[] } {
    const plan = planApply(this.#view, batch)
    // Saved in the transaction that applies the plan, before its ops, as authorization counted them.
    if (plan.records.length > 0) this.#groups.add(plan.records)
    const applied = writePlan(this.#target, plan, now)
    if (plan.maxHlc !== undefined) {
      this.#clock.receive(plan.maxHlc)
      persistClock(this.#oplog, this.#clock)
    }
    return { plan, applied }
  }

  #emit (event: ChangeEvent): void {
    this.#tables.committed(event.ops)
    for (const l of this.#listeners) {
      try { l(event) } catch { /* a listener's failure is its own */ }
    }
  }

  put (collection: string, key: string, fields: Record<string, Value>): void { this.#writes.one(w => w.put(collection, key, fields)) }

  delete (collection: string, key: string): void { this.#writes.one(w => w.delete(collection, key)) }

  increment (collection: string, key: string, field: string, by = 1): void { this.#writes.one(w => w.increment(collection, key, field, by)) }

  add (collection: string, key: string, field: string, element: Value): void { this.#writes.one(w => w.add(collection, key, field, element)) }

  remove (collection: string, key: string, field: string, element: Value): void { this.#writes.one(w => w.remove(collection, key, field, element)) }

  /** Several writes in one transaction and one signature. `fn` must be synchronous. Returns the ops written. */
  batch (fn: (w: Writer) => void): number { return this.#writes.batch(fn) }

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
    const { plan, applied } = this.#transact(() => {
      const out = this.#applyBatch(ops, now)
      this.#tables.afterApply(out.applied)
      return out
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
      const done = this.#transact(() => {
        // A run that no longer starts right after its origin's head (a refused op cut the chain) can never apply: its senders offer it again.
        for (const run of q.runs()) if (run.first !== (this.#oplog.origin(run.origin)?.seq ?? 0) + 1) q.drop(run.origin)
        const now = this.#clock.wall()
        const batch = q.takeDue(now + this.#clock.maxDriftMs)
        if (batch === undefined) return undefined
        return this.#applyBatch(batch, now)
      })
      if (done === undefined) continue
      const { plan, applied: ops } = done
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

  /** Counts for `weft status` (diagnostics.ts). */
  stats (): StoreStats { this.#open(); return stats(this.#oplog) }

  /** The group this replica belongs to, if any. */
  get group (): { pub: Uint8Array, id: string } | undefined { return this.#groups.group }

  get membership (): Membership | undefined { return this.#groups.membership }

  /** Invites this device issued (an InviteStore for pairing). */
  get invites (): InviteStore { this.#open(); return this.#groups.invites }

  /**
   * Adds signed membership records (from a peer's chain, or carried by ops);
   * the new ones are kept. Never throws for bad records.
   */
  addMembershipRecords (encoded: readonly Uint8Array[]): AddResult { this.#open(); return this.#groups.add(encoded) }

  /** Writes a membership record (one we created, or a joiner's admission from pairing) as an op, so it replicates like any data. */
  publishRecord (record: MembershipRecord): void { this.#open(); this.#groups.publish(record) }

  /**
   * Creates a group with this device as its first member (`weft init`).
   * The group key signs the genesis admission and is returned, not stored:
   * keep it offline to recover a group whose devices are all lost.
   */
  createGroup (deviceName: string): { groupId: string, groupKey: DeviceKey } { this.#open(); return this.#groups.create(deviceName) }

  /**
   * Switches this replica to another group (after pairing): the chain proves
   * our admission. Our data is kept: our own ops sync into the new group;
   * ops from devices of the old group stay here but other members refuse
   * them (those devices are not members of the new group).
   */
  joinGroup (groupPub: Uint8Array, chain: readonly Uint8Array[]): void { this.#open(); this.#groups.join(groupPub, chain) }

  /** Admits another device (the inviter's side of pairing). */
  admit (device: Uint8Array, name: string): Admission { this.#open(); return this.#groups.admit(device, name) }

  /** Revokes a device: its ops stamped from now on are refused by every member once this syncs. */
  revoke (device: Uint8Array): Revocation { this.#open(); return this.#groups.revoke(device) }

  /**
   * Retires `old`, this device's predecessor whose store was lost but whose
   * key survived (`weft recover`): a revocation of `old` signed by its own
   * key, and a statement naming this device as its successor (succession.ts),
   * both published as ops of this device. The revocation time is the later
   * of now and just after `old`'s newest op we hold, so every op of `old`
   * that exists is still accepted everywhere and none can follow it.
   */
  retirePredecessor (old: DeviceKey): { at: Hlc } { this.#open(); return this.#groups.retirePredecessor(old) }

  /** Verified succession statements of this group: old device id to its successor's. */
  successors (): Map<string, string> { this.#open(); return this.#groups.successors() }

  /** SQLite's quick_check: the problems found, empty when the file is sound. */
  integrityCheck (): string[] { this.#open(); return integrityCheck(this.#db, this.#file) }

  /**
   * Ops we hold beyond `vector`, counted per origin and per collection
   * (for `weft diff`). Reads the ops, so it costs what they cost.
   */
  countBeyond (vector: VersionVector): ReturnType<typeof countBeyond> {
    this.#open()
    return countBeyond(this.#oplog, vector)
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
