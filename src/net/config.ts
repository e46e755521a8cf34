/**
 * `createNode` configuration: the options, and one check that reports every
 * problem at once and rejects unknown keys (a misspelt `relay` instead of
 * `relays` should fail loudly, not leave a node unreachable). The checks are
 * the runtime kit's (src/runtime/config.ts), one per option in a `Checks`
 * table, the way the daemon's and the relay's config files are checked.
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
import { isBool, isNonNegativeNumber, orUndefined, type Check, type Checks } from '../runtime/config.js'

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
  /** Ping each connection on its muxer this often and abort it if no answer comes (liveness.ts); 0: never. @default DEFAULT_LIVENESS_INTERVAL_MS (10 s) */
  livenessIntervalMs?: number
  /** The least time such a ping is given (it adapts upwards to the round-trip times seen). @default DEFAULT_LIVENESS_MIN_TIMEOUT_MS (5 s) */
  livenessTimeoutMs?: number
  /** A non-member's connection that does not pair is closed this long after it opened (with `membership` only). @default DEFAULT_STRANGER_GRACE_MS (10 s) */
  strangerGraceMs?: number
  /** Start the node before returning. @default true */
  start?: boolean
  /** libp2p's logger (tests use a prefixed one). @default defaultLogger() */
  logger?: ComponentLogger
}

/** Passed through unchecked: objects libp2p uses as given (`connectionGater`, `logger`), a predicate, or a name. */
const unchecked: Check = () => undefined

const duration = orUndefined(isNonNegativeNumber)
const flag = orUndefined(isBool)
const multiaddrList = orUndefined(v => Array.isArray(v) ? undefined : 'must be a list of multiaddrs')
const fn = (what: string): Check => orUndefined(v => typeof v === 'function' ? undefined : `must be a function returning ${what}`)

/**
 * Every option and its check, in the order problems are reported; an option
 * not in this table is unknown (and NodeConfig's keys must all be here, or
 * this does not compile). Only `privateKey` and `store` must be given; every
 * other check lets `undefined` through (the default applies).
 */
const CHECKS: Checks<NodeConfig> = {
  privateKey: v => v instanceof Uint8Array && v.byteLength === PRIVATE_KEY_BYTES ? undefined : `must be ${PRIVATE_KEY_BYTES} bytes (seed then public key)`,
  store: v => {
    const store = v as Partial<SyncStore> | null | undefined
    return store != null && typeof store.versionVector === 'function' && typeof store.opsSince === 'function' && typeof store.applyRemote === 'function'
      ? undefined
      : 'must implement SyncStore (deviceId, versionVector, opsSince, applyRemote)'
  },
  mdnsIntervalMs: duration,
  maxConnections: duration,
  relayCheckIntervalMs: duration,
  livenessIntervalMs: duration,
  livenessTimeoutMs: duration,
  strangerGraceMs: duration,
  syncIntervalMs: duration,
  connectGraceMs: duration,
  retryMinMs: duration,
  retryMaxMs: duration,
  dialTimeoutMs: duration,
  pageMaxOps: duration,
  pageMaxBytes: duration,
  limitedPageMaxOps: duration,
  limitedPageMaxBytes: duration,
  maxFrameBytes: duration,
  helloTimeoutMs: duration,
  readTimeoutMs: duration,
  writeTimeoutMs: duration,
  compressionLevel: duration,
  maxInboundStreams: duration,
  maxOutboundStreams: duration,
  maxConcurrentInboundSessions: duration,
  announceDelayMs: duration,
  gapPullDelayMs: duration,
  mdns: flag,
  upnp: flag,
  dcutr: flag,
  gossip: flag,
  start: flag,
  groupId: orUndefined(v => typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string'),
  membership: orUndefined(v => {
    const m = v as Partial<NonNullable<NodeConfig['membership']>> | null
    return m !== null && typeof m.isMember === 'function' && (m.onChange === undefined || typeof m.onChange === 'function')
      ? undefined
      : 'must have isMember(peerId) (and optionally onChange(listener))'
  }),
  listen: multiaddrList,
  announce: multiaddrList,
  peers: multiaddrList,
  relays: multiaddrList,
  relayCredential: fn('{ scheme, credential } or undefined'),
  members: fn('device ids'),
  peerBook: orUndefined(v => v !== null && typeof (v as Partial<PeerBook>).entries === 'function'
    ? undefined
    : 'must implement PeerBook (peers, entries, seen, succeeded, failed, forget)'),
  mdnsServiceTag: unchecked,
  connectionGater: unchecked,
  logger: unchecked,
  authorize: unchecked
}

/** Checks one element of a list option; returns the whole problem, naming the element and its list, or undefined. */
type ElementCheck = (element: unknown) => string | undefined

const isMultiaddr = (key: string): ElementCheck => a => {
  try { multiaddr(a as string) } catch { return `${key}: ${JSON.stringify(a)} is not a multiaddr` }
  return undefined
}

/** The elements of the list options, checked once the option is a list: one problem per bad element. */
const ELEMENT_CHECKS: Partial<Record<keyof NodeConfig, ElementCheck>> = {
  listen: isMultiaddr('listen'),
  announce: isMultiaddr('announce'),
  peers: isMultiaddr('peers'),
  relays: a => {
    try { parseRelayAddress(a as string) } catch (err) { return (err as Error).message }
    return undefined
  }
}

/** Throws one InvalidArgumentError listing every problem: unknown options first, then each option's, in the order of CHECKS. */
export function checkNodeConfig (config: NodeConfig): void {
  const raw = config as unknown as Record<string, unknown>
  const problems: string[] = []
  for (const key of Object.keys(raw)) if (!Object.hasOwn(CHECKS, key) && raw[key] !== undefined) problems.push(`unknown option ${JSON.stringify(key)}`)
  for (const [key, check] of Object.entries(CHECKS) as Array<[keyof NodeConfig, Check]>) {
    const value = raw[key]
    const problem = check(value)
    const element = ELEMENT_CHECKS[key]
    if (problem !== undefined) problems.push(`${key} ${problem}`)
    else if (element !== undefined && Array.isArray(value)) {
      for (const a of value) {
        const p = element(a)
        if (p !== undefined) problems.push(p)
      }
    }
  }
  if (problems.length > 0) throw new InvalidArgumentError(`invalid node configuration:\n  - ${problems.join('\n  - ')}`)
}
