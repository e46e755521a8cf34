/**
 * The port the sync protocol needs from a replica. Declared here, by the
 * consumer (as Syncthing's protocol package declares its `Model`), so protocol
 * code never imports the store; `store` implements it and `daemon` wires them.
 */
import type { EncodedOp, RejectReason } from '../oplog/op.js'

/**
 * Per-origin highest contiguous seq, keyed by device id (libp2p peer id
 * string, `12D3KooW…`). An origin missing from the map means seq 0.
 */
export type VersionVector = ReadonlyMap<string, number>

export interface OpsPage {
  /** Ops beyond the requested vector, per origin in seq order; each origin's slice ends on a signed op. */
  readonly ops: readonly EncodedOp[]
  /** Encoded size of `ops` (bodies plus signatures). */
  readonly bytes: number
  /** True when the store holds more beyond the vector than this page carries. */
  readonly more: boolean
}

export interface OpsSinceOptions {
  /** Stop adding ops after this many (a page may run past it to end each origin's slice on a signed op). */
  readonly limit?: number
  /** Stop adding ops once this many encoded bytes are in the page (same signed-op rule). */
  readonly maxBytes?: number
}

export interface Rejection {
  /** Device id of the op's origin, when the op decoded far enough to know it. */
  readonly origin?: string
  readonly seq?: number
  /** Index of the op in the batch passed to `applyRemote`. */
  readonly index: number
  readonly reason: RejectReason
  readonly message: string
}

export interface ApplyResult {
  /** Ops newly applied. */
  readonly applied: number
  /** Ops we already held with identical content (replays are harmless). */
  readonly duplicates: number
  readonly rejected: readonly Rejection[]
  /** Authentic ops stamped too far ahead of our clock, kept until it reaches them (neither applied nor refused). */
  readonly held?: number
}

export interface SyncStore {
  /** The local device id (also the oplog origin of local writes). */
  readonly deviceId: string
  versionVector(): VersionVector
  opsSince(vector: VersionVector, options?: OpsSinceOptions): OpsPage
  /** Verifies and applies a batch in one transaction. Never throws for bad ops: they come back in `rejected`. */
  applyRemote(ops: readonly EncodedOp[]): ApplyResult
  /** Collection -> version of the schemas the local app declared; sent in the hello so peers can show differences. */
  schemaVersions?(): ReadonlyMap<string, number>
}
