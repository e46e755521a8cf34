/**
 * The quarantine: ops from the future wait here instead of being refused.
 *
 * A device whose wall clock was once ahead (a wrong RTC, an NTP step back)
 * keeps stamping the future by the size of the error, because its HLC never
 * goes backwards. Refusing those ops (`drift`) left the device's writes out
 * of every peer until real time caught up, and it took the sender's retries
 * to ever deliver them. So, as Evolu does with changes it cannot apply yet,
 * an authentic op of a member stamped more than the drift bound ahead of our
 * clock is held in a table, and applied, through the same checks as any
 * remote op, once our clock is within the bound of it. Nothing is lost and
 * nothing applies early; our own clock never adopts a future time.
 *
 * Per origin the held ops are one contiguous run right after the origin's
 * head, kept in chain order: a later op of that origin waits behind them
 * (hash chain order), and the version vector (the oplog's heads) never claims
 * a held op, so peers keep offering them and a third device is never told
 * we hold what we cannot serve.
 *
 * What is held was verified first (chain links and the origin's signature),
 * and the table is bounded: when it is full, further ops from the future are
 * refused with `drift` as before (their senders keep them and offer them again).
 */
import { formatHlc, type Hlc } from '../hlc/index.js'
import { toHex } from '../oplog/bytes.js'
import { deviceIdToString, type SignatureVerifier } from '../oplog/keys.js'
import { decodeOp, type EncodedOp, type Op, type RejectReason } from '../oplog/op.js'
import { verifyRun, type ChainHead } from '../oplog/verify.js'
import type { Db, Statement } from './sqlite.js'

/** Largest total of held op bodies before further ops from the future are refused (`drift`). */
export const DEFAULT_MAX_HELD_BYTES = 256 * 1024 * 1024
/** Ops released per chunk (each chunk one transaction, ending on a signed op). */
export const RELEASE_CHUNK_OPS = 5000
export const RELEASE_CHUNK_BYTES = 4 * 1024 * 1024

/** One origin's held run. */
export interface HeldRun {
  readonly origin: Uint8Array
  readonly deviceId: string
  readonly first: number
  readonly last: number
  /** Chain head at `last`: what the next op of the origin must link to. */
  readonly lastHash: Uint8Array
  readonly lastHlc: Hlc
  /** Physical time of the first held op: the run starts to apply when our clock is within the drift bound of it. */
  readonly firstMs: number
  readonly ops: number
}

interface Row { origin: Uint8Array, first: number, last: number, first_ms: number, ops: number }

export class Quarantine {
  readonly #db: Db
  readonly #insert: Statement
  readonly #hashAt: Statement
  readonly #tail: Statement
  readonly #take: Statement
  readonly #deleteUpTo: Statement
  readonly #deleteOrigin: Statement
  readonly #runs = new Map<string, HeldRun>()
  #bytes = 0
  readonly maxBytes: number

  constructor (db: Db, maxBytes = DEFAULT_MAX_HELD_BYTES) {
    this.#db = db
    this.maxBytes = maxBytes
    this.#insert = db.prepare('INSERT INTO quarantine (origin, seq, hlc_ms, hash, body, sig, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO NOTHING')
    this.#hashAt = db.prepare('SELECT hash FROM quarantine WHERE origin = ? AND seq = ?').pluck()
    this.#tail = db.prepare('SELECT hash, body FROM quarantine WHERE origin = ? AND seq = ?').raw()
    this.#take = db.prepare('SELECT seq, hlc_ms, body, sig FROM quarantine WHERE origin = ? ORDER BY seq LIMIT ?').raw()
    this.#deleteUpTo = db.prepare('DELETE FROM quarantine WHERE origin = ? AND seq <= ?')
    this.#deleteOrigin = db.prepare('DELETE FROM quarantine WHERE origin = ?')
    this.reload()
  }

