/**
 * Pairing over libp2p: the inviter's handler for `/weft/pair/1.0.0` and the
 * joiner's dial. The exchange itself (challenge/response, admission) is the
 * pure `auth/pairing`; this file carries it over a Noise-encrypted stream,
 * with the remote key taken from the connection (never from a message), a
 * frame limit, timeouts, and a per-peer rate limit so that guessing invite
 * proofs costs a stranger real time.
 *
 * Pairing runs on relayed (limited) connections too: a new device may reach
 * the inviter only through a relay.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { acceptPairing, joinGroup, type Accepted, type Joined, type MembershipView } from '../auth/pairing.js'
import { framedPairingChannel } from '../auth/pairing-messages.js'
import { MAX_PAIRING_MESSAGE_BYTES, PAIRING_PROTOCOL_ID } from '../auth/constants.js'
import { PairingError } from '../auth/errors.js'
import type { Invite } from '../auth/invite.js'
import type { InviteStore } from '../auth/invite-store.js'
import type { DeviceKey } from '../oplog/keys.js'
import { FramedChannel } from '../protocol/framing.js'
import { streamChannel } from './stream-channel.js'

/** Pairing attempts one peer may start per window. */
export const MAX_PAIRING_ATTEMPTS_PER_PEER = 5
export const PAIRING_ATTEMPT_WINDOW_MS = 60_000
export const PAIRING_DIAL_TIMEOUT_MS = 15_000

export interface PairingHandlerInit {
  deviceKey: DeviceKey
  /** The group's membership now (undefined while in no group: every attempt is refused). */
  membership: () => MembershipView | undefined
  invites: InviteStore
  /** Called with the joiner's admission: publish it so it replicates. */
  onAccepted: (accepted: Accepted) => void
  onError?: (peer: string, err: Error) => void
}

function remoteKey (conn: Connection): Uint8Array {
  const key = conn.remotePeer.publicKey
  if (key === undefined || key.type !== 'Ed25519') throw new PairingError('WRONG_PEER', 'the remote peer has no Ed25519 key')
  return key.raw
}

/** Registers the inviter's side on `node`. Returns a function that unregisters it. */
export async function handlePairing (node: Libp2p, init: PairingHandlerInit): Promise<() => Promise<void>> {
  const attempts = new Map<string, number[]>()
  await node.handle(PAIRING_PROTOCOL_ID, (stream: Stream, conn: Connection) => {
    void (async () => {
      const peer = conn.remotePeer.toString()
      const now = Date.now()
      const recent = (attempts.get(peer) ?? []).filter(t => now - t < PAIRING_ATTEMPT_WINDOW_MS)
      recent.push(now)
      if (attempts.size > 1024) attempts.clear()
      attempts.set(peer, recent)
      const frames = new FramedChannel(streamChannel(stream), { maxFrameBytes: MAX_PAIRING_MESSAGE_BYTES })
      try {
        if (recent.length > MAX_PAIRING_ATTEMPTS_PER_PEER) throw new PairingError('INTERNAL', 'too many pairing attempts: wait a minute')
        const membership = init.membership()
        if (membership === undefined) throw new PairingError('NOT_MEMBER', 'this device is in no group')
        const accepted = await acceptPairing({ channel: framedPairingChannel(frames), deviceKey: init.deviceKey, remotePeer: remoteKey(conn), membership, invites: init.invites })
        init.onAccepted(accepted)
        await stream.close().catch(() => {})
      } catch (err) {
        init.onError?.(peer, err as Error)
        stream.abort(err as Error)
      }
    })()
  }, { runOnLimitedConnection: true, maxInboundStreams: 4, maxOutboundStreams: 1 })
  return async () => { await node.unhandle(PAIRING_PROTOCOL_ID) }
}

function withoutPeerId (ma: Multiaddr): Multiaddr {
  const s = ma.toString()
  return s.includes('/p2p-circuit') ? ma : multiaddr(s.replace(/\/p2p\/[^/]+$/, ''))
}

export interface PairWithInviterInit {
  invite: Invite
  device: Uint8Array
  name: string
  signal?: AbortSignal
}

/**
 * The order in which a joiner tries an invite's addresses (lower first; the
 * dials run one after another, as libp2p joins concurrent dials to one peer):
 * TCP and other direct addresses, then relay circuits, then UDX. A UDX dial
 * to an address that cannot be reached fails only by timing out (no reset or
 * ICMP error reaches an unconnected UDP socket), which held pairing up by
 * seconds when the inviter's LAN address was unreachable from the joiner's
 * network; an inviter on the same LAN is reachable over TCP too, and a
 * relayed connection is upgraded to a direct one after pairing anyway.
 */
export function pairingDialRank (addr: string): number {
  if (addr.includes('/p2p-circuit')) return 1
  if (addr.includes('/udx')) return 2
  return 0
}

/** The joiner's side: reach the inviter at the invite's addresses and run the exchange. */
export async function pairWithInviter (node: Libp2p, init: PairWithInviterInit): Promise<Joined> {
  const inviterId = peerIdFromPublicKey(publicKeyFromRaw(init.invite.inviter))
  // An address we listen on ourselves (127.0.0.1:4001 when both devices use port 4001) would only reach this node.
  const own = new Set(node.getMultiaddrs().map(ma => withoutPeerId(ma).toString()))
  const addrs: Multiaddr[] = init.invite.addresses
    .filter(a => !own.has(withoutPeerId(multiaddr(a)).toString()))
    .map(a => multiaddr(a).encapsulate(`/p2p/${inviterId.toString()}`))
  const signal = init.signal ?? AbortSignal.timeout(PAIRING_DIAL_TIMEOUT_MS * 2)
  if (addrs.length > 0) await node.peerStore.merge(inviterId, { multiaddrs: addrs })
  let conn: Connection | undefined
  let lastErr: unknown
  const ordered = [...addrs].sort((a, b) => pairingDialRank(a.toString()) - pairingDialRank(b.toString()))
  for (const addr of ordered.length > 0 ? ordered : [undefined]) {
    try {
      conn = await node.dial(addr ?? inviterId, { signal: AbortSignal.any([signal, AbortSignal.timeout(PAIRING_DIAL_TIMEOUT_MS)]) })
      break
    } catch (err) { lastErr = err }
  }
  if (conn === undefined) throw new PairingError('CLOSED', `cannot reach the inviting device (${inviterId.toString()}) at any address in the invite: ${(lastErr as Error)?.message ?? 'no address'}`)
  const stream = await conn.newStream(PAIRING_PROTOCOL_ID, { runOnLimitedConnection: true, signal })
  const frames = new FramedChannel(streamChannel(stream), { maxFrameBytes: MAX_PAIRING_MESSAGE_BYTES })
  try {
    const joined = await joinGroup({ channel: framedPairingChannel(frames), invite: init.invite, device: init.device, name: init.name, remotePeer: remoteKey(conn), signal })
    await stream.close().catch(() => {})
    return joined
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
