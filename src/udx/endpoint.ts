/**
 * The one UDX socket of a node (per address family) and everything that
 * shares it: listening, every dial, punch datagrams and the observed-address
 * reflector.
 *
 * Why one socket: a NAT maps a (local ip, local port) to a public port. Only
 * when the dials, the punches and the "what is my address?" requests leave
 * from the listening socket does the address a node learns and advertises
 * lead back to the socket that will accept the punched connection.
 *
 * The endpoint demultiplexes datagrams: UDX stream packets go to libudx, our
 * control datagrams (see wire.ts) to the handshake or the reflector, anything
 * else is dropped. It owns stream ids, enforces the connection limit, and
 * rate-limits every answer it sends to a stranger.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  DEFAULT_PUNCH_COUNT, DEFAULT_PUNCH_INTERVAL, MAX_PENDING_OBSERVATIONS, MAX_PUNCH_COUNT, OBSERVE_RETRY_INTERVAL
} from './constants.js'
import { UdxLimitError, UdxListenError, UdxObserveTimeoutError, UdxSocketClosedError } from './errors.js'
import { Handshaker, type HandshakeResult } from './handshake.js'
import { createUdx, type UdxRemoteInfo, type UdxSocket, type UdxStream } from './udx-native.js'
import { MessageType, decodeControl, encodeObserve, encodeObserved, encodePunch } from './wire.js'
import type { UdpAddress } from './multiaddr.js'
import type { Logger } from '@libp2p/interface'

export interface EndpointInit {
  host: string
  port: number
  family: 4 | 6
  socketBufferBytes: number
  maxConnections: number
  maxPendingInbound: number
  maxPendingInboundPerHost: number
  maxPendingDials: number
  maxRepliesPerSecond: number
  retryThreshold: number
  initialRetryInterval: number
  maxRetryInterval: number
  log: Logger
}

export interface PunchOptions {
  signal?: AbortSignal
  /** Datagrams to send, capped at `MAX_PUNCH_COUNT`. @default 5 */
  count?: number
  /** Milliseconds between two datagrams. @default 20 */
  interval?: number
  /**
   * IP TTL of the punch datagrams. A low TTL (2 or 3) opens our own NAT's
   * mapping towards the peer but expires before the peer's NAT: a datagram
   * that reaches a NAT before its host sent anything creates a conntrack
   * entry there that makes a Linux NAT give the host's own later packets to
   * us a different port (so the punch would close the path it should open).
   * @default the socket's default (64)
   */
  ttl?: number
  /**
   * Milliseconds during which our own dials to this address wait before their
   * first HELLO: time for the peer's (low-TTL) punch to open its NAT, so that
   * our HELLO does not reach that NAT first and poison it. @default 0
   */
  holdDials?: number
}

/** What a reflector reported: our address as it sees it, and its second reflector port (0: none). */
export interface Observation extends UdpAddress {
  alternatePort: number
}

export interface ObserveOptions {
  signal?: AbortSignal
  /** Milliseconds before giving up. */
  timeout: number
}

export interface UdxSocketStats {
  /** UDX streams on the socket: connections, plus dials and inbound handshakes in progress. */
  streams: number
  /** Our dials waiting for an ACK. */
  pendingDials: number
  /** Inbound handshakes answered and not yet upgraded. */
  pendingInbound: number
  /** Handshake sessions remembered (one per live handshaked stream). */
  sessions: number
  /** Dials that crossed a dial of the peer and were paired with it, since the socket was bound. */
  crossedDials: number
}

interface PendingObservation {
  remoteKey: string
  resolve(observation: Observation): void
  reject(err: Error): void
}

const randomU64 = (): bigint => randomBytes(8).readBigUInt64BE()
const remoteKeyOf = (r: { host: string, port: number }): string => `${r.host}|${r.port}`

export class UdxEndpoint {
  readonly address: UdpAddress
  readonly handshaker: Handshaker<UdxStream>
  private readonly init: EndpointInit
  private readonly log: Logger
  private readonly socket: UdxSocket
  private readonly streams = new Map<number, UdxStream>()
  private readonly observations = new Map<bigint, PendingObservation>()
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private closeOnIdle = false
  /** Put into every address report: a second socket of ours that answers OBSERVE too (0: none). */
  alternatePort = 0
  /** Called once the socket is closed. */
  onClose: (() => void) | undefined
  /** Called for every PUNCH datagram (birthday punching waits for the peer's probe with it). */
  onPunch: ((from: UdpAddress) => void) | undefined
  private replyTokens: number
  private replyRefilledAt = Date.now()
  private closing?: Promise<void>

