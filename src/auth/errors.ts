/**
 * Trust-core failures as small named classes (told apart with `instanceof`
 * in one process, by `code` across one; see ../errors.ts), and the one place
 * where pairing failures are mapped to and from the wire.
 *
 * Three families: a certificate that does not verify (`CertificateError`,
 * with a `reason`), an invite code that does not parse (`InviteCodeError`,
 * with a `reason` that says what the user should fix), and a pairing that
 * failed (`PairingError`, with a `code` that both sides agree on).
 */
import { WeftError } from '../errors.js'
import { MAX_PAIRING_ERROR_CHARS } from './constants.js'

/** Why an admission or revocation was refused. Stable strings: they appear in logs and the CLI. */
export type CertificateRejectReason =
  | 'malformed' // does not decode, or fields out of form
  | 'too_large' // over MAX_CERTIFICATE_BYTES
  | 'bad_signature' // the signature does not verify with the signer's key
  | 'wrong_group' // for another group than the one being checked
  | 'invalid' // well-formed and signed, but meaningless (a device admitting itself, the group key as a device)

export class CertificateError extends WeftError {
  static override name = 'CertificateError'
  readonly reason: CertificateRejectReason
  constructor (reason: CertificateRejectReason, message: string) {
    super(message, 'INVALID_CERTIFICATE')
    this.reason = reason
  }
}

/** What is wrong with an invite code, in terms the person holding it can act on. */
export type InviteCodeReason =
  | 'prefix' // does not start with weft1:
  | 'encoding' // a character that is not base58
  | 'checksum' // a typo, or a truncated code
  | 'version' // made by a newer weft
  | 'malformed' // decodes and checks, but its contents are out of form
  | 'too_large' // longer than any code weft makes

export class InviteCodeError extends WeftError {
  static override name = 'InviteCodeError'
  readonly reason: InviteCodeReason
  constructor (reason: InviteCodeReason, message: string) {
    super(message, 'INVALID_INVITE_CODE')
    this.reason = reason
  }
}

/** Codes both sides of a pairing send and understand. */
export type PairingWireCode =
  | 'INVITE_EXPIRED' // past its expiry on the inviter's clock
  | 'INVITE_USED' // already used by another device
  | 'INVITE_WRONG' // unknown invite id, or a proof that does not match its secret
  | 'INVITE_BURNED' // disabled after too many wrong proofs
  | 'NOT_MEMBER' // the inviter is no longer a member, or its chain does not verify
  | 'BAD_MESSAGE' // a message out of order or out of form
  | 'INTERNAL' // anything else; details stay in the reporter's log

/** Wire codes plus what only the local side can observe (all of them `ErrorCode`s: `PairingError.code` is checked against the union). */
export type PairingErrorCode =
  | PairingWireCode
  | 'WRONG_PEER' // the peer we reached is not the device the invite names
  | 'TIMEOUT' // a step took longer than its timeout
  | 'ABORTED' // the caller's signal aborted
  | 'CLOSED' // the channel ended mid-exchange

export interface PairingErrorOptions extends ErrorOptions {
  /** True when the peer reported this error to us. */
  remote?: boolean
}

export class PairingError extends WeftError {
  static override name = 'PairingError'
  override readonly code: PairingErrorCode
  readonly remote: boolean
  constructor (code: PairingErrorCode, message: string, options: PairingErrorOptions = {}) {
    super(message, code, options)
    this.code = code
    this.remote = options.remote ?? false
  }
}

const WIRE_CODES: readonly PairingWireCode[] = ['INVITE_EXPIRED', 'INVITE_USED', 'INVITE_WRONG', 'INVITE_BURNED', 'NOT_MEMBER', 'BAD_MESSAGE', 'INTERNAL']
/** Wire code numbers; 0 is never sent, so a zeroed field reads as INTERNAL. */
const CODE_NUMBERS: Record<PairingWireCode, number> = {
  INVITE_EXPIRED: 1, INVITE_USED: 2, INVITE_WRONG: 3, INVITE_BURNED: 4, NOT_MEMBER: 5, BAD_MESSAGE: 6, INTERNAL: 7
}

export function isPairingWireCode (code: string): code is PairingWireCode {
  return Object.hasOwn(CODE_NUMBERS, code)
}

export function pairingCodeToWire (code: PairingWireCode): number { return CODE_NUMBERS[code] }

/** A peer's code number as a code: one this build does not know (a newer peer) reads as INTERNAL; the peer's message is kept. */
export function pairingCodeFromWire (n: number): PairingWireCode {
  return WIRE_CODES.find(c => CODE_NUMBERS[c] === n) ?? 'INTERNAL'
}

/**
 * What the inviter tells the joiner about a failure: a wire code and a short
 * message, never a stack. Local-only failures (timeouts, our own bugs) go out
 * as INTERNAL with a fixed text.
 */
export function toWirePairingError (err: unknown): { code: PairingWireCode, message: string } {
  if (err instanceof PairingError && !err.remote && isPairingWireCode(err.code) && err.code !== 'INTERNAL') {
    return { code: err.code, message: err.message.slice(0, MAX_PAIRING_ERROR_CHARS) }
  }
  return { code: 'INTERNAL', message: 'internal error' }
}

/** The optional `qrcode` package is not installed, so no QR code can be drawn (the text code still works). */
export class QrUnavailableError extends WeftError {
  static override name = 'QrUnavailableError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'QR_UNAVAILABLE', options) }
}
