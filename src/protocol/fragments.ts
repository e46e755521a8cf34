/**
 * Runs too large for a page, carried in fragments that outlive a session.
 *
 * A page ends each origin's ops on a signed op, because the receiver needs a
 * signature to verify what it applies. So the smallest thing a page can carry
 * is a run: an origin's ops up to its next signed op, which is usually one
 * batch, and for a large value one op of up to `maxValueBytes` (1 MiB). A
 * stock relay cuts every relayed connection after 128 KiB in both directions
 * together, so such a run could never cross one, and every later op of its
 * origin waited behind it forever.
 *
 * A requester that understands fragments says so in its Want
 * (`fragment_above_bytes`). A server whose first run for that Want is larger
 * sends instead a slice of the run's OpList encoding (at most the requested
 * page size), with the run's identity: origin, first and last seq, total
 * size, and the SHA-256 of the whole encoding. The requester keeps the slices
 * in a `RunAssembler` shared by all its sessions; every Want lists the
 * prefixes it holds (`held`), and the server continues where the matching
 * one ends, so the next relayed connection (or another peer holding the same
 * run) resumes instead of starting over. Once the requester holds all of it,
 * the digest is checked and the run goes through the store's normal
 * `applyRemote`, which verifies the hash chain and the signature; nothing of
 * a run is applied before all of it is verified.
 *
 * Held prefixes live in memory, bounded in bytes, runs and idle time. Not in
 * the store: a restart loses at most one partial run per origin (about 1 MiB
 * at the default value limit), which the next session fetches again, and in
 * exchange fragments cost no disk writes, no schema and no cleanup of orphans
 * (a run's origin may be revoked, or the run applied from another peer,
 * before it completes).
 */
import { bytesEqual, toHex } from '../oplog/bytes.js'
import { deviceIdToString, PUBLIC_KEY_BYTES } from '../oplog/keys.js'
import { sha256, type EncodedOp } from '../oplog/op.js'
import { DEFAULT_HELD_RUN_IDLE_MS, DEFAULT_MAX_HELD_RUN_BYTES, DEFAULT_MAX_RUN_BYTES, MAX_HELD_RUNS } from './constants.js'
import { BadRequestError } from './errors.js'
import { readOpHeader } from '../oplog/op-header.js'
import { encodeOpList } from './ops-codec.js'
import type { RunPrefix } from './pb/sync.js'
import type { VersionVector } from './port.js'

const DIGEST_BYTES = 32

/** Which run a fragment belongs to: what a Fragment header and a RunPrefix share. */
export interface RunIdentity {
  /** The origin's 32-byte public key. */
  readonly origin: Uint8Array
  readonly firstSeq: number
  readonly lastSeq: number
  /** SHA-256 of the run's whole OpList encoding. */
  readonly digest: Uint8Array
}

export interface FragmentHeader extends RunIdentity {
  readonly totalBytes: number
  readonly offset: number
}

/** A partly received run, for status displays. */
export interface HeldRunInfo {
  /** The origin's device id. */
  readonly origin: string
  readonly firstSeq: number
  readonly lastSeq: number
  readonly heldBytes: number
  readonly totalBytes: number
  /** When a slice was last added (ms, from the injected clock). */
  readonly updatedAt: number
}

export type AddOutcome =
  /** The slice extended the prefix (`grew`), or repeated bytes already held; `held`: the prefix now held of this run (0: none). */
  | { readonly complete: false, readonly grew: boolean, readonly held: number }
  /** The run is whole and matches its digest: its encoding, to decode and apply. */
  | { readonly complete: true, readonly bytes: Uint8Array }

export interface RunAssemblerOptions {
  /** Largest run assembled. @default DEFAULT_MAX_RUN_BYTES (4 MiB) */
  maxRunBytes?: number
  /** Bytes held over all partial runs; the least recently extended run goes first. @default DEFAULT_MAX_HELD_RUN_BYTES (16 MiB) */
  maxHeldBytes?: number
  /** @default MAX_HELD_RUNS (16) */
  maxRuns?: number
  /** A run not extended for this long is dropped. @default DEFAULT_HELD_RUN_IDLE_MS (10 min) */
  idleMs?: number
  /** Clock for the idle rule, ms. The protocol never reads the wall clock itself. */
  now: () => number
}

