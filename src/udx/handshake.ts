/**
 * The handshake that precedes every UDX stream, and the pairing of crossed
 * dials.
 *
 * Why a handshake: UDX has none. A stream packet that reaches a socket before
 * the peer created and connected the matching stream id is dropped and only
 * retransmitted after about a second. So the dialer creates its stream, sends
 * HELLO (its nonce and stream id) and retransmits it with backoff; the
 * listener creates and connects its stream *before* it answers ACK (its stream
 * id), and only then does the dialer connect and send stream data. An ACK
 * therefore proves that the peer's stream is ready for ours.
 *
 * Crossed dials (both sides dial each other at once, as in hole punching)
 * become ONE connection: a side that receives a HELLO from the address it is
 * dialing connects its own dial stream to the peer's dial stream and answers
 * with a "crossed" ACK carrying its own nonce. Both dials then complete on the
 * same stream pair, and the larger nonce takes the initiator role (Noise
 * initiator, multistream-select client) on both sides. The ACK to our own
 * HELLO is authoritative for our dial; a HELLO carries in `echo` the nonce of
 * a dial of the peer's we already answered as a plain inbound connection, so
 * the peer does not pair with a dial we no longer consider crossed.
 *
 * All state a stranger can create is bounded: plain inbound handshakes
 * (in total and per IP, until the upgrade succeeds), streams (by the stream
 * factory), and answers (by `mayReply`). Sessions live exactly as long as
 * their stream, so ACKs to retransmitted HELLOs stay consistent. Because a
 * HELLO's source address can be forged, a listener under pressure (half its
 * pending-inbound budget used) answers a HELLO without a valid cookie with a
 * stateless RETRY carrying one (a keyed hash of the address, the nonce and a
 * 10 s time bucket, as SYN cookies and QUIC's Retry do): only a dialer that
 * really receives at its address can come back with it, so forged HELLOs
 * cannot keep real peers out. Below that threshold no extra round trip is paid.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { COOKIE_LIFETIME } from './constants.js'
import { UdxHandshakeError, UdxHandshakeTimeoutError, UdxLimitError } from './errors.js'
import { encodeAck, encodeHello, encodeRetry, type Ack, type Hello, type Retry } from './wire.js'
import type { UdpAddress } from './multiaddr.js'
import type { Logger } from '@libp2p/interface'

export interface HandshakeStreams<S> {
  /** A new unconnected stream with a fresh id, or undefined at the connection limit. */
  open(): S | undefined
  connect(stream: S, remote: UdpAddress, remoteId: number): void
  destroy(stream: S): void
  id(stream: S): number
}

export interface HandshakeInit<S> {
  streams: HandshakeStreams<S>
  send(datagram: Uint8Array, remote: UdpAddress): void
  /** Rate limit for answers to strangers; false means drop. */
  mayReply(): boolean
  randomNonce(): bigint
  log: Logger
  maxPendingInbound: number
  maxPendingInboundPerHost: number
  maxPendingDials: number
  initialRetryInterval: number
  maxRetryInterval: number
  /** Pending inbound handshakes from which a HELLO needs a RETRY cookie. @default half of maxPendingInbound */
  retryThreshold?: number
  /** Key of the RETRY cookies. @default 32 random bytes */
  cookieSecret?: Uint8Array
}

export interface HandshakeResult<S> {
  stream: S
  /** The role to take in the upgrade: true = Noise initiator / multistream client. */
  initiator: boolean
  /** Both sides dialed and were paired into this one connection. */
  crossed: boolean
}

export interface HandshakeDialOptions {
  signal: AbortSignal
  timeout: number
}

interface PendingDial<S> {
  nonce: bigint
  remote: UdpAddress
  remoteKey: string
  stream: S
  /** Nonce of the peer's dial we already answered as plain inbound when this dial started, or 0. */
  echo: bigint
  /** The datagram (re)sent until answered; rebuilt when a RETRY hands us a cookie. */
  hello: Uint8Array
  /** The peer's dial we paired with: its nonce and stream id. */
  crossedWith?: { nonce: bigint, streamId: number }
  resolve(result: HandshakeResult<S>): void
  reject(err: Error): void
  cleanup(): void
}

