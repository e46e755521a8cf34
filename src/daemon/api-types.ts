/**
 * The daemon's contract with its clients, as types only: what the control
 * API answers (docs/control-api.md) and what the daemon's entry commands
 * (src/daemon/main.ts) return. The CLI imports this module and nothing else
 * of the daemon's runtime (`import type` is erased), so it stays light.
 */

/** Parsed command-line flags, as the CLI hands them to the daemon's entry commands. */
export type CommandValues = Readonly<Record<string, string | boolean | string[] | undefined>>

/** `weft init`. */
export interface InitResult { created: boolean, group: string, device: string }

/** `weft recover`. */
export interface RecoverResult {
  readonly mode: 'joined' | 'fresh' | 'finished'
  /** The old device id, when known. */
  readonly previous: string | null
  readonly device: string
  readonly group: string | null
  /** Where the old files were moved. */
  readonly kept: string | null
  /** Ops in the new store, and how many of them are the old identity's. */
  readonly ops: number
  readonly previousOps: number
  /** The old identity was revoked: by its own key (with a succession statement), or by this device (--replaces). */
  readonly retired: 'self' | 'revoked' | 'no'
}

// ---------------------------------------------------------------------------
// Control API responses (HTTP 200 bodies), one per endpoint or family.

/** A stored value as JSON: bytes travel as `{ "$bytes": "<base64>" }`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** Writes and deletes that have nothing else to say. */
export interface OkResponse { ok: true }

/** `GET /v1/data/:collection/:key`: the row's fields, an object of JsonValue. */
export type RowResponse = unknown

/** `GET /v1/data/:collection`: rows in key order; `fields` is an object of JsonValue. */
export interface RowListItem { key: string, fields: unknown }

/** `GET /v1/collections`. */
export type CollectionsResponse = string[]

/** `GET /v1/vector`: origin device id -> highest seq held. */
export type VersionVector = Record<string, number>

/** One op of `GET /v1/oplog` and of the `GET /v1/oplog/follow` stream (one per line). */
export interface OpView {
  origin: string
  seq: number
  hlc: string
  kind: string
  collection: string
  key: string
  field?: string
  value?: unknown
  signed: boolean
}

/** This device's HLC against its wall clock. */
export interface ClockView {
  hlc: string
  wall: string
  aheadMs: number
  maxDriftMs: number
  ok: boolean
  detail: string
}

/** A peer that holds this device's ops, stamped beyond the drift bound of its clock, until its clock reaches them. */
export interface PeerHolding { peer: string, name: string | null, fromSeq: number, aheadMs: number }

/** Ops from a device held here until this clock reaches them. */
export interface HeldView { device: string, name: string | null, ops: number, fromSeq: number, aheadMs: number, appliesInMs: number }

/** A run of ops partly received in fragments (a large value crossing a limited relay). */
export interface IncomingRun { origin: string, seqs: string, heldBytes: number, totalBytes: number, updatedAt: string }

/** The daemon's own state, without its peers (what `/metrics` is made from). */
export interface DaemonStatus {
  device: string
  deviceName: string
  group: string | null
  dataDir: string
  pid: number
  uptimeSeconds: number
  hlc: string
  clock: ClockView
  store: { bytes: number, ops: number, origins: number }
  vector: VersionVector
  rejected: Record<string, number>
  equivocating: Array<{ device: string, name: string | null }>
  held: HeldView[]
  network: null | { peerId: string, addresses: string[], incoming: IncomingRun[] }
}

