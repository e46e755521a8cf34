/**
 * An in-memory SyncStore over real, signed, hash-chained ops, for protocol
 * unit tests. It keeps the properties the protocol relies on: a receiver
 * accepts only a contiguous, authenticated prefix per origin (checked with the
 * oplog's own `verifyRun`), and `opsSince` pages end each origin's slice on a
 * signed op. Integration and e2e tests use the real replica instead.
 */
import { createHash, randomBytes } from 'node:crypto'
import { DeviceKey, deviceIdToString, SignatureVerifier } from '../../src/oplog/keys.js'
import { createOp, decodeOp, OpRejectedError, signingMessage, ZERO_HASH, type EncodedOp, type Op } from '../../src/oplog/op.js'
import { encodeValue } from '../../src/oplog/value.js'
import { verifyRun } from '../../src/oplog/verify.js'
import type { ApplyResult, OpsPage, OpsSinceOptions, Rejection, SyncStore, VersionVector } from '../../src/protocol/port.js'

interface Held { readonly op: Op, readonly encoded: EncodedOp, readonly bytes: number }

export class MemoryStore implements SyncStore {
  readonly key: DeviceKey
  readonly #logs = new Map<string, Held[]>()
  readonly #verifier = new SignatureVerifier()
  #ms = 1_700_000_000_000
  applyCalls = 0

  constructor (key: DeviceKey = DeviceKey.generate()) { this.key = key }

  get deviceId (): string { return this.key.id }

  /** Appends `count` local writes, signing the last op of every `batch`. Returns the new ops. */
  write (count: number, options: { batch?: number, valueBytes?: number, random?: boolean } = {}): EncodedOp[] {
    const batch = options.batch ?? 1
    const log = this.#log(this.deviceId)
    const out: EncodedOp[] = []
    for (let i = 0; i < count; i++) {
      const prev = log.at(-1)?.op.hash ?? ZERO_HASH
      const seq = log.length + 1
      // random bytes do not deflate: what a photo or an archive costs on the wire
      const value = options.valueBytes === undefined ? seq : options.random === true ? new Uint8Array(randomBytes(options.valueBytes)) : 'x'.repeat(options.valueBytes)
      let op = createOp({ origin: this.key.publicKey, seq, hlc: { ms: this.#ms++, counter: 0 }, kind: 'set', collection: 'notes', key: `k${seq % 97}`, field: 'n', value: encodeValue(value), prev })
      const signed = (i + 1) % batch === 0 || i === count - 1
      if (signed) op = { ...op, sig: this.key.sign(signingMessage(op.hash)) }
      const encoded: EncodedOp = op.sig === undefined ? { body: op.body } : { body: op.body, sig: op.sig }
      log.push({ op, encoded, bytes: op.body.byteLength + (op.sig?.byteLength ?? 0) })
      out.push(encoded)
    }
    return out
  }

  versionVector (): VersionVector {
    const v = new Map<string, number>()
    for (const [origin, log] of this.#logs) if (log.length > 0) v.set(origin, log.length)
    return v
  }

  opsSince (vector: VersionVector, options: OpsSinceOptions = {}): OpsPage {
    const limit = options.limit ?? Infinity
    const maxBytes = options.maxBytes ?? Infinity
    const ops: EncodedOp[] = []
    let bytes = 0
    let more = false
    for (const origin of [...this.#logs.keys()].sort()) {
      const log = this.#logs.get(origin)!
      let i = vector.get(origin) ?? 0
      if (i >= log.length) continue
      if (ops.length >= limit || bytes >= maxBytes) { more = true; break }
      for (; i < log.length; i++) {
        const h = log[i]!
        ops.push(h.encoded)
        bytes += h.bytes
        if (h.encoded.sig !== undefined && (ops.length >= limit || bytes >= maxBytes)) { i++; break }
      }
      if (i < log.length) { more = true; break }
    }
    return { ops, bytes, more }
  }

  applyRemote (ops: readonly EncodedOp[]): ApplyResult {
    this.applyCalls++
    const rejected: Rejection[] = []
    let applied = 0
    let duplicates = 0
    const runs = new Map<string, Array<{ op: Op, encoded: EncodedOp, index: number }>>()
    ops.forEach((encoded, index) => {
      try {
        const op = decodeOp(encoded)
        const origin = deviceIdToString(op.origin)
        const log = this.#log(origin)
        if (op.seq <= log.length) { duplicates++; return }
        let run = runs.get(origin)
        if (run === undefined) runs.set(origin, run = [])
        run.push({ op, encoded, index })
      } catch (err) {
        if (!(err instanceof OpRejectedError)) throw err
        rejected.push({ index, reason: err.reason, message: err.message })
      }
    })
    for (const [origin, run] of runs) {
      const log = this.#log(origin)
      const last = log.at(-1)
      const verdict = verifyRun(last === undefined ? null : { seq: log.length, hash: last.op.hash }, run.map(r => r.op), this.#verifier)
      for (let i = 0; i < verdict.accepted; i++) {
        const r = run[i]!
        log.push({ op: r.op, encoded: r.encoded, bytes: r.op.body.byteLength + (r.op.sig?.byteLength ?? 0) })
        applied++
      }
      if (verdict.rejection !== undefined) {
        for (let i = verdict.rejection.index; i < run.length; i++) {
          rejected.push({ origin, seq: run[i]!.op.seq, index: run[i]!.index, reason: verdict.rejection.reason, message: verdict.rejection.message })
        }
      }
    }
    return { applied, duplicates, rejected }
  }

  /** Hash over every held op in (origin, seq) order: equal digests mean equal logs. */
  digest (): string {
    const h = createHash('sha256')
    for (const origin of [...this.#logs.keys()].sort()) for (const held of this.#logs.get(origin)!) h.update(held.op.hash)
    return h.digest('hex')
  }

  count (): number {
    let n = 0
    for (const log of this.#logs.values()) n += log.length
    return n
  }

  #log (origin: string): Held[] {
    let log = this.#logs.get(origin)
    if (log === undefined) this.#logs.set(origin, log = [])
    return log
  }
}
