/**
 * The oplog tables: origins with their heads (the version vector), the ops
 * themselves, rejections, and replica meta. Statements are prepared once;
 * callers wrap writes in their own transaction.
 */
import { hlcToBytes, readHlc, type Hlc } from '../hlc/index.js'
import { deviceIdToString } from '../oplog/keys.js'
import { toHex } from '../oplog/bytes.js'
import { sha256, type EncodedOp, type Op, type RejectReason } from '../oplog/op.js'
import type { OpsPage, OpsSinceOptions, VersionVector } from '../protocol/port.js'
import type { Db, Statement } from './sqlite.js'

/** Rowid of an op: origin id in the high bits, seq in the low 32. */
const SEQ_SPACE = 2 ** 32
/** Seqs are capped so that id = origin * 2^32 + seq stays a safe integer and unique. */
export const MAX_SEQ = SEQ_SPACE - 1
export const DEFAULT_PAGE_OPS = 5000
export const DEFAULT_PAGE_BYTES = 1024 * 1024
/**
 * A signature is kept at least this often along a chain (ops or bytes,
 * whichever comes first), so that any page can end on a signed op within a
 * relayed connection's small budget: a chain stored with one signature at
 * its end could only ever be served whole.
 */
export const SIGNATURE_EVERY_OPS = 256
export const SIGNATURE_EVERY_BYTES = 16 * 1024
/** `range` reads about this many bytes of ops per query, and at most this many rows. */
const READ_CHUNK_BYTES = 256 * 1024
const READ_CHUNK_ROWS = 512
/** Rows per multi-row oplog insert. */
const INSERT_CHUNK = 64
/** How many recent rejections are kept for inspection. */
const KEEP_REJECTIONS = 1000

export interface OriginHead {
  readonly id: number
  readonly key: Uint8Array
  readonly deviceId: string
  seq: number
  hash: Uint8Array | undefined
  hlc: Hlc | undefined
  equivocating: boolean
}

export interface StoredOp {
  readonly seq: number
  readonly body: Uint8Array
  readonly sig: Uint8Array | undefined
}

export class OplogTables {
  readonly #db: Db
  /** All origins by hex key; small (one per device that ever wrote). */
  readonly #origins = new Map<string, OriginHead>()
  readonly #byDevice = new Map<string, OriginHead>()
  readonly #insertOrigin: Statement
  readonly #updateHead: Statement
  readonly #flagEquivocating: Statement
  readonly #insertOp: Statement
  readonly #insertOps: Statement
  readonly #opBody: Statement
  readonly #opsRange: Statement
  readonly #setSig: Statement
  readonly #getMeta: Statement
  readonly #setMeta: Statement
  readonly #insertRejection: Statement
  readonly #trimRejections: Statement
  readonly #countRejection: Statement

  constructor (db: Db) {
    this.#db = db
    this.#insertOrigin = db.prepare('INSERT INTO origins (key) VALUES (?) RETURNING id').pluck()
    this.#updateHead = db.prepare('UPDATE origins SET head_seq = ?, head_hash = ?, head_hlc = ? WHERE id = ?')
    this.#flagEquivocating = db.prepare('UPDATE origins SET equivocating = 1 WHERE id = ?')
    this.#insertOp = db.prepare('INSERT INTO oplog (id, body, sig) VALUES (?, ?, ?)')
    this.#insertOps = db.prepare('INSERT INTO oplog (id, body, sig) VALUES ' + Array.from({ length: INSERT_CHUNK }, () => '(?, ?, ?)').join(', '))
    this.#opBody = db.prepare('SELECT body FROM oplog WHERE id = ?').pluck()
    this.#opsRange = db.prepare('SELECT id, body, sig FROM oplog WHERE id > ? AND id <= ? ORDER BY id LIMIT ?').raw()
    this.#setSig = db.prepare('UPDATE oplog SET sig = ? WHERE id = ?')
    this.#getMeta = db.prepare('SELECT value FROM meta WHERE name = ?').pluck()
    this.#setMeta = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
    this.#insertRejection = db.prepare('INSERT INTO rejections (at, origin, seq, reason, message) VALUES (?, ?, ?, ?, ?)')
    this.#trimRejections = db.prepare(`DELETE FROM rejections WHERE id <= (SELECT max(id) FROM rejections) - ${KEEP_REJECTIONS}`)
    this.#countRejection = db.prepare('INSERT INTO rejection_counts (reason, count) VALUES (?, 1) ON CONFLICT (reason) DO UPDATE SET count = count + 1')
    this.reload()
  }