interface Partial {
  readonly id: RunIdentity
  readonly originHex: string
  readonly deviceId: string
  readonly totalBytes: number
  readonly chunks: Uint8Array[]
  held: number
  updatedAt: number
}

/**
 * Prefixes of fragmented runs, at most one per origin (a requester asks
 * from its vector, so only the run right after an origin's head can come).
 */
export class RunAssembler {
  readonly #runs = new Map<string, Partial>()
  readonly #maxRunBytes: number
  readonly #maxHeldBytes: number
  readonly #maxRuns: number
  readonly #idleMs: number
  readonly #now: () => number
  #heldBytes = 0

  constructor (options: RunAssemblerOptions) {
    this.#maxRunBytes = options.maxRunBytes ?? DEFAULT_MAX_RUN_BYTES
    this.#maxHeldBytes = Math.max(this.#maxRunBytes, options.maxHeldBytes ?? DEFAULT_MAX_HELD_RUN_BYTES)
    this.#maxRuns = Math.max(1, Math.min(MAX_HELD_RUNS, options.maxRuns ?? MAX_HELD_RUNS))
    this.#idleMs = options.idleMs ?? DEFAULT_HELD_RUN_IDLE_MS
    this.#now = options.now
  }

  get maxRunBytes (): number { return this.#maxRunBytes }

  /** Bytes held over all partial runs. */
  get heldBytes (): number { return this.#heldBytes }

  /**
   * Adds one slice. A slice that starts a run (offset 0) replaces another
   * run held for the same origin; a slice past the held prefix, or of a run
   * we hold no prefix of, is ignored (`grew: false`): the requester's next
   * Want names what it holds, and the server starts from there. Throws
   * BadRequestError when the whole run does not hash to its digest (the run
   * is dropped).
   */
  add (header: FragmentHeader, data: Uint8Array): AddOutcome {
    this.#expire()
    const originHex = toHex(header.origin)
    let run = this.#runs.get(originHex)
    if (run !== undefined && !(sameRun(run.id, header) && run.totalBytes === header.totalBytes)) {
      if (header.offset !== 0) return { complete: false, grew: false, held: 0 }
      this.#drop(run)
      run = undefined
    }
    if (run === undefined) {
      if (header.offset !== 0) return { complete: false, grew: false, held: 0 }
      this.#makeRoom(header.totalBytes)
      run = {
        id: { origin: Uint8Array.from(header.origin), firstSeq: header.firstSeq, lastSeq: header.lastSeq, digest: Uint8Array.from(header.digest) },
        originHex,
        deviceId: deviceIdToString(header.origin),
        totalBytes: header.totalBytes,
        chunks: [],
        held: 0,
        updatedAt: this.#now()
      }
      this.#runs.set(originHex, run)
    }
    if (header.offset > run.held) return { complete: false, grew: false, held: run.held }
    // Overlap (two sessions were served the same slice): keep only what is new.
    const fresh = data.subarray(Math.min(data.byteLength, run.held - header.offset))
    if (fresh.byteLength === 0) return { complete: false, grew: false, held: run.held }
    run.chunks.push(Uint8Array.from(fresh))
    run.held += fresh.byteLength
    this.#heldBytes += fresh.byteLength
    run.updatedAt = this.#now()
    // the LRU order is the map's insertion order
    this.#runs.delete(originHex)
    this.#runs.set(originHex, run)
    if (run.held < run.totalBytes) return { complete: false, grew: true, held: run.held }
    this.#drop(run)
    const bytes = concat(run.chunks, run.totalBytes)
    if (!bytesEqual(sha256(bytes), run.id.digest)) {
      throw new BadRequestError(`fragmented run of seq ${run.id.firstSeq}..${run.id.lastSeq} does not match its digest`)
    }
    return { complete: true, bytes }
  }

  /** What a Want lists: the prefixes held, most recently extended first. */
  prefixes (): RunPrefix[] {
    this.#expire()
    return [...this.#runs.values()].reverse().map(r => ({
      origin: r.id.origin,
      firstSeq: r.id.firstSeq,
      lastSeq: r.id.lastSeq,
      digest: r.id.digest,
      bytes: r.held
    }))
  }

