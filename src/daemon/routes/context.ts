/**
 * What the control API's handlers are given: the daemon's parts, read at
 * request time (the network may be restarted by a join, the replica closed by
 * a stop), and the small checks every handler applies to its own body.
 */
import { InvalidArgumentError } from '../../errors.js'
import type { Replica } from '../../store/replica.js'
import type { DaemonConfig } from '../config.js'
import { HttpError } from '../control-api.js'
import type { Logger } from '../../runtime/log.js'
import type { Paths } from '../paths.js'
import type { Network } from '../ports.js'

export interface DaemonContext {
  readonly paths: Paths
  readonly config: DaemonConfig
  readonly log: Logger
  /** ms since the epoch. */
  readonly startedAt: number
  /** The open replica; a NOT_READY error before start and after stop. */
  readonly replica: Replica
  /** The network node, when this daemon runs one. */
  readonly network: Network | undefined
  /** Stops the network node and starts it again (after a join: its group, topic and authorization change), dialing `extraPeers` first. */
  restartNetwork: (extraPeers: string[]) => Promise<void>
}

/** The network, or a 503 that says it is not running. */
export function requireNetwork (d: DaemonContext, why = ''): Network {
  if (d.network === undefined) throw new HttpError('NO_NETWORK', `the network is not running in this daemon${why}`)
  return d.network
}

/** A parsed JSON object (not null, not an array). */
export function isJsonObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A request body as an object of named arguments; no body is an empty one. */
export function bodyObject (body: unknown): Record<string, unknown> {
  if (body === undefined) return {}
  if (!isJsonObject(body)) throw new InvalidArgumentError('request body must be a JSON object')
  return body
}
