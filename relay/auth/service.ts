/**
 * Server side of `/weft/relay-auth/1.0.0`: a libp2p service on the relay.
 *
 * A client opens a stream on its direct connection to the relay, sends one
 * AuthRequest (scheme + credential), gets one AuthResponse, and both close.
 * The verifier for the scheme decides (see `verifier.ts`). A success admits
 * the connection's authenticated peer into a group until the credential's
 * end or until the peer's last connection to the relay closes, whichever is
 * first; the client authenticates again after reconnecting. A failure leaves
 * an earlier admission alone. Changes are emitted as 'admission' events so the
 * relay policy can raise or lower the peer's reservation limits at once.
 *
 * Bounds: one message each way of at most RELAY_AUTH_MAX_MESSAGE_BYTES,
 * read before anything is buffered beyond that; the whole exchange within
 * RELAY_AUTH_TIMEOUT_MS; RELAY_AUTH_MAX_STREAMS streams per connection; one
 * admission per peer, held only while the peer is connected.
 */
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import { PeerMap } from '@libp2p/peer-collections'
import { pbStream } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import * as C from '../constants.js'
import { AuthRequest, AuthResponse } from '../../src/net/relay-auth/pb/relay-auth.js'
import type { Admission, AdmissionFailure, AdmissionVerifier } from './verifier.js'

export interface GrantedLimits {
  durationMs: number
  dataBytes: number
}

export interface RelayAuthInit {
  /** One verifier per credential scheme. @default [] (every request: UNKNOWN_SCHEME) */
  verifiers?: AdmissionVerifier[]
  /** Limits reported to admitted clients (the policy applies them). */
  groupLimits: GrantedLimits
  /** @default RELAY_AUTH_TIMEOUT_MS (10 s) */
  timeoutMs?: number
  /** Clock, for tests. @default Date.now */
  now?: () => number
}

export interface RelayAuthComponents {
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface AdmissionChange {
  peer: PeerId
  /** undefined: the peer is no longer admitted. */
  admission: Admission | undefined
}

export interface RelayAuthEvents {
  admission: CustomEvent<AdmissionChange>
  /** Every answered request, for metrics: 'ok' or the failure code. */
  result: CustomEvent<{ peer: PeerId, result: 'ok' | AdmissionFailure | 'INTERNAL_ERROR' }>
}

export interface RelayAuth extends TypedEventEmitter<RelayAuthEvents> {
  /** The peer's current admission, if any and not expired. */
  admission(peer: PeerId): Admission | undefined
  /** Admitted peers right now. */
  readonly admitted: number
}

// pbStream hands over its own uint8arraylist major; the codec reads plain bytes.
const requestCodec = { decode: (data: Uint8Array | { subarray: () => Uint8Array }) => AuthRequest.decode(data instanceof Uint8Array ? data : data.subarray()) }

interface Held { admission: Admission, timer: ReturnType<typeof setTimeout> }

class DefaultRelayAuth extends TypedEventEmitter<RelayAuthEvents> implements RelayAuth, Startable {
  readonly #c: RelayAuthComponents
  readonly #verifiers: Map<string, AdmissionVerifier>
  readonly #init: RelayAuthInit
  readonly #log: Logger
  readonly #now: () => number
  readonly #held = new PeerMap<Held>()
  #started = false

  constructor (components: RelayAuthComponents, init: RelayAuthInit) {
    super()
    this.#c = components
    this.#init = init
    this.#verifiers = new Map((init.verifiers ?? []).map(v => [v.scheme, v]))
    this.#log = components.logger.forComponent(C.LOG_RELAY_AUTH)
    this.#now = init.now ?? Date.now
  }

  readonly [Symbol.toStringTag] = 'weft:relay-auth'

  isStarted (): boolean { return this.#started }

  async start (): Promise<void> {
    await this.#c.registrar.handle(C.RELAY_AUTH_PROTOCOL, (stream, connection) => { void this.#onStream(stream, connection) }, {
      maxInboundStreams: C.RELAY_AUTH_MAX_STREAMS,
      maxOutboundStreams: 0
    })
    this.#c.events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    await this.#c.registrar.unhandle(C.RELAY_AUTH_PROTOCOL)
    this.#c.events.removeEventListener('peer:disconnect', this.#onDisconnect)
    for (const [, h] of this.#held) clearTimeout(h.timer)
    this.#held.clear()
  }

