/**
 * Length-prefixed frames over an abstract byte channel.
 *
 * The session never sees a libp2p stream: it reads and writes whole frames
 * through `FrameDuplex`, which `FramedChannel` implements over any
 * `ByteChannel` (a libp2p stream adapter in `net/`, an in-memory pipe in
 * tests). The size limit is applied where the bytes are framed, before
 * anything is buffered: a length prefix over the maximum fails at once, so a
 * peer announcing a 4 GiB frame costs us nothing but the prefix. The buffer
 * holds at most one frame plus one incoming chunk.
 *
 * Prefix: unsigned LEB128 varint of the frame length (the same framing
 * it-length-prefixed and js-libp2p's lpStream use).
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_MAX_FRAME_BYTES, MAX_LENGTH_PREFIX_BYTES } from './constants.js'
import { SessionClosedError, TooLargeError } from './errors.js'

/** A bidirectional byte stream with backpressure. */
export interface ByteChannel {
  /** The next chunk of bytes, or null once the remote has closed its write end. Rejects when `signal` aborts or the stream fails. */
  read(signal: AbortSignal): Promise<Uint8Array | null>
  /** Queues the parts, in order; resolves when the channel can take more, rejects when `signal` aborts first or the stream fails. */
  write(parts: readonly Uint8Array[], signal: AbortSignal): Promise<void>
  /** Ends our write direction once queued bytes are sent. */
  closeWrite(signal: AbortSignal): Promise<void>
  /** Ends both directions now, discarding buffers, telling the remote (reset). */
  abort(err: Error): void
}

/** Whole frames, as the session uses them. */
export interface FrameDuplex {
  /** The next frame, or null at a clean end of stream between frames. */
  readFrame(signal: AbortSignal): Promise<Uint8Array | null>
  writeFrame(frame: Uint8Array, signal: AbortSignal): Promise<void>
  closeWrite(signal: AbortSignal): Promise<void>
  abort(err: Error): void
  /** Bytes consumed from / written to the channel, prefixes included. */
  readonly bytesRead: number
  readonly bytesWritten: number
}

export interface FramingOptions {
  /** @default DEFAULT_MAX_FRAME_BYTES (4 MiB) */
  maxFrameBytes?: number
}

/** The varint prefix for a frame of `length` bytes. */
export function encodeLengthPrefix (length: number): Uint8Array {
  const out: number[] = []
  let n = length
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

export class FramedChannel implements FrameDuplex {
  readonly #channel: ByteChannel
  readonly #maxFrameBytes: number
  readonly #buffer = new Uint8ArrayList()
  #bytesRead = 0
  #bytesWritten = 0

  constructor (channel: ByteChannel, options: FramingOptions = {}) {
    this.#channel = channel
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  get bytesRead (): number { return this.#bytesRead }
  get bytesWritten (): number { return this.#bytesWritten }

  async readFrame (signal: AbortSignal): Promise<Uint8Array | null> {
    while (true) {
      const frame = this.#takeFrame()
      if (frame !== undefined) return frame
      const chunk = await this.#channel.read(signal)
      if (chunk === null) {
        if (this.#buffer.byteLength === 0) return null
        throw new SessionClosedError(`stream ended inside a frame (${this.#buffer.byteLength} bytes buffered)`)
      }
      this.#bytesRead += chunk.byteLength
      this.#buffer.append(chunk)
    }
  }

  /** A whole frame from the buffer, or undefined when more bytes are needed. Throws on a prefix over the limit. */
  #takeFrame (): Uint8Array | undefined {
    const buf = this.#buffer
    let length = 0
    let shift = 1
    let i = 0
    for (; ; i++) {
      if (i >= buf.byteLength) return undefined
      if (i >= MAX_LENGTH_PREFIX_BYTES) throw new TooLargeError(`frame length prefix is longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`)
      const b = buf.get(i)
      length += (b & 0x7f) * shift
      shift *= 128
      if ((b & 0x80) === 0) break
    }
    // Checked before buffering the body: an oversized frame is refused from its prefix alone.
    if (length > this.#maxFrameBytes) throw new TooLargeError(`frame of ${length} bytes is over the ${this.#maxFrameBytes}-byte limit`)
    const prefix = i + 1
    if (buf.byteLength < prefix + length) return undefined
    const frame = buf.subarray(prefix, prefix + length)
    buf.consume(prefix + length)
    return frame
  }

  async writeFrame (frame: Uint8Array, signal: AbortSignal): Promise<void> {
    if (frame.byteLength > this.#maxFrameBytes) throw new TooLargeError(`refusing to send a frame of ${frame.byteLength} bytes, over the ${this.#maxFrameBytes}-byte limit`)
    const prefix = encodeLengthPrefix(frame.byteLength)
    this.#bytesWritten += prefix.byteLength + frame.byteLength
    await this.#channel.write([prefix, frame], signal)
  }

  async closeWrite (signal: AbortSignal): Promise<void> {
    await this.#channel.closeWrite(signal)
  }

  abort (err: Error): void {
    this.#buffer.consume(this.#buffer.byteLength)
    this.#channel.abort(err)
  }
}
