/**
 * A stock libp2p peer in a process of its own (`node
 * dist/test/helpers/stock-peer-main.js`, which `npm test` builds first), for
 * tests that freeze or kill the other side: TCP, Noise and yamux on
 * 127.0.0.1 with identify and ping, from stock packages only (stock-peer.ts).
 * It prints `listening <multiaddr>` once started and stops on SIGTERM.
 */
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { startStockNode } from './stock-peer.js'

const node = await startStockNode({ identify: identify(), ping: ping() })
process.stdout.write(`listening ${node.getMultiaddrs()[0]!.toString()}\n`)
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
