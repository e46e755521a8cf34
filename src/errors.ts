/**
 * weft's error classes and the one list of error codes.
 *
 * Errors are small named classes (`static name`, set on each instance). In
 * one process the code tells them apart with `instanceof`, and compares the
 * `code` (typed, so a misspelt code does not compile) where one class
 * carries several (`PairingError`, `SyncProtocolError`, a plain `WeftError`)
 * or where the code picks a row of a table (HTTP status, exit code). Across
 * a process boundary the class is lost and only the `code` travels: the
 * control API sends `{ "error": { "code", "message" } }`, the sync and
 * pairing protocols send their own numbered codes, and the receiver parses
 * the code into one of its own with a fallback for codes it does not know
 * (`parseErrorCode` here, `fromWireError` in protocol/, `pairingCodeFromWire`
 * in auth/).
 *
 * `ERROR_CODE_MEANINGS` is the list: `ErrorCode` is its keys, so a throw with
 * a code not listed here does not compile, and daemon/error-codes.ts maps
 * each code to an HTTP status and a CLI exit code in a table the compiler
 * checks is complete. To add a code, add it here and give it a row there
 * (and a line in docs/control-api.md).
 */

/** Each error code with what it means, grouped as the control API answers them. */
export const ERROR_CODE_MEANINGS = {
  // The caller's input is wrong.
  INVALID_ARGUMENT: 'an argument or field is not of the documented form',
  BAD_REQUEST: 'a request (control API body or query, or a sync protocol frame) that breaks the protocol',
  USAGE: 'an unknown command or option, or the wrong number of arguments',
  BAD_CONFIG: 'the configuration file or options are invalid (every problem is listed)',
  INVALID_INVITE_CODE: 'an invite code that does not parse (a typo, truncated, or from a newer weft)',
  TOO_LARGE: 'a request body, frame, op list or field over its limit',
  METHOD_NOT_ALLOWED: 'a known control API path called with another method',
  INVALID_QUERY: 'SQL that is not a read-only query of the declared tables, or a bad schema',
  UNAUTHORIZED: 'a control API request on the TCP port without the right token',
  NOT_FOUND: 'no such endpoint, row, schema or peer',
  // The request was fine; the state of this device or its peers says no.
  NO_GROUP: 'this device is in no group',
  INVITE_EXPIRED: 'the invite is past its expiry',
  INVITE_USED: 'the invite was already used by another device',
  INVITE_WRONG: 'no such invite, or a proof that does not match it',
  INVITE_BURNED: 'the invite was disabled after too many wrong proofs',
  NOT_MEMBER: 'the peer (or this device) is not a member of the group, or its admission chain does not verify',
  WRONG_PEER: 'the peer reached is not the device expected',
  BAD_MESSAGE: 'a pairing message out of order or out of form',
  TIMEOUT: 'a peer or the daemon did not answer in time',
  QUERY_LIMIT: 'a query reached its row or byte limit',
  QUERY_TIMEOUT: 'a query ran past its time limit',
  // Not available right now: try again.
  NO_NETWORK: 'the network is not running in this daemon',
  NOT_READY: 'the daemon\'s store is not open (it is starting or stopping)',
  CLOSED: 'the store, stream or channel was closed while in use',
  TOO_MANY_WATCHES: 'the daemon runs as many live queries as it keeps',
  // The disk is full: reads still work, writes resume once space is freed.
  DISK_FULL: 'the file system holding the store is full; the write was not saved',
  DAEMON_NOT_RUNNING: 'no daemon answers on the control socket',
  // Everything else: the message says what happened.
  INTERNAL: 'an unexpected failure (details in the log of the side that saw it)',
  CLOCK_DRIFT: 'a remote clock is further ahead of ours than the allowed drift',
  MALFORMED: 'bytes that do not decode as what they claim to be',
  OP_REJECTED: 'an op that fails validation',
  INVALID_CERTIFICATE: 'an admission or revocation that does not verify',
  VERSION_MISMATCH: 'the peer speaks another sync protocol or op format version',
  ABORTED: 'the caller cancelled the pairing',
  CANCELLED: 'the caller cancelled the request or sync',
  QR_UNAVAILABLE: 'the optional qrcode package is not installed',
  NO_ADDRESS: 'no known address for a member device',
  UNREACHABLE: 'every address of a member device failed',
  DENIED: 'the connection gater refused the address',
  STORE_OPEN: 'the replica cannot be opened (corrupt, lost, newer, or its key is missing or damaged)',
  STORE_CORRUPT: 'SQLite found a damaged page while the store was in use',
  LOCK_HELD: 'another process holds the store',
  BAD_PERMISSIONS: 'a token file readable by other users, or a data dir that belongs to another user',
  PERMISSION_DENIED: 'the OS refused (another user\'s socket, a unit file that needs root)',
  ALREADY_RUNNING: 'another weft process (a daemon, init or recover) holds this data dir',
  RECOVER: 'weft recover has nothing to recover, or did not finish in time',
  RECOVERY_PENDING: 'an unfinished recovery must be completed first',
  QUERY_PROCESS: 'the query process failed to start or exited',
  RESPONSE_TOO_LARGE: 'the daemon\'s answer is over the CLI\'s limit',
  UNSUPPORTED: 'not supported on this platform',
  BAD_RELAY_KEY: 'the relay\'s key file is damaged or readable by other users'
} as const satisfies Record<string, string>