  /** Binds the socket now; throws `UdxListenError` when the port is taken. */
  constructor (init: EndpointInit) {
    this.init = init
    this.log = init.log
    this.replyTokens = init.maxRepliesPerSecond
    const udx = createUdx()
    this.socket = udx.createSocket({ ipv6Only: init.family === 6 })
    try {
      this.socket.bind(init.port, init.host)
    } catch (err) {
      void this.socket.close()
      throw new UdxListenError(`cannot bind UDX socket to ${init.host}:${init.port}: ${(err as Error).message}`)
    }
    try {
      this.socket.setRecvBufferSize(init.socketBufferBytes)
      this.socket.setSendBufferSize(init.socketBufferBytes)
    } catch (err) {
      this.log.error('could not set socket buffers to %d bytes - %e', init.socketBufferBytes, err)
    }
    const bound = this.socket.address()
    this.address = { host: init.host, port: bound?.port ?? init.port, family: init.family }
    this.socket.on('message', this.onMessage)

    this.handshaker = new Handshaker<UdxStream>({
      streams: {
        open: () => this.openStream(udx),
        connect: (stream, remote, remoteId) => {
          try {
            stream.connect(this.socket, remoteId, remote.port, remote.host)
          } catch (err) {
            stream.destroy()
            throw err
          }
        },
        destroy: (stream) => { stream.destroy() },
        id: (stream) => stream.id
      },
      send: (datagram, remote) => { this.send(datagram, remote) },
      mayReply: () => this.takeReplyToken(),
      randomNonce: randomU64,
      log: this.log,
      maxPendingInbound: init.maxPendingInbound,
      maxPendingInboundPerHost: init.maxPendingInboundPerHost,
      maxPendingDials: init.maxPendingDials,
      retryThreshold: init.retryThreshold,
      initialRetryInterval: init.initialRetryInterval,
      maxRetryInterval: init.maxRetryInterval
    })
  }

  stats (): UdxSocketStats {
    return {
      streams: this.streams.size,
      pendingDials: this.handshaker.pendingDials,
      pendingInbound: this.handshaker.pendingInboundCount,
      sessions: this.handshaker.sessionCount,
      crossedDials: this.handshaker.crossedCount
    }
  }

  get closed (): boolean { return this.closing != null }
  get connectionCount (): number { return this.streams.size }
  get listening (): boolean { return this.handshaker.onInbound != null }

  /** Accept plain inbound connections (listening), or stop accepting them. */
  setInboundHandler (handler: ((stream: UdxStream, remote: UdpAddress) => void) | undefined): void {
    this.handshaker.onInbound = handler
  }

  async dial (remote: UdpAddress, options: { signal: AbortSignal, timeout: number }): Promise<HandshakeResult<UdxStream>> {
    if (this.closed) throw new UdxSocketClosedError('UDX socket is closed')
    return this.handshaker.dial(remote, options)
  }

  /** The inbound connection on this stream is upgraded; it no longer counts as pending. */
  upgraded (stream: UdxStream): void {
    this.handshaker.upgraded(stream.id)
  }

  /**
   * Sends a few PUNCH datagrams to `remote` from the shared socket, so that
   * our NAT maps the socket towards it and lets its packets in. Resolves with
   * the number sent; bounded by `MAX_PUNCH_COUNT` and the signal.
   */
  async punch (remote: UdpAddress, options: PunchOptions = {}): Promise<number> {
    const requested = Number.isFinite(options.count) ? Math.floor(options.count ?? 0) : DEFAULT_PUNCH_COUNT
    const count = Math.max(1, Math.min(MAX_PUNCH_COUNT, requested))
    const interval = Number.isFinite(options.interval) ? Math.max(0, options.interval ?? 0) : DEFAULT_PUNCH_INTERVAL
    for (let i = 0; i < count; i++) {
      options.signal?.throwIfAborted()
      if (this.closed) throw new UdxSocketClosedError('UDX socket is closed')
      this.send(encodePunch(randomU64()), remote, options.ttl)
      if (i < count - 1) await sleep(interval, undefined, options.signal == null ? {} : { signal: options.signal })
    }
    return count
  }

  /** One PUNCH datagram to `remote`, fire and forget (see `punch` for the paced form). */
  sendPunch (remote: { host: string, port: number }, ttl?: number): void {
    if (this.closed) throw new UdxSocketClosedError('UDX socket is closed')
    this.send(encodePunch(randomU64()), remote, ttl)
  }

