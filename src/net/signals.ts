/**
 * A deadline signal tied to a long-lived parent (the node's shutdown signal)
 * that releases its timer and listener when the work is done.
 * `AbortSignal.any` would keep every derived signal reachable from the parent
 * for the node's lifetime on Node 20.
 */
export interface Deadline {
  readonly signal: AbortSignal
  clear(): void
}

export function deadline (ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort(parent?.reason) }
  if (parent?.aborted === true) onAbort()
  else parent?.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => { controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')) }, ms)
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onAbort)
    }
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