/** A stable machine-readable error code: one of `ERROR_CODE_MEANINGS`. */
export type ErrorCode = keyof typeof ERROR_CODE_MEANINGS

/** Whether a string read from elsewhere (a response body, a log) is one of our codes. */
export function isErrorCode (code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODE_MEANINGS, code)
}

/**
 * A code another program sent (the daemon's error body read by the CLI), as
 * one of ours: a code this build does not know (a newer daemon, a damaged
 * body) becomes INTERNAL; keep the original beside it to show it.
 */
export function parseErrorCode (code: unknown): ErrorCode {
  return isErrorCode(code) ? code : 'INTERNAL'
}

export class WeftError extends Error {
  static override name = 'WeftError'
  /** Stable machine-readable code, used by the control API and the CLI. */
  readonly code: ErrorCode
  constructor (message: string, code: ErrorCode, options?: ErrorOptions) {
    super(message, options)
    this.name = (this.constructor as typeof WeftError).name
    this.code = code
  }
}

/** A caller passed an argument that is not of the documented form. */
export class InvalidArgumentError extends WeftError {
  static override name = 'InvalidArgumentError'
  constructor (message: string) { super(message, 'INVALID_ARGUMENT') }
}

/** A remote HLC is further ahead of our wall clock than the allowed drift. */
export class ClockDriftError extends WeftError {
  static override name = 'ClockDriftError'
  constructor (message: string) { super(message, 'CLOCK_DRIFT') }
}

/** Bytes that do not decode as what they claim to be. */
export class MalformedError extends WeftError {
  static override name = 'MalformedError'
  constructor (message: string) { super(message, 'MALFORMED') }
}

/**
 * Why a replica's files cannot be opened. Stable strings (logs, tests).
 * Those in `DAMAGE_REASONS` mean this device's own history is gone or cannot
 * be trusted, so the only safe way on is `weft recover`.
 */
export type StoreOpenReason =
  | 'corrupt' // SQLite's own checks found damage (quick_check, SQLITE_CORRUPT, not a database)
  | 'lost' // replica.db is missing or empty while device.key exists
  | 'key_missing' // device.key is missing while replica.db holds this device's data
  | 'key_damaged' // device.key is the wrong size or not a valid key
  | 'key_mismatch' // device.key is not the key replica.db was written with
  | 'key_exposed' // device.key is readable by other users
  | 'newer_schema' // written by a newer weft
  | 'unreadable' // the OS refused (permissions, I/O error)

export const DAMAGE_REASONS: ReadonlySet<StoreOpenReason> = new Set(['corrupt', 'lost', 'key_missing', 'key_damaged', 'key_mismatch'])

/** The database cannot be opened: corrupt, lost, not SQLite, newer than this code, or its key is missing or damaged. */
export class StoreOpenError extends WeftError {
  static override name = 'StoreOpenError'
  readonly reason: StoreOpenReason
  constructor (message: string, options?: ErrorOptions & { reason?: StoreOpenReason }) {
    super(message, 'STORE_OPEN', options)
    this.reason = options?.reason ?? 'unreadable'
  }
}

/** SQLite found a damaged page while the store was in use. */
export class StoreCorruptError extends WeftError {
  static override name = 'StoreCorruptError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'STORE_CORRUPT', options) }
}

/** A write failed because the file system holding the store is full; nothing of it was saved. */
export class DiskFullError extends WeftError {
  static override name = 'DiskFullError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'DISK_FULL', options) }
}

/** The replica was used after `close()`. */
export class ClosedError extends WeftError {
  static override name = 'ClosedError'
  constructor (message = 'the replica is closed') { super(message, 'CLOSED') }
}
