/**
 * Wires the replica to the libp2p node (src/net) and turns the node's state
 * into what the control API shows: per-peer path, RTT, sync status computed
 * from version vectors, and the metrics.
 */
import type { Connection } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { networkInterfaces } from 'node:os'
import { InvalidArgumentError, WeftError } from '../errors.js'
import type { Invite } from '../auth/invite.js'
import type { Joined, MembershipView } from '../auth/pairing.js'
import { MAX_INVITE_ADDRESSES } from '../auth/constants.js'
import { deviceIdToString, parseDeviceId, type DeviceKey } from '../oplog/keys.js'
import { handlePairing, pairingDialRank, pairWithInviter } from '../net/members/pairing.js'
// The node runs the relay-auth client (services.relayAuth); the daemon hands it this device's credential.
import { ADMISSION_CHAIN_SCHEME, encodeAdmissionChain, type RelayCredential } from '../net/relay-auth/index.js'
import { createNode, whyUnreachable, type PeerMembership, type WeftNode } from '../net/index.js'
import type { PeerSyncState } from '../net/index.js'
import { MEMBERS_COLLECTION, type Replica } from '../store/replica.js'
import type { DaemonConfig } from './config.js'
import type { IncomingRun, PeerBookResponse, RelayView, SyncResult } from './api-types.js'
import type { Network, NetworkFactory, NetworkMetrics } from './ports.js'
import type { Logger } from '../runtime/log.js'
import { SYNC_WIRE_VERSION } from '../protocol/constants.js'
import { OP_FORMAT_VERSION } from '../oplog/op.js'

import type { PeerView } from './api-types.js'

const PING_TIMEOUT_MS = 2_000
const PRIVATE_V4 = /^\/ip4\/(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.)/

function pathOf (conn: Connection | undefined): { path: string, address: string | undefined } {
  if (conn === undefined) return { path: 'none', address: undefined }
  const addr = conn.remoteAddr.toString()
  if (conn.limits !== undefined || addr.includes('/p2p-circuit')) {
    const relay = /\/p2p\/([^/]+)\/p2p-circuit/.exec(addr)?.[1]
    return { path: `relayed via ${relay ?? '?'}`, address: addr }
  }
  return { path: PRIVATE_V4.test(addr) ? 'direct (LAN)' : 'direct', address: addr }
}

function sum (v: Iterable<number>): number { let n = 0; for (const x of v) n += x; return n }

/** Compares vectors: what each side holds beyond the other. */
export function compareVectors (local: ReadonlyMap<string, number>, theirs: Readonly<Record<string, number>>): { ahead: number, behind: number } {
  let ahead = 0
  let behind = 0
  for (const [o, s] of local) ahead += Math.max(0, s - (theirs[o] ?? 0))
  for (const [o, s] of Object.entries(theirs)) behind += Math.max(0, s - (local.get(o) ?? 0))
  return { ahead, behind }
}

/** Collections declared here or there whose schema versions differ. */
export function schemaDifferences (local: ReadonlyMap<string, number>, theirs: Readonly<Record<string, number>>): PeerView['schemaDiffers'] {
  const names = [...new Set([...local.keys(), ...Object.keys(theirs)])].sort()
  return names.map(collection => ({ collection, local: local.get(collection) ?? null, peer: theirs[collection] ?? null })).filter(d => d.local !== d.peer)
}

class NodeNetwork implements Network {
  readonly #node: WeftNode
  readonly #replica: Replica
  readonly #log: Logger

  readonly #config: DaemonConfig
  readonly #deviceKey: DeviceKey

