/**
 * Integration fixtures: temp directories and replicas that are always closed
 * and removed after each test, and a RemoteDevice that builds signed,
 * hash-chained ops the way an origin would (and the forgeries it would not).
 * The fake wall clock lives in fake-clock.ts so unit tests need no store.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import type { Hlc } from '../../src/hlc/index.js'
import { DeviceKey } from '../../src/oplog/keys.js'
import { createOp, signingMessage, toEncoded, withSignature, ZERO_HASH, type EncodedOp, type Op, type OpKind } from '../../src/oplog/op.js'
import { encodeValue, type Value } from '../../src/oplog/value.js'
import { openReplica, type Replica, type ReplicaOptions } from '../../src/store/replica.js'

export { FakeClock } from './fake-clock.js'

const dirs: string[] = []
const replicas: Replica[] = []

/** A fresh directory under the OS temp dir, removed after the current test. */
export function tempDir (prefix = 'weft-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** Opens a replica in a fresh temp dir (unless `dir` is given); closed and removed after the test. */
export function newReplica (options: Partial<ReplicaOptions> = {}): Replica {
  const r = openReplica({ dir: options.dir ?? tempDir(), ...options })
  replicas.push(r)
  return r
}

/** Registers a replica opened by the test itself so it is closed after the test. */
export function track (r: Replica): Replica {
  replicas.push(r)
  return r
}

afterEach(() => {
  for (const r of replicas.splice(0)) r.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

export interface OpSpec {
  kind?: OpKind
  collection?: string
  key?: string
  field?: string
  value?: Value
  /** Raw encoded value (overrides `value`). */
  rawValue?: Uint8Array
  tags?: Uint8Array[]
  hlc?: Hlc
  seq?: number
  prev?: Uint8Array
}

/**
 * A remote device: builds its own hash-chained ops with createOp and signs
 * them with its key, as a real origin would, so tests can also build the
 * forgeries a real origin would never produce.
 */
export class RemoteDevice {
  readonly key: DeviceKey
  seq = 0
  head: Uint8Array = ZERO_HASH
  ms: number

  constructor (ms = 1_700_000_000_000, key = DeviceKey.generate()) { this.key = key; this.ms = ms }

  get id (): string { return this.key.id }

  /** Builds the next op of the chain (and advances the chain). */
  next (spec: OpSpec = {}): Op {
    const kind = spec.kind ?? 'set'
    const value = spec.rawValue ?? (kind === 'delete' ? new Uint8Array(0) : encodeValue(spec.value ?? (kind === 'increment' ? 1 : 'v')))
    const op = createOp({
      origin: this.key.publicKey,
      seq: spec.seq ?? this.seq + 1,
      hlc: spec.hlc ?? { ms: ++this.ms, counter: 0 },
      kind,
      collection: spec.collection ?? 'c',
      key: spec.key ?? 'k',
      field: spec.field ?? (kind === 'delete' ? '' : 'f'),
      value,
      tags: spec.tags ?? [],
      prev: spec.prev ?? this.head
    })
    this.seq = op.seq
    this.head = op.hash
    return op
  }

  sign (op: Op, key: DeviceKey = this.key): Op {
    return withSignature(op, key.sign(signingMessage(op.hash)))
  }

  /** A run of ops ending with one signature, encoded for applyRemote. */
  run (specs: OpSpec[]): EncodedOp[] {
    const ops = specs.map(s => this.next(s))
    ops[ops.length - 1] = this.sign(ops[ops.length - 1]!)
    return ops.map(toEncoded)
  }
}

/** Every op a replica holds, in page order (one page: these test stores are small). */
export function allOps (r: Replica): EncodedOp[] {
  const page = r.opsSince(new Map(), { limit: 1_000_000, maxBytes: 1024 ** 3 })
  if (page.more) throw new Error('allOps: store too large for one page')
  return [...page.ops]
}

/** A snapshot of what a replica shows, for before/after comparisons. */
export function snapshot (r: Replica): { digest: string, vector: Array<[string, number]> } {
  return { digest: r.digest(), vector: [...r.versionVector()].sort() }
}
