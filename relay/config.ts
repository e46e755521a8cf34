/**
 * Relay configuration: defaults in one table, a JSON file, then command-line
 * flags. Checked once at start, the way the daemon's config is: every problem
 * is reported together, unknown keys are rejected (a misspelt limit must not
 * silently fall back to a default), and the relay does not start on a bad
 * config. Flags arrive as strings and go through the same checks. The
 * checking and loading are the runtime kit's (src/runtime/config.ts).
 */
import { isGroupId, parseGroupId } from '../src/auth/group.js'
import { multiaddr } from '@multiformats/multiaddr'
import { WeftError } from '../src/errors.js'
import * as C from './constants.js'
import { GROUP_KEY_BYTES } from './auth/verifier.js'
import { checkObject, isInt, isLogLevel, loadJsonConfig, orNull, type Check, type Checks } from '../src/runtime/config.js'
import type { Level } from '../src/runtime/log.js'

export interface GroupConfig {
  /** Name shown in logs and metrics. */
  name: string
  /** The group's Ed25519 public key, 32 bytes in base64url (43 characters). */
  publicKey: string
}

export type LogLevel = Level

export interface RelayConfig {
  /** Multiaddrs to listen on: TCP (`/ip4/0.0.0.0/tcp/4001`) and WebSockets (`.../tcp/4002/ws`). @default DEFAULT_LISTEN_ADDRESSES */
  listen: string[]
  /** Public multiaddrs to advertise. A relay behind a public IP must set them, or it advertises nothing useful. @default [] */
  announce: string[]
  /** Reservations held at once; more are refused. @default DEFAULT_MAX_RESERVATIONS (128) */
  maxReservations: number
  /** Reservation lifetime of a member before the client must refresh it. @default DEFAULT_RESERVATION_TTL_MS (2 h) */
  reservationTtlMs: number
  /**
   * Share of `maxReservations` strangers may hold at once (0 < share <= 1); members may evict strangers when every slot is taken.
   * @default DEFAULT_STRANGER_SHARE (0.5)
   */
  strangerShare: number
  /** Stranger reservations from one IP (one /64 for IPv6) at once. @default DEFAULT_STRANGER_RESERVATIONS_PER_IP (4) */
  strangerReservationsPerIp: number
  /** Reservation lifetime of a stranger before the client must refresh it. @default DEFAULT_STRANGER_RESERVATION_TTL_MS (10 min) */
  strangerReservationTtlMs: number
  /** Relayed connection duration for peers not admitted by a group. @default DEFAULT_DURATION_LIMIT_MS (2 min) */
  durationLimitMs: number
  /** Relayed connection data (both directions) for peers not admitted by a group. @default DEFAULT_DATA_LIMIT_BYTES (128 KiB) */
  dataLimitBytes: number
  /** Relayed connection duration when both ends are admitted. @default DEFAULT_GROUP_DURATION_LIMIT_MS (30 min) */
  groupDurationLimitMs: number
  /** Relayed connection data when both ends are admitted. @default DEFAULT_GROUP_DATA_LIMIT_BYTES (64 MiB) */
  groupDataLimitBytes: number
  /** Allowed weft groups, by public key. @default [] */
  groups: GroupConfig[]
  /** Peers not admitted by a group: 'limited' (short limits above) or 'deny' (no reservation). @default 'limited' */
  others: 'limited' | 'deny'
  /** Connections in total. @default DEFAULT_MAX_CONNECTIONS (1024) */
  maxConnections: number
  /** Host of the /metrics and /healthz server; loopback only. @default '127.0.0.1' */
  metricsHost: string
  /** Its port (0: any free port); null: no HTTP server. @default DEFAULT_METRICS_PORT (9464) */
  metricsPort: number | null
  /** @default 'info' */
  logLevel: LogLevel
}

export const RELAY_CONFIG_DEFAULTS: Readonly<RelayConfig> = Object.freeze({
  listen: C.DEFAULT_LISTEN_ADDRESSES,
  announce: [],
  maxReservations: C.DEFAULT_MAX_RESERVATIONS,
  reservationTtlMs: C.DEFAULT_RESERVATION_TTL_MS,
  strangerShare: C.DEFAULT_STRANGER_SHARE,
  strangerReservationsPerIp: C.DEFAULT_STRANGER_RESERVATIONS_PER_IP,
  strangerReservationTtlMs: C.DEFAULT_STRANGER_RESERVATION_TTL_MS,
  durationLimitMs: C.DEFAULT_DURATION_LIMIT_MS,
  dataLimitBytes: C.DEFAULT_DATA_LIMIT_BYTES,
  groupDurationLimitMs: C.DEFAULT_GROUP_DURATION_LIMIT_MS,
  groupDataLimitBytes: C.DEFAULT_GROUP_DATA_LIMIT_BYTES,
  groups: [],
  others: 'limited',
  maxConnections: C.DEFAULT_MAX_CONNECTIONS,
  metricsHost: C.DEFAULT_METRICS_HOST,
  metricsPort: C.DEFAULT_METRICS_PORT,
  logLevel: 'info'
})

