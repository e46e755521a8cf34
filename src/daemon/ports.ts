/**
 * The ports of the daemon: what the composition root needs from the network
 * layer, declared here so that the daemon, the network wiring (network.ts),
 * the metrics writer and recovery all depend on this file and none on another.
 */
import type { Invite } from '../auth/invite.js'
import type { Joined } from '../auth/pairing.js'
import type { DeviceKey } from '../oplog/keys.js'
import type { Replica } from '../store/replica.js'
import type { DaemonConfig } from './config.js'
import type { Logger } from '../runtime/log.js'
import type { Check, IncomingRun, PeerBookResponse, PeerView, RelayView, SyncResult } from './api-types.js'

export type { Check }

/** What the daemon needs from the network layer; absent until it is started. */
export interface Network {
  readonly peerId: string
  addresses(): string[]
  peers(): Promise<PeerView[]>
  syncNow(peer?: string, signal?: AbortSignal): Promise<SyncResult | SyncResult[]>
  metrics(): NetworkMetrics
  /** Where a joiner can reach us, for invite codes. */
  inviteAddresses(): string[]
  /** Relay connection and reservation state. */
  relays?(): RelayView[]
  /** The peer book and the member dialer's last attempts, for `weft peers --verbose`. */
  peerBook?(): PeerBookResponse
  /** Runs partly received in fragments, for `weft status`. */
  incoming?(): IncomingRun[]
  /** Network checks for `weft doctor`. */
  doctor?(): Promise<Check[]>
  /** The joiner's side of pairing. */
  join(invite: Invite, name: string, signal?: AbortSignal): Promise<Joined>
  stop(): Promise<void>
}

export interface NetworkMetrics {
  peers: { direct: number, relayed: number }
  opsSent: number
  opsReceived: number
  /** Announced ops that arrived ahead of what this node held and were pulled by a session instead. */
  opsDeferred: number
  sessions: number
  sessionErrors: number
  lastSyncAt: number | undefined
  /** Sessions by who opened them, and streams that crossed a session the peer opened at the same time (no error). */
  sessionsOutbound: number
  sessionsInbound: number
  sessionsCrossed: number
  /** Ops sent and applied, by path: in sync sessions or in announcements. */
  opsSentInSessions: number
  opsSentInAnnouncements: number
  opsAppliedFromSessions: number
  opsAppliedFromAnnouncements: number
  /** Announced ops that arrived out of order and were held until the ops before them came. */
  opsHeld: number
  /** Announcements published again, unmarked for forwarding, because the flood publish missed a subscribed member. */
  announcementsRepublished: number
}

export type NetworkFactory = (replica: Replica, config: DaemonConfig, log: Logger, deviceKey: DeviceKey, extraPeers?: string[]) => Promise<Network>
