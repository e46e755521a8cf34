/**
 * Adapts a libp2p 3 stream to the protocol's `ByteChannel`.
 *
 * libp2p 3 streams push data through 'message' events and their async
 * iterator buffers without limit, while yamux grants the sender more window as
 * soon as bytes arrive (not when they are consumed). So this adapter queues
 * what arrives and pauses the stream once the queue passes a high-water mark:
 * a paused yamux stream stops sending window updates and the remote stalls
 * after its current window, which bounds what a fast or hostile peer can make
 * us hold. Writes wait for the stream's own write buffer to fall under a
 * high-water mark (on 'idle', since `onDrain()` resolves only once per stream),
 * each wait bounded by the caller's signal.
 *
 * Order matters at the end of a stream: bytes that arrived before a FIN or a
 * reset are still delivered before the end (null) or the error.
 */
import type { Stream } from '@libp2p/interface'
import { SessionClosedError } from '../protocol/errors.js'
import type { ByteChannel } from '../protocol/framing.js'
import { DEFAULT_READ_HIGH_WATER_BYTES, DEFAULT_WRITE_HIGH_WATER_BYTES } from './constants.js'

export interface StreamChannelOptions {
  /** Pause the stream once this many unread bytes are queued. @default DEFAULT_READ_HIGH_WATER_BYTES (1 MiB) */
  readHighWaterBytes?: number
  /** A write waits until the stream's write buffer holds less than this. @default DEFAULT_WRITE_HIGH_WATER_BYTES (1 MiB) */
  writeHighWaterBytes?: number
}

export function streamChannel (stream: Stream, options: StreamChannelOptions = {}): ByteChannel {
  return new StreamChannel(stream, options)
}

class StreamChannel implements ByteChannel {
  readonly #stream: Stream
  readonly #readHigh: number
  readonly #writeHigh: number
  readonly #queue: Uint8Array[] = []
  #queued = 0
  #ended = false
  #error: Error | undefined
  #wake: (() => void) | undefined

  constructor (stream: Stream, options: StreamChannelOptions) {
    this.#stream = stream
    this.#readHigh = options.readHighWaterBytes ?? DEFAULT_READ_HIGH_WATER_BYTES
    this.#writeHigh = options.writeHighWaterBytes ?? DEFAULT_WRITE_HIGH_WATER_BYTES
    stream.addEventListener('message', (evt) => {
      // evt.data is a Uint8Array or a list of them (libp2p's own uint8arraylist major).
      for (const chunk of evt.data instanceof Uint8Array ? [evt.data] : evt.data) {
        this.#queue.push(chunk)
        this.#queued += chunk.byteLength
      }
      if (this.#queued >= this.#readHigh && stream.readStatus === 'readable') stream.pause()
      this.#notify()
    })
    stream.addEventListener('remoteCloseWrite', () => { this.#ended = true; this.#notify() })
    stream.addEventListener('close', (evt) => {
      if (evt.error !== undefined) this.#error = new SessionClosedError(`stream closed: ${evt.error.message}`, { cause: evt.error })
      else this.#ended = true
      this.#notify()
    })
  }

  #notify (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async read (signal: AbortSignal): Promise<Uint8Array | null> {
    while (true) {
      // Let bytes held by a paused stream flow into the queue before deciding anything.
      if (this.#queued < this.#readHigh && this.#stream.readStatus === 'paused') this.#stream.resume()
      const chunk = this.#queue.shift()
      if (chunk !== undefined) {
        this.#queued -= chunk.byteLength
        return chunk
      }
      if (this.#stream.readBufferLength === 0) {
        if (this.#ended) return null
        if (this.#error !== undefined) throw this.#error
        // The stream may have ended before this adapter was attached (its events are gone).
        const st = this.#stream
        if (st.status === 'reset' || st.status === 'aborted') throw new SessionClosedError(`stream ${st.status}`)
        if (st.remoteWriteStatus === 'closed' || st.readStatus === 'closed') return null
      }
      await this.#wait(signal)
    }
  }

  async #wait (signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { this.#wake = undefined; reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#wake = () => { signal.removeEventListener('abort', onAbort); resolve() }
    })
  }

  async write (parts: readonly Uint8Array[], signal: AbortSignal): Promise<void> {
    const stream = this.#stream
    if (this.#error !== undefined) throw this.#error
    if (stream.writeStatus !== 'writable') throw new SessionClosedError(`stream is ${stream.writeStatus} for writing`)
    try {
      for (const part of parts) stream.send(part)
    } catch (err) {
      // Closed or reset between the check above and the send: the session was cut, not broken.
      throw new SessionClosedError(`stream closed while writing: ${(err as Error).message}`, { cause: err })
    }
    while (stream.writeBufferLength > this.#writeHigh) {
      if (stream.status !== 'open') throw this.#error ?? new SessionClosedError(`stream is ${stream.status}`)
      await waitForEvent(stream, ['idle', 'close'], signal)
    }
  }

  async closeWrite (signal: AbortSignal): Promise<void> {
    if (this.#stream.writeStatus === 'closed' || this.#stream.writeStatus === 'closing') return
    try {
      await this.#stream.close({ signal })
    } catch (err) {
      if (signal.aborted) throw signal.reason
      throw new SessionClosedError(`stream closed while closing: ${(err as Error).message}`, { cause: err })
    }
  }

  abort (err: Error): void {
    this.#queue.length = 0
    this.#queued = 0
    this.#stream.abort(err)
  }
}

async function waitForEvent (target: Stream, events: Array<'idle' | 'close'>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      for (const e of events) target.removeEventListener(e, onEvent)
      signal.removeEventListener('abort', onAbort)
    }
    const onEvent = (): void => { cleanup(); resolve() }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    for (const e of events) target.addEventListener(e, onEvent)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
