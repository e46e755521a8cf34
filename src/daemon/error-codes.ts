/**
 * Where an error code meets the outside world: the HTTP status the control
 * API answers with and the exit code the CLI ends with, in one table.
 *
 * Errors carry a stable `code` (`ErrorCode`, listed with its meaning in
 * src/errors.ts); the daemon sends it in `{ "error": { "code", "message" } }`
 * and the CLI reads it back (through `parseErrorCode`), so the same code gives
 * the same exit status whether the CLI itself or the daemon found the
 * problem. The table has a row for every code (the compiler checks it): to
 * add a code, list it in src/errors.ts and add its row here. A code the CLI
 * does not know (from a newer daemon) is read as INTERNAL: a 500 and exit 1.
 */
import type { ErrorCode } from '../errors.js'
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

export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorOutcome>> = Object.freeze({
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
  TOO_MANY_WATCHES: failed(503),
  // The disk is full: reads still work, writes resume once space is freed.
  DISK_FULL: failed(507),
  DAEMON_NOT_RUNNING: { http: 503, exit: EXIT.daemonDown },
  // Everything else: the command failed, and the message says why.
  INTERNAL: failed(500),
  CLOCK_DRIFT: failed(500),
  MALFORMED: failed(500),
  OP_REJECTED: failed(500),
  INVALID_CERTIFICATE: failed(500),
  VERSION_MISMATCH: failed(500),
  ABORTED: failed(500),
  CANCELLED: failed(500),
  QR_UNAVAILABLE: failed(500),
  NO_ADDRESS: failed(500),
  UNREACHABLE: failed(500),
  DENIED: failed(500),
  STORE_OPEN: failed(500),
  STORE_CORRUPT: failed(500),
  LOCK_HELD: failed(500),
  BAD_PERMISSIONS: failed(500),
  PERMISSION_DENIED: failed(500),
  ALREADY_RUNNING: failed(500),
  RECOVER: failed(500),
  RECOVERY_PENDING: failed(500),
  QUERY_PROCESS: failed(500),
  RESPONSE_TOO_LARGE: failed(500),
  UNSUPPORTED: failed(500),
  BAD_RELAY_KEY: failed(500)
} satisfies Record<ErrorCode, ErrorOutcome>)

export function outcomeFor (code: ErrorCode): ErrorOutcome {
  return ERROR_CODES[code]
}
