/**
 * `udxTools()`: a libp2p service that hands the UDX transport's punch and
 * reflector helpers to application code (`node.services.udx.punch(...)`).
 * libp2p does not expose transport instances, but services receive the
 * transport manager, so this is the supported way to reach the one socket.
 */
import { NoUdxTransportError } from './errors.js'
import { isUdxTransport, type BirthdayAttempt, type ObserveAddressOptions, type ObservedAddress, type UdxTransport } from './transport.js'
import type { BirthdayOptions, ProbeOptions } from './birthday.js'
import type { PunchOptions } from './endpoint.js'
import type { Transport } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface UdxToolsComponents {
  transportManager: { getTransports(): Transport[] }
}

export class UdxTools {
  readonly [Symbol.toStringTag] = '@weft/udx-tools'
  private readonly components: UdxToolsComponents

  constructor (components: UdxToolsComponents) {
    this.components = components
  }

  /** The node's UDX transport; throws when the node was configured without it. */
  get transport (): UdxTransport {
    const transport = this.components.transportManager.getTransports().find(isUdxTransport)
    if (transport == null) throw new NoUdxTransportError('this node has no UDX transport')
    return transport
  }

  /** See `UdxTransport.punch`. */
  async punch (remote: Multiaddr | { host: string, port: number }, options?: PunchOptions): Promise<number> {
    return this.transport.punch(remote, options)
  }

  /** See `UdxTransport.observeAddress`. */
  async observeAddress (remote: Multiaddr | { host: string, port: number }, options?: ObserveAddressOptions): Promise<ObservedAddress> {
    return this.transport.observeAddress(remote, options)
  }

  /** See `UdxTransport.birthday`. */
  birthday (remote: Multiaddr | { host: string, port: number }, options?: BirthdayOptions): BirthdayAttempt {
    return this.transport.birthday(remote, options)
  }

  /** See `UdxTransport.probe`. */
  async probe (host: string, options?: ProbeOptions): Promise<number> {
    return this.transport.probe(host, options)
  }
}

export function udxTools (): (components: UdxToolsComponents) => UdxTools {
  return (components) => new UdxTools(components)
}
