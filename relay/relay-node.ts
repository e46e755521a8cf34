/**
 * Builds and runs the relay: a js-libp2p 3 node with the circuit relay v2
 * server (under the weft limit policy), relay-auth, identify and ping, TCP,
 * UDX and (when a listen address asks for it) WebSockets; plus the loopback
 * HTTP server for /metrics and /healthz.
 *
 * UDX: next to each TCP listen (and announce) address the relay listens on
 * (and announces) the same port over UDP, unless a /udx address is configured.
 * Its UDX socket answers clients' "what is my address?" requests, which is
 * how NATed weft nodes learn the public mapping they hole-punch with, and it
 * can relay over UDX. A second UDP socket (the UDX port plus one) answers the
 * same requests: a client whose NAT gives the two ports different mappings
 * knows it must use birthday punching.
 *
 * A good libp2p citizen: a stock peer can identify the relay and reserve on
 * it, so identify, its signed peer record and the reservation answer list no
 * `/udx` address (the private multiaddr code would make them fail for a stock
 * peer); the relay tells its UDX addresses to anyone who asks over
 * `/weft/udx-addrs/1.0.0` instead (the reflector is public by design).
 * identify's agentVersion is `weft-relay/<version>`.
 *
 * Deliberately absent: the AutoNAT server (on a relay it closes clients'
 * connections and with them their reservations, see shared notes), DCUtR,
 * mDNS, UPnP, the DHT. A relay is configured with its public addresses
 * (`announce`) instead of discovering them.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { identify, type Identify } from '@libp2p/identify'
import type { ComponentLogger, Libp2p, PrivateKey, Transport } from '@libp2p/interface'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import '../src/polyfill.js'
import { hideUdxAddresses, udx, udxAddrs, udxTools, type UdxAddrs, type UdxTools } from '../src/udx/index.js'
import { WEFT_RELAY_USER_AGENT, WEFT_VERSION } from '../src/version.js'
import { relayAuth, type RelayAuth } from './auth/service.js'
import { groupStatementVerifier } from './auth/verifier.js'
import { admissionChainVerifier } from './auth/admission-chain.js'
import { decodeGroupKey, RelayConfigError, type RelayConfig } from './config.js'
import * as C from './constants.js'
import { startRelayHttp, type RelayHttp } from './http.js'
import { RelayPolicy } from './relay-policy.js'
import { renderMetrics, RelayStats } from './stats.js'

export interface RelayServices {
  identify: Identify
  ping: Ping
  relay: CircuitRelayService
  relayAuth: RelayAuth
  udx: UdxTools
  udxAddrs: UdxAddrs
  [name: string]: unknown
}

export type RelayNode = Libp2p<RelayServices>

export interface Relay {
  readonly node: RelayNode
  readonly peerId: string
  readonly stats: RelayStats
  /** The /metrics and /healthz server, when enabled. */
  readonly http: RelayHttp | undefined
  /** Addresses the relay advertises, each ending in /p2p/<id>. */
  addresses(): string[]
  metricsText(): string
  stop(): Promise<void>
}

export interface StartRelayOptions {
  privateKey: PrivateKey
  /** libp2p's logger (tests pass a prefixed one). @default defaultLogger() */
  logger?: ComponentLogger
}

/** `@libp2p/websockets` is loaded only when a /ws address is configured, so a TCP-only relay does not need it. */
const WEBSOCKETS_PACKAGE = '@libp2p/websockets'
export const WEBSOCKETS_VERSION_HINT = '10.1.21'

async function loadWebSockets (): Promise<(() => (components: any) => Transport)> {
  try {
    const mod = await import(WEBSOCKETS_PACKAGE) as { webSockets: () => (components: any) => Transport }
    return mod.webSockets
  } catch (err) {
    throw new RelayConfigError([`a /ws address is configured but ${WEBSOCKETS_PACKAGE} cannot be loaded (${(err as Error).message}); install ${WEBSOCKETS_PACKAGE}@${WEBSOCKETS_VERSION_HINT} or listen on TCP only`])
  }
}

const TCP_ADDRESS = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/

/**
 * The addresses plus, when none of them is UDX, a `/udp/<port>/udx` twin of
 * each plain TCP one (same IP and port number).
 */
