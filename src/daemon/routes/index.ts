/**
 * The control API's route table: every endpoint, by area, each area's
 * handlers in a module of their own that checks its own input.
 * docs/control-api.md lists the same endpoints.
 */
import type { Route } from '../control-api.js'
import type { DaemonContext } from './context.js'
import { dataRoutes } from './data.js'
import { inspectRoutes } from './inspect.js'
import { peerRoutes } from './peers.js'
import type { QueryRoutes } from './query.js'
import { trustRoutes } from './trust.js'

export function controlApiRoutes (d: DaemonContext, queries: QueryRoutes): Route[] {
  return [
    ...inspectRoutes(d),
    ...peerRoutes(d),
    ...queries.routes(),
    ...dataRoutes(d),
    ...trustRoutes(d)
  ]
}
