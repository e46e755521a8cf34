/**
 * Options of the sync service, each optional with its default named (the
 * defaults live in `constants.ts` and `../protocol/constants.ts`).
 */
import type { EncodedOp } from '../../oplog/op.js'
import type { SyncStore } from '../../protocol/port.js'
import type { PeerMembership } from '../members/member-gate.js'

/** The part of the replica's change feed the service needs: local writes to announce. */
export interface ChangeFeed {
  subscribe(listener: (event: { readonly source: 'local' | 'remote', readonly ops: readonly EncodedOp[] }) => void): (() => void) | unknown
}

/** Membership check: may `peerId` sync group `groupId` with us? */
export type Authorize = (peerId: string, groupId: string) => boolean | Promise<boolean>

export interface SyncServiceInit {
  /** The replica (or any SyncStore) this node syncs. */
  store: SyncStore
  /** Local writes to announce on the group topic; without it, call `announce()` yourself. */
  changes?: ChangeFeed
  /** @default DEFAULT_GROUP_ID ('default') */
  groupId?: string
  /**
   * Who is a member of the group, by peer id. Sessions run only with members:
   * no hello (it carries our vector) goes to anyone else, and a non-member's
   * stream gets NOT_MEMBER before anything is read from it. The node also
   * gates gossip, hole punching, discovery dials and stranger connections
   * with it. @default everyone (a node without a group)
   */
  membership?: PeerMembership
  /**
   * The group's members (device ids, ours among them), when known: an
   * announcement published straight to every one of them is not forwarded
   * (see announcer.ts). @default unknown: announcements are forwarded
   */
  members?: () => Iterable<string>
  /** Consulted on every hello; refusal ends the session with NOT_MEMBER. @default the hello names our group and `membership` admits the peer */
  authorize?: Authorize
  /** Anti-entropy period; 0 disables. @default DEFAULT_SYNC_INTERVAL_MS (30 s) */
  syncIntervalMs?: number
  /** @default DEFAULT_CONNECT_GRACE_MS (1 s) */
  connectGraceMs?: number
  /** @default DEFAULT_RETRY_MIN_MS (250 ms) */
  retryMinMs?: number
  /** @default DEFAULT_RETRY_MAX_MS (30 s) */
  retryMaxMs?: number
  /** @default DEFAULT_DIAL_TIMEOUT_MS (10 s) */
  dialTimeoutMs?: number
  /** Page bounds on direct connections. @default DEFAULT_PAGE_MAX_OPS, DEFAULT_PAGE_MAX_BYTES */
  pageMaxOps?: number
  pageMaxBytes?: number
  /** Page bounds on relayed connections. @default LIMITED_PAGE_MAX_OPS, LIMITED_PAGE_MAX_BYTES */
  limitedPageMaxOps?: number
  limitedPageMaxBytes?: number
  /** @default DEFAULT_MAX_FRAME_BYTES (4 MiB) */
  maxFrameBytes?: number
  /** @default DEFAULT_HELLO_TIMEOUT_MS */
  helloTimeoutMs?: number
  /** @default DEFAULT_READ_TIMEOUT_MS */
  readTimeoutMs?: number
  /** @default DEFAULT_WRITE_TIMEOUT_MS */
  writeTimeoutMs?: number
  /** @default DEFAULT_COMPRESSION_LEVEL */
  compressionLevel?: number
  /** Sync streams per connection. @default DEFAULT_MAX_INBOUND_SYNC_STREAMS, DEFAULT_MAX_OUTBOUND_SYNC_STREAMS */
  maxInboundStreams?: number
  maxOutboundStreams?: number
  /** @default DEFAULT_MAX_CONCURRENT_INBOUND_SESSIONS (8) */
  maxConcurrentInboundSessions?: number
  /** Announce local writes over gossipsub (needs the `pubsub` service). @default true */
  gossip?: boolean
  /** @default DEFAULT_ANNOUNCE_DELAY_MS (0: the next turn of the event loop) */
  announceDelayMs?: number
  /** How long ops seen in a peer's vector may stay missing before a session pulls them. @default DEFAULT_GAP_PULL_DELAY_MS (1 s) */
  gapPullDelayMs?: number
}
