/**
 * Client side of `/weft/relay-auth/1.0.0`: present a credential to a relay
 * over an open, direct connection to it, and learn the group and limits
 * granted. A weft node does this after each (re)connect to a relay, before
 * or right after reserving: the relay raises an existing reservation's
 * limits as soon as the peer is admitted.
 *
 * This lives in relay/ until the network layer (src/net) adopts it; it
 * imports nothing from the relay server.
 */
import type { AbortOptions, Connection } from '@libp2p/interface'
import { pbStream } from '@libp2p/utils'
import { RELAY_AUTH_MAX_MESSAGE_BYTES, RELAY_AUTH_PROTOCOL, RELAY_AUTH_TIMEOUT_MS } from '../constants.js'
import { AuthRequest, AuthResponse } from './pb/relay-auth.js'

export { GROUP_STATEMENT_SCHEME, signGroupStatement, generateGroupKey } from './verifier.js'

// pbStream hands over its own uint8arraylist major; the codec reads plain bytes.
const responseCodec = { decode: (data: Uint8Array | { subarray: () => Uint8Array }) => AuthResponse.decode(data instanceof Uint8Array ? data : data.subarray()) }

export type RelayAuthResult =
  | { ok: true, group: string, validUntilMs: number, durationLimitMs: number, dataLimitBytes: number }
  | { ok: false, status: Exclude<AuthResponse.Status, AuthResponse.Status.OK> }

/** Sends one credential; resolves with the relay's answer. Network failures reject. */
export async function authenticateToRelay (connection: Connection, scheme: string, credential: Uint8Array, options: AbortOptions = {}): Promise<RelayAuthResult> {
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