interface Session {
  key: string
  remoteKey: string
  host: string
  streamId: number
  ack: Uint8Array
  /** A plain inbound connection (as opposed to our dial paired with theirs). */
  inbound: boolean
  /** Inbound and not yet upgraded: counts against the pending limits. */
  pending: boolean
  remoteNonce: bigint
}

const remoteKeyOf = (r: UdpAddress): string => `${r.host}|${r.port}`
const sessionKeyOf = (r: UdpAddress, nonce: bigint): string => `${r.host}|${r.port}|${nonce}`

export class Handshaker<S> {
  /** Set while listening; without it, HELLOs that do not pair with a dial of ours are ignored. */
  onInbound?: ((stream: S, remote: UdpAddress) => void) | undefined

  private readonly init: HandshakeInit<S>
  private readonly dials = new Map<bigint, PendingDial<S>>()
  /** The first pending dial per remote address: the one a crossed HELLO pairs with. */
  private readonly pairable = new Map<string, PendingDial<S>>()
  private readonly sessions = new Map<string, Session>()
  private readonly sessionsByStream = new Map<number, Session>()
  private readonly pendingByHost = new Map<string, number>()
  private pendingInbound = 0
  private crossed = 0
  private readonly cookieSecret: Uint8Array

  constructor (init: HandshakeInit<S>) {
    this.init = init
    this.cookieSecret = init.cookieSecret ?? randomBytes(32)
  }

  get pendingDials (): number { return this.dials.size }
  get pendingInboundCount (): number { return this.pendingInbound }
  get sessionCount (): number { return this.sessions.size }
  get crossedCount (): number { return this.crossed }

  async dial (remote: UdpAddress, options: HandshakeDialOptions): Promise<HandshakeResult<S>> {
    options.signal.throwIfAborted()
    if (this.dials.size >= this.init.maxPendingDials) {
      throw new UdxLimitError(`${this.dials.size} UDX dials already pending`)
    }
    const stream = this.init.streams.open()
    if (stream == null) throw new UdxLimitError('UDX connection limit reached')

    let nonce = this.init.randomNonce()
    while (nonce === 0n || this.dials.has(nonce)) nonce = this.init.randomNonce()
    const remoteKey = remoteKeyOf(remote)
    const echo = this.latestInboundNonce(remoteKey)
    let resolve!: (result: HandshakeResult<S>) => void
    let reject!: (err: Error) => void
    const promise = new Promise<HandshakeResult<S>>((res, rej) => { resolve = res; reject = rej })

    let retryTimer: ReturnType<typeof setTimeout> | undefined
    let interval = this.init.initialRetryInterval
    const send = (): void => {
      this.init.send(dial.hello, remote)
      retryTimer = setTimeout(send, interval)
      interval = Math.min(interval * 2, this.init.maxRetryInterval)
    }
    const deadline = setTimeout(() => {
      this.fail(dial, new UdxHandshakeTimeoutError(`no UDX handshake answer from ${remote.host}:${remote.port} within ${options.timeout} ms`))
    }, options.timeout)
    const onAbort = (): void => {
      const reason: unknown = options.signal.reason
      this.fail(dial, reason instanceof Error ? reason : new Error(String(reason)))
    }
    const dial: PendingDial<S> = {
      nonce,
      remote,
      remoteKey,
      stream,
      echo,
      hello: encodeHello(nonce, this.init.streams.id(stream), echo),
      resolve,
      reject,
      cleanup: () => {
        clearTimeout(retryTimer)
        clearTimeout(deadline)
        options.signal.removeEventListener('abort', onAbort)
      }
    }
    options.signal.addEventListener('abort', onAbort, { once: true })
    this.dials.set(nonce, dial)
    if (!this.pairable.has(remoteKey)) this.pairable.set(remoteKey, dial)
    send()
    return promise
  }

