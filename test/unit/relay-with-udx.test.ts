/** The relay listens (and announces) UDX next to each TCP address, so NATed nodes can learn their UDX mapping from it. */
import { describe, expect, it } from 'vitest'
import { reflectorPortFor, withUdx } from '../../relay/relay-node.js'

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

describe('relay reflectorPortFor', () => {
  it('puts the second reflector on the UDX port plus one, or any free port', () => {
    expect(reflectorPortFor(['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/udp/4001/udx'])).toBe(4002)
    expect(reflectorPortFor(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/udx'])).toBe(0)
    expect(reflectorPortFor(['/ip4/0.0.0.0/udp/65535/udx'])).toBe(0)
    expect(reflectorPortFor(['/ip4/0.0.0.0/tcp/4001'])).toBe(0)
  })
})