  get admitted (): number { return this.#held.size }

  admission (peer: PeerId): Admission | undefined {
    const h = this.#held.get(peer)
    return h !== undefined && h.admission.validUntilMs > this.#now() ? h.admission : undefined
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => { this.#drop(evt.detail, 'disconnected') }

  #drop (peer: PeerId, why: string): void {
    const h = this.#held.get(peer)
    if (h === undefined) return
    clearTimeout(h.timer)
    this.#held.delete(peer)
    this.#log('admission of %p into %s ended: %s', peer, h.admission.group, why)
    this.safeDispatchEvent('admission', { detail: { peer, admission: undefined } })
  }

  #admit (peer: PeerId, admission: Admission): void {
    const old = this.#held.get(peer)
    if (old !== undefined) clearTimeout(old.timer)
    // setTimeout takes at most 2^31-1 ms; a longer admission is re-armed by a later auth (clients refresh).
    const ms = Math.min(Math.max(0, admission.validUntilMs - this.#now()), 2 ** 31 - 1)
    const timer = setTimeout(() => { this.#drop(peer, 'expired') }, ms)
    timer.unref?.()
    this.#held.set(peer, { admission, timer })
    this.#log('admitted %p into %s until %s', peer, admission.group, new Date(admission.validUntilMs).toISOString())
    this.safeDispatchEvent('admission', { detail: { peer, admission } })
  }

  async #respond (request: AuthRequest, connection: Connection): Promise<AuthResponse> {
    const peer = connection.remotePeer
    const verifier = this.#verifiers.get(request.scheme)
    if (verifier === undefined) return { status: AuthResponse.Status.UNKNOWN_SCHEME, group: '', validUntilMs: 0, durationLimitMs: 0, dataLimitBytes: 0 }
    const result = await verifier.verify(request.credential, peer, this.#now())
    if (!result.ok) {
      this.#log('refused auth from %p: %s (%s)', peer, result.failure, result.detail)
      return { status: AuthResponse.Status[result.failure], group: '', validUntilMs: 0, durationLimitMs: 0, dataLimitBytes: 0 }
    }
    // The peer may have gone while we verified; an admission must not outlive its connections.
    if (connection.status !== 'open') throw new Error('connection closed during auth')
    this.#admit(peer, result.admission)
    const { durationMs, dataBytes } = this.#init.groupLimits
    return {
      status: AuthResponse.Status.OK,
      group: result.admission.group,
      validUntilMs: result.admission.validUntilMs,
      durationLimitMs: durationMs,
      dataLimitBytes: dataBytes
    }
  }

  async #onStream (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.#init.timeoutMs ?? C.RELAY_AUTH_TIMEOUT_MS)
    const pb = pbStream(stream, { maxDataLength: C.RELAY_AUTH_MAX_MESSAGE_BYTES })
    let outcome: 'ok' | AdmissionFailure | 'INTERNAL_ERROR' = 'INTERNAL_ERROR'
    try {
      const request = await pb.read(requestCodec, { signal })
      let response: AuthResponse
      try {
        response = await this.#respond(request, connection)
      } catch (err) {
        this.#log.error('auth from %p failed - %e', connection.remotePeer, err)
        response = { status: AuthResponse.Status.INTERNAL_ERROR, group: '', validUntilMs: 0, durationLimitMs: 0, dataLimitBytes: 0 }
      }
      outcome = response.status === AuthResponse.Status.OK ? 'ok' : response.status as AdmissionFailure
      await pb.write(response, AuthResponse, { signal })
      await stream.close({ signal })
    } catch (err) {
      this.#log('auth stream from %p failed - %e', connection.remotePeer, err)
      outcome = 'MALFORMED'
      stream.abort(err as Error)
    }
    this.safeDispatchEvent('result', { detail: { peer: connection.remotePeer, result: outcome } })
  }
}

/** The relay-auth service factory, for `createLibp2p({ services: { relayAuth: relayAuth(init) } })`. */
export function relayAuth (init: RelayAuthInit): (components: RelayAuthComponents) => RelayAuth {
  return (components) => new DefaultRelayAuth(components, init)
}