  onHello (hello: Hello, from: UdpAddress): void {
    const key = sessionKeyOf(from, hello.nonce)
    const existing = this.sessions.get(key)
    if (existing != null) {
      // a retransmitted HELLO: our ACK was lost or is still in flight
      if (this.init.mayReply()) this.init.send(existing.ack, from)
      return
    }

    const remoteKey = remoteKeyOf(from)
    const dial = this.pairable.get(remoteKey)
    if (dial != null && dial.crossedWith == null && hello.echo !== dial.nonce && hello.nonce !== dial.nonce) {
      this.init.log('crossed dial with %s:%d, pairing', from.host, from.port)
      this.pairCrossed(dial, from, hello.nonce, hello.streamId)
      return
    }

    const onInbound = this.onInbound
    if (onInbound == null) return
    if (this.pendingInbound >= this.init.maxPendingInbound ||
      (this.pendingByHost.get(from.host) ?? 0) >= this.init.maxPendingInboundPerHost) {
      this.init.log('dropping HELLO from %s:%d: too many pending inbound handshakes', from.host, from.port)
      return
    }
    if (!this.init.mayReply()) return
    const threshold = this.init.retryThreshold ?? Math.ceil(this.init.maxPendingInbound / 2)
    if (this.pendingInbound >= threshold && !this.validCookie(hello, from)) {
      // under pressure: no state for an address that has not proven it receives
      this.init.send(encodeRetry(hello.nonce, this.cookie(from, hello.nonce, this.cookieBucket())), from)
      return
    }
    const stream = this.init.streams.open()
    if (stream == null) {
      this.init.log('dropping HELLO from %s:%d: connection limit reached', from.host, from.port)
      return
    }
    const streamId = this.init.streams.id(stream)
    // connect before answering: the ACK promises that our stream is ready
    this.init.streams.connect(stream, from, hello.streamId)
    const ack = encodeAck(hello.nonce, streamId, false, 0n)
    this.addSession({ key, remoteKey, host: from.host, streamId, ack, inbound: true, pending: true, remoteNonce: hello.nonce })
    this.init.send(ack, from)
    onInbound(stream, from)
  }

  onAck (ack: Ack, from: UdpAddress): void {
    const dial = this.dials.get(ack.echo)
    if (dial == null || dial.remoteKey !== remoteKeyOf(from)) return

    if (dial.crossedWith != null) {
      const paired = dial.crossedWith
      if (ack.crossed && ack.nonce === paired.nonce && ack.streamId === paired.streamId) {
        this.complete(dial, dial.nonce > ack.nonce, true)
      } else {
        this.fail(dial, new UdxHandshakeError(`${from.host}:${from.port} answered a crossed dial inconsistently`))
      }
      return
    }

    if (ack.crossed) {
      // the peer paired our HELLO with its own dial; its HELLO has not reached us
      // (lost, or still in flight), so pair from our side now and answer it
      if (ack.nonce === dial.nonce) {
        this.fail(dial, new UdxHandshakeError('peer echoed our own nonce'))
        return
      }
      const clash = this.sessions.get(sessionKeyOf(from, ack.nonce))
      if (clash != null) {
        this.fail(dial, new UdxHandshakeError(`${from.host}:${from.port} paired a dial we already answered`))
        return
      }
      this.pairCrossed(dial, from, ack.nonce, ack.streamId)
      this.complete(dial, dial.nonce > ack.nonce, true)
      return
    }

    this.init.streams.connect(dial.stream, from, ack.streamId)
    this.complete(dial, true, false)
  }

  onRetry (retry: Retry, from: UdpAddress): void {
    const dial = this.dials.get(retry.echo)
    if (dial == null || dial.remoteKey !== remoteKeyOf(from) || dial.crossedWith != null) return
    dial.hello = encodeHello(dial.nonce, this.init.streams.id(dial.stream), dial.echo, retry.cookie)
    this.init.send(dial.hello, dial.remote)
  }

