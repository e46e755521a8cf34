/**
 * Daemon configuration: defaults in one table, a JSON file, then flags.
 * Checked once at start; every problem is reported together, unknown keys
 * are rejected (a typo must not silently fall back to a default), and the
 * daemon does not start on a bad config. The checking and loading are the
 * runtime kit's (src/runtime/config.ts), shared with the relay.
 */
import { hostname } from 'node:os'
import { WeftError } from '../errors.js'
import { DEFAULT_MAX_DRIFT_MS } from '../hlc/index.js'
import { DEFAULT_LISTEN_ADDRESSES, DEFAULT_MAX_CONNECTIONS, DEFAULT_SYNC_INTERVAL_MS } from '../net/constants.js'
import { DEFAULT_MAX_VALUE_BYTES } from '../oplog/op.js'
import { checkObject, isBool, isInt, isLogLevel, isStringList, loadJsonConfig, MAX_CONFIG_FILE_BYTES, orNull, type Check, type Checks } from '../runtime/config.js'
import type { Level } from '../runtime/log.js'

export interface DaemonConfig {
  /** Name shown to the user's other devices. @default the host name */
  deviceName: string
  /** libp2p listen multiaddrs (TCP, and UDX for hole punching). @default DEFAULT_LISTEN_ADDRESSES (['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/udx']) */
  listen: string[]
  /** Relay multiaddrs (with /p2p/<id>) to reserve a slot on. @default [] */
  relays: string[]
  /** Peers (multiaddrs ending in /p2p/<id>) to dial at start and keep connected. @default [] */
  peers: string[]
  /** Find devices on the LAN with mDNS. @default true */
  mdns: boolean
  /** Map a port on the router with UPnP. @default true */
  upnp: boolean
  /** Anti-entropy: full sync with a random peer this often. @default DEFAULT_SYNC_INTERVAL_MS (30 s) */
  syncIntervalMs: number
  /** Max ms a remote HLC may be ahead of our clock. @default DEFAULT_MAX_DRIFT_MS (60 s) */
  maxDriftMs: number
  /** Max libp2p connections. @default DEFAULT_MAX_CONNECTIONS (64) */
  maxConnections: number
  /** Max encoded size of one value. @default DEFAULT_MAX_VALUE_BYTES (1 MiB) */
  maxValueBytes: number
  /** Loopback TCP port for /metrics and the token-guarded API; null: none. @default null */
  apiPort: number | null
  /** Log level: error, warn, info, debug. @default 'info' */
  logLevel: Level
}

/** The daemon's defaults, one table: each names the module constant it comes from. */
export const CONFIG_DEFAULTS: Readonly<DaemonConfig> = Object.freeze({
  deviceName: hostname(),
  listen: [...DEFAULT_LISTEN_ADDRESSES],
  relays: [],
  peers: [],
  mdns: true,
  upnp: true,
  syncIntervalMs: DEFAULT_SYNC_INTERVAL_MS,
  maxDriftMs: DEFAULT_MAX_DRIFT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  apiPort: null,
  logLevel: 'info'
})

/** A config file larger than this is not a config file. */
export const MAX_CONFIG_BYTES = MAX_CONFIG_FILE_BYTES

export class ConfigError extends WeftError {
  static override name = 'ConfigError'
  readonly problems: string[]
  /** The config file that was read. */
  readonly file: string
  constructor (file: string, problems: string[]) {
    // Each problem names where it is (the file, or the command line).
    super(`invalid configuration; the daemon does not start:\n${problems.map(p => `  - ${p}`).join('\n')}`, 'BAD_CONFIG')
    this.problems = problems
    this.file = file
  }
}

const isName: Check = v => typeof v === 'string' && v.length > 0 && v.length <= 64 ? undefined : 'must be a string of 1 to 64 characters'
const isMultiaddr: Check = v => {
  const base = isStringList(32)(v)
  if (base !== undefined) return base
  const bad = (v as string[]).find(s => !s.startsWith('/'))
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not a multiaddr (it must start with /)`
}

const CHECKS: Checks<DaemonConfig> = {
  deviceName: isName,
  listen: isMultiaddr,
  relays: v => {
    const base = isMultiaddr(v)
    if (base !== undefined) return base
    const bad = (v as string[]).find(s => !s.includes('/p2p/'))
    return bad === undefined ? undefined : `${JSON.stringify(bad)} must end with /p2p/<relay peer id>`
  },
  peers: v => {
    const base = isMultiaddr(v)
    if (base !== undefined) return base
    const bad = (v as string[]).find(s => !s.includes('/p2p/'))
    return bad === undefined ? undefined : `${JSON.stringify(bad)} must end with /p2p/<peer id>`
  },
  mdns: isBool,
  upnp: isBool,
  syncIntervalMs: isInt(1000, 24 * 3600 * 1000),
  maxDriftMs: isInt(1000, 24 * 3600 * 1000),
  maxConnections: isInt(1, 10_000),
  maxValueBytes: isInt(1024, 16 * 1024 * 1024),
  apiPort: orNull(isInt(1, 65535)),
  logLevel: isLogLevel
}

/** Checks a partial config object; returns the problems found. */
export function checkConfig (raw: unknown, where: string): string[] {
  return checkObject(raw, where, CHECKS)
}

/** Reads the config file (missing is fine: defaults), merges overrides, and validates everything at once. */
export function loadConfig (file: string, overrides: Partial<DaemonConfig> = {}): DaemonConfig {
  const { config, problems } = loadJsonConfig({ file, maxBytes: MAX_CONFIG_BYTES, defaults: CONFIG_DEFAULTS, checks: CHECKS, overrides })
  if (problems.length > 0) throw new ConfigError(file, problems)
  return config
}