export class RelayConfigError extends WeftError {
  static override name = 'RelayConfigError'
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid relay configuration:\n${problems.map(p => `  - ${p}`).join('\n')}`, 'BAD_CONFIG')
    this.problems = problems
  }
}

const second = 1000
const day = 24 * 3600 * second
const GiB = 1024 ** 3

const isAddrList = (max: number, extra: (a: string) => string | undefined): Check => v => {
  if (!Array.isArray(v) || v.length > max || !v.every(s => typeof s === 'string' && s.length > 0 && s.length <= 512)) return `must be a list of at most ${max} multiaddrs`
  for (const a of v as string[]) {
    try { multiaddr(a) } catch (err) { return `${JSON.stringify(a)} is not a multiaddr (${(err as Error).message})` }
    const p = extra(a)
    if (p !== undefined) return `${JSON.stringify(a)}: ${p}`
  }
  return undefined
}
const TRANSPORT = /\/tcp\/\d+(\/(ws|wss|tls\/ws))?(\/p2p\/[^/]+)?$/
const isTransport = (a: string): string | undefined => TRANSPORT.test(a) ? undefined : 'is not a TCP (/tcp/N) or WebSockets (/tcp/N/ws) address'

export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost'])

const CHECKS: Checks<RelayConfig> = {
  listen: v => {
    if (Array.isArray(v) && v.length === 0) return 'must list at least one address'
    return isAddrList(32, a => a.includes('/p2p/') ? 'a listen address has no /p2p/ part' : isTransport(a))(v)
  },
  announce: isAddrList(32, a => /\/ip[46]\/(0\.0\.0\.0|::)\//.test(a) ? 'announce a reachable address, not a wildcard' : isTransport(a)),
  maxReservations: isInt(1, 100_000),
  reservationTtlMs: isInt(60 * second, 7 * day),
  strangerShare: v => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 1 ? undefined : 'must be a number above 0 and at most 1 (use "others": "deny" to refuse strangers any reservation)',
  strangerReservationsPerIp: isInt(1, 100_000),
  strangerReservationTtlMs: isInt(60 * second, 7 * day),
  durationLimitMs: isInt(1 * second, day),
  dataLimitBytes: isInt(1024, 16 * GiB),
  groupDurationLimitMs: isInt(1 * second, day),
  groupDataLimitBytes: isInt(1024, 16 * GiB),
  groups: v => {
    if (!Array.isArray(v) || v.length > C.MAX_GROUPS) return `must be a list of at most ${C.MAX_GROUPS} { "name", "publicKey" } objects`
    const problems: string[] = []
    const names = new Set<string>()
    const keys = new Set<string>()
    v.forEach((g: unknown, i) => {
      if (typeof g !== 'object' || g === null || Array.isArray(g)) { problems.push(`[${i}] must be an object`); return }
      const extra = Object.keys(g).filter(k => k !== 'name' && k !== 'publicKey')
      if (extra.length > 0) problems.push(`[${i}] unknown key ${JSON.stringify(extra[0])} (known: name, publicKey)`)
      const { name, publicKey } = g as Record<string, unknown>
      if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) problems.push(`[${i}].name must be 1 to 64 letters, digits, dots, dashes or underscores`)
      else if (names.has(name)) problems.push(`[${i}].name ${JSON.stringify(name)} appears twice`)
      else names.add(name)
      if (decodeGroupKey(publicKey) === undefined) problems.push(`[${i}].publicKey must be a weft group id (wg…) or a ${GROUP_KEY_BYTES}-byte Ed25519 public key in base64url`)
      else if (keys.has(publicKey as string)) problems.push(`[${i}].publicKey appears twice`)
      else keys.add(publicKey as string)
    })
    return problems.length === 0 ? undefined : problems.join('; ')
  },
  others: v => v === 'limited' || v === 'deny' ? undefined : 'must be "limited" or "deny"',
  maxConnections: isInt(8, 1_000_000),
  metricsHost: v => typeof v === 'string' && LOOPBACK_HOSTS.has(v) ? undefined : 'must be a loopback host (127.0.0.1, ::1 or localhost): /metrics is not for the public',
  metricsPort: orNull(isInt(0, 65535)),
  logLevel: isLogLevel
}

/** 32 bytes from base64url, or undefined. */
export function decodeGroupKey (v: unknown): Uint8Array | undefined {
  // A weft group id (`wg…`, what `weft status` shows) names the same key.
  if (typeof v === 'string' && isGroupId(v)) return parseGroupId(v)
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(v)) return undefined
  const bytes = Buffer.from(v, 'base64url')
  return bytes.length === GROUP_KEY_BYTES ? new Uint8Array(bytes) : undefined
}

/** Checks a partial config object; returns every problem found. */
export function checkRelayConfig (raw: unknown, where: string): string[] {
  return checkObject(raw, where, CHECKS)
}

/** Problems that only show in the merged config. */
function checkCombined (c: RelayConfig): string[] {
  const problems: string[] = []
  if (c.others === 'deny' && c.groups.length === 0) problems.push('others is "deny" but no groups are configured: no one could use this relay')
  if (c.groupDurationLimitMs < c.durationLimitMs) problems.push('groupDurationLimitMs is below durationLimitMs: admitted peers would get less than strangers')
  if (c.groupDataLimitBytes < c.dataLimitBytes) problems.push('groupDataLimitBytes is below dataLimitBytes: admitted peers would get less than strangers')
  if (c.strangerReservationTtlMs > c.reservationTtlMs) problems.push('strangerReservationTtlMs is above reservationTtlMs: strangers would hold slots longer than members')
  return problems
}

/**
 * Reads `file` (JSON; a missing file means defaults unless `required`),
 * applies `overrides` (from flags) and checks everything at once.
 */
export function loadRelayConfig (file: string | undefined, overrides: Record<string, unknown> = {}, required = false): RelayConfig {
  const { config, problems } = loadJsonConfig({ file, required, maxBytes: C.MAX_CONFIG_BYTES, defaults: RELAY_CONFIG_DEFAULTS, checks: CHECKS, overrides })
  if (problems.length > 0) throw new RelayConfigError(problems)
  const combined = checkCombined(config)
  if (combined.length > 0) throw new RelayConfigError(combined)
  return config
}

/** Flag name (kebab-case) to config key, for the flags that set one value. */
export const FLAG_KEYS: Readonly<Record<string, keyof RelayConfig>> = {
  'max-reservations': 'maxReservations',
  'reservation-ttl-ms': 'reservationTtlMs',
  'stranger-share': 'strangerShare',
  'stranger-reservations-per-ip': 'strangerReservationsPerIp',
  'stranger-reservation-ttl-ms': 'strangerReservationTtlMs',
  'duration-limit-ms': 'durationLimitMs',
  'data-limit-bytes': 'dataLimitBytes',
  'group-duration-limit-ms': 'groupDurationLimitMs',
  'group-data-limit-bytes': 'groupDataLimitBytes',
  others: 'others',
  'max-connections': 'maxConnections',
  'metrics-host': 'metricsHost',
  'metrics-port': 'metricsPort',
  'log-level': 'logLevel'
}

const NUMERIC: ReadonlySet<keyof RelayConfig> = new Set(['maxReservations', 'reservationTtlMs', 'strangerShare', 'strangerReservationsPerIp', 'strangerReservationTtlMs', 'durationLimitMs', 'dataLimitBytes', 'groupDurationLimitMs', 'groupDataLimitBytes', 'maxConnections', 'metricsPort'])

/**
 * Turns parsed flags into config overrides. A number that does not parse is
 * passed on as the string, so the checks report it with the rest.
 */
export function overridesFromFlags (values: Record<string, string | boolean | string[] | undefined>): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const v = values[flag]
    if (typeof v !== 'string') continue
    o[key] = NUMERIC.has(key) && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v
  }
  if (Array.isArray(values.listen)) o.listen = values.listen
  if (Array.isArray(values.announce)) o.announce = values.announce
  if (values['no-metrics'] === true) o.metricsPort = null
  if (Array.isArray(values.group)) {
    o.groups = values.group.map(g => {
      const eq = g.indexOf('=')
      // NAME=PUBLICKEY; without '=', the empty key is reported by the groups check.
      return eq < 0 ? { name: g, publicKey: '' } : { name: g.slice(0, eq), publicKey: g.slice(eq + 1) }
    })
  }
  return o
}