  /** The inbound connection on this stream finished its upgrade: it no longer counts as pending. */
  upgraded (streamId: number): void {
    const session = this.sessionsByStream.get(streamId)
    if (session?.pending === true) this.unpend(session)
  }

  /** The stream closed: forget its session. */
  closed (streamId: number): void {
    const session = this.sessionsByStream.get(streamId)
    if (session == null) return
    if (session.pending) this.unpend(session)
    this.sessionsByStream.delete(streamId)
    this.sessions.delete(session.key)
  }

  /** Fails every pending dial (the socket is closing). */
  close (err: Error): void {
    for (const dial of [...this.dials.values()]) this.fail(dial, err)
    this.onInbound = undefined
  }

  private pairCrossed (dial: PendingDial<S>, from: UdpAddress, remoteNonce: bigint, remoteStreamId: number): void {
    const streamId = this.init.streams.id(dial.stream)
    this.init.streams.connect(dial.stream, from, remoteStreamId)
    dial.crossedWith = { nonce: remoteNonce, streamId: remoteStreamId }
    const ack = encodeAck(remoteNonce, streamId, true, dial.nonce)
    this.addSession({
      key: sessionKeyOf(from, remoteNonce),
      remoteKey: dial.remoteKey,
      host: from.host,
      streamId,
      ack,
      inbound: false,
      pending: false,
      remoteNonce
    })
    this.init.send(ack, from)
  }

  private cookieBucket (): number {
    return Math.floor(Date.now() / COOKIE_LIFETIME)
  }

  private cookie (from: UdpAddress, nonce: bigint, bucket: number): bigint {
    const mac = createHmac('sha256', this.cookieSecret).update(`${from.host}|${from.port}|${nonce}|${bucket}`).digest()
    return mac.readBigUInt64BE(0) | 1n
  }

  private validCookie (hello: Hello, from: UdpAddress): boolean {
    if (hello.cookie === 0n) return false
    const bucket = this.cookieBucket()
    return hello.cookie === this.cookie(from, hello.nonce, bucket) || hello.cookie === this.cookie(from, hello.nonce, bucket - 1)
  }

  private latestInboundNonce (remoteKey: string): bigint {
    let nonce = 0n
    for (const session of this.sessions.values()) {
      if (session.inbound && session.remoteKey === remoteKey) nonce = session.remoteNonce
    }
    return nonce
  }

  private addSession (session: Session): void {
    this.sessions.set(session.key, session)
    this.sessionsByStream.set(session.streamId, session)
    if (session.pending) {
      this.pendingInbound++
      this.pendingByHost.set(session.host, (this.pendingByHost.get(session.host) ?? 0) + 1)
    }
  }

  private unpend (session: Session): void {
    session.pending = false
    this.pendingInbound--
    const n = (this.pendingByHost.get(session.host) ?? 1) - 1
    if (n <= 0) this.pendingByHost.delete(session.host)
    else this.pendingByHost.set(session.host, n)
  }

  private forget (dial: PendingDial<S>): void {
    dial.cleanup()
    this.dials.delete(dial.nonce)
    if (this.pairable.get(dial.remoteKey) === dial) {
      this.pairable.delete(dial.remoteKey)
      // the next pending dial to the same address becomes the pairable one
      for (const other of this.dials.values()) {
        if (other.remoteKey === dial.remoteKey) { this.pairable.set(dial.remoteKey, other); break }
      }
    }
  }

  private complete (dial: PendingDial<S>, initiator: boolean, crossed: boolean): void {
    this.forget(dial)
    if (crossed) this.crossed++
    dial.resolve({ stream: dial.stream, initiator, crossed })
  }

  private fail (dial: PendingDial<S>, err: Error): void {
    if (this.dials.get(dial.nonce) !== dial) return
    this.forget(dial)
    this.init.streams.destroy(dial.stream)
    dial.reject(err)
  }
}
