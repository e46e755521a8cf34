/**
 * Builds a weft node: a js-libp2p 3 peer whose identity is the device key,
 * running the sync service and the transports and services it needs.
 *
 * Stack: TCP and UDX (UDP, one socket: see src/udx), Noise, yamux; identify (+push, so peers learn a new relayed
 * address), ping; gossipsub for announcements; circuit relay v2 transport
 * (reservations kept by the relay keeper, see `nat/relay-keeper.ts`); DCUtR to
 * upgrade relayed connections, fed with the public UDX mapping the relays
 * reflect (`nat/udx-observer.ts`) so that it can punch through NATs, and birthday
 * punching when one NAT randomizes ports (`nat/udx-birthday.ts`); UPnP on desktops; mDNS with a weft-only
 * service tag plus a dialer for what it finds (libp2p 3 does not auto-dial); the member dialer keeps
 * members and configured peers connected, redialling them from the peer book (`members/member-dialer.ts`).
 *
 * What a stock libp2p peer sees: identify, identify-push, the signed peer
 * record and mDNS answers list no `/udx` address (its private multiaddr code
 * would make a stock peer's identify fail), and identify's agentVersion is
 * `weft/<version>`. UDX addresses go over `/weft/udx-addrs/1.0.0` instead, to
 * members only; the node learns them from those peers and
 * from its relays (see src/udx/addrs-service.ts).
 *
 * Every limit libp2p leaves open is set here: connections in total and in
 * handshake, streams per connection, per-stream window and buffers, stream
 * inactivity, gossip message size and topics.
 *
 * Membership (`membership`, by peer id) decides who gets group data: sync
 * runs only with members, gossipsub, DCUtR and birthday punching see only
 * members through a gated registrar (members/member-gate.ts), mDNS finds are dialed
 * only when they are members, and the stranger guard closes non-member
 * connections that do not pair. A non-member may connect, identify, ping and
 * pair. The connection gater (the daemon's refuses revoked devices) is the
 * caller's.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { identify, identifyPush, type Identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { createLibp2p, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import '../polyfill.js'
import { PAIRING_PROTOCOL_ID } from '../auth/constants.js'
import { announceTopic } from './sync/announcer.js'
import { checkNodeConfig, type NodeConfig } from './config.js'
import * as C from './constants.js'
import { discoveryDialer } from './members/discovery-dialer.js'
import { fastMessageId, GOSSIP_IDONTWANT_MIN_BYTES, GOSSIP_MESH, GOSSIP_TOPIC_SCORE, withCachedSigning } from './sync/gossip-tuning.js'
import { MemberGate } from './members/member-gate.js'
import { memberDialer, type MemberDialer } from './members/member-dialer.js'
import { parseRelayAddress, relayKeeper, type RelayKeeper } from './nat/relay-keeper.js'
import { relayAuthClient, type RelayAuthClient } from './relay-auth/client.js'
import { strangerGuard, type StrangerGuard } from './members/stranger-guard.js'
import { liveness, type Liveness } from './liveness.js'
import { weftSync, type SyncService } from './sync/sync-service.js'
import { udxBirthday, type UdxBirthday } from './nat/udx-birthday.js'
import { udxObserver, type UdxObserver } from './nat/udx-observer.js'
import { hideUdxAddresses, udx, udxAddrs, udxTools, type PeerPredicate, type UdxAddrs, type UdxTools } from '../udx/index.js'
import { WEFT_USER_AGENT, WEFT_VERSION } from '../version.js'

export type { NodeConfig } from './config.js'

export interface WeftServices {
  /** The node's membership predicate and the gate of members-only services. */
  members: MemberGate
  /** Closes idle non-member connections; absent on a node without a group (`membership` not given). */
  strangerGuard?: StrangerGuard
  identify: Identify
  ping: Ping
  /** Pings every connection on its muxer and aborts one that does not answer (instead of libp2p's connection monitor). */
  liveness: Liveness
  pubsub: GossipSub
  sync: SyncService
  relays: RelayKeeper
  /** Proves the group to the configured relays on each connection to them (relay-auth/). */
  relayAuth: RelayAuthClient
  memberDialer: MemberDialer
  udx: UdxTools
  udxAddrs: UdxAddrs
  udxObserver: UdxObserver
  /** Absent when hole punching is off (`dcutr: false`). */
  udxBirthday?: UdxBirthday
  [name: string]: unknown
}

export type WeftNode = Libp2p<WeftServices>