export function withUdx (addrs: string[]): string[] {
  if (addrs.some(a => /\/udx(\/|$)/.test(a))) return addrs
  const twins = addrs.flatMap(a => {
    const m = TCP_ADDRESS.exec(a)
    return m == null ? [] : [`/${m[1]}/${m[2]}/udp/${m[3]}/udx`]
  })
  return [...addrs, ...twins]
}

/**
 * The second reflector port (see `UdxInit.reflectorPort`): the UDX port plus
 * one, or any free port when the UDX port is chosen by the system. Clients
 * learn it from the relay's answers, so it needs no configuration, only an
 * open firewall.
 */
export function reflectorPortFor (listen: string[]): number {
  const port = listen.map(a => /\/udp\/(\d+)\/udx/.exec(a)?.[1]).find(p => p !== undefined)
  const n = Number(port ?? 0)
  return n > 0 && n < 65535 ? n + 1 : 0
}

export async function startRelay (config: RelayConfig, options: StartRelayOptions): Promise<Relay> {
  const startedAt = Date.now()
  const stats = new RelayStats()
  const policy = new RelayPolicy({
    maxReservations: config.maxReservations,
    reservationTtlMs: config.reservationTtlMs,
    maxStrangerReservations: Math.max(1, Math.floor(config.maxReservations * config.strangerShare)),
    maxStrangerReservationsPerIp: config.strangerReservationsPerIp,
    strangerReservationTtlMs: config.strangerReservationTtlMs,
    defaultLimit: { durationMs: config.durationLimitMs, dataBytes: config.dataLimitBytes },
    groupLimit: { durationMs: config.groupDurationLimitMs, dataBytes: config.groupDataLimitBytes },
    others: config.others,
    stats
  })
  const groups = config.groups.map(g => ({ name: g.name, publicKey: decodeGroupKey(g.publicKey)! }))

  const listen = withUdx(config.listen)
  const transports = [tcp({ maxConnections: config.maxConnections }), udx({ reflectorPort: reflectorPortFor(listen) })]
  const announce = withUdx(config.announce)
  if ([...config.listen, ...config.announce].some(a => /\/(ws|wss)(\/|$)/.test(a))) transports.push((await loadWebSockets())())

  const node: RelayNode = await createLibp2p<RelayServices>({
    privateKey: options.privateKey,
    nodeInfo: { name: 'weft-relay', version: WEFT_VERSION, userAgent: WEFT_RELAY_USER_AGENT },
    start: false,
    addresses: { listen, announce },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: policy.gater(),
    connectionManager: {
      maxConnections: config.maxConnections,
      maxIncomingPendingConnections: C.DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS
    },
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    services: {
      // identify's addresses and the reservation answer's: none with /udx, which stock peers cannot parse
      identify: hideUdxAddresses(identify()),
      ping: ping(),
      relay: hideUdxAddresses(policy.serverFactory()),
      udx: udxTools(),
      udxAddrs: udxAddrs({ share: () => true }),
      relayAuth: relayAuth({
        verifiers: [groupStatementVerifier(groups), admissionChainVerifier(groups)],
        groupLimits: { durationMs: config.groupDurationLimitMs, dataBytes: config.groupDataLimitBytes }
      })
    }
  })
  policy.bindAuth(node.services.relayAuth)
  node.services.relayAuth.addEventListener('result', (evt) => { stats.countAuth(evt.detail.result) })

  const metricsText = (): string => renderMetrics(stats, {
    reservations: policy.reservationsByClass(),
    peersConnected: node.getPeers().length,
    peersAdmitted: node.services.relayAuth.admitted,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000)
  })

  await node.start()
  let http: RelayHttp | undefined
  try {
    if (config.metricsPort !== null) {
      http = await startRelayHttp(config.metricsHost, config.metricsPort, {
        metrics: metricsText,
        healthy: () => {
          if (node.status !== 'started') return { ok: false, detail: `libp2p node is ${node.status}` }
          const n = node.getMultiaddrs().length
          return n > 0 ? { ok: true, detail: `${n} addresses, ${node.services.relay.reservations.size} reservations` } : { ok: false, detail: 'no listen addresses' }
        }
      })
    }
  } catch (err) {
    await node.stop()
    throw err
  }

  let stopping: Promise<void> | undefined
  return {
    node,
    peerId: node.peerId.toString(),
    stats,
    http,
    addresses: () => node.getMultiaddrs().map(a => a.toString()),
    metricsText,
    stop: async () => {
      stopping ??= (async () => {
        await http?.close()
        await node.stop()
      })()
      await stopping
    }
  }
}
