/**
 * The libp2p `Listener` of the UDX transport. It does not own a socket: it
 * asks the transport for the node's endpoint of the address family, bound to
 * the requested port, and accepts the plain inbound connections its handshake
 * produces. Closing the listener closes that endpoint, which ends every
 * connection on it (they share the socket) and releases the port.
 */
import { networkInterfaces } from 'node:os'
import { TypedEventEmitter } from 'main-event'
import { UdxListenError } from './errors.js'
import { isWildcard, toUdpAddress, toUdxMultiaddr } from './multiaddr.js'
import { udxStreamToConnection } from './stream-to-conn.js'
import type { UdxEndpoint } from './endpoint.js'
import type { UdpAddress } from './multiaddr.js'
import type { UdxStream } from './udx-native.js'
import type { ComponentLogger, Listener, ListenerEvents, Logger, Upgrader } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface UdxListenerInit {
  upgrader: Upgrader
  logger: ComponentLogger
  closeTimeout: number
  /** Binds (or adopts) the endpoint for this address. */
  acquire(address: UdpAddress): UdxEndpoint
  /** Closes the endpoint and forgets it. */
  release(endpoint: UdxEndpoint): Promise<void>
}

export class UdxListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly init: UdxListenerInit
  private readonly log: Logger
  private readonly shutdown = new AbortController()
  private endpoint?: UdxEndpoint | undefined
  private listeningAddr?: Multiaddr | undefined

  constructor (init: UdxListenerInit) {
    super()
    this.init = init
    this.log = init.logger.forComponent('weft:udx:listener')
  }

  async listen (ma: Multiaddr): Promise<void> {
    if (this.endpoint != null) throw new UdxListenError('listener is already listening')
    const address = toUdpAddress(ma)
    const endpoint = this.init.acquire(address)
    this.endpoint = endpoint
    this.listeningAddr = toUdxMultiaddr(endpoint.address)
    endpoint.setInboundHandler((stream, remote) => { this.onInbound(stream, remote) })
    this.log('listening on %a', this.listeningAddr)
    this.safeDispatchEvent('listening')
  }

  getAddrs (): Multiaddr[] {
    const endpoint = this.endpoint
    if (endpoint == null || endpoint.closed) return []
    const { host, port, family } = endpoint.address
    if (!isWildcard(host)) return [toUdxMultiaddr(endpoint.address)]
    // a wildcard socket answers on every interface of its family
    const hosts: string[] = []
    for (const infos of Object.values(networkInterfaces())) {
      for (const info of infos ?? []) {
        const infoFamily = info.family === 'IPv4' ? 4 : 6
        if (infoFamily !== family || info.address.startsWith('fe80:')) continue
        hosts.push(info.address)
      }
    }
    return hosts.map(h => toUdxMultiaddr({ host: h, port, family }))
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    const endpoint = this.endpoint
    if (endpoint == null) return
    this.endpoint = undefined
    this.shutdown.abort()
    endpoint.setInboundHandler(undefined)
    await this.init.release(endpoint)
    this.safeDispatchEvent('close')
  }

  private onInbound (stream: UdxStream, remote: UdpAddress): void {
    const endpoint = this.endpoint
    if (endpoint == null) { stream.destroy(); return }
    const maConn = udxStreamToConnection({
      stream,
      direction: 'inbound',
      remoteAddr: toUdxMultiaddr(remote),
      ...(this.listeningAddr == null ? {} : { localAddr: this.listeningAddr }),
      closeTimeout: this.init.closeTimeout,
      log: this.init.logger.forComponent('weft:udx:connection')
    })
    this.log('new inbound connection %a', maConn.remoteAddr)
    this.init.upgrader.upgradeInbound(maConn, { signal: this.shutdown.signal })
      .then(() => { endpoint.upgraded(stream) })
      .catch((err: Error) => {
        this.log.error('inbound connection from %a failed to upgrade - %e', maConn.remoteAddr, err)
        maConn.abort(err)
      })
  }
}
