/**
 * `createNode` configuration: the options, and one check that reports every
 * problem at once and rejects unknown keys (a misspelt `relay` instead of
 * `relays` should fail loudly, not leave a node unreachable).
 */
import type { ComponentLogger, ConnectionGater } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../errors.js'
import { PRIVATE_KEY_BYTES } from '../oplog/keys.js'
import type { SyncStore } from '../protocol/port.js'
import type { PeerBook } from './members/peer-book.js'
import type { RelayCredential } from './relay-auth/client.js'
import type { ChangeFeed, SyncServiceInit } from './sync/sync-options.js'
import { parseRelayAddress } from './nat/relay-keeper.js'
import { registerUdxProtocol } from '../udx/index.js'

// `/udx` listen, announce and peer addresses must parse before any node exists.
registerUdxProtocol()

export interface NodeConfig extends Omit<SyncServiceInit, 'store' | 'changes'> {
  /** The device key, 64 bytes (seed then public key): the node's libp2p identity and its ops' origin. */
  privateKey: Uint8Array
  /** The replica. When it also has `subscribe` (a change feed), local writes are announced automatically. */
  store: SyncStore & Partial<ChangeFeed>
  /** Multiaddrs to listen on. @default DEFAULT_LISTEN_ADDRESSES (['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/udx']) */
  listen?: string[]
  /** Multiaddrs to advertise instead of the listen addresses. @default [] */
  announce?: string[]
  /** Relays to keep a reservation on (each ending in /p2p/<id>); the node listens on /p2p-circuit through each. @default [] */
  relays?: string[]
  /** Peers to dial at start and keep connected, each ending in /p2p/<id> (the member dialer redials them with backoff). @default [] */
  peers?: string[]
  /** Where the addresses of members are kept (the replica's peer book persists them across restarts). @default in memory */
  peerBook?: PeerBook
  /** The group's devices, kept connected by the member dialer. @default the peers whose sync hello was accepted */
  members?: () => Iterable<string>
  /** mDNS discovery on the LAN, with the weft service tag. @default true */
  mdns?: boolean
  /** @default DEFAULT_MDNS_SERVICE_TAG ('_weft._udp.local') */
  mdnsServiceTag?: string
  /** @default DEFAULT_MDNS_INTERVAL_MS (10 s) */
  mdnsIntervalMs?: number
  /** UPnP port mapping on the home router (desktop nodes). @default true */
  upnp?: boolean
  /**
   * Hole punching over relayed connections (DCUtR with the UDX addresses learned from the relays,
   * and birthday punching behind a port-randomizing NAT). @default true
   */
  dcutr?: boolean
  /** @default DEFAULT_MAX_CONNECTIONS (64) */
  maxConnections?: number
  /** @default allow all */
  connectionGater?: ConnectionGater
  /** What to present to the relays (`relays`) on each connection to them, read then; undefined: nothing yet. @default none: stock relay limits */
  relayCredential?: () => RelayCredential | undefined
  /** Relay reservation check period. @default DEFAULT_RELAY_CHECK_INTERVAL_MS (5 s) */
  relayCheckIntervalMs?: number
  /** A non-member's connection that does not pair is closed this long after it opened (with `membership` only). @default DEFAULT_STRANGER_GRACE_MS (10 s) */
  strangerGraceMs?: number
  /** Start the node before returning. @default true */
  start?: boolean
  /** libp2p's logger (tests use a prefixed one). @default defaultLogger() */
  logger?: ComponentLogger
}

const KEYS: ReadonlySet<string> = new Set([
  'privateKey', 'store', 'listen', 'announce', 'relays', 'peers', 'mdns', 'mdnsServiceTag', 'mdnsIntervalMs', 'upnp', 'dcutr',
  'maxConnections', 'connectionGater', 'relayCheckIntervalMs', 'strangerGraceMs', 'start', 'logger', 'peerBook', 'members', 'relayCredential',
  // SyncServiceInit
  'groupId', 'membership', 'authorize', 'syncIntervalMs', 'connectGraceMs', 'retryMinMs', 'retryMaxMs', 'dialTimeoutMs', 'pageMaxOps',
  'pageMaxBytes', 'limitedPageMaxOps', 'limitedPageMaxBytes', 'maxFrameBytes', 'helloTimeoutMs', 'readTimeoutMs',
  'writeTimeoutMs', 'compressionLevel', 'maxInboundStreams', 'maxOutboundStreams', 'maxConcurrentInboundSessions', 'gossip',
  'announceDelayMs', 'gapPullDelayMs'
])