  /** Re-reads the summary of held runs (at open, and after a rolled-back transaction). */
  reload (): void {
    this.#runs.clear()
    const rows = this.#db.prepare('SELECT origin, min(seq) AS first, max(seq) AS last, min(hlc_ms) AS first_ms, count(*) AS ops FROM quarantine GROUP BY origin').all() as Row[]
    for (const r of rows) {
      const [hash, body] = this.#tail.get(r.origin, r.last) as [Uint8Array, Uint8Array]
      this.#runs.set(toHex(r.origin), {
        origin: Uint8Array.from(r.origin),
        deviceId: deviceIdToString(r.origin),
        first: r.first,
        last: r.last,
        lastHash: hash,
        lastHlc: decodeOp({ body }).hlc,
        firstMs: r.first_ms,
        ops: r.ops
      })
    }
    this.#bytes = (this.#db.prepare('SELECT coalesce(sum(length(body)), 0) FROM quarantine').pluck().get() as number)
  }

  /** The held run of an origin, if any. */
  run (origin: Uint8Array): HeldRun | undefined { return this.#runs.get(toHex(origin)) }

  runs (): HeldRun[] { return [...this.#runs.values()] }

  get bytes (): number { return this.#bytes }

  get size (): number { let n = 0; for (const r of this.#runs.values()) n += r.ops; return n }

  /** Hash of the held op `seq` of `origin`, or undefined. */
  hashAt (origin: Uint8Array, seq: number): Uint8Array | undefined {
    return this.#hashAt.get(origin, seq) as Uint8Array | undefined
  }

  /** Room for `bytes` more? */
  fits (bytes: number): boolean { return this.#bytes + bytes <= this.maxBytes }

  /** Holds verified ops of one origin (contiguous, in seq order, extending its run or starting one). Inside a transaction. */
  hold (ops: readonly Op[], now: number): void {
    if (ops.length === 0) return
    const origin = ops[0]!.origin
    for (const op of ops) {
      if (this.#insert.run(origin, op.seq, op.hlc.ms, op.hash, op.body, op.sig ?? null, now).changes > 0) this.#bytes += op.body.length
    }
    const k = toHex(origin)
    const before = this.#runs.get(k)
    const last = ops[ops.length - 1]!
    const first = ops[0]!
    const lo = before === undefined || first.seq < before.first ? first : undefined
    const hi = before === undefined || last.seq > before.last ? last : undefined
    this.#runs.set(k, {
      origin: Uint8Array.from(origin),
      deviceId: before?.deviceId ?? deviceIdToString(origin),
      first: lo?.seq ?? before!.first,
      last: hi?.seq ?? before!.last,
      lastHash: hi?.hash ?? before!.lastHash,
      lastHlc: hi?.hlc ?? before!.lastHlc,
      firstMs: Math.min(before?.firstMs ?? Infinity, ...ops.map(o => o.hlc.ms)),
      ops: (before?.ops ?? 0) + ops.length
    })
  }

  /**
   * Takes out (deletes) the start of the first run whose first op is within
   * `bound` (ms), as encoded ops: at least the ops stamped at or before
   * `bound` up to the chunk limits, and on to the next signed op so the chunk
   * verifies on its own. Undefined when no run is due. Inside a transaction.
   */
  takeDue (bound: number): EncodedOp[] | undefined {
    const run = [...this.#runs.values()].find(r => r.firstMs <= bound)
    if (run === undefined) return undefined
    const rows = this.#take.all(run.origin, RELEASE_CHUNK_OPS * 2) as Array<[number, number, Uint8Array, Uint8Array | null]>
    const out: EncodedOp[] = []
    let bytes = 0
    let lastSeq = run.first - 1
    for (const [seq, ms, body, sig] of rows) {
      const enough = ms > bound || out.length >= RELEASE_CHUNK_OPS || bytes >= RELEASE_CHUNK_BYTES
      // Past what is due, stop at the first signed op (a chunk must end on one).
      if (enough && out.length > 0 && out[out.length - 1]!.sig !== undefined) break
      out.push(sig === null ? { body } : { body, sig })
      bytes += body.length
      lastSeq = seq
    }
    this.drop(run.origin, lastSeq)
    return out
  }

  /** Deletes the held ops of `origin` up to `seq` (all of them without `seq`). Inside a transaction. */
  drop (origin: Uint8Array, seq?: number): void {
    const k = toHex(origin)
    const run = this.#runs.get(k)
    if (run === undefined) return
    if (seq === undefined || seq >= run.last) {
      this.#deleteOrigin.run(origin)
      this.#runs.delete(k)
    } else {
      this.#deleteUpTo.run(origin, seq)
      const rest = this.#db.prepare('SELECT min(seq) AS first, min(hlc_ms) AS first_ms, count(*) AS ops FROM quarantine WHERE origin = ?').get(origin) as Omit<Row, 'origin' | 'last'>
      this.#runs.set(k, { ...run, first: rest.first, firstMs: rest.first_ms, ops: rest.ops })
    }
    this.#bytes = (this.#db.prepare('SELECT coalesce(sum(length(body)), 0) FROM quarantine').pluck().get() as number)
  }

  /** Physical time of the earliest held op, or undefined when nothing is held. */
  earliestMs (): number | undefined {
    let min: number | undefined
    for (const r of this.#runs.values()) if (min === undefined || r.firstMs < min) min = r.firstMs
    return min
  }
}

/** An op of a batch, with its index in the batch (for rejections). */
export interface BatchOp { readonly op: Op, readonly index: number }

/**
 * The ops of `list[0, end)`, built with push rather than `map`: V8's
 * optimized `map` makes arrays of another kind (holey) than the
 * interpreter's, and `verifyRun`, the oplog's append and the state's apply,
 * optimized on one kind, were thrown away (a "wrong map" deopt) and compiled
 * again when the caller that builds these arrays was optimized.
 */
export function opsOf (list: readonly BatchOp[], end = list.length): Op[] {
  const ops: Op[] = []
  for (let i = 0; i < end; i++) ops.push(list[i]!.op)
  return ops
}

export interface HoldContext {
  readonly verifier: SignatureVerifier
  readonly authorize?: ((origin: Uint8Array, hlc: Hlc) => boolean) | undefined
}

/**
 * Which of `list` (one origin's new ops in seq order, continuing the chain at
 * `base`) go into quarantine: the prefix whose origin is a member at the
 * op's time and that the chain and a signature authenticate, if the table
 * has room. The rest is refused through `reject`, as `applyRemote` would.
 */
export function planHold (ctx: HoldContext, q: Pick<Quarantine, 'fits' | 'maxBytes'>, key: Uint8Array, base: ChainHead | null, list: readonly BatchOp[], reject: (it: BatchOp, reason: RejectReason, message: string) => void): Op[] {
  if (list.length === 0) return []
  let cut = list.length
  for (let i = 0; i < list.length; i++) {
    const { op } = list[i]!
    if (ctx.authorize !== undefined && !ctx.authorize(key, op.hlc)) {
      reject(list[i]!, 'not_member', `op ${op.seq}: origin is not a member of this group at the op's time`)
      cut = i
      break
    }
  }
  const candidates = list.slice(0, cut)
  const verdict = verifyRun(base, opsOf(candidates), ctx.verifier)
  if (verdict.rejection !== undefined) {
    const r = verdict.rejection
    reject(candidates[r.index]!, r.reason, r.message)
    for (const it of candidates.slice(r.index + 1)) reject(it, 'gap', `op ${it.op.seq} follows op ${candidates[r.index]!.op.seq}, which was refused`)
  }
  for (const it of list.slice(cut + 1)) reject(it, 'gap', `op ${it.op.seq} follows op ${list[cut]!.op.seq}, which was refused`)
  const accepted = candidates.slice(0, verdict.accepted)
  let bytes = 0
  for (const c of accepted) bytes += c.op.body.length
  if (!q.fits(bytes)) {
    for (const c of accepted) reject(c, 'drift', `op ${c.op.seq}: HLC ${formatHlc(c.op.hlc)} is ahead of the local clock by more than the drift bound, and the quarantine for such ops is full (${q.maxBytes} bytes)`)
    return []
  }
  return opsOf(accepted)
}