  /** Asks `remote` which address our datagrams come from (our NAT mapping as it sees it). */
  async observe (remote: UdpAddress, options: ObserveOptions): Promise<Observation> {
    if (this.closed) throw new UdxSocketClosedError('UDX socket is closed')
    options.signal?.throwIfAborted()
    if (this.observations.size >= MAX_PENDING_OBSERVATIONS) {
      throw new UdxLimitError(`${this.observations.size} address observations already pending`)
    }
    let requestId = randomU64()
    while (this.observations.has(requestId)) requestId = randomU64()
    const request = encodeObserve(requestId)
    let resolve!: (observation: Observation) => void
    let reject!: (err: unknown) => void
    const promise = new Promise<Observation>((res, rej) => { resolve = res; reject = rej })
    const retry = setInterval(() => { this.send(request, remote) }, OBSERVE_RETRY_INTERVAL)
    const deadline = setTimeout(() => {
      reject(new UdxObserveTimeoutError(`no address report from ${remote.host}:${remote.port} within ${options.timeout} ms`))
    }, options.timeout)
    const onAbort = (): void => { reject(options.signal?.reason) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    this.observations.set(requestId, { remoteKey: remoteKeyOf(remote), resolve, reject })
    this.send(request, remote)
    try {
      return await promise
    } finally {
      clearInterval(retry)
      clearTimeout(deadline)
      options.signal?.removeEventListener('abort', onAbort)
      this.observations.delete(requestId)
    }
  }

  /**
   * Closes the socket once it carries no stream: now plus `graceMs` if it
   * carries none then, else when its last stream closes. For sockets that
   * exist for one connection (the winner of a birthday punch).
   */
  closeWhenIdle (graceMs: number): void {
    this.closeOnIdle = true
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => { if (this.streams.size === 0) void this.close() }, graceMs)
    this.idleTimer.unref?.()
  }

  /**
   * Stops answering handshakes, gives the connections on the socket up to
   * `graceMs` to close (when the node stops, libp2p closes them gracefully at
   * the same time), destroys the rest, and releases the port.
   */
  async close (graceMs = 0): Promise<void> {
    if (this.closing != null) return this.closing
    this.closing = this.shutdown(graceMs)
    return this.closing
  }

  private async shutdown (graceMs: number): Promise<void> {
    clearTimeout(this.idleTimer)
    this.onPunch = undefined
    this.handshaker.close(new UdxSocketClosedError('UDX socket closed'))
    for (const pending of this.observations.values()) pending.reject(new UdxSocketClosedError('UDX socket closed'))
    if (this.streams.size > 0 && graceMs > 0) {
      const deadline = Date.now() + graceMs
      while (this.streams.size > 0 && Date.now() < deadline) await sleep(10)
    }
    for (const stream of this.streams.values()) stream.destroy()
    this.socket.off('message', this.onMessage)
    await this.socket.close()
    this.log('UDX socket %s:%d closed', this.address.host, this.address.port)
    this.onClose?.()
  }

  private openStream (udx: { createStream: (id: number) => UdxStream }): UdxStream | undefined {
    if (this.closed || this.streams.size >= this.init.maxConnections) return undefined
    let id = randomInt(1, 0x1_0000_0000)
    while (this.streams.has(id)) id = randomInt(1, 0x1_0000_0000)
    const stream = udx.createStream(id)
    this.streams.set(id, stream)
    // the connection adds its own listener; this one keeps an early reset from
    // becoming an unhandled 'error' event
    stream.on('error', (err) => { this.log.trace('stream %d error - %e', id, err) })
    stream.once('close', () => {
      this.streams.delete(id)
      this.handshaker.closed(id)
      if (this.closeOnIdle && this.streams.size === 0) void this.close()
    })
    return stream
  }

  private send (datagram: Uint8Array, remote: { host: string, port: number }, ttl?: number): void {
    if (this.socket.closing) return
    try {
      this.socket.trySend(datagram, remote.port, remote.host, ttl !== undefined && Number.isInteger(ttl) && ttl > 0 && ttl < 256 ? ttl : 0)
    } catch (err) {
      this.log.error('send to %s:%d failed - %e', remote.host, remote.port, err)
    }
  }

  private takeReplyToken (): boolean {
    const now = Date.now()
    const rate = this.init.maxRepliesPerSecond
    this.replyTokens = Math.min(rate, this.replyTokens + (now - this.replyRefilledAt) * rate / 1000)
    this.replyRefilledAt = now
    if (this.replyTokens < 1) return false
    this.replyTokens -= 1
    return true
  }

  private readonly onMessage = (message: Buffer, from: UdxRemoteInfo): void => {
    try {
      const control = decodeControl(message)
      if (control == null) return
      const remote: UdpAddress = { host: from.host, port: from.port, family: from.family === 6 ? 6 : 4 }
      switch (control.type) {
        case MessageType.HELLO:
          this.handshaker.onHello(control, remote)
          break
        case MessageType.ACK:
          this.handshaker.onAck(control, remote)
          break
        case MessageType.RETRY:
          this.handshaker.onRetry(control, remote)
          break
        case MessageType.OBSERVE:
          if (this.takeReplyToken()) this.send(encodeObserved(control.requestId, remote, this.alternatePort), remote)
          break
        case MessageType.OBSERVED: {
          const pending = this.observations.get(control.requestId)
          if (pending?.remoteKey === remoteKeyOf(remote)) {
            pending.resolve({ host: control.host, port: control.port, family: control.family, alternatePort: control.alternatePort })
          }
          break
        }
        case MessageType.PUNCH:
          this.log.trace('punch from %s:%d', remote.host, remote.port)
          this.onPunch?.(remote)
          break
      }
    } catch (err) {
      // a datagram must never take the node down
      this.log.error('dropping datagram from %s:%d - %e', from.host, from.port, err)
    }
  }
}
