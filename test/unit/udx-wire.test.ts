/**
 * UDX control datagrams and the `/udx` multiaddr: round trips, rejection of
 * anything malformed (never a throw), fixed size, and address filters.
 */
import fc from 'fast-check'
import { multiaddr, registry } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { UDX_PROTOCOL_CODE, CONTROL_DATAGRAM_BYTES } from '../../src/udx/constants.js'
import { parseUdxMultiaddr, registerUdxProtocol, toUdxMultiaddr } from '../../src/udx/multiaddr.js'
import {
  decodeControl, encodeAck, encodeHello, encodeObserve, encodeObserved, encodePunch, encodeRetry, MessageType
} from '../../src/udx/wire.js'

const u64 = fc.bigInt({ min: 1n, max: (1n << 64n) - 1n })
const u32 = fc.integer({ min: 1, max: 0xffff_ffff })

describe('udx control datagrams', () => {
  it('round-trips HELLO and ACK', () => {
    const u64orZero = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
    fc.assert(fc.property(u64, u32, u64orZero, u64orZero, (nonce, streamId, echo, cookie) => {
      expect(decodeControl(encodeHello(nonce, streamId, echo, cookie))).toEqual({ type: MessageType.HELLO, nonce, streamId, echo, cookie })
    }))
    fc.assert(fc.property(u64, u64, (echo, cookie) => {
      expect(decodeControl(encodeRetry(echo, cookie))).toEqual({ type: MessageType.RETRY, echo, cookie })
    }))
    fc.assert(fc.property(u64, u32, fc.boolean(), u64, (echo, streamId, crossed, nonce) => {
      expect(decodeControl(encodeAck(echo, streamId, crossed, nonce))).toEqual({ type: MessageType.ACK, echo, streamId, crossed, nonce })
    }))
  })

  it('round-trips observed addresses, ip4 and ip6', () => {
    const cases = [
      { host: '203.0.113.7', port: 4001, family: 4 as const },
      { host: '2001:db8::1', port: 65535, family: 6 as const },
      { host: '::1', port: 1, family: 6 as const },
      { host: 'fe80::1:0:0:2', port: 9, family: 6 as const }
    ]
    for (const address of cases) {
      expect(decodeControl(encodeObserved(99n, address))).toEqual({ type: MessageType.OBSERVED, requestId: 99n, ...address, alternatePort: 0 })
      expect(decodeControl(encodeObserved(99n, address, 4002))).toEqual({ type: MessageType.OBSERVED, requestId: 99n, ...address, alternatePort: 4002 })
    }
    fc.assert(fc.property(fc.ipV6(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
      const decoded = decodeControl(encodeObserved(1n, { host, port, family: 6 }))
      if (decoded?.type !== MessageType.OBSERVED) throw new Error('not decoded')
      // same address, canonical text
      expect(encodeObserved(1n, decoded, decoded.alternatePort).equals(encodeObserved(1n, { host, port, family: 6 }))).toBe(true)
    }))
  })

  it('gives every datagram the same size, so no answer outgrows its request', () => {
    const all = [
      encodeHello(1n, 1, 0n, 5n), encodeAck(1n, 1, true, 2n), encodeRetry(1n, 6n), encodePunch(3n), encodeObserve(4n),
      encodeObserved(4n, { host: '2001:db8::1', port: 1, family: 6 })
    ]
    for (const datagram of all) expect(datagram.byteLength).toBe(CONTROL_DATAGRAM_BYTES)
  })

  it('decodes arbitrary bytes to a message or undefined, never a throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      const decoded = decodeControl(bytes)
      if (decoded != null) expect(bytes.byteLength).toBe(CONTROL_DATAGRAM_BYTES)
    }))
    fc.assert(fc.property(fc.uint8Array({ minLength: 35, maxLength: 35 }), fc.integer({ min: 0, max: 255 }), (body, type) => {
      expect(() => decodeControl(Buffer.concat([Buffer.from([0x55, 0x44, 0x58, 1, type]), body]))).not.toThrow()
    }))
  })

  it('rejects zero nonces and stream ids, and UDX stream packets', () => {
    expect(decodeControl(encodeHello(0n, 1, 0n))).toBeUndefined()
    expect(decodeControl(encodeHello(1n, 0, 0n))).toBeUndefined()
    expect(decodeControl(encodeAck(1n, 1, true, 0n))).toBeUndefined()
    const udxPacket = Buffer.alloc(CONTROL_DATAGRAM_BYTES)
    udxPacket[0] = 0xff
    udxPacket[1] = 1
    expect(decodeControl(udxPacket)).toBeUndefined()
  })
})

describe('udx multiaddr', () => {
  it('registers idempotently with a private-use code', () => {
    registerUdxProtocol()
    registerUdxProtocol()
    expect(registry.getProtocol('udx').code).toBe(UDX_PROTOCOL_CODE)
    expect(UDX_PROTOCOL_CODE).toBeGreaterThanOrEqual(0x300000)
    expect(UDX_PROTOCOL_CODE).toBeLessThanOrEqual(0x3fffff)
    const ma = multiaddr('/ip4/1.2.3.4/udp/4001/udx')
    expect(multiaddr(ma.bytes).toString()).toBe('/ip4/1.2.3.4/udp/4001/udx')
  })

  it('parses only direct UDX addresses', () => {
    registerUdxProtocol()
    const id = '12D3KooWSSPgBhPs2aZyieLUFutUUaHySgkyYdNXV2gQaw298iSy'
    expect(parseUdxMultiaddr(multiaddr('/ip4/1.2.3.4/udp/4001/udx'))).toEqual({ host: '1.2.3.4', port: 4001, family: 4 })
    expect(parseUdxMultiaddr(multiaddr('/ip6/::1/udp/9/udx'))).toEqual({ host: '::1', port: 9, family: 6 })
    expect(parseUdxMultiaddr(multiaddr(`/ip4/1.2.3.4/udp/4001/udx/p2p/${id}`))).toBeUndefined()
    expect(parseUdxMultiaddr(multiaddr(`/ip4/1.2.3.4/udp/4001/udx/p2p/${id}`), true)?.port).toBe(4001)
    expect(parseUdxMultiaddr(multiaddr(`/ip4/1.2.3.4/udp/4001/udx/p2p/${id}/p2p-circuit/p2p/${id}`), true)).toBeUndefined()
    expect(parseUdxMultiaddr(multiaddr('/ip4/1.2.3.4/udp/4001/quic-v1'))).toBeUndefined()
    expect(parseUdxMultiaddr(multiaddr('/ip4/1.2.3.4/tcp/4001'))).toBeUndefined()
    expect(toUdxMultiaddr({ host: '2001:db8::1', port: 5 }).toString()).toBe('/ip6/2001:db8::1/udp/5/udx')
  })
})
