/**
 * Small named error classes. In one process callers tell them apart with
 * `instanceof`; across a process boundary (the control API, the query
 * process) the stable `code` travels, and `daemon/error-codes.ts` maps it to
 * an HTTP status and an exit code.
 */
export class WeftError extends Error {
  static override name = 'WeftError'
  /** Stable machine-readable code, used by the control API and the CLI. */
  readonly code: string
  constructor (message: string, code = 'WEFT_ERROR', options?: ErrorOptions) {
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
