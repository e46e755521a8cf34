/**
 * In-memory byte channels for protocol tests: a connected pair with the
 * semantics the session relies on from libp2p streams (half-close, reset
 * after queued data, reads that honour an abort signal), plus fault
 * injection: cut both ends after N bytes (a relay's data limit) or hold
 * writes (a peer that stops reading).
 */
import { Uint8ArrayList } from 'uint8arraylist'
import type { ByteChannel } from '../../src/protocol/framing.js'
import { SessionClosedError } from '../../src/protocol/errors.js'

class Inbox {
  readonly chunks: Uint8Array[] = []
  ended = false
  error: Error | undefined
  #wake: (() => void) | undefined

  push (chunk: Uint8Array): void { this.chunks.push(chunk); this.notify() }
  notify (): void { const w = this.#wake; this.#wake = undefined; w?.() }
  async wait (signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason) }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#wake = () => { signal.removeEventListener('abort', onAbort); resolve() }
    })
  }
}

export interface PipeOptions {
  /** Reset both ends once this many bytes crossed in total (both directions), like a relay's data limit. */
  cutAfterBytes?: number
}

export interface PipeEnd extends ByteChannel {
  readonly written: number
}

export function duplexPair (options: PipeOptions = {}): [PipeEnd, PipeEnd] {
  const inboxes = [new Inbox(), new Inbox()] as const
  let total = 0
  const written = [0, 0]
  const closedWrite = [false, false]
  const resetBoth = (err: Error): void => {
    for (const box of inboxes) { if (box.error === undefined) box.error = err; box.notify() }
  }
  const end = (me: 0 | 1): PipeEnd => {
    const mine = inboxes[me]
    const theirs = inboxes[me === 0 ? 1 : 0]
    return {
      get written () { return written[me]! },
      async read (signal) {
        while (true) {
          const chunk = mine.chunks.shift()
          if (chunk !== undefined) return chunk
          if (mine.ended) return null
          if (mine.error !== undefined) throw mine.error
          await mine.wait(signal)
        }
      },
      async write (parts, signal) {
        signal.throwIfAborted()
        if (mine.error !== undefined) throw mine.error
        if (closedWrite[me] === true) throw new SessionClosedError('write after close')
        const bytes = new Uint8ArrayList(...parts).slice()
        written[me]! += bytes.byteLength
        total += bytes.byteLength
        if (options.cutAfterBytes !== undefined && total > options.cutAfterBytes) {
          const keep = bytes.byteLength - (total - options.cutAfterBytes)
          if (keep > 0) theirs.push(bytes.subarray(0, keep))
          resetBoth(new SessionClosedError('stream reset (data limit)'))
          throw new SessionClosedError('stream reset (data limit)')
        }
        theirs.push(bytes)
        await Promise.resolve()
      },
      async closeWrite () {
        closedWrite[me] = true
        theirs.ended = true
        theirs.notify()
      },
      abort (err) {
        mine.chunks.length = 0
        if (mine.error === undefined) mine.error = err
        mine.notify()
        if (theirs.error === undefined) theirs.error = new SessionClosedError('stream reset by peer')
        theirs.notify()
      }
    }
  }
  return [end(0), end(1)]
}
