/**
 * `npm run bench`: every benchmark in one run, so figures and ratios share
 * the machine's state. Core (local write, remote apply vs raw SQLite),
 * declared tables (indexed query vs list + filter, remote apply into a
 * declared collection vs an undeclared one, live query latency), sync
 * between two processes (initial 100k and 1M, propagation, incremental), and
 * a libp2p stream over UDX vs TCP.
 */
import '../src/polyfill.js'
import { benchCore } from './core.js'
import { benchQuery } from './query.js'
import { benchSync } from './sync.js'
import { benchUdx } from './udx.js'

await benchCore()
await benchQuery()
await benchSync()
await benchUdx()
