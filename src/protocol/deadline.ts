/**
 * Deadlines for awaits that wait on a peer, in the protocol's own errors: a
 * timeout aborts with SyncTimeoutError, the session's signal with
 * SessionClosedError. The timers are the runtime kit's pure deadline helper
 * (src/runtime/deadline.ts: timers only, no I/O, so the pure core may use
 * it); the protocol reads no clock, and each timer and listener is released
 * as soon as the awaited work settles, so a long session does not
 * accumulate them.
 */
import { withDeadline as runWithDeadline } from '../runtime/deadline.js'
import { SessionClosedError, SyncTimeoutError } from './errors.js'

/**
 * Runs `fn` with a signal that aborts after `ms` (reason: SyncTimeoutError) or
 * when `parent` aborts (reason: SessionClosedError).
 */
export async function withDeadline<T> (ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal): Promise<T> {
  return await runWithDeadline(ms, fn, parent, {
    timeout: () => new SyncTimeoutError(`${what} timed out after ${ms} ms`),
    cancelled: () => new SessionClosedError(`${what} cancelled`)
  })
}
