/**
 * Local writes: what this device writes becomes ops stamped with its HLC,
 * chained to its previous op, applied to the state tables and signed once
 * per call (or per `batch`), all in one transaction with the persisted
 * clock, so the HLC stays monotonic across restarts.
 *
 * The writer checks every name and value before anything is stamped: a bad
 * argument throws `InvalidArgumentError` and writes nothing. Collections
 * under RESERVED_PREFIX are weft's own (membership records, see
 * group-records.ts), written only through `commit`.
 */
import { decodeHlc, encodeHlc, HybridClock, ZERO_HLC, type WallClock } from '../hlc/index.js'
import { InvalidArgumentError } from '../errors.js'
import type { DeviceKey } from '../oplog/keys.js'
import { createOp, MAX_COLLECTION_BYTES, MAX_FIELD_BYTES, MAX_INCREMENT, MAX_KEY_BYTES, signingMessage, withSignature, ZERO_HASH, type Op, type OpKind } from '../oplog/op.js'
import { encodeValue, type Value } from '../oplog/value.js'
import { SIGNATURE_EVERY_BYTES, SIGNATURE_EVERY_OPS, type OplogTables } from './oplog-store.js'
import type { StateTables } from './state.js'

/** Most ops one local call (or batch) may write: a batch is signed once and must fit one sync page. */
export const MAX_BATCH_OPS = 10_000

/** Collections weft keeps for itself (membership records); apps cannot write them. */
export const RESERVED_PREFIX = '_weft.'

/** One write before it is stamped: what `commit` turns into an op. */
export interface Intent { kind: OpKind, collection: string, key: string, field: string, value: Uint8Array, element?: Uint8Array }

/** Writes available inside `batch`. */
export interface Writer {
  put(collection: string, key: string, fields: Record<string, Value>): void
  delete(collection: string, key: string): void
  increment(collection: string, key: string, field: string, by?: number): void
  add(collection: string, key: string, field: string, element: Value): void
  remove(collection: string, key: string, field: string, element: Value): void
}

const textBytes = (s: string): number => Buffer.byteLength(s, 'utf8')
const LONE_SURROGATE = /\p{Cs}/u

export function checkName (what: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string, got ${v === '' ? 'an empty string' : typeof v}`)
  if (textBytes(v) > max) throw new InvalidArgumentError(`${what} is ${textBytes(v)} bytes, over the ${max}-byte limit`)
  // SQLite TEXT cuts at U+0000, and a lone surrogate would be stored as other
  // bytes than the op's UTF-8 body carries to peers: both break convergence.
  if (v.includes('\u0000')) throw new InvalidArgumentError(`${what} may not contain U+0000`)
  if (LONE_SURROGATE.test(v)) throw new InvalidArgumentError(`${what} is not well-formed Unicode (it holds a lone surrogate)`)
  return v
}

function checkNotReserved (collection: string): void {
  if (collection.startsWith(RESERVED_PREFIX)) throw new InvalidArgumentError(`collection names starting with ${RESERVED_PREFIX} are reserved for weft`)
}

/** The HLC of a replica, continuing from the one persisted in `oplog`'s meta. */
export function loadClock (oplog: OplogTables, options: { wallClock?: WallClock | undefined, maxDriftMs?: number | undefined }): HybridClock {
  const persisted = oplog.getMeta('hlc')
  const last = persisted === undefined ? ZERO_HLC : decodeHlc(Buffer.from(persisted).toString('latin1'))
  return new HybridClock({
    ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }),
    ...(options.maxDriftMs === undefined ? {} : { maxDriftMs: options.maxDriftMs }),
    last
  })
}

/** Saves the clock's last timestamp; runs inside the transaction that used it. */
export function persistClock (oplog: OplogTables, clock: HybridClock): void {
  oplog.setMeta('hlc', Buffer.from(encodeHlc(clock.last), 'latin1'))
}

export interface LocalWritesInit {
  readonly oplog: OplogTables
  readonly state: StateTables
  readonly clock: HybridClock
  readonly key: DeviceKey
  readonly maxValueBytes: number
  /** Throws `ClosedError` once the replica is closed. */
  readonly checkOpen: () => void
  /** Runs `fn` in one durable (synchronous=FULL) transaction, restoring the clock and caches if it throws. */
  readonly transact: <T>(fn: () => T) => T
  /** Inside the transaction, after the state tables: keeps the declared tables in step. */
  readonly afterApply: (ops: readonly Op[]) => void
  /** After the commit: tells listeners. */
  readonly committed: (ops: readonly Op[]) => void
}

export class LocalWrites {
  readonly #init: LocalWritesInit

  constructor (init: LocalWritesInit) {
    this.#init = init
  }

  #value (v: Value, what: string): Uint8Array {
    const bytes = encodeValue(v, what)
    const max = this.#init.maxValueBytes
    if (bytes.length > max) throw new InvalidArgumentError(`${what} encodes to ${bytes.length} bytes, over the ${max}-byte limit`)
    return bytes
  }

  /** A writer that checks each write and appends it to `intents`. */
  writer (intents: Intent[]): Writer {
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

  /** Checks one write with `write`, then commits it. */
  one (write: (w: Writer) => void): void {
    const intents: Intent[] = []
    write(this.writer(intents))
    this.commit(intents)
  }

  /** Several writes in one transaction and one signature. `fn` must be synchronous. Returns the ops written. */
  batch (fn: (w: Writer) => void): number {
    if (typeof fn !== 'function') throw new InvalidArgumentError('batch needs a function that receives a writer')
    const intents: Intent[] = []
    const result = fn(this.writer(intents)) as unknown
    if (result instanceof Promise) throw new InvalidArgumentError('batch callbacks must be synchronous (the batch is one SQLite transaction)')
    return this.commit(intents).length
  }

  /** Stamps, chains, applies and signs (once) a list of intents, unchecked: the writer's or weft's own. */
  commit (intents: Intent[]): Op[] {
    this.#init.checkOpen()
    if (intents.length === 0) return []
    const { oplog, state, clock, key } = this.#init
    const ops = this.#init.transact(() => {
      // Looked up, not kept: a rolled-back transaction reloads the heads as new objects.
      const self = oplog.origin(key.publicKey)!
      const out: Op[] = []
      for (const intent of intents) {
        const tags = intent.kind === 'remove' ? state.observedAdds(intent.collection, intent.key, intent.field, intent.value) : []
        const op = createOp({
          origin: self.key,
          seq: self.seq + 1 + out.length,
          hlc: clock.now(),
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
        if (op.kind !== 'set') state.apply(op)
        out.push(op)
      }
      state.applyMany(out.filter(op => op.kind === 'set'))
      this.#init.afterApply(out)
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
          out[i] = withSignature(out[i]!, key.sign(signingMessage(out[i]!.hash)))
          keep.add(i)
          opsSince = 0
          bytesSince = 0
        }
      }
      oplog.append(self, out, keep)
      persistClock(oplog, clock)
      return out
    })
    this.#init.committed(ops)
    return ops
  }
}
