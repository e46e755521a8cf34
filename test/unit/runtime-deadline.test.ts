/**
 * The runtime kit's deadline helper, on a fake clock: it aborts when the time
 * is up or the parent aborts, with the reason the caller chose, and releases
 * its timer and its listener on the parent once cleared (a long-lived
 * parent must not collect listeners from every finished wait).
 */
import { getEventListeners, setMaxListeners } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { deadline, linkSignals, withDeadline } from '../../src/runtime/deadline.js'

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

/** Listeners an AbortSignal holds, through Node's own accounting. */
const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length

describe('runtime deadline', () => {
  it('aborts with a TimeoutError after ms, not before', () => {
    const d = deadline(100)
    vi.advanceTimersByTime(99)
    expect(d.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(d.signal.aborted).toBe(true)
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError')
    expect((d.signal.reason as Error).message).toBe('timed out after 100 ms')
  })

  it('follows its parent, with the parent\'s reason or the caller\'s', () => {
    const parent = new AbortController()
    const plain = deadline(1000, parent.signal)
    const mapped = deadline(1000, parent.signal, { cancelled: r => new Error(`cancelled: ${String(r)}`) })
    parent.abort('shutdown')
    expect(plain.signal.reason).toBe('shutdown')
    expect((mapped.signal.reason as Error).message).toBe('cancelled: shutdown')
  })

  it('is aborted at once under a parent already aborted', () => {
    const parent = new AbortController()
    parent.abort('gone')
    expect(deadline(1000, parent.signal).signal.reason).toBe('gone')
  })

  it('uses the caller\'s timeout reason', () => {
    const d = deadline(10, undefined, { timeout: () => new RangeError('too slow') })
    vi.advanceTimersByTime(10)
    expect(d.signal.reason).toBeInstanceOf(RangeError)
  })

  it('releases its timer and its listener on the parent when cleared', () => {
    const parent = new AbortController()
    setMaxListeners(100, parent.signal)
    const ds = Array.from({ length: 50 }, () => deadline(1000, parent.signal))
    expect(listeners(parent.signal)).toBe(50)
    for (const d of ds) d.clear()
    expect(listeners(parent.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('withDeadline clears when the work settles, fulfilled or rejected', async () => {
    const parent = new AbortController()
    expect(await withDeadline(1000, async () => 7, parent.signal)).toBe(7)
    await expect(withDeadline(1000, async () => { throw new Error('no') }, parent.signal)).rejects.toThrow('no')
    expect(listeners(parent.signal)).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('withDeadline hands the work a signal that aborts at the deadline', async () => {
    const work = withDeadline(50, async signal => await new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    }))
    const settled = expect(work).rejects.toThrow('timed out after 50 ms')
    await vi.advanceTimersByTimeAsync(50)
    await settled
  })

  it('linkSignals aborts with whichever parent aborts first and detaches from both', () => {
    const a = new AbortController()
    const b = new AbortController()
    const link = linkSignals(a.signal, b.signal)
    b.abort('b first')
    expect(link.signal.reason).toBe('b first')
    link.clear()
    expect(listeners(a.signal)).toBe(0)
    expect(linkSignals(a.signal).signal).toBe(a.signal)
  })
})
