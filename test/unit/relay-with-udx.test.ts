/** The relay listens (and announces) UDX next to each TCP address, so NATed nodes can learn their UDX mapping from it. */
import { describe, expect, it } from 'vitest'
import { withUdx } from '../../relay/relay-node.js'

describe('relay withUdx', () => {
  it('adds a /udp/<port>/udx twin for each plain TCP address', () => {
    expect(withUdx(['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'])).toEqual([
      '/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws', '/ip4/0.0.0.0/udp/4001/udx', '/ip6/::/udp/4001/udx'
    ])
  })
  it('leaves the list alone when a UDX address is configured', () => {
    expect(withUdx(['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/udp/5000/udx'])).toEqual(['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/udp/5000/udx'])
  })
})