  constructor (node: WeftNode, replica: Replica, log: Logger, config: DaemonConfig, deviceKey: DeviceKey) {
    this.#config = config
    this.#deviceKey = deviceKey
    this.#node = node
    this.#replica = replica
    this.#log = log
    void this.#config
    // A revocation that arrives (or is made here) closes the revoked device's connections at once.
    this.#unsubscribe = replica.subscribe(e => {
      if (!e.ops.some(op => op.collection === MEMBERS_COLLECTION)) return
      for (const conn of this.#node.getConnections()) {
        if (revoked(replica, conn.remotePeer.toString())) {
          this.#log('info', 'closing the connection of a revoked device', { peer: conn.remotePeer.toString() })
          void conn.close().catch(() => {})
        }
      }
    })
    // The node proves membership to each configured relay on every new connection to it
    // (services.relayAuth), so the relay grants the group's long limits instead of 2 min / 128 KiB.
    node.services.relayAuth.addEventListener('relay:auth', e => {
      const { relay } = e.detail
      if ('error' in e.detail) this.#log('debug', 'relay auth not available', { relay, error: String(e.detail.error) })
      else if (e.detail.result.ok) this.#log('info', 'relay admitted this device with the group\'s limits', { relay, group: e.detail.result.group, dataLimitBytes: e.detail.result.dataLimitBytes })
      else this.#log('debug', 'relay did not admit this device (stock limits apply)', { relay, status: e.detail.result.status })
    })
    // Both peers log typed sync errors; the per-peer state carries them to the CLI.
    node.services.sync.addEventListener('session:end', e => {
      const { peerId, direction, limited, durationMs, result: r } = e.detail
      // Why we started it: outbound sessions only.
      const cause = e.detail.cause === undefined ? {} : { cause: e.detail.cause }
      if (r.ok) this.#log('debug', 'sync session', { peer: peerId, direction, ...cause, limited, ms: durationMs, applied: r.applied, sent: r.opsSent })
      else this.#log('warn', 'sync session failed', { peer: peerId, direction, ...cause, limited, ms: durationMs, code: r.error?.code, error: r.error?.message })
      // An op that cannot pass says why, where the user looks first.
      const refused = r.rejections[0]
      if (refused !== undefined) this.#log('warn', 'ops from a peer were refused', { peer: peerId, refused: r.rejected, origin: refused.origin, seq: refused.seq, reason: refused.reason, error: refused.message })
    })
  }

  get peerId (): string { return this.#node.peerId.toString() }

  addresses (): string[] { return this.#node.getMultiaddrs().map(a => a.toString()) }

  #connection (peerId: string): Connection | undefined {
    const conns = this.#node.getConnections(peerIdFromString(peerId))
    return conns.find(c => c.limits === undefined) ?? conns[0]
  }

  async peers (): Promise<PeerView[]> {
    const local = this.#replica.versionVector()
    const localOps = sum(local.values())
    const states = new Map<string, PeerSyncState>(this.#node.services.sync.getPeerStates().map(s => [s.peerId, s]))
    // Members the dialer keeps but never reached in this run (after a restart, say) are known peers too.
    const kept = new Map(this.#node.services.memberDialer.status().map(k => [k.peer, k]))
    for (const id of kept.keys()) if (!states.has(id)) states.set(id, neverSynced(id))
    const views = await Promise.all([...states.values()].map(async s => {
      const conn = this.#connection(s.peerId)
      const { path, address } = pathOf(conn)
      let rttMs: number | undefined
      if (conn !== undefined) {
        try { rttMs = await this.#node.services.ping.ping(peerIdFromString(s.peerId), { signal: AbortSignal.timeout(PING_TIMEOUT_MS) }) } catch {}
      }
      const { ahead, behind } = compareVectors(local, s.theirVector)
      const peerOps = sum(Object.values(s.theirVector))
      const member = this.#node.services.members.isMember(s.peerId)
      let status: string
      if (!member) status = `not a member of this group${s.lastError === undefined ? '' : ` (${s.lastError.code})`}`
      else if (s.versionMismatch !== undefined) status = `version mismatch: ${s.versionMismatch.message}`
      else if (conn === undefined) status = `unreachable since ${s.lastSessionAt === undefined ? 'start' : new Date(s.lastSessionAt).toISOString()}${kept.has(s.peerId) ? `: ${this.#whyUnreachable(s.peerId).detail}` : ''}`
      else if (s.lastSessionAt === undefined) status = 'connected, not synced yet'
      else if (ahead === 0 && behind === 0) status = 'in sync'
      else if (behind === 0) status = `ahead by ${ahead}`
      else if (ahead === 0) status = `behind by ${behind}`
      else status = `diverged (ahead ${ahead}, behind ${behind})`
      if (behind > 0 && s.lastError?.code === 'TOO_LARGE') status += `; blocked: ${s.lastError.message}`
      else if (behind > 0 && s.lastRejection !== undefined && (s.lastSuccessAt === undefined || s.lastRejection.at >= s.lastSuccessAt)) status += `; ops refused: ${s.lastRejection.reason}: ${s.lastRejection.message}`
      let deviceName: string | undefined
      try { deviceName = this.#replica.membership?.member(parseDeviceId(s.peerId))?.name } catch {}
      const v: PeerView = {
        peerId: s.peerId,
        deviceName,
        member,
        connected: conn !== undefined,
        path,
        address,
        rttMs,
        lastSync: s.lastSuccessAt === undefined ? undefined : new Date(s.lastSuccessAt).toISOString(),
        lastSyncOk: s.lastSessionOk,
        localAhead: ahead,
        behind,
        localOps,
        peerOps,
        status,
        opsSent: s.opsSent,
        opsReceived: s.opsReceived,
        rejected: s.lastRejection === undefined ? undefined : { ...s.lastRejection, at: new Date(s.lastRejection.at).toISOString() },
        theirVector: { ...s.theirVector },
        schemas: { ...s.theirSchemas },
        schemaDiffers: schemaDifferences(this.#replica.schemaVersions(), s.theirSchemas),
        lastError: s.lastError === undefined
          ? undefined
          : { code: s.lastError.code, message: s.lastError.message, remote: s.lastError.remote, at: new Date(s.lastError.at).toISOString() },
        versionMismatch: s.versionMismatch === undefined ? undefined : { ...s.versionMismatch, at: new Date(s.versionMismatch.at).toISOString() },
        opsDeferred: s.opsDeferred
      }
      return v
    }))
    return views.sort((a, b) => Number(b.member) - Number(a.member) || Number(b.connected) - Number(a.connected) || a.peerId.localeCompare(b.peerId))
  }

  relays (): RelayView[] { return this.#node.services.relays.getRelays() }

  /** The peer book (every address, what worked, what failed) and how the last attempt to reach each member went. */
  peerBook (): PeerBookResponse {
    const dialer = this.#node.services.memberDialer
    return { entries: dialer.book.entries(), dialer: dialer.status() }
  }

  /** Runs partly received in fragments (large values crossing a limited relay). */
  incoming (): IncomingRun[] {
    return this.#node.services.sync.getHeldRuns().map(r => ({ origin: r.origin, seqs: `${r.firstSeq}..${r.lastSeq}`, heldBytes: r.heldBytes, totalBytes: r.totalBytes, updatedAt: new Date(r.updatedAt).toISOString() }))
  }

  #whyUnreachable (peer: string): { reason: string, detail: string } {
    const dialer = this.#node.services.memberDialer
    return whyUnreachable({
      revoked: revoked(this.#replica, peer),
      attempt: dialer.status().find(k => k.peer === peer)?.lastAttempt,
      book: dialer.book.entries(peer),
      relaysConfigured: this.#config.relays.length
    })
  }

  async syncNow (peer?: string, signal?: AbortSignal): Promise<SyncResult | SyncResult[]> {
    let targets: string[]
    if (peer !== undefined) {
      try { peerIdFromString(peer) } catch { throw new InvalidArgumentError(`not a peer id: ${JSON.stringify(peer)}`) }
      targets = [peer]
    } else {
      targets = [...new Set(this.#node.getConnections().map(c => c.remotePeer.toString()))]
        .filter(p => this.#node.services.members.isMember(p) && this.#node.services.sync.getPeerState(p) !== undefined)
    }
    const results = await Promise.all(targets.map(async p => {
      if (signal?.aborted === true) throw new WeftError('sync cancelled', 'CANCELLED')
      const started = Date.now()
      try {
        const r = await this.#node.services.sync.syncWith(p)
        return {
          peer: p,
          ok: r.ok,
          complete: r.complete,
          opsSent: r.opsSent,
          opsReceived: r.opsReceived,
          applied: r.applied,
          rejected: r.rejected,
          ms: Date.now() - started,
          error: r.error === undefined ? null : { code: r.error.code, message: r.error.message }
        }
      } catch (err) {
        return { peer: p, ok: false, complete: false, opsSent: 0, opsReceived: 0, applied: 0, rejected: 0, ms: Date.now() - started, error: { code: err instanceof WeftError ? err.code : 'UNREACHABLE', message: (err as Error).message } }
      }
    }))
    return peer === undefined ? results : results[0]! // one target: one result
  }

  /** Totals since start (every session and announcement, whichever peer), and the group peers connected now. */
  metrics (): NetworkMetrics {
    const sync = this.#node.services.sync
    let direct = 0
    let relayed = 0
    for (const s of sync.getPeerStates()) {
      if (!s.connected || !this.#node.services.members.isMember(s.peerId)) continue
      if (s.limited) relayed++
      else direct++
    }
    const t = sync.getTotals()
    return {
      peers: { direct, relayed },
      opsSent: t.opsSent,
      opsReceived: t.opsApplied,
      opsDeferred: t.opsDeferred,
      sessions: t.sessions,
      sessionErrors: t.sessionErrors,
      lastSyncAt: t.lastSyncAt,
      sessionsOutbound: t.sessionsOutbound,
      sessionsInbound: t.sessionsInbound,
      sessionsCrossed: t.sessionsCrossed,
      opsSentInSessions: t.opsSentInSessions,
      opsSentInAnnouncements: t.opsSentInAnnouncements,
      opsAppliedFromSessions: t.opsAppliedFromSessions,
      opsAppliedFromAnnouncements: t.opsAppliedFromAnnouncements,
      opsHeld: t.opsHeld,
      announcementsRepublished: t.announcementsRepublished
    }
  }

  async doctor (): Promise<Array<{ check: string, ok: boolean | null, detail: string }>> {
    const out: Array<{ check: string, ok: boolean | null, detail: string }> = []
    const addrs = this.addresses()
    out.push({ check: 'listening', ok: addrs.length > 0, detail: addrs.length > 0 ? addrs.join(' ') : 'no listen address: check the listen setting' })
    if (this.#config.mdns) {
      const ifaces = Object.entries(networkInterfaces()).filter(([, list]) => (list ?? []).some(i => !i.internal && i.family === 'IPv4'))
      out.push({ check: 'mDNS', ok: ifaces.length > 0, detail: ifaces.length > 0 ? `on; multicast goes out on the default interface (${ifaces.map(([n]) => n).join(', ')} available)` : 'on, but this machine has no non-loopback IPv4 interface: LAN devices cannot be found' })
    } else {
      out.push({ check: 'mDNS', ok: null, detail: 'off in the config: LAN devices are found only through configured peers, relays or invites' })
    }
    const relays = this.#node.services.relays.getRelays()
    if (relays.length === 0) out.push({ check: 'relays', ok: null, detail: 'none configured: devices on other networks cannot reach this one (see "Run your own relay")' })
    for (const r of relays) out.push({ check: `relay ${r.relay}`, ok: r.connected && r.reserved, detail: !r.connected ? `unreachable (${r.failures} failed attempts)` : r.reserved ? 'connected, reservation held' : 'connected, but no reservation: the relay refuses or is full' })
    if (this.#config.upnp) {
      const mapped = addrs.filter(a => /^\/ip4\//.test(a) && !PRIVATE_V4.test(a) && !a.includes('/p2p-circuit'))
      out.push({ check: 'UPnP', ok: mapped.length > 0, detail: mapped.length > 0 ? `public address ${mapped[0]}` : 'no mapped public address (no UPnP gateway, or it refused); relays still work' })
    } else {
      out.push({ check: 'UPnP', ok: null, detail: 'off in the config' })
    }
    const peers = (await this.peers()).filter(p => p.member)
    const connected = peers.filter(p => p.connected)
    out.push({ check: 'peers', ok: connected.length > 0 ? true : null, detail: connected.length > 0 ? `${connected.length} connected: ${connected.map(p => `${p.peerId.slice(0, 16)}… ${p.path}`).join(', ')}` : 'no group device is connected now' })
    const mismatched = peers.filter(p => p.versionMismatch !== undefined)
    if (mismatched.length > 0) {
      out.push({ check: 'versions', ok: false, detail: `${mismatched.length} peer(s) speak another version; nothing is exchanged with them until both run the same weft: ${mismatched.map(p => `${p.peerId}${p.deviceName === undefined ? '' : ` (${p.deviceName})`} ${p.versionMismatch!.message}`).join('; ')}` })
    } else {
      out.push({ check: 'versions', ok: peers.length > 0 ? true : null, detail: peers.length > 0 ? `no known peer speaks another sync protocol or op format version (this node: sync ${SYNC_WIRE_VERSION}, ops ${OP_FORMAT_VERSION})` : 'no group device seen yet' })
    }
    // Each known member that is not connected, and why.
    const self = this.#replica.deviceId
    for (const m of this.#replica.membership?.members() ?? []) {
      if (m.id === self || peers.some(p => p.peerId === m.id && p.connected)) continue
      const why = this.#whyUnreachable(m.id)
      out.push({ check: `member ${m.id.slice(0, 12)}…`, ok: why.reason === 'revoked' ? null : false, detail: `${m.name}: not connected: ${why.detail}` })
    }
    return out
  }

  /** Addresses to put in an invite: reachable ones first, at most MAX_INVITE_ADDRESSES. */
  inviteAddresses (): string[] {
    const all = this.#node.getMultiaddrs().map(a => a.decapsulate(`/p2p/${this.peerId}`).toString())
    // the joiner's dial order, loopback last (only a device on this host can use it)
    const rank = (a: string): number => /^\/ip[46]\/(127\.|::1)/.test(a) ? 3 : pairingDialRank(a)
    return [...new Set(all)].sort((a, b) => rank(a) - rank(b)).slice(0, MAX_INVITE_ADDRESSES)
  }

  async join (invite: Invite, name: string, signal?: AbortSignal): Promise<Joined> {
    return await pairWithInviter(this.#node, { invite, device: this.#deviceKey.publicKey, name, ...(signal === undefined ? {} : { signal }) })
  }

  readonly #unsubscribe: () => void

  async stop (): Promise<void> {
    this.#unsubscribe()
    await this.#unhandlePairing?.()
    await this.#node.stop()
  }

  #unhandlePairing: (() => Promise<void>) | undefined

  async startPairing (): Promise<void> {
    const replica = this.#replica
    this.#unhandlePairing = await handlePairing(this.#node, {
      deviceKey: this.#deviceKey,
      invites: replica.invites,
      membership: () => pairingMembership(replica),
      onAccepted: accepted => {
        replica.publishRecord(accepted.admission)
        this.#log('info', 'device joined the group', { device: deviceIdToString(accepted.joiner), name: accepted.admission.name })
      },
      onError: (peer, err) => { this.#log('warn', 'pairing refused', { peer, error: err.message }) }
    })
  }
}

/** The replica's group as the inviter's side of pairing sees it (undefined while in no group). */
export function pairingMembership (replica: Replica): MembershipView | undefined {
  const m = replica.membership
  const g = replica.group
  if (m === undefined || g === undefined) return undefined
  return { groupPub: g.pub, isMember: d => m.isMember(d), isRevoked: d => m.isRevoked(d), chainFor: d => m.chainFor(d) }
}

function revoked (replica: Replica, peerId: string): boolean {
  const m = replica.membership
  if (m === undefined) return false
  try { return m.isRevoked(parseDeviceId(peerId)) } catch { return false }
}

/**
 * The node's one membership predicate: a peer id is a member when its key is
 * admitted to the replica's group and not revoked. The answer changes when an
 * admission or revocation record is added (locally, by pairing, or from a
 * peer); `onChange` reports those. With no group, nobody is a member.
 */
export function replicaMembership (replica: Replica): PeerMembership {
  return {
    isMember: peerId => {
      const m = replica.membership
      if (m === undefined) return false
      try { return m.isMember(parseDeviceId(peerId)) } catch { return false }
    },
    onChange: listener => replica.subscribe(e => {
      if (e.ops.some(op => op.collection === MEMBERS_COLLECTION)) listener()
    })
  }
}

/** This device's admission chain, which the relays of the group verify (admission-chain/1). */
function relayCredential (replica: Replica, deviceKey: DeviceKey): RelayCredential | undefined {
  const chain = replica.membership?.chainFor(deviceKey.publicKey)
  return chain === undefined ? undefined : { scheme: ADMISSION_CHAIN_SCHEME, credential: encodeAdmissionChain(chain) }
}

/** The group's devices that are not revoked: the member dialer keeps them connected. */
export function memberIds (replica: Replica): string[] {
  return replica.membership?.members().filter(m => m.revoked === undefined).map(m => m.id) ?? []
}

/** The state of a member never synced with in this run. */
function neverSynced (peerId: string): PeerSyncState {
  return {
    peerId,
    connected: false,
    limited: false,
    sessionActive: false,
    sessions: 0,
    opsSent: 0,
    opsReceived: 0,
    opsApplied: 0,
    bytesSent: 0,
    bytesReceived: 0,
    theirVector: {},
    theirSchemas: {},
    theyAreAheadBy: 0,
    opsDeferred: 0
  }
}

export const networkFactory: NetworkFactory = async (replica: Replica, config: DaemonConfig, log: Logger, deviceKey: DeviceKey, extraPeers: string[] = []) => {
  const group = replica.group
  const node = await createNode({
    privateKey: deviceKey.raw,
    store: replica,
    listen: config.listen,
    relays: config.relays,
    peers: [...config.peers, ...extraPeers],
    mdns: config.mdns,
    upnp: config.upnp,
    maxConnections: config.maxConnections,
    groupId: group?.id ?? 'none',
    membership: replicaMembership(replica),
    // Members are kept connected from the replica's peer book (it survives restarts).
    peerBook: replica.peerBook,
    members: () => memberIds(replica),
    relayCredential: () => relayCredential(replica, deviceKey),
    // A revoked device is refused at the connection, not only per session.
    connectionGater: {
      denyDialPeer: async peerId => revoked(replica, peerId.toString()),
      denyInboundEncryptedConnection: async peerId => revoked(replica, peerId.toString()),
      denyOutboundEncryptedConnection: async peerId => revoked(replica, peerId.toString())
    },
    syncIntervalMs: config.syncIntervalMs
  })
  const network = new NodeNetwork(node, replica, log, config, deviceKey)
  await network.startPairing()
  return network
}
