/**
 * @packageDocumentation
 *
 * A js-libp2p 3 transport over Holepunch's `udx-native`: reliable,
 * congestion-controlled streams over UDP, encrypted with Noise and multiplexed
 * with yamux by libp2p's upgrader exactly like TCP.
 *
 * Why UDX: UDP hole punching needs the punches, the dials and the listener to
 * use ONE socket, so that the address a NAT mapped for the punch is the one
 * the connection arrives on. The TCP transport cannot dial from its listening
 * port, and the QUIC transport dials from a separate client socket; with one
 * UDX socket per node, punching through two endpoint-independent NATs works.
 *
 * Addresses are `/ip4/<ip>/udp/<port>/udx` (and ip6) with a private-use
 * protocol code: call `registerUdxProtocol()` in every process that may meet
 * such an address, relays included (`udx()` does it for the nodes that use it).
 *
 * ```ts
 * import { udx, udxTools, registerUdxProtocol } from './udx/index.js'
 * registerUdxProtocol()
 * const node = await createLibp2p({
 *   addresses: { listen: ['/ip4/0.0.0.0/udp/0/udx'] },
 *   transports: [udx()],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 *   services: { udx: udxTools() }
 * })
 * const mine = await node.services.udx.observeAddress(multiaddr('/ip4/203.0.113.7/udp/4001/udx'))
 * await node.services.udx.punch({ host: '198.51.100.9', port: 4001 })
 * ```
 *
 * Behind a NAT that gives every destination a new port, punching alone cannot
 * work; `birthday()` (that side) and `probe()` (the other side) do birthday
 * punching instead, once some channel has told both sides to (birthday.ts).
 *
 * This folder imports nothing of weft's and can be published on its own.
 */
import { registerUdxProtocol } from './multiaddr.js'
import { UdxTransport, type UdxComponents, type UdxInit } from './transport.js'

export function udx (init: UdxInit = {}): (components: UdxComponents) => UdxTransport {
  registerUdxProtocol()
  return (components) => new UdxTransport(components, init)
}

export { UdxTransport, isUdxTransport } from './transport.js'
export type { UdxInit, UdxComponents, ObserveAddressOptions, ObservedAddress, BirthdayAttempt } from './transport.js'
export type { BirthdayOptions, ProbeOptions } from './birthday.js'
export { randomPorts } from './birthday.js'
export type { PunchOptions, UdxSocketStats } from './endpoint.js'
export { UdxTools, udxTools } from './tools.js'
export type { UdxToolsComponents } from './tools.js'
export { registerUdxProtocol, parseUdxMultiaddr, toUdxMultiaddr } from './multiaddr.js'
export type { UdpAddress } from './multiaddr.js'
export { UDX_PROTOCOL_CODE, UDX_PROTOCOL_NAME } from './constants.js'
export {
  UdxHandshakeTimeoutError, UdxHandshakeError, UdxSocketClosedError, UdxLimitError, UdxListenError,
  InvalidUdxAddressError, UdxObserveTimeoutError, NoUdxTransportError, UdxNotPunchedError, UdxBirthdayTimeoutError
} from './errors.js'
export { hideUdxAddresses, withoutUdx, hasUdxPart } from './hide-addresses.js'
export { udxAddrs } from './addrs-service.js'
export type { UdxAddrs, UdxAddrsInit, UdxAddrsComponents, UdxAddrsEvents, PeerUdxAddrs, PeerPredicate } from './addrs-service.js'
export { UDX_ADDRS_PROTOCOL } from './constants.js'
