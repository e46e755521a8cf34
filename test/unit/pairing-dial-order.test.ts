import { describe, expect, it } from 'vitest'
import { pairingDialRank } from '../../src/net/pairing.js'

describe('the order in which a joiner tries an invite\'s addresses', () => {
  const relay = '/ip4/11.23.0.10/tcp/4001/p2p/12D3KooWPUSPE8aLnNzGo72TGxVBbSnNaUbSEuZBCdUrTrK8itm5/p2p-circuit'
  const lanTcp = '/ip4/192.168.1.20/tcp/4001'
  const lanUdx = '/ip4/192.168.1.20/udp/4001/udx'
  const publicUdx = '/ip4/11.23.2.22/udp/4001/udx'

  it('tries TCP first, then the relay, and UDX last (an unreachable UDX address only times out)', () => {
    const ordered = [lanUdx, relay, publicUdx, lanTcp].sort((a, b) => pairingDialRank(a) - pairingDialRank(b))
    expect(ordered).toEqual([lanTcp, relay, lanUdx, publicUdx])
  })

  it('keeps a circuit over a UDX hop to the relay with the circuits', () => {
    expect(pairingDialRank('/ip4/11.23.0.10/udp/4001/udx/p2p/12D3KooWPUSPE8aLnNzGo72TGxVBbSnNaUbSEuZBCdUrTrK8itm5/p2p-circuit')).toBe(pairingDialRank(relay))
  })
})
