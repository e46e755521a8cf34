/**
 * Daemon configuration: defaults in one table, a JSON file, then flags.
 * Checked once at start; every problem is reported together, unknown keys
 * are rejected (a typo must not silently fall back to a default), and the
 * daemon does not start on a bad config.
 */
import { readFileSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { WeftError } from '../errors.js'

export interface DaemonConfig {
  /** Name shown to the user's other devices. @default the host name */
  deviceName: string
  /** libp2p listen multiaddrs (TCP, and UDX for hole punching). @default ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/udx'] */
  listen: string[]
  /** Relay multiaddrs (with /p2p/<id>) to reserve a slot on. @default [] */
  relays: string[]
  /** Peers (multiaddrs ending in /p2p/<id>) to dial at start and keep connected. @default [] */
  peers: string[]
  /** Find devices on the LAN with mDNS. @default true */
  mdns: boolean
  /** Map a port on the router with UPnP. @default true */
  upnp: boolean
  /** Anti-entropy: full sync with a random peer this often. @default 30000 */
  syncIntervalMs: number
  /** Max ms a remote HLC may be ahead of our clock. @default 60000 */
  maxDriftMs: number
  /** Max libp2p connections. @default 64 */
  maxConnections: number
  /** Max encoded size of one value. @default 1048576 */
  maxValueBytes: number
  /** Loopback TCP port for /metrics and the token-guarded API; null: none. @default null */
  apiPort: number | null
  /** Log level: error, warn, info, debug. @default 'info' */
  logLevel: 'error' | 'warn' | 'info' | 'debug'
}

export const CONFIG_DEFAULTS: Readonly<DaemonConfig> = Object.freeze({
  deviceName: hostname(),
  listen: ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/udx'],
  relays: [],
  peers: [],
  mdns: true,
  upnp: true,
  syncIntervalMs: 30_000,
  maxDriftMs: 60_000,
  maxConnections: 64,
  maxValueBytes: 1024 * 1024,
  apiPort: null,
  logLevel: 'info'
})

/** A config file larger than this is not a config file. */
export const MAX_CONFIG_BYTES = 64 * 1024

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

type Check = (v: unknown) => string | undefined

const isStringList = (max: number): Check => v => Array.isArray(v) && v.every(s => typeof s === 'string' && s.length > 0 && s.length <= 512) && v.length <= max ? undefined : `must be a list of at most ${max} non-empty strings`
const isBool: Check = v => typeof v === 'boolean' ? undefined : 'must be true or false'
const isInt = (min: number, max: number): Check => v => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `must be an integer from ${min} to ${max}`
const isName: Check = v => typeof v === 'string' && v.length > 0 && v.length <= 64 ? undefined : 'must be a string of 1 to 64 characters'
const isMultiaddr: Check = v => {
  const base = isStringList(32)(v)
  if (base !== undefined) return base
  const bad = (v as string[]).find(s => !s.startsWith('/'))
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not a multiaddr (it must start with /)`
}

const CHECKS: Record<keyof DaemonConfig, Check> = {
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
  apiPort: v => v === null ? undefined : isInt(1, 65535)(v),
  logLevel: v => v === 'error' || v === 'warn' || v === 'info' || v === 'debug' ? undefined : 'must be one of error, warn, info, debug'
}

/** Checks a partial config object; returns the problems found. */
export function checkConfig (raw: unknown, where: string): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [`${where}: must be a JSON object`]
  const problems: string[] = []
  for (const [k, v] of Object.entries(raw)) {
    const check = CHECKS[k as keyof DaemonConfig]
    if (check === undefined) {
      problems.push(`${where}: unknown key ${JSON.stringify(k)} (known: ${Object.keys(CHECKS).join(', ')})`)
      continue
    }
    const p = check(v)
    if (p !== undefined) problems.push(`${where}: ${k} ${p}`)
  }
  return problems
}

/** Reads the config file (missing is fine: defaults), merges overrides, and validates everything at once. */
export function loadConfig (file: string, overrides: Partial<DaemonConfig> = {}): DaemonConfig {
  let fromFile: Record<string, unknown> = {}
  const problems: string[] = []
  try {
    const st = statSync(file)
    if (st.size > MAX_CONFIG_BYTES) problems.push(`${file}: ${st.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`)
    else {
      try {
        fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
      } catch (err) {
        problems.push(`${file}: not valid JSON (${(err as Error).message})`)
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: cannot read (${(err as Error).message})`)
  }
  if (problems.length === 0) problems.push(...checkConfig(fromFile, file))
  problems.push(...checkConfig(overrides, 'command line'))
  if (problems.length > 0) throw new ConfigError(file, problems)
  return { ...CONFIG_DEFAULTS, ...fromFile, ...overrides } as DaemonConfig
}
