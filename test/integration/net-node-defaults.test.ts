/**
 * A node built with every default (mDNS, UPnP, DCUtR on) constructs: libp2p
 * checks service dependencies at construction, and upnp-nat without
 * `autoConfirmAddress` requires an AutoNAT service we do not run. Not
 * started, so nothing is multicast on the host's network.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openReplica } from '../../src/index.js'
import { createNode } from '../../src/net/index.js'
import { stopAll, tempDir } from '../helpers/net-nodes.js'

afterEach(stopAll)

describe('createNode defaults', () => {
  it('builds a desktop node (mDNS, UPnP, DCUtR, relays) without starting it', async () => {
    const replica = openReplica({ dir: tempDir() })
    try {
      const node = await createNode({ privateKey: replica.deviceKey.raw, store: replica, start: false, relays: [`/ip4/127.0.0.1/tcp/9/p2p/${replica.deviceId}`] })
      expect(node.status).toBe('stopped')
      expect(node.peerId.toString()).toBe(replica.deviceId)
      expect(Object.keys(node.services)).toEqual(expect.arrayContaining(['identify', 'ping', 'pubsub', 'sync', 'relays', 'dcutr', 'upnp', 'discoveryDialer']))
      expect(node.services.sync.protocol).toBe('/weft/sync/1.0.0')
    } finally {
      replica.close()
    }
  })
})