const NUMBER_KEYS = [
  'mdnsIntervalMs', 'maxConnections', 'relayCheckIntervalMs', 'strangerGraceMs', 'syncIntervalMs', 'connectGraceMs', 'retryMinMs', 'retryMaxMs',
  'dialTimeoutMs', 'pageMaxOps', 'pageMaxBytes', 'limitedPageMaxOps', 'limitedPageMaxBytes', 'maxFrameBytes', 'helloTimeoutMs',
  'readTimeoutMs', 'writeTimeoutMs', 'compressionLevel', 'maxInboundStreams', 'maxOutboundStreams', 'maxConcurrentInboundSessions',
  'announceDelayMs', 'gapPullDelayMs'
] as const

/** Throws one InvalidArgumentError listing every problem. */
export function checkNodeConfig (config: NodeConfig): void {
  const problems: string[] = []
  const raw = config as unknown as Record<string, unknown>
  for (const key of Object.keys(raw)) if (!KEYS.has(key) && raw[key] !== undefined) problems.push(`unknown option ${JSON.stringify(key)}`)
  if (!(config.privateKey instanceof Uint8Array) || config.privateKey.byteLength !== PRIVATE_KEY_BYTES) {
    problems.push(`privateKey must be ${PRIVATE_KEY_BYTES} bytes (seed then public key)`)
  }
  const store = config.store as Partial<SyncStore> | undefined
  if (store == null || typeof store.versionVector !== 'function' || typeof store.opsSince !== 'function' || typeof store.applyRemote !== 'function') {
    problems.push('store must implement SyncStore (deviceId, versionVector, opsSince, applyRemote)')
  }
  for (const key of NUMBER_KEYS) {
    const v = raw[key]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) problems.push(`${key} must be a non-negative number`)
  }
  for (const key of ['mdns', 'upnp', 'dcutr', 'gossip', 'start'] as const) {
    if (raw[key] !== undefined && typeof raw[key] !== 'boolean') problems.push(`${key} must be true or false`)
  }
  if (config.groupId !== undefined && (typeof config.groupId !== 'string' || config.groupId.length === 0)) problems.push('groupId must be a non-empty string')
  const membership = config.membership as Partial<NonNullable<NodeConfig['membership']>> | undefined
  if (membership !== undefined && (membership === null || typeof membership.isMember !== 'function' || (membership.onChange !== undefined && typeof membership.onChange !== 'function'))) {
    problems.push('membership must have isMember(peerId) (and optionally onChange(listener))')
  }
  for (const key of ['listen', 'announce', 'peers'] as const) {
    const list = config[key]
    if (list === undefined) continue
    if (!Array.isArray(list)) { problems.push(`${key} must be a list of multiaddrs`); continue }
    for (const a of list) {
      try { multiaddr(a) } catch { problems.push(`${key}: ${JSON.stringify(a)} is not a multiaddr`) }
    }
  }
  if (config.relays !== undefined) {
    if (!Array.isArray(config.relays)) problems.push('relays must be a list of multiaddrs')
    else for (const a of config.relays) { try { parseRelayAddress(a) } catch (err) { problems.push((err as Error).message) } }
  }
  if (config.relayCredential !== undefined && typeof config.relayCredential !== 'function') problems.push('relayCredential must be a function returning { scheme, credential } or undefined')
  if (config.members !== undefined && typeof config.members !== 'function') problems.push('members must be a function returning device ids')
  if (config.peerBook !== undefined && (config.peerBook === null || typeof config.peerBook.entries !== 'function')) problems.push('peerBook must implement PeerBook (peers, entries, seen, succeeded, failed, forget)')
  if (problems.length > 0) throw new InvalidArgumentError(`invalid node configuration:\n  - ${problems.join('\n  - ')}`)
}
