/**
 * A connected UDX stream as a libp2p `MultiaddrConnection`, the raw duplex the
 * upgrader encrypts (Noise) and multiplexes (yamux). Modelled on
 * @libp2p/tcp's socket-to-conn: `AbstractMultiaddrConnection` does the
 * buffering and state; this class maps its four hooks onto the stream.
 *
 * UDX has no half-close at this level that libp2p needs: when the peer ends
 * its side we end ours and the connection is over, as TCP does without
 * `allowHalfOpen`. A reset from the peer (ECONNRESET) aborts the connection.
 */
import { AbstractMultiaddrConnection, type AbstractMultiaddrConnectionInit, type SendResult } from '@libp2p/utils'
import type { UdxStream } from './udx-native.js'
import type { AbortOptions, MultiaddrConnection } from '@libp2p/interface'

/** The list type of the installed @libp2p/utils (uint8arraylist 3), whatever version weft itself uses. */
type ByteList = Parameters<AbstractMultiaddrConnection['sendData']>[0]

export interface UdxStreamConnectionInit extends Omit<AbstractMultiaddrConnectionInit, 'name' | 'stream'> {
  stream: UdxStream
  /** Milliseconds to wait for the peer to confirm a graceful close before destroying. */
  closeTimeout: number
}

class UdxStreamConnection extends AbstractMultiaddrConnection {
  private readonly stream: UdxStream
  private readonly closeTimeout: number
  /** Packets received in this turn of the event loop, delivered together. */
  private received: Buffer[] = []
  private deliveryScheduled = false

  constructor (init: UdxStreamConnectionInit) {
    super(init)
    this.stream = init.stream
    this.closeTimeout = init.closeTimeout

    this.stream.on('data', (buf) => {
      // udx emits one event per packet (about 1.2 KB); handing them to Noise
      // and yamux one by one costs more than the copy that batches them
      this.received.push(buf)
      if (!this.deliveryScheduled) {
        this.deliveryScheduled = true
        setImmediate(this.deliver)
      }
    })
    this.stream.on('error', (err) => {
      this.log('udx stream error %s - %e', err.code ?? '', err)
      this.abort(err)
    })
    this.stream.on('end', () => {
      this.deliver()
      // the peer will send no more; end our side too, then the stream closes
      this.stream.end()
      this.onTransportClosed()
    })
    this.stream.on('close', () => {
      this.deliver()
      this.onTransportClosed()
    })
    this.stream.on('drain', () => { this.safeDispatchEvent('drain') })
  }

  private readonly deliver = (): void => {
    this.deliveryScheduled = false
    const received = this.received
    if (received.length === 0) return
    this.received = []
    if (this.readStatus === 'closed' || this.readStatus === 'closing') return
    this.onData(received.length === 1 ? received[0] as Buffer : Buffer.concat(received))
  }

  sendData (data: ByteList): SendResult {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.stream.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    if (this.stream.destroyed) return
    const closed = new Promise<void>((resolve) => { this.stream.once('close', resolve) })
    this.stream.end()
    const timer = setTimeout(() => { this.stream.destroy() }, this.closeTimeout)
    const onAbort = (): void => { this.stream.destroy() }
    options?.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await closed
    } finally {
      clearTimeout(timer)
      options?.signal?.removeEventListener('abort', onAbort)
    }
  }

  sendReset (): void {
    this.stream.destroy()
  }

  sendPause (): void {
    this.stream.pause()
  }

  sendResume (): void {
    this.stream.resume()
  }
}

export function udxStreamToConnection (init: UdxStreamConnectionInit): MultiaddrConnection {
  return new UdxStreamConnection(init)
}
