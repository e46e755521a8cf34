/**
 * Deadlines for awaits that wait on something outside the process (a peer, a
 * dial, a handshake). Pure: timers and AbortControllers only, no imports, so
 * the pure core's protocol may use it too (see eslint.config.js).
 *
 * Own listeners rather than `AbortSignal.any`/`AbortSignal.timeout`: on
 * Node 20 `AbortSignal.any` keeps every derived signal reachable from a
 * long-lived parent (the node's shutdown signal) for the parent's lifetime,
 * and a long sync session would accumulate them. Each deadline here releases
 * its timer and its listener on the parent as soon as the work is done.
 */

export interface Deadline {
  readonly signal: AbortSignal
  /** Releases the timer and the listener on the parent (call when the work settled). */
  clear(): void
}

export interface DeadlineReasons {
  /** The abort reason when the time is up. @default a DOMException named TimeoutError: "timed out after <ms> ms" */
  timeout?: () => unknown
  /** The abort reason when the parent aborts. @default the parent's own reason */
  cancelled?: (parentReason: unknown) => unknown
}

/** A signal that aborts after `ms`, or when `parent` aborts. */
export function deadline (ms: number, parent?: AbortSignal, reasons: DeadlineReasons = {}): Deadline {
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort(reasons.cancelled === undefined ? parent?.reason : reasons.cancelled(parent?.reason)) }
  if (parent?.aborted === true) onAbort()
  else parent?.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => {
    controller.abort(reasons.timeout === undefined ? new DOMException(`timed out after ${ms} ms`, 'TimeoutError') : reasons.timeout())
  }, ms)
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onAbort)
    }
  }
}

/** Runs `fn` with a deadline's signal and clears the deadline when `fn` settles. */
export async function withDeadline<T> (ms: number, fn: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal, reasons?: DeadlineReasons): Promise<T> {
  const d = deadline(ms, parent, reasons)
  try {
    return await fn(d.signal)
  } finally {
    d.clear()
  }
}

/** A signal that aborts when either parent does; `clear()` detaches it from both. */
export function linkSignals (a: AbortSignal, b?: AbortSignal): Deadline {
  if (b === undefined) return { signal: a, clear: () => {} }
  const controller = new AbortController()
  const onA = (): void => { controller.abort(a.reason) }
  const onB = (): void => { controller.abort(b.reason) }
  if (a.aborted) onA()
  else if (b.aborted) onB()
  else {
    a.addEventListener('abort', onA, { once: true })
    b.addEventListener('abort', onB, { once: true })
  }
  return {
    signal: controller.signal,
    clear: () => {
      a.removeEventListener('abort', onA)
      b.removeEventListener('abort', onB)
    }
  }
}
