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
import { acceptPairing, joinGroup, type Accepted, type Joined, type MembershipView } from '../../auth/pairing.js'
import { framedPairingChannel } from '../../auth/pairing-messages.js'
import { MAX_PAIRING_MESSAGE_BYTES, PAIRING_PROTOCOL_ID } from '../../auth/constants.js'
import { PairingError } from '../../auth/errors.js'
import type { Invite } from '../../auth/invite.js'
import type { InviteStore } from '../../auth/invite-store.js'
import type { DeviceKey } from '../../oplog/keys.js'
import { FramedChannel } from '../../protocol/framing.js'
import { streamChannel } from '../stream-channel.js'

/** Pairing attempts one peer may start per window. */
export const MAX_PAIRING_ATTEMPTS_PER_PEER = 5
export const PAIRING_ATTEMPT_WINDOW_MS = 60_000
export const PAIRING_DIAL_TIMEOUT_MS = 15_000
/** A joiner dials the invite's next address this long after the previous one unless that one failed sooner. */
export const PAIRING_DIAL_STAGGER_MS = 500

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
        const accepted = await acceptPairing({
          channel: framedPairingChannel(frames),
          deviceKey: init.deviceKey,
          remotePeer: remoteKey(conn),
          membership,
          invites: init.invites
        })
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

/** `ma` ending in `/p2p/<peer>` (a circuit address needs it to name its destination). */
function toPeer (ma: Multiaddr, peer: string): Multiaddr {
  return ma.toString().endsWith(`/p2p/${peer}`) ? ma : ma.encapsulate(`/p2p/${peer}`)
}

export interface PairWithInviterInit {
  invite: Invite
  device: Uint8Array
  name: string
  signal?: AbortSignal
}

/**
 * The order in which a joiner tries an invite's addresses (lower first): TCP
 * and other direct addresses, then relay circuits, then UDX. A UDX dial to an
 * address that cannot be reached fails only by timing out (no reset or ICMP
 * error reaches an unconnected UDP socket), and an inviter on the same LAN is
 * reachable over TCP too; a relayed connection is upgraded to a direct one
 * after pairing anyway. The dials overlap (see `dialFirst`), so the order
 * decides which gets a head start, not which waits for the others to fail.
 */
export function pairingDialRank (addr: string): number {
  if (addr.includes('/p2p-circuit')) return 1
  if (addr.includes('/udx')) return 2
  return 0
}

/**
 * Runs `attempt` on each candidate in order, starting the next one when the
 * previous has failed or after `staggerMs`, whichever comes first (Happy
 * Eyeballs, RFC 8305). Resolves with the first success and aborts the
 * attempts still running; rejects with every failure once all have failed.
 */
export async function dialFirst<C, T> (
  candidates: readonly C[],
  attempt: (candidate: C, signal: AbortSignal) => Promise<T>,
  options: { staggerMs: number, signal: AbortSignal }
): Promise<T> {
  if (candidates.length === 0) throw new AggregateError([], 'nothing to dial')
  options.signal.throwIfAborted()
  const running = new Set<AbortController>()
  const errors: unknown[] = []
  return await new Promise<T>((resolve, reject) => {
    let started = 0
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const settle = (): void => {
      settled = true
      clearTimeout(timer)
      options.signal.removeEventListener('abort', onAbort)
      for (const c of running) c.abort(new Error('another address answered first'))
    }
    const onAbort = (): void => { if (!settled) { settle(); reject(options.signal.reason) } }
    const startNext = (): void => {
      clearTimeout(timer)
      if (settled || started >= candidates.length) return
      const controller = new AbortController()
      running.add(controller)
      attempt(candidates[started++]!, AbortSignal.any([options.signal, controller.signal])).then(value => {
        running.delete(controller)
        if (settled) return
        settle()
        resolve(value)
      }, err => {
        running.delete(controller)
        if (settled) return
        errors.push(err)
        if (errors.length === candidates.length) { settle(); reject(new AggregateError(errors, 'every address failed')) } else startNext()
      })
      timer = setTimeout(startNext, options.staggerMs)
    }
    options.signal.addEventListener('abort', onAbort, { once: true })
    startNext()
  })
}

/** The joiner's side: reach the inviter at the invite's addresses and run the exchange. */
export async function pairWithInviter (node: Libp2p, init: PairWithInviterInit): Promise<Joined> {
  const inviterId = peerIdFromPublicKey(publicKeyFromRaw(init.invite.inviter))
  // An address we listen on ourselves (127.0.0.1:4001 when both devices use port 4001) would only reach this node.
  const own = new Set(node.getMultiaddrs().map(ma => withoutPeerId(ma).toString()))
  const addrs: Multiaddr[] = init.invite.addresses
    .map(a => withoutPeerId(multiaddr(a)))
    .filter(a => !own.has(a.toString()))
  const signal = init.signal ?? AbortSignal.timeout(PAIRING_DIAL_TIMEOUT_MS * 2)
  if (addrs.length > 0) await node.peerStore.merge(inviterId, { multiaddrs: addrs.map(a => toPeer(a, inviterId.toString())) })
  const ordered = [...addrs].sort((a, b) => pairingDialRank(a.toString()) - pairingDialRank(b.toString()))
  // Direct addresses are dialled without the inviter's peer id: libp2p folds
  // dials that name one peer into one dial that tries the addresses one after
  // another, so an address whose packets are dropped would hold the others up
  // for libp2p's per-address timeout. The peer id is checked on the connection.
  const dialOne = async (addr: Multiaddr | undefined, dialSignal: AbortSignal): Promise<Connection> => {
    const target = addr === undefined ? inviterId : addr.toString().includes('/p2p-circuit') ? toPeer(addr, inviterId.toString()) : addr
    const conn = await node.dial(target, { signal: AbortSignal.any([dialSignal, AbortSignal.timeout(PAIRING_DIAL_TIMEOUT_MS)]) })
    if (!conn.remotePeer.equals(inviterId)) {
      await conn.close().catch(() => {})
      throw new PairingError('WRONG_PEER', `${addr?.toString() ?? 'the address'} answered as ${conn.remotePeer.toString()}, not the inviting device`)
    }
    return conn
  }
  let conn = node.getConnections(inviterId).find(c => c.limits === undefined) ?? node.getConnections(inviterId)[0]
  if (conn === undefined) {
    try {
      const candidates = ordered.length > 0 ? ordered : [undefined]
      conn = await dialFirst<Multiaddr | undefined, Connection>(candidates, dialOne, { staggerMs: PAIRING_DIAL_STAGGER_MS, signal })
    } catch (err) {
      const last = err instanceof AggregateError ? err.errors.at(-1) : err
      throw new PairingError('CLOSED', `cannot reach the inviting device (${inviterId.toString()}) at any address in the invite: ${(last as Error)?.message ?? 'no address'}`)
    }
  }
  const stream = await conn.newStream(PAIRING_PROTOCOL_ID, { runOnLimitedConnection: true, signal })
  const frames = new FramedChannel(streamChannel(stream), { maxFrameBytes: MAX_PAIRING_MESSAGE_BYTES })
  try {
    const joined = await joinGroup({
      channel: framedPairingChannel(frames),
      invite: init.invite,
      device: init.device,
      name: init.name,
      remotePeer: remoteKey(conn),
      signal
    })
    await stream.close().catch(() => {})
    return joined
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
