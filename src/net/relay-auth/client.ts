/**
 * Client side of `/weft/relay-auth/1.0.0`: present a credential to a relay
 * over an open, direct connection to it, and learn the group and limits
 * granted. The relay raises an existing reservation's limits as soon as the
 * peer is admitted, so without this a weft node gets circuit relay v2's stock
 * limits (2 min, 128 KiB) on its own relays.
 *
 * `relayAuthClient` is the libp2p service the node runs: on every new direct
 * connection to one of its configured relays it presents the credential the
 * node holds at that moment (read through `init.credential`, so a device that
 * joins a group later proves it on the next connection) and reports the
 * outcome as a `relay:auth` event. `authenticateToRelay` is the single
 * exchange, for callers that hold a connection themselves.
 *
 * The relay's side is relay/auth/service.ts; the codec (pb/) and wire
 * constants are shared with it.
 */
import type { AbortOptions, ComponentLogger, Connection, Libp2pEvents, Logger, Startable, TypedEventTarget } from '@libp2p/interface'
import { pbStream } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import { LOG_RELAY_AUTH_CLIENT, RELAY_AUTH_MAX_MESSAGE_BYTES, RELAY_AUTH_PROTOCOL, RELAY_AUTH_TIMEOUT_MS } from './constants.js'
import { AuthRequest, AuthResponse } from './pb/relay-auth.js'

// pbStream hands over its own uint8arraylist major; the codec reads plain bytes.
const responseCodec = {
  decode: (data: Uint8Array | { subarray: () => Uint8Array }) => AuthResponse.decode(data instanceof Uint8Array ? data : data.subarray())
}

export type RelayAuthResult =
  | { ok: true, group: string, validUntilMs: number, durationLimitMs: number, dataLimitBytes: number }
  | { ok: false, status: Exclude<AuthResponse.Status, AuthResponse.Status.OK> }

/**
 * Sends one credential; resolves with the relay's answer. Network failures
 * reject, and so does an answer whose status this build does not know (the
 * codec refuses an enum number outside the .proto): it is never read as an
 * admission, and the node keeps the relay's stock limits.
 */
export async function authenticateToRelay (
  connection: Connection, scheme: string, credential: Uint8Array, options: AbortOptions = {}
): Promise<RelayAuthResult> {
  const signal = options.signal ?? AbortSignal.timeout(RELAY_AUTH_TIMEOUT_MS)
  const stream = await connection.newStream(RELAY_AUTH_PROTOCOL, { signal })
  try {
    const pb = pbStream(stream, { maxDataLength: RELAY_AUTH_MAX_MESSAGE_BYTES })
    await pb.write({ scheme, credential }, AuthRequest, { signal })
    const res = await pb.read(responseCodec, { signal })
    await stream.close({ signal })
    if (res.status !== AuthResponse.Status.OK) return { ok: false, status: res.status }
    return { ok: true, group: res.group, validUntilMs: res.validUntilMs, durationLimitMs: res.durationLimitMs, dataLimitBytes: res.dataLimitBytes }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** What a node presents to its relays: a verifier's scheme and the credential it reads. */
export interface RelayCredential {
  scheme: string
  credential: Uint8Array
}

export interface RelayAuthClientInit {
  /** Peer ids of the relays to prove membership to. @default [] */
  relays?: Iterable<string>
  /**
   * The credential to present, read at each new relay connection;
   * undefined while there is none (a device in no group yet).
   * @default none: the service presents nothing
   */
  credential?: () => RelayCredential | undefined
  /** @default RELAY_AUTH_TIMEOUT_MS (10 s) */
  timeoutMs?: number
}

export interface RelayAuthClientComponents {
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** The outcome of one exchange with a relay: its answer, or why there was none. */
export type RelayAuthOutcome =
  | { relay: string, result: RelayAuthResult }
  | { relay: string, error: Error }

export interface RelayAuthClientEvents {
  'relay:auth': CustomEvent<RelayAuthOutcome>
}

export interface RelayAuthClient extends TypedEventTarget<RelayAuthClientEvents> {}

class DefaultRelayAuthClient extends TypedEventEmitter<RelayAuthClientEvents> implements RelayAuthClient, Startable {
  readonly #c: RelayAuthClientComponents
  readonly #relays: ReadonlySet<string>
  readonly #credential: (() => RelayCredential | undefined) | undefined
  readonly #timeoutMs: number
  readonly #log: Logger
  readonly #shutdown = new AbortController()

  readonly [Symbol.toStringTag] = 'weft:relay-auth-client'

  constructor (components: RelayAuthClientComponents, init: RelayAuthClientInit) {
    super()
    this.#c = components
    this.#relays = new Set(init.relays ?? [])
    this.#credential = init.credential
    this.#timeoutMs = init.timeoutMs ?? RELAY_AUTH_TIMEOUT_MS
    this.#log = components.logger.forComponent(LOG_RELAY_AUTH_CLIENT)
  }

  start (): void {
    this.#c.events.addEventListener('connection:open', this.#onOpen)
  }

  stop (): void {
    this.#c.events.removeEventListener('connection:open', this.#onOpen)
    this.#shutdown.abort()
  }

  readonly #onOpen = (e: CustomEvent<Connection>): void => {
    const conn = e.detail
    // Only a direct connection reaches the relay's own auth handler (a relayed one would be another peer's).
    if (!this.#relays.has(conn.remotePeer.toString()) || conn.limits !== undefined) return
    const presented = this.#credential?.()
    if (presented === undefined) return
    const relay = conn.remotePeer.toString()
    const signal = AbortSignal.any([this.#shutdown.signal, AbortSignal.timeout(this.#timeoutMs)])
    authenticateToRelay(conn, presented.scheme, presented.credential, { signal })
      .then(result => {
        this.#log('relay %p answered %s', conn.remotePeer, result.ok ? 'admitted' : AuthResponse.Status[result.status])
        this.safeDispatchEvent('relay:auth', { detail: { relay, result } })
      })
      .catch((err: Error) => {
        this.#log('relay %p auth failed - %e', conn.remotePeer, err)
        this.safeDispatchEvent('relay:auth', { detail: { relay, error: err } })
      })
  }
}

/** The relay-auth client as a libp2p service (`services.relayAuth`). */
export function relayAuthClient (init: RelayAuthClientInit = {}): (components: RelayAuthClientComponents) => RelayAuthClient {
  return (components) => new DefaultRelayAuthClient(components, init)
}
