/**
 * weft's network layer: a js-libp2p 3 node that keeps a replica in sync with
 * the other devices of its group. `createNode` builds it; the sync service
 * (`node.services.sync`) runs sessions and exposes per-peer state.
 */
export { createNode, type WeftNode, type WeftServices } from './node.js'
export { checkNodeConfig, type NodeConfig } from './config.js'
export { weftSync, DefaultSyncService, type SyncService, type SyncServiceComponents, type SyncServiceEvents, type SyncSessionEvent, type SessionCause, type AnnounceAppliedEvent } from './sync/sync-service.js'
export type { SyncServiceInit, ChangeFeed, Authorize } from './sync/sync-options.js'
export type { PeerSyncState, PeerSyncError, SyncTotals } from './sync/peer-state.js'
export { relayKeeper, type RelayKeeper, type RelayKeeperInit, type RelayStatus } from './nat/relay-keeper.js'
export { relayAuthClient, authenticateToRelay, ADMISSION_CHAIN_SCHEME, encodeAdmissionChain, type RelayAuthClient, type RelayAuthClientInit, type RelayAuthOutcome, type RelayAuthResult, type RelayCredential } from './relay-auth/index.js'
export { discoveryDialer, type DiscoveryDialerInit } from './members/discovery-dialer.js'
export { Announcer, announceTopic, versionMismatch } from './sync/announcer.js'
export { MemberGate, EVERYONE, NotMemberStreamError, type PeerMembership } from './members/member-gate.js'
export { strangerGuard, type StrangerGuard, type StrangerGuardInit } from './members/stranger-guard.js'
export { liveness, PingTimeoutError, type Liveness, type LivenessInit } from './liveness.js'
export { memberDialer, NoAddressError, DialFailedError, type MemberDialer, type MemberDialerInit, type KeptPeerStatus, type AttemptOutcome } from './members/member-dialer.js'
export { MemoryPeerBook, classifyAddress, rankAddresses, dialFailure, whyUnreachable, type Unreachable, type PeerBook, type BookEntry, type BookAddress, type AddressKind, type DialFailure } from './members/peer-book.js'
export { udxObserver, type UdxObserver, type UdxObserverInit, type UdxObserverComponents, type NatMapping } from './nat/udx-observer.js'
export { udxBirthday, type UdxBirthday, type UdxBirthdayInit, type UdxBirthdayComponents, type BirthdayOutcome } from './nat/udx-birthday.js'
export { streamChannel, type StreamChannelOptions } from './stream-channel.js'
export * as netConstants from './constants.js'