  /** Re-reads origins from the database (after a rolled-back transaction). */
  reload (): void {
    this.#origins.clear()
    this.#byDevice.clear()
    const rows = this.#db.prepare('SELECT id, key, head_seq, head_hash, head_hlc, equivocating FROM origins').raw().all() as Array<[number, Uint8Array, number, Uint8Array | null, Uint8Array | null, number]>
    for (const [id, key, seq, hash, hlc, eq] of rows) {
      this.#remember({
        id,
        key,
        deviceId: deviceIdToString(key),
        seq,
        hash: hash ?? undefined,
        hlc: hlc === null ? undefined : readHlc(hlc, 0),
        equivocating: eq === 1
      })
    }
  }

  #remember (o: OriginHead): void {
    this.#origins.set(toHex(o.key), o)
    this.#byDevice.set(o.deviceId, o)
  }

  origin (key: Uint8Array): OriginHead | undefined { return this.#origins.get(toHex(key)) }

  originByDevice (deviceId: string): OriginHead | undefined { return this.#byDevice.get(deviceId) }

  /** The origin's row, created on first sight. Inside a transaction. */
  ensureOrigin (key: Uint8Array): OriginHead {
    const known = this.origin(key)
    if (known !== undefined) return known
    const id = this.#insertOrigin.get(key) as number
    const o: OriginHead = { id, key: Uint8Array.from(key), deviceId: deviceIdToString(key), seq: 0, hash: undefined, hlc: undefined, equivocating: false }
    this.#remember(o)
    return o
  }

  origins (): OriginHead[] { return [...this.#origins.values()] }

  versionVector (): Map<string, number> {
    const v = new Map<string, number>()
    for (const o of this.#origins.values()) if (o.seq > 0) v.set(o.deviceId, o.seq)
    return v
  }

  /** Hash of an op we hold, or undefined. */
  hashAt (origin: OriginHead, seq: number): Uint8Array | undefined {
    const body = this.#opBody.get(origin.id * SEQ_SPACE + seq) as Uint8Array | undefined
    return body === undefined ? undefined : sha256(body)
  }

  /** Appends ops (already verified, contiguous after the head) and moves the head. */
  /** `keepSig`: indices of the ops whose (verified) signature is kept, so pages can end there. */
  append (origin: OriginHead, ops: readonly Op[], keepSig: ReadonlySet<number>): void {
    const base = origin.id * SEQ_SPACE
    const args: Array<number | Uint8Array | null> = new Array(INSERT_CHUNK * 3)
    let i = 0
    // Many rows per statement: better-sqlite3's per-call cost is a large
    // share of a small insert.
    for (; i + INSERT_CHUNK <= ops.length; i += INSERT_CHUNK) {
      for (let j = 0; j < INSERT_CHUNK; j++) {
        const op = ops[i + j]!
        args[j * 3] = base + op.seq
        args[j * 3 + 1] = op.body
        args[j * 3 + 2] = keepSig.has(i + j) ? op.sig ?? null : null
      }
      this.#insertOps.run(args)
    }
    for (; i < ops.length; i++) {
      const op = ops[i]!
      this.#insertOp.run(base + op.seq, op.body, keepSig.has(i) ? op.sig ?? null : null)
    }
    const last = ops[ops.length - 1]!
    origin.seq = last.seq
    origin.hash = last.hash
    origin.hlc = last.hlc
    this.#updateHead.run(origin.seq, origin.hash, hlcToBytes(last.hlc), origin.id)
  }

  /** Attaches a signature to an op already stored (a local batch signs its last op after building). */
  setSignature (origin: OriginHead, seq: number, sig: Uint8Array): void {
    this.#setSig.run(sig, origin.id * SEQ_SPACE + seq)
  }

  flagEquivocating (origin: OriginHead): void {
    if (origin.equivocating) return
    origin.equivocating = true
    this.#flagEquivocating.run(origin.id)
  }

  /** Reads stored ops of one origin with seq in (from, to], at most `limit`. */
  read (origin: OriginHead, from: number, to: number, limit: number): StoredOp[] {
    const base = origin.id * SEQ_SPACE
    const rows = this.#opsRange.all(base + from, base + to, limit) as Array<[number, Uint8Array, Uint8Array | null]>
    return rows.map(([id, body, sig]) => ({ seq: id - base, body, sig: sig ?? undefined }))
  }

  /**
   * Stored ops of one origin with seq in (from, to], in seq order, read in
   * chunks of about READ_CHUNK_BYTES: the first read is one row, and later
   * ones are sized by the ops read so far. So a caller that stops early has
   * read at most one chunk more than it used: a page of 1 MB values reads the
   * values it sends, not the backlog behind them, and small ops still come
   * hundreds per query.
   */
  * range (origin: OriginHead, from: number, to: number): Generator<StoredOp> {
    let rows = 1
    let seen = 0
    let bytes = 0
    while (from < to) {
      const chunk = this.read(origin, from, to, rows)
      if (chunk.length === 0) return
      for (const s of chunk) {
        seen++
        bytes += s.body.byteLength
        yield s
      }
      from = chunk[chunk.length - 1]!.seq
      rows = Math.max(1, Math.min(READ_CHUNK_ROWS, Math.floor(READ_CHUNK_BYTES * seen / bytes)))
    }
  }

  /**
   * Ops beyond `vector`, origin by origin (in key order, for determinism),
   * each origin's slice ending on a signed op so the page can be verified
   * on its own.
   */
  opsSince (vector: VersionVector, options: OpsSinceOptions = {}): OpsPage {
    const limit = Math.max(1, options.limit ?? DEFAULT_PAGE_OPS)
    const maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_PAGE_BYTES)
    const ops: EncodedOp[] = []
    let bytes = 0
    let more = false
    const origins = [...this.#origins.values()].sort((a, b) => Buffer.compare(a.key, b.key))
    for (const o of origins) {
      const have = vector.get(o.deviceId) ?? 0
      if (o.seq <= have) continue
      if (ops.length >= limit || bytes >= maxBytes) { more = true; break }
      let from = have
      for (const s of this.range(o, have, o.seq)) {
        ops.push(s.sig === undefined ? { body: s.body } : { body: s.body, sig: s.sig })
        bytes += s.body.length + (s.sig?.length ?? 0)
        from = s.seq
        // Stop only on a signed op: the receiver needs a signature to close the run.
        if (s.sig !== undefined && (ops.length >= limit || bytes >= maxBytes)) break
      }
      if (from < o.seq) { more = true; break }
    }
    return { ops, bytes, more }
  }

  /** Every stored op, newest rowid first (for the CLI's oplog view). */
  * scan (): Generator<{ origin: OriginHead | undefined, seq: number, body: Uint8Array, signed: boolean }> {
    const byId = new Map<number, OriginHead>()
    for (const o of this.#origins.values()) byId.set(o.id, o)
    for (const [id, body, sig] of this.#db.prepare('SELECT id, body, sig FROM oplog ORDER BY id DESC').raw().iterate() as Iterable<[number, Uint8Array, Uint8Array | null]>) {
      const originId = Math.floor(id / SEQ_SPACE)
      yield { origin: byId.get(originId), seq: id - originId * SEQ_SPACE, body, signed: sig !== null }
    }
  }

  getMeta (name: string): Uint8Array | undefined {
    return this.#getMeta.get(name) as Uint8Array | undefined
  }

  setMeta (name: string, value: Uint8Array): void {
    this.#setMeta.run(name, value)
  }

  recordRejection (at: number, origin: Uint8Array | undefined, seq: number | undefined, reason: RejectReason, message: string): void {
    this.#insertRejection.run(at, origin ?? null, seq ?? null, reason, message.slice(0, 500))
    this.#countRejection.run(reason)
  }

  trimRejections (): void { this.#trimRejections.run() }

  rejectionCounts (): Record<string, number> {
    const rows = this.#db.prepare('SELECT reason, count FROM rejection_counts ORDER BY reason').raw().all() as Array<[string, number]>
    return Object.fromEntries(rows)
  }

  opCount (): number {
    let n = 0
    for (const o of this.#origins.values()) n += o.seq
    return n
  }
}
