/**
 * Where an error code meets the outside world: the HTTP status the control
 * API answers with and the exit code the CLI ends with, in one table.
 *
 * Errors carry a stable `code` (see `WeftError`); the daemon sends it in
 * `{ "error": { "code", "message" } }` and the CLI reads it back, so the same
 * code gives the same exit status whether the CLI itself or the daemon found
 * the problem. To add a code, add a row; a code without a row is a 500 and
 * exit 1 (and the daemon logs it with its stack).
 */
import { EXIT, type ExitCode } from '../runtime/process.js'

// The exit-code table is the runtime kit's, shared with weft-relay.
export { EXIT, type ExitCode }

export interface ErrorOutcome {
  /** HTTP status of the control API's answer. */
  readonly http: number
  /** Exit code of the CLI. */
  readonly exit: ExitCode
}

const usage = (http = 400): ErrorOutcome => ({ http, exit: EXIT.usage })
const failed = (http: number): ErrorOutcome => ({ http, exit: EXIT.error })

export const ERROR_CODES: Readonly<Record<string, ErrorOutcome>> = Object.freeze({
  // The caller's input is wrong.
  INVALID_ARGUMENT: usage(),
  BAD_REQUEST: usage(),
  USAGE: usage(),
  BAD_CONFIG: usage(),
  INVALID_INVITE_CODE: usage(),
  TOO_LARGE: usage(413),
  METHOD_NOT_ALLOWED: usage(405),
  INVALID_QUERY: usage(),
  UNAUTHORIZED: failed(401),
  NOT_FOUND: failed(404),
  // The request was fine; the state of this device or its peers says no.
  NO_GROUP: failed(409),
  INVITE_EXPIRED: failed(410),
  INVITE_USED: failed(409),
  INVITE_WRONG: failed(403),
  INVITE_BURNED: failed(403),
  NOT_MEMBER: failed(403),
  WRONG_PEER: failed(502),
  BAD_MESSAGE: failed(502),
  TIMEOUT: failed(504),
  // A query ran into the row, byte or time limit it was given.
  QUERY_LIMIT: failed(422),
  QUERY_TIMEOUT: failed(422),
  // Not available right now: try again.
  NO_NETWORK: failed(503),
  NOT_READY: failed(503),
  CLOSED: failed(503),
  // The disk is full: reads still work, writes resume once space is freed.
  DISK_FULL: failed(507),
  DAEMON_NOT_RUNNING: { http: 503, exit: EXIT.daemonDown },
  INTERNAL: failed(500)
})

const UNKNOWN: ErrorOutcome = failed(500)

export function outcomeFor (code: string | undefined): ErrorOutcome {
  return code !== undefined && Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code]! : UNKNOWN
}