  held (): HeldRunInfo[] {
    this.#expire()
    return [...this.#runs.values()].map(r => ({
      origin: r.deviceId,
      firstSeq: r.id.firstSeq,
      lastSeq: r.id.lastSeq,
      heldBytes: r.held,
      totalBytes: r.totalBytes,
      updatedAt: r.updatedAt
    }))
  }

  /** Drops the runs that `vector` already covers (applied from a page, or from another peer's fragments). */
  pruneApplied (vector: VersionVector): void {
    for (const run of [...this.#runs.values()]) if ((vector.get(run.deviceId) ?? 0) >= run.id.firstSeq) this.#drop(run)
  }

  /** Forgets the run held for an origin (its ops arrived another way, or the run was refused). */
  forget (originKey: Uint8Array): void {
    const run = this.#runs.get(toHex(originKey))
    if (run !== undefined) this.#drop(run)
  }

  #drop (run: Partial): void {
    if (this.#runs.get(run.originHex) === run) this.#runs.delete(run.originHex)
    this.#heldBytes -= run.held
  }

  #makeRoom (incoming: number): void {
    for (const run of this.#runs.values()) {
      if (this.#runs.size < this.#maxRuns && this.#heldBytes + incoming <= this.#maxHeldBytes) return
      this.#drop(run)
    }
  }

  #expire (): void {
    const before = this.#now() - this.#idleMs
    for (const run of [...this.#runs.values()]) if (run.updatedAt < before) this.#drop(run)
  }
}

function sameRun (a: RunIdentity, b: RunIdentity): boolean {
  return a.firstSeq === b.firstSeq && a.lastSeq === b.lastSeq && bytesEqual(a.digest, b.digest) && bytesEqual(a.origin, b.origin)
}

function concat (chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength === total) return chunks[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.byteLength }
  return out
}

/** Checks a Fragment header from the wire; throws BadRequestError. */
export function checkFragmentHeader (f: FragmentHeader, rawBytes: number): void {
  if (f.origin.byteLength !== PUBLIC_KEY_BYTES) throw new BadRequestError(`fragment origin is ${f.origin.byteLength} bytes, expected ${PUBLIC_KEY_BYTES}`)
  if (f.digest.byteLength !== DIGEST_BYTES) throw new BadRequestError(`fragment digest is ${f.digest.byteLength} bytes, expected ${DIGEST_BYTES}`)
  if (!Number.isSafeInteger(f.firstSeq) || !Number.isSafeInteger(f.lastSeq) || f.firstSeq < 1 || f.lastSeq < f.firstSeq) {
    throw new BadRequestError(`fragment of ops ${f.firstSeq}..${f.lastSeq} is not a run of seqs`)
  }
  if (rawBytes === 0 || f.offset + rawBytes > f.totalBytes) throw new BadRequestError(`fragment of ${rawBytes} bytes at ${f.offset} does not lie within its run of ${f.totalBytes} bytes`)
}

/**
 * Decodes a whole run and checks it is what its fragments said: ops
 * `firstSeq..lastSeq` of `origin`, in order. The store verifies the rest.
 */
export function checkRunOps (id: RunIdentity, ops: readonly EncodedOp[]): void {
  ops.forEach((op, i) => {
    const h = readOpHeader(op.body)
    if (h === undefined || !bytesEqual(h.originKey, id.origin) || h.seq !== id.firstSeq + i) {
      throw new BadRequestError(`fragmented run of seq ${id.firstSeq}..${id.lastSeq}: op ${i} is not seq ${id.firstSeq + i} of that origin`)
    }
  })
}

/** What a server sends for a Want that accepts fragments. */
export type PagePlan =
  | { readonly kind: 'ops', readonly ops: readonly EncodedOp[], readonly trimmed: boolean }
  | { readonly kind: 'run', readonly ops: readonly EncodedOp[] }

const opBytes = (op: EncodedOp): number => op.body.byteLength + (op.sig?.byteLength ?? 0)

/**
 * Plans a page under a fragment threshold: the store's page as it is when it
 * is within the threshold; else its longest prefix that ends on a signed op
 * and stays within it (the rest comes with the next Want); and when even the
 * first run is larger, that run alone, to be sent in fragments.
 */
export function planPage (ops: readonly EncodedOp[], fragmentAboveBytes: number): PagePlan {
  let total = 0
  for (const op of ops) total += opBytes(op)
  if (total <= fragmentAboveBytes) return { kind: 'ops', ops, trimmed: false }
  let bytes = 0
  let end = 0
  for (let i = 0; i < ops.length; i++) {
    bytes += opBytes(ops[i]!)
    if (bytes > fragmentAboveBytes) break
    if (ops[i]!.sig !== undefined) end = i + 1
  }
  if (end > 0) return { kind: 'ops', ops: ops.slice(0, end), trimmed: true }
  const firstSigned = ops.findIndex(op => op.sig !== undefined)
  return { kind: 'run', ops: firstSigned < 0 ? ops : ops.slice(0, firstSigned + 1) }
}

/** A run encoded once for all its fragments. */
export interface EncodedRun extends RunIdentity {
  /** The origin's device id. */
  readonly originId: string
  readonly bytes: Uint8Array
  readonly count: number
}

/**
 * The server's side: encodes a run and hashes it once, then serves its
 * slices from the copy while the same run is asked for (one fragment per
 * Want, so a 1 MiB run in 16 KiB slices would otherwise be encoded and hashed
 * 64 times).
 */
export class RunEncoder {
  #last: EncodedRun | undefined

  /** Undefined when a body cannot be read (another op format): the caller sends the run whole. */
  encode (ops: readonly EncodedOp[]): EncodedRun | undefined {
    const first = readOpHeader(ops[0]!.body)
    const last = readOpHeader(ops[ops.length - 1]!.body)
    if (first === undefined || last === undefined || last.seq - first.seq + 1 !== ops.length || !bytesEqual(first.originKey, last.originKey)) return undefined
    const cached = this.#last
    if (cached !== undefined && cached.firstSeq === first.seq && cached.lastSeq === last.seq && bytesEqual(cached.origin, first.originKey)) return cached
    const bytes = encodeOpList(ops)
    const origin = Uint8Array.from(first.originKey)
    this.#last = { origin, originId: deviceIdToString(origin), firstSeq: first.seq, lastSeq: last.seq, digest: sha256(bytes), bytes, count: ops.length }
    return this.#last
  }

  /**
   * The run this encoder holds, when a Want continues it: the requester holds
   * a prefix of it and still asks from just before its first op. Lets a
   * server serve the next slice without reading the run from the store again
   * (a 1 MiB op per 16 KiB slice). Ops are immutable once stored, so the copy
   * is what the store would give.
   */
  continuing (held: readonly RunPrefix[], vector: VersionVector): { run: EncodedRun, offset: number } | undefined {
    const run = this.#last
    if (run === undefined || (vector.get(run.originId) ?? 0) !== run.firstSeq - 1) return undefined
    const offset = resumeOffset(run, held)
    return offset > 0 ? { run, offset } : undefined
  }
}

/** Where a server starts its slice: after the prefix the requester holds of this very run, else at 0. */
export function resumeOffset (run: EncodedRun, held: readonly RunPrefix[]): number {
  const p = held.find(h => sameRun(run, h))
  return p !== undefined && p.bytes < run.bytes.byteLength ? p.bytes : 0
}