export async function createNode (config: NodeConfig): Promise<WeftNode> {
  checkNodeConfig(config)
  const groupId = config.groupId ?? C.DEFAULT_GROUP_ID
  const topic = announceTopic(groupId)
  const {
    privateKey: _key, store, listen, announce, relays, peers, mdns: useMdns, mdnsServiceTag, mdnsIntervalMs, upnp, dcutr: useDcutr,
    maxConnections, connectionGater, relayCheckIntervalMs, livenessIntervalMs, livenessTimeoutMs, start, logger, membership, strangerGraceMs, peerBook,
    members: memberList, relayCredential,
    ...syncInit
  } = config
  const members = new MemberGate(membership)

  // Whom we tell our UDX addresses: members. Whom we learn them from: members, and our relays (reflectors).
  const shareUdx: PeerPredicate = peer => members.isMember(peer)
  const relayIds = new Set((relays ?? []).map(r => parseRelayAddress(r).peerId.toString()))

  const services: ServiceFactoryMap<WeftServices> = {
    // /udx addresses never go to stock peers: they cannot parse them (see src/udx/hide-addresses.ts)
    identify: hideUdxAddresses(identify()),
    identifyPush: hideUdxAddresses(identifyPush()),
    ping: ping(),
    liveness: liveness({
      ...(livenessIntervalMs === undefined ? {} : { intervalMs: livenessIntervalMs }),
      ...(livenessTimeoutMs === undefined ? {} : { minTimeoutMs: livenessTimeoutMs })
    }),
    pubsub: members.gated(gossipsub({
      allowPublishToZeroTopicPeers: true,
      fallbackToFloodsub: false,
      emitSelf: false,
      runOnLimitedConnection: true,
      allowedTopics: [topic],
      // Duplicates are dropped before their signature is checked again (see sync/gossip-tuning.ts).
      fastMsgIdFn: fastMessageId,
      ...GOSSIP_MESH,
      idontwantMinDataSize: GOSSIP_IDONTWANT_MIN_BYTES,
      maxInboundDataLength: C.DEFAULT_GOSSIP_MAX_MESSAGE_BYTES,
      maxOutboundBufferSize: 4 * C.DEFAULT_GOSSIP_MAX_MESSAGE_BYTES,
      scoreParams: {
        // By default no topic is scored; ours as gossip-tuning.ts says (invalid announcements cost the forwarder, no mesh-delivery quota).
        topics: { [topic]: createTopicScoreParams(GOSSIP_TOPIC_SCORE) },
        // Second layer behind the gate: a non-member would be graylisted (no message, gossip or mesh slot).
        appSpecificScore: peer => members.isMember(peer) ? 0 : C.NON_MEMBER_GOSSIP_SCORE
      }
    }), { streamPerPeer: true }) as ServiceFactoryMap<WeftServices>['pubsub'],
    sync: weftSync({ ...syncInit, membership: members, ...(memberList === undefined ? {} : { members: memberList }), store, ...(typeof store.subscribe === 'function' ? { changes: store as Required<typeof store> } : {}) }),
    // A service for its lifecycle only (it follows membership changes while started); the gated services hold it directly.
    members: () => members,
    relays: relayKeeper({ relays: relays ?? [], ...(relayCheckIntervalMs === undefined ? {} : { checkIntervalMs: relayCheckIntervalMs }) }),
    // A relay grants the group's long limits once the device proves membership (relay-auth/client.ts).
    relayAuth: relayAuthClient({ relays: relayIds, ...(relayCredential === undefined ? {} : { credential: relayCredential }) }),
    memberDialer: memberDialer({
      peers: peers ?? [],
      relays: relays ?? [],
      ...(memberList === undefined ? {} : { members: memberList }),
      ...(peerBook === undefined ? {} : { book: peerBook }),
      ...(syncInit.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: syncInit.dialTimeoutMs })
    }),
    udx: udxTools(),
    udxAddrs: udxAddrs({ share: shareUdx, learnFrom: async (peer) => relayIds.has(peer.toString()) || await shareUdx(peer) }),
    // The relays reflect our UDX mapping; DCUtR then offers it (see nat/udx-observer.ts).
    udxObserver: udxObserver({ reflectors: [...relayIds] })
  }
  if (useDcutr !== false) {
    // Punching (our addresses, probes to a peer's IP) is for members only.
    services.dcutr = members.gated(dcutr())
    // Behind a port-randomizing NAT punching needs the birthday method; its probes go only to members' IPs.
    services.udxBirthday = members.gated(udxBirthday({ authorize: peer => members.isMember(peer) }))
  }
  if (!members.open) {
    const keep = [...(relays ?? []).map(r => parseRelayAddress(r).peerId.toString()), ...(peers ?? []).map(peerIdOf).filter((id): id is string => id !== null)]
    services.strangerGuard = strangerGuard({
      membership: members,
      keep,
      keepWhileStreaming: [PAIRING_PROTOCOL_ID],
      ...(strangerGraceMs === undefined ? {} : { graceMs: strangerGraceMs })
    })
  }
  // Auto-confirm the mapped address: otherwise upnp-nat needs @libp2p/autonat to verify it and never advertises it.
  if (upnp !== false) services.upnp = uPnPNAT({ autoConfirmAddress: true })
  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = []
  if (useMdns !== false) {
    const discovery = hideUdxAddresses(mdns({
      serviceTag: mdnsServiceTag ?? C.DEFAULT_MDNS_SERVICE_TAG,
      interval: mdnsIntervalMs ?? C.DEFAULT_MDNS_INTERVAL_MS
    }))
    peerDiscovery.push(components => {
      const found = discovery(components)
      // libp2p reports only peers new to its address book; every answer tells the member dialer a known member is back.
      found.addEventListener('peer', evt => {
        try { (components as { memberDialer?: MemberDialer }).memberDialer?.sighted(evt.detail.id, evt.detail.multiaddrs) } catch {}
      })
      return found
    })
    services.discoveryDialer = discoveryDialer({
      membership: members,
      ...(syncInit.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: syncInit.dialTimeoutMs })
    })
  }

  const node = await createLibp2p<WeftServices>({
    privateKey: withCachedSigning(privateKeyFromRaw(config.privateKey)),
    nodeInfo: { name: 'weft', version: WEFT_VERSION, userAgent: WEFT_USER_AGENT },
    start: false,
    addresses: { listen: listen ?? C.DEFAULT_LISTEN_ADDRESSES, announce: announce ?? [] },
    transports: [
      tcp({ maxConnections: maxConnections ?? C.DEFAULT_MAX_CONNECTIONS }),
      // public UDX addresses only while punching: a stray HELLO poisons the peer's NAT (see UdxInit)
      udx({ publicDialsNeedPunch: true }),
      circuitRelayTransport({
        maxInboundStopStreams: C.DEFAULT_MAX_RELAYED_CONNECTIONS_PER_RELAY,
        maxOutboundStopStreams: C.DEFAULT_MAX_RELAYED_CONNECTIONS_PER_RELAY,
        // One reservation at a time (the default) never makes the second relay's: with two relays
        // configured, a stock node hangs in start() and weft held a reservation on one relay only.
        reservationConcurrency: Math.max(1, relays?.length ?? 0)
      })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({
      // The liveness service pings every connection on its muxer (see liveness.ts).
      enableKeepAlive: false,
      maxInboundStreams: C.DEFAULT_MAX_MUXED_STREAMS,
      maxOutboundStreams: C.DEFAULT_MAX_MUXED_STREAMS,
      streamOptions: {
        maxStreamWindowSize: C.DEFAULT_MAX_STREAM_WINDOW_BYTES,
        maxReadBufferLength: C.DEFAULT_MAX_STREAM_READ_BUFFER_BYTES,
        inactivityTimeout: C.DEFAULT_STREAM_INACTIVITY_TIMEOUT_MS
      }
    })],
    // Replaced by the liveness service: the same pings, as yamux frames instead of a stream each (see liveness.ts).
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: maxConnections ?? C.DEFAULT_MAX_CONNECTIONS,
      maxIncomingPendingConnections: C.DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
      dialTimeout: syncInit.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS
    },
    ...(connectionGater === undefined ? {} : { connectionGater }),
    ...(logger === undefined ? {} : { logger }),
    peerDiscovery,
    services
  })

  // A peer whose sync hello we accepted is one of ours: without a member list, that is how the dialer learns whom to keep.
  node.services.sync.addEventListener('session:end', e => {
    if (e.detail.result.remoteVector !== undefined) node.services.memberDialer.proved(peerIdFromString(e.detail.peerId))
  })
  if (start !== false) await node.start()
  return node
}

/** The peer id at the end of a multiaddr, or null. */
function peerIdOf (address: string): string | null {
  return multiaddr(address).getComponents().findLast(c => c.name === 'p2p')?.value ?? null
}
