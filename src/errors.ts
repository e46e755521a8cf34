/**
 * Small named error classes, checked by `name` (as js-libp2p does), so that
 * callers across module and process boundaries can tell failures apart
 * without `instanceof`.
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

/** The database cannot be opened: corrupt, truncated, not SQLite, or newer than this code. */
export class StoreOpenError extends WeftError {
  static override name = 'StoreOpenError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'STORE_OPEN', options) }
}

/** The replica was used after `close()`. */
export class ClosedError extends WeftError {
  static override name = 'ClosedError'
  constructor (message = 'the replica is closed') { super(message, 'CLOSED') }
}
