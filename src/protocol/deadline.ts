/**
 * Deadlines for awaits that wait on a peer. The protocol reads no clock; it
 * only arms timers, and releases them (and the listener on the session's
 * signal) as soon as the awaited work settles, so a long session does not
 * accumulate them.
 */
import { SessionClosedError, SyncTimeoutError } from './errors.js'

/**
 * Runs `fn` with a signal that aborts after `ms` (reason: SyncTimeoutError) or
 * when `parent` aborts (reason: SessionClosedError). Timer and listener are
 * released when `fn` settles, so long sessions do not accumulate them.
 */
export async function withDeadline<T> (ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal): Promise<T> {
  const controller = new AbortController()
  const onParent = (): void => { controller.abort(new SessionClosedError(`${what} cancelled`)) }
  if (parent?.aborted === true) onParent()
  parent?.addEventListener('abort', onParent, { once: true })
  const timer = setTimeout(() => { controller.abort(new SyncTimeoutError(`${what} timed out after ${ms} ms`)) }, ms)
  try {
    return await fn(controller.signal)
  } finally {
    clearTimeout(timer)
    parent?.removeEventListener('abort', onParent)
  }
}
