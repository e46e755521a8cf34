/**
 * Wires the replica to the libp2p node. Until the network layer lands this
 * factory is absent and the daemon serves its replica locally only.
 */
import type { NetworkFactory } from './daemon.js'

export const networkFactory: NetworkFactory | undefined = undefined