/** One peer of `GET /v1/peers` (and of `status.peers`). */
export interface PeerView {
  peerId: string
  /** The name in the device's admission, for members. */
  deviceName?: string | undefined
  /** An admitted, unrevoked member of our group. */
  member: boolean
  connected: boolean
  /** direct, direct (LAN), relayed via <relay id>, or none */
  path: string
  address?: string | undefined
  rttMs?: number | undefined
  lastSync?: string | undefined
  lastSyncOk?: boolean | undefined
  /** Ops we hold that the peer did not, and ops it held that we do not, as of its last hello. */
  localAhead: number
  behind: number
  localOps: number
  peerOps: number
  status: string
  opsSent: number
  opsReceived: number
  rejected?: { reason: string, message: string, at: string } | undefined
  lastError?: { code: string, message: string, remote: boolean, at: string } | undefined
  /** The peer speaks another sync protocol or op format version (seen in a session or in its announcements). */
  versionMismatch?: { via: 'sync' | 'gossip', message: string, at: string } | undefined
  /** Announced ops that arrived ahead of what we held and were pulled instead. */
  opsDeferred: number
  theirVector: VersionVector
  schemas: Record<string, number>
  schemaDiffers: Array<{ collection: string, local: number | null, peer: number | null }>
}

/** `GET /v1/status`. */
export interface StatusResponse extends DaemonStatus {
  clock: ClockView & { peersHolding: PeerHolding[] }
  peers: PeerView[]
}

/** One relay of `GET /v1/relays`. */
export interface RelayView { relay: string, connected: boolean, reserved: boolean, failures: number }

/** `GET /v1/peer-book`: every known address of each member, and the member dialer's state. */
export interface PeerBookResponse {
  entries: Array<{
    peer: string
    addr: string
    kind: string
    relay?: string | undefined
    seenAt: number
    okAt?: number
    failAt?: number
    failures: number
    error?: string
  }>
  dialer: Array<{
    peer: string
    configured: boolean
    connected: boolean
    failures: number
    lastAttemptAt?: number
    nextAttemptAt?: number
    lastAttempt?: readonly unknown[]
  }>
}

/** One session of `POST /v1/sync`: an array without a peer, one object with one. */
export interface SyncResult {
  peer: string
  ok: boolean
  complete: boolean
  opsSent: number
  opsReceived: number
  applied: number
  rejected: number
  ms: number
  error: { code: string, message: string } | null
}

/** `GET /v1/diff/:peer`. */
export interface DiffResponse {
  peer: string
  asOf: string | null
  localOnly: { perOrigin: Record<string, number>, perCollection: Record<string, number> }
  peerOnly: { perOrigin: Record<string, number> }
}

/** One line of `GET /v1/doctor`: ok, failed, or null when there is nothing to judge. */
export interface Check { check: string, ok: boolean | null, detail: string }

/** One device of `GET /v1/devices`. */
export interface DeviceView {
  device: string
  name: string
  self: boolean
  addedBy: string
  addedAt: string
  revoked: { at: string, by: string } | null
  replacedBy: string | null
}

/** `POST /v1/devices/revoke`. */
export interface RevokeResponse { device: string, at: string }

/** `POST /v1/invite`. */
export interface InviteResponse { code: string, group: string, addresses: string[], expiresAt: string, qr: string | null }

/** `POST /v1/join`. */
export interface JoinResponse { group: string, inviter: string, previousGroup: string | null }

/** `POST /v1/query` (and each line of `POST /v1/query/watch`, without `ms`). */
export interface QueryResponse { columns: string[], rows: unknown[][], ms?: number }

/** One schema of `GET /v1/schemas`. */
export interface SchemaView {
  collection: string
  table: string
  version: number
  rows: number
  schema: { fields: Record<string, unknown>, indexes: string[][] }
}

/** `PUT /v1/schemas/:collection`. */
export interface DeclareSchemaResponse { collection: string, table: string, version: number, change: 'created' | 'extended' | 'rebuilt' | 'unchanged', rows: number }

/** `POST /v1/schemas/:collection/rebuild`. */
export interface RebuildResponse { rows: number }

/**
 * The body of every error answer. The daemon sends an `ErrorCode`
 * (src/errors.ts, docs/control-api.md); a client reads `code` as a string it
 * parses (`parseErrorCode`), since a newer daemon may send one it does not know.
 */
export interface ErrorResponse { error: { code: string, message: string } }
