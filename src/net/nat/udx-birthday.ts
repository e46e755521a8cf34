/**
 * `udxBirthday()`: birthday hole punching between a node whose NAT gives every
 * destination a new random port and a node whose NAT keeps one port, agreed
 * over the relayed connection between them (`/weft/udx-birthday/1.0.0`).
 *
 * Why a protocol of our own: DCUtR exchanges addresses, and a port-randomizing
 * NAT has no address worth exchanging (the mapping a reflector saw holds only
 * towards the reflector; udx-observer withdraws it and reports the mapping as
 * 'dependent'). Birthday punching needs the two sides to take different roles
 * and to start at the same moment, so this service does what DCUtR cannot:
 *
 *   hard side (mapping 'dependent', when a peer tells it a public UDX address
 *   over a relayed connection, see udx-addrs)         -> REQUEST { host, sockets }
 *   easy side (mapping not 'dependent', has a confirmed
 *   public UDX address, peer authorized, not busy)    <- ACCEPT { host, port, probes } | REFUSE
 *   hard side opens the sockets, each punches (TTL 2) -> READY
 *   easy side probes random ports of `host`; a probe that reaches a socket
 *   makes the hard side                               -> HIT, then dial from that socket
 *   or, after its timeout,                            -> DONE
 *
 * The probes are datagrams the easy side aims at an IP it was told about, so
 * it only accepts requests from peers `authorize` accepts (weft: group
 * members), one attempt at a time, a few per peer per minute, each bounded in
 * datagrams (DEFAULT_BIRTHDAY_PROBES, 40-byte payloads) and time. When both
 * NATs randomize, neither side advertises a UDX address, nobody asks, and the
 * connection stays relayed.
 */
