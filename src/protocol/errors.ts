/**
 * Sync failures as small named classes, and the one place where they are
 * mapped to and from the wire's `ErrorCode`.
 *
 * Five codes travel on the wire (VERSION_MISMATCH, NOT_MEMBER, BAD_REQUEST,
 * TOO_LARGE, INTERNAL). Two more are local observations that never do:
 * TIMEOUT (the peer went quiet) and CLOSED (the stream or connection ended
 * mid-session, e.g. a relay's data limit). All of them end up in the per-peer
 * state, so the CLI can show why a peer is not syncing. A wire error carries a
 * short message and never a stack trace; an unexpected exception goes out as
 * INTERNAL with a fixed text.
 */
import { WeftError } from '../errors.js'
import { MAX_ERROR_MESSAGE_CHARS } from './constants.js'
import { ErrorCode } from './pb/sync.js'

export type WireErrorCode = 'VERSION_MISMATCH' | 'NOT_MEMBER' | 'BAD_REQUEST' | 'TOO_LARGE' | 'INTERNAL'
export type SyncErrorCode = WireErrorCode | 'TIMEOUT' | 'CLOSED'

export interface SyncErrorOptions extends ErrorOptions {
  /** True when the peer reported this error to us; false when we detected it. */
  remote?: boolean
}

export class SyncProtocolError extends WeftError {
  static override name = 'SyncProtocolError'
  override readonly code: SyncErrorCode
  readonly remote: boolean
  constructor (code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, code, options)
    this.code = code
    this.remote = options.remote ?? false
  }
}

/** Different sync protocol or op format version. */
export class VersionMismatchError extends SyncProtocolError {
  static override name = 'VersionMismatchError'
  constructor (message: string, options?: SyncErrorOptions) { super('VERSION_MISMATCH', message, options) }
}

/** The peer is not (or we are not) a member of the group the session is for. */
export class NotMemberError extends SyncProtocolError {
  static override name = 'NotMemberError'
  constructor (message: string, options?: SyncErrorOptions) { super('NOT_MEMBER', message, options) }
}

/** A frame that decodes but breaks the protocol: wrong message, missing or bad fields. */
export class BadRequestError extends SyncProtocolError {
  static override name = 'BadRequestError'
  constructor (message: string, options?: SyncErrorOptions) { super('BAD_REQUEST', message, options) }
}

/** A frame, op list or field over its limit. */
export class TooLargeError extends SyncProtocolError {
  static override name = 'TooLargeError'
  constructor (message: string, options?: SyncErrorOptions) { super('TOO_LARGE', message, options) }
}

/** Something failed on the side that reports it; details stay in its log. */
export class InternalSyncError extends SyncProtocolError {
  static override name = 'InternalSyncError'
  constructor (message = 'internal error', options?: SyncErrorOptions) { super('INTERNAL', message, options) }
}

/** The peer sent nothing (or took nothing) within the timeout. */
export class SyncTimeoutError extends SyncProtocolError {
  static override name = 'SyncTimeoutError'
  constructor (message: string, options?: SyncErrorOptions) { super('TIMEOUT', message, options) }
}

/** The stream ended or was reset before the session finished. */
export class SessionClosedError extends SyncProtocolError {
  static override name = 'SessionClosedError'
  constructor (message: string, options?: SyncErrorOptions) { super('CLOSED', message, options) }
}

const TO_WIRE: Record<WireErrorCode, ErrorCode> = {
  VERSION_MISMATCH: ErrorCode.VERSION_MISMATCH,
  NOT_MEMBER: ErrorCode.NOT_MEMBER,
  BAD_REQUEST: ErrorCode.BAD_REQUEST,
  TOO_LARGE: ErrorCode.TOO_LARGE,
  INTERNAL: ErrorCode.INTERNAL
}

function isWireCode (code: string): code is WireErrorCode {
  return Object.hasOwn(TO_WIRE, code)
}

/**
 * What we tell the peer about a failure: a code and a short message, never a
 * stack. INTERNAL always goes out as a fixed text: the local message may name
 * files or SQL.
 */
export function toWireError (err: unknown): { code: ErrorCode, message: string } {
  if (err instanceof SyncProtocolError && isWireCode(err.code) && err.code !== 'INTERNAL' && !err.remote) {
    return { code: TO_WIRE[err.code], message: err.message.slice(0, MAX_ERROR_MESSAGE_CHARS) }
  }
  return { code: ErrorCode.INTERNAL, message: 'internal error' }
}

/**
 * The error a peer reported, as one of our classes, marked remote. UNKNOWN
 * (a zeroed field) and any code this build does not know read as INTERNAL,
 * with the peer's message. (protons refuses an enum number outside the
 * .proto while decoding, so today a Failure with a newer code number fails
 * in `decodeFrame` as BAD_REQUEST before it gets here.)
 */
export function fromWireError (code: ErrorCode | undefined, message: string | undefined): SyncProtocolError {
  const text = `peer reported: ${(message ?? '').slice(0, MAX_ERROR_MESSAGE_CHARS)}`
  const options = { remote: true }
  switch (code) {
    case ErrorCode.VERSION_MISMATCH: return new VersionMismatchError(text, options)
    case ErrorCode.NOT_MEMBER: return new NotMemberError(text, options)
    case ErrorCode.BAD_REQUEST: return new BadRequestError(text, options)
    case ErrorCode.TOO_LARGE: return new TooLargeError(text, options)
    default: return new InternalSyncError(text, options)
  }
}

/** Any thrown value as a SyncProtocolError (unknown failures become INTERNAL, keeping the cause). */
export function asSyncError (err: unknown): SyncProtocolError {
  if (err instanceof SyncProtocolError) return err
  return new InternalSyncError(err instanceof Error ? err.message : String(err), { cause: err })
}