import { isIP } from 'node:net'
import { isPrivate, pbStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type {
  ComponentLogger, Connection, Logger, PeerId, Startable, Stream, Transport, TypedEventTarget
} from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { isUdxTransport, parseUdxMultiaddr, type PeerUdxAddrs, type UdxAddrsEvents, type UdxTransport } from '../../udx/index.js'
import * as C from '../constants.js'
import { pbCodec } from '../pb-codec.js'
import { BirthdayMessage } from './pb/udx-birthday.js'
import type { UdxObserver } from './udx-observer.js'

const Type = BirthdayMessage.Type

export interface UdxBirthdayComponents {
  registrar: Pick<Registrar, 'handle' | 'unhandle'>
  connectionManager: Pick<ConnectionManager, 'openConnection' | 'getConnections'>
  transportManager: { getTransports(): Transport[], getAddrs(): Multiaddr[] }
  logger: ComponentLogger
  /** The node's udx-observer service (libp2p puts services among the components by name). */
  udxObserver: UdxObserver
  /** The node's udx-addrs service: peers tell it their UDX addresses (identify does not carry them). */
  udxAddrs: TypedEventTarget<UdxAddrsEvents>
}

export interface UdxBirthdayInit {
  /** Peers whose requests we answer with probes, and whom we ask to probe for us. @default everyone */
  authorize?: (peer: PeerId) => boolean | Promise<boolean>
  /** Sockets the hard side opens. @default DEFAULT_BIRTHDAY_SOCKETS (256) */
  sockets?: number
  /** Probes the easy side sends at most. @default DEFAULT_BIRTHDAY_PROBES (2048) */
  probes?: number
  /** Milliseconds the hard side's sockets wait for a probe. @default DEFAULT_UDX_BIRTHDAY_TIMEOUT_MS (5 s) */
  timeoutMs?: number
  /** IP TTL of the hard side's punches. @default DEFAULT_UDX_RELAYED_PUNCH_TTL (2) */
  ttl?: number
  /** Start attempts as the hard side (when a peer tells us its public UDX address over a relayed connection). @default true */
  initiate?: boolean
}

/** What one attempt as the hard side ended with. */
export type BirthdayOutcome = 'direct' | 'refused' | 'no-hit' | 'failed' | 'skipped'

export interface UdxBirthday {
  /** Runs one attempt as the hard side over `connection` (a relayed one to the peer). */
  punch(connection: Connection): Promise<BirthdayOutcome>
}

const codec = pbCodec(BirthdayMessage)

class InvalidBirthdayMessageError extends Error {
  static override name = 'InvalidBirthdayMessageError'
  override name = 'InvalidBirthdayMessageError'
}

const isPublicHost = (host: string): boolean => {
  const family = isIP(host)
  if (family === 0) return false
  return isPrivate(multiaddr(`/ip${family}/${host}`)) !== true
}

class DefaultUdxBirthday implements UdxBirthday, Startable {
  readonly [Symbol.toStringTag] = '@weft/udx-birthday'
  readonly #c: UdxBirthdayComponents
  readonly #log: Logger
  readonly #init: UdxBirthdayInit
  readonly #sockets: number
  readonly #probes: number
  readonly #timeoutMs: number
  /** Peers with an attempt under way (either role). */
  readonly #busy = new Set<string>()
  /** When each peer's last attempts started, for the per-peer rate limit. */
  readonly #recent = new Map<string, number[]>()
  #probing = 0
  #stop = new AbortController()

  constructor (components: UdxBirthdayComponents, init: UdxBirthdayInit = {}) {
    this.#c = components
    this.#init = init
    this.#log = components.logger.forComponent(C.LOG_UDX_BIRTHDAY)
    this.#sockets = init.sockets ?? C.DEFAULT_UDX_BIRTHDAY_SOCKETS
    this.#probes = init.probes ?? C.DEFAULT_UDX_BIRTHDAY_PROBES
    this.#timeoutMs = init.timeoutMs ?? C.DEFAULT_UDX_BIRTHDAY_TIMEOUT_MS
  }

  async start (): Promise<void> {
    this.#stop = new AbortController()
    await this.#c.registrar.handle(C.UDX_BIRTHDAY_PROTOCOL, (stream, connection) => { void this.#answer(stream, connection) }, {
      runOnLimitedConnection: true, maxInboundStreams: 2, maxOutboundStreams: 2
    })
    if (this.#init.initiate !== false) this.#c.udxAddrs.addEventListener('addresses', this.#onAddresses)
  }

  async stop (): Promise<void> {
    this.#stop.abort()
    this.#c.udxAddrs.removeEventListener('addresses', this.#onAddresses)
    await this.#c.registrar.unhandle(C.UDX_BIRTHDAY_PROTOCOL)
  }

  #transport (): UdxTransport | undefined {
    if (!this.#c.transportManager.getAddrs().some(ma => parseUdxMultiaddr(ma) != null)) return undefined
    return this.#c.transportManager.getTransports().find(isUdxTransport)
  }

  #hasDirect (peer: PeerId): boolean {
    return this.#c.connectionManager.getConnections(peer).some(c => c.limits == null && c.status === 'open')
  }

  /** Rate limit per peer (both roles): true when another attempt may start now. */
  #mayStart (peer: string): boolean {
    const now = Date.now()
    const recent = (this.#recent.get(peer) ?? []).filter(t => now - t < C.UDX_BIRTHDAY_ATTEMPT_WINDOW_MS)
    if (this.#busy.has(peer) || recent.length >= C.MAX_UDX_BIRTHDAY_ATTEMPTS_PER_PEER) return false
    recent.push(now)
    if (this.#recent.size > 1024) this.#recent.clear()
    this.#recent.set(peer, recent)
    return true
  }

  readonly #onAddresses = (evt: CustomEvent<PeerUdxAddrs>): void => {
    const { peerId, addrs, connection } = evt.detail
    if (connection.limits == null) return
    const peerHasPublicUdx = addrs.some(ma => parseUdxMultiaddr(ma, true) != null && isPrivate(ma) !== true)
    if (!peerHasPublicUdx || this.#transport() == null) return
    void (async () => {
      // the first exchange on a relayed connection can come before our own mapping is known
      await this.#c.udxObserver.settled()
      if (this.#c.udxObserver.mapping !== 'dependent') return
      const outcome = await this.punch(connection)
      this.#log('birthday punch with %p: %s', peerId, outcome)
    })().catch((err: Error) => { this.#log.error('birthday punch with %p failed - %e', peerId, err) })
  }

  async punch (connection: Connection): Promise<BirthdayOutcome> {
    const peer = connection.remotePeer
    const key = peer.toString()
    const transport = this.#transport()
    const host = this.#c.udxObserver.publicHost
    if (transport == null || host == null || connection.status !== 'open' || this.#hasDirect(peer)) return 'skipped'
    // Our REQUEST names our public IP: only peers we would answer hear it.
    if (this.#init.authorize !== undefined && !(await this.#init.authorize(peer))) return 'skipped'
    if (!this.#mayStart(key)) return 'skipped'
    this.#busy.add(key)
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#timeoutMs + C.UDX_BIRTHDAY_EXCHANGE_TIMEOUT_MS)])
    let stream: Stream | undefined
    let attempt: ReturnType<UdxTransport['birthday']> | undefined
    try {
      stream = await connection.newStream(C.UDX_BIRTHDAY_PROTOCOL, { runOnLimitedConnection: true, signal })
      const pb = pbStream(stream, { maxDataLength: C.MAX_UDX_BIRTHDAY_MESSAGE_BYTES })
      await pb.write({ type: Type.REQUEST, host, sockets: this.#sockets }, codec, { signal })
      const answer = await pb.read(codec, { signal })
      if (answer.type === Type.REFUSE) {
        this.#log('%p declines birthday punching: %s', peer, answer.reason.slice(0, 200))
        return 'refused'
      }
      if (answer.type !== Type.ACCEPT || !isPublicHost(answer.host) || answer.port < 1 || answer.port > 65535) {
        throw new InvalidBirthdayMessageError(`expected ACCEPT with a public address, got type ${answer.type} ${answer.host}:${answer.port}`)
      }
      const target = { host: answer.host, port: answer.port }
      this.#log('birthday punch with %p at %s:%d: %d sockets', peer, target.host, target.port, this.#sockets)
      attempt = transport.birthday(target, {
        sockets: this.#sockets, timeout: this.#timeoutMs, ttl: this.#init.ttl ?? C.DEFAULT_UDX_RELAYED_PUNCH_TTL, signal
      })
      await attempt.punched()
      await pb.write({ type: Type.READY }, codec, { signal })
      let localPort: number
      try {
        localPort = await attempt.hit
      } catch (err) {
        await pb.write({ type: Type.DONE, reason: 'no probe arrived' }, codec, { signal }).catch(() => {})
        await stream.close({ signal }).catch(() => {})
        this.#log('birthday punch with %p: %e', peer, err)
        return 'no-hit'
      }
      await pb.write({ type: Type.HIT }, codec, { signal })
      const addr = multiaddr(`/ip${isIP(target.host)}/${target.host}/udp/${target.port}/udx/p2p/${key}`)
      this.#log('birthday punch with %p: a probe reached local port %d, dialing %a', peer, localPort, addr)
      await this.#c.connectionManager.openConnection(addr, { force: true, signal })
      await stream.close({ signal }).catch(() => {})
      return 'direct'
    } catch (err) {
      stream?.abort(err as Error)
      attempt?.close()
      if (this.#stop.signal.aborted) return 'skipped'
      this.#log('birthday punch with %p failed - %e', peer, err)
      return 'failed'
    } finally {
      this.#busy.delete(key)
    }
  }

  /** Why we will not probe for this peer now, or undefined. */
  async #refusal (request: BirthdayMessage, connection: Connection): Promise<string | undefined> {
    // First, so that a peer we do not serve learns nothing of our NAT either.
    if (this.#init.authorize !== undefined && !(await this.#init.authorize(connection.remotePeer))) return 'not authorized'
    const observer = this.#c.udxObserver
    if (observer.mapping === 'dependent') return 'our NAT randomizes ports too'
    if (observer.observed == null) return 'no public UDX address'
    if (!isPublicHost(request.host)) return 'the host to probe is not a public IP'
    if (request.sockets < 1 || request.sockets > C.MAX_UDX_BIRTHDAY_SOCKETS) return `sockets must be 1 to ${C.MAX_UDX_BIRTHDAY_SOCKETS}`
    if (this.#probing >= C.MAX_CONCURRENT_UDX_BIRTHDAY_PROBES) return 'busy with another peer'
    if (!this.#mayStart(connection.remotePeer.toString())) return 'too many attempts: wait a minute'
    return undefined
  }

  /** The easy side. */
  async #answer (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#timeoutMs + C.UDX_BIRTHDAY_EXCHANGE_TIMEOUT_MS)])
    const pb = pbStream(stream, { maxDataLength: C.MAX_UDX_BIRTHDAY_MESSAGE_BYTES })
    let counted = false
    try {
      const request = await pb.read(codec, { signal })
      if (request.type !== Type.REQUEST) throw new InvalidBirthdayMessageError(`expected REQUEST, got type ${request.type}`)
      const transport = this.#transport()
      const refusal = transport == null ? 'no UDX listener' : await this.#refusal(request, connection)
      const own = this.#c.udxObserver.observed
      const ownAddress = own == null ? undefined : parseUdxMultiaddr(own, true)
      if (refusal !== undefined || transport == null || ownAddress == null) {
        this.#log('declining birthday punching with %p: %s', peer, refusal)
        await pb.write({ type: Type.REFUSE, reason: refusal ?? 'no public UDX address' }, codec, { signal })
        await stream.close({ signal }).catch(() => {})
        return
      }
      this.#probing++
      counted = true
      this.#busy.add(peer.toString())
      await pb.write({ type: Type.ACCEPT, host: ownAddress.host, port: ownAddress.port, probes: this.#probes }, codec, { signal })
      const ready = await pb.read(codec, { signal })
      if (ready.type !== Type.READY) {
        await stream.close({ signal }).catch(() => {})
        return
      }
      const stopProbing = new AbortController()
      const outcome = pb.read(codec, { signal }).finally(() => { stopProbing.abort() })
      outcome.catch(() => {})
      const t0 = Date.now()
      const sent = await transport.probe(request.host, { count: this.#probes, signal: AbortSignal.any([signal, stopProbing.signal]) })
      const last = await outcome
      this.#log('birthday probes to %p at %s: %d sent in %d ms, outcome %s', peer, request.host, sent, Date.now() - t0, last.type === Type.HIT ? 'hit' : last.reason.slice(0, 200))
      await stream.close({ signal }).catch(() => {})
    } catch (err) {
      this.#log('birthday punching with %p ended - %e', peer, err)
      stream.abort(err as Error)
    } finally {
      if (counted) {
        this.#probing--
        this.#busy.delete(peer.toString())
      }
    }
  }
}

export function udxBirthday (init: UdxBirthdayInit = {}): (components: UdxBirthdayComponents) => UdxBirthday {
  return (components) => new DefaultUdxBirthday(components, init)
}
