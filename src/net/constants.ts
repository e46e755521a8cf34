/**
 * Defaults and limits of the network layer, with units in the names. Every
 * option of `createNode` and the services that has a default takes it from
 * here.
 */
import { DEFAULT_BIRTHDAY_PROBES, DEFAULT_BIRTHDAY_SOCKETS, DEFAULT_BIRTHDAY_TIMEOUT, MAX_BIRTHDAY_SOCKETS } from '../udx/constants.js'

const KiB = 1024
const MiB = 1024 * KiB
const second = 1000

/** Log namespaces. */
export const LOG_SYNC = 'weft:sync'
export const LOG_GOSSIP = 'weft:gossip'
export const LOG_RELAY = 'weft:relay'
export const LOG_DISCOVERY = 'weft:discovery'
export const LOG_MEMBERS = 'weft:members'
export const LOG_UDX = 'weft:udx-observer'
export const LOG_UDX_BIRTHDAY = 'weft:udx-birthday'
export const LOG_STRANGERS = 'weft:stranger-guard'
export const LOG_LIVENESS = 'weft:liveness'

/** mDNS service tag: weft nodes only see (and dial) each other, not every libp2p node on the LAN. */
export const DEFAULT_MDNS_SERVICE_TAG = '_weft._udp.local'
/** mDNS query interval. */
export const DEFAULT_MDNS_INTERVAL_MS = 10 * second

export const DEFAULT_GROUP_ID = 'default'
/** TCP, plus the one UDX socket that listens, dials, punches and asks reflectors for its public mapping. */
export const DEFAULT_LISTEN_ADDRESSES = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/udx']

/** Connections in total before libp2p prunes. */
export const DEFAULT_MAX_CONNECTIONS = 64
/** Connections still in the handshake, inbound. */
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 16
export const DEFAULT_DIAL_TIMEOUT_MS = 10 * second

/** Relayed connections that may run through one relay connection at once (libp2p's default is 300). */
export const DEFAULT_MAX_RELAYED_CONNECTIONS_PER_RELAY = 16

/** Sync streams per connection and protocol; more are reset by libp2p. */
export const DEFAULT_MAX_INBOUND_SYNC_STREAMS = 2
export const DEFAULT_MAX_OUTBOUND_SYNC_STREAMS = 2
/** Inbound sessions at once across all peers; more are refused (the peer retries later). */
export const DEFAULT_MAX_CONCURRENT_INBOUND_SESSIONS = 8
/** Inbound sessions at once from one peer. */
export const MAX_INBOUND_SESSIONS_PER_PEER = 2
/** A non-member's sync stream gets one NOT_MEMBER frame; we wait this long for it to leave, then reset the stream. */
export const NOT_MEMBER_REPLY_TIMEOUT_MS = 2 * second

/** Anti-entropy: a session with a random connected peer this often. */
export const DEFAULT_SYNC_INTERVAL_MS = 30 * second
/**
 * On a new connection the dialer starts the session at once; the dialed side
 * waits this long and starts one only if none has begun, so the two do not
 * pull the same ops twice.
 */
export const DEFAULT_CONNECT_GRACE_MS = 1 * second
/** After a cut or unfinished session, retry after this, doubling (with jitter) up to the maximum. */
export const DEFAULT_RETRY_MIN_MS = 250
export const DEFAULT_RETRY_MAX_MS = 30 * second
/** Consecutive failed retries (no connection) after which we wait for a new connection instead. */
export const MAX_RETRY_ATTEMPTS = 12

/**
 * Pages on relayed ("limited") connections. A stock js relay resets a relayed
 * connection after 128 KiB in both directions together, counted on encrypted
 * bytes, so pages must be a small fraction of that for any to get through.
 * https://github.com/libp2p/specs/blob/master/relay/circuit-v2.md#reservation
 */
export const LIMITED_PAGE_MAX_BYTES = 16 * KiB
export const LIMITED_PAGE_MAX_OPS = 400
/**
 * A relayed connection whose remaining data budget is at least this large
 * (weft-relay gives its groups' members 64 MiB) is paged like a direct one:
 * small pages there only cost round trips, and cut large values into
 * fragments for nothing. libp2p reports the budget live (`conn.limits.bytes`).
 */
export const SMALL_PAGES_BELOW_RELAY_BYTES = 8 * MiB

/** Stream adapter: pause a sync stream with this much unread, and wait when this much is unsent. */
export const DEFAULT_READ_HIGH_WATER_BYTES = 1 * MiB
export const DEFAULT_WRITE_HIGH_WATER_BYTES = 1 * MiB
/** yamux receive window ceiling per stream (default 16 MiB): what a paused stream can still be sent. */
export const DEFAULT_MAX_STREAM_WINDOW_BYTES = 2 * MiB
/** Read buffer of a paused stream before libp2p resets it (above the window, so a well-behaved peer never hits it). */
export const DEFAULT_MAX_STREAM_READ_BUFFER_BYTES = 3 * MiB
/** Idle streams are closed after this (libp2p's default is 120 s). */
export const DEFAULT_STREAM_INACTIVITY_TIMEOUT_MS = 60 * second
/** Streams per connection in yamux (default 1000). */
export const DEFAULT_MAX_MUXED_STREAMS = 128

/**
 * Local writes are gathered this long and announced together after a quiet
 * spell: 0, the next turn of the event loop (writes committed in the same
 * turn go together). While writes keep coming, the interval below gathers
 * them. With ten devices this took about 5 ms off the fan-out of a lone
 * write against a 5 ms delay, at no measurable CPU cost under load
 * (docs/performance.md, group section).
 */
export const DEFAULT_ANNOUNCE_DELAY_MS = 0
/**
 * While writes keep coming, announcements leave at most this often: each one
 * costs every receiver a signature check, a transaction and the libp2p
 * stack's per-message work (measured: a few ms of CPU per message per device
 * on a small machine) whatever it carries, so under load fewer, fuller ones
 * cost the group much less. A write after a quiet spell still leaves at once
 * (DEFAULT_ANNOUNCE_DELAY_MS).
 */
export const DEFAULT_ANNOUNCE_MIN_INTERVAL_MS = 100
/**
 * The interval grows with the members an announcement reaches: each one
 * costs every recipient its per-message work, so a writer's cost to the
 * group stays about the same whatever the group's size. This much per
 * recipient of the last announcement, from DEFAULT_ANNOUNCE_MIN_INTERVAL_MS
 * (up to four recipients) to DEFAULT_ANNOUNCE_MAX_INTERVAL_MS (eight and
 * more). Measured with ten devices all writing (`npm run bench:group`): 200 ms
 * instead of 100 cut the group's CPU by about a third and the write p95 with
 * it (docs/performance.md).
 */
export const DEFAULT_ANNOUNCE_INTERVAL_PER_RECIPIENT_MS = 25
/** The longest a write waits for the next announcement while writes keep coming. */
export const DEFAULT_ANNOUNCE_MAX_INTERVAL_MS = 200
/**
 * Writes come faster than the interval when one announcement gathered at
 * least this many of them (each local transaction is one write). The next
 * announcement then waits for the busy interval instead.
 */
export const ANNOUNCE_BUSY_MIN_WRITES = 2
/**
 * The busy interval, per recipient of the last announcement, and its
 * maximum: while writes keep coming faster than the interval, fewer and
 * fuller announcements keep the group's CPU low enough that writes stay
 * fast. Measured with ten devices all writing (`npm run bench:group`), a
 * 500 ms busy interval cut the group's CPU per op by more than half and the
 * write p95 with it, against 200 ms (docs/performance.md). A lone write, or
 * writes spaced more than the interval apart (one per announcement), still
 * leave at the normal interval.
 */
export const DEFAULT_ANNOUNCE_BUSY_INTERVAL_PER_RECIPIENT_MS = 60
export const DEFAULT_ANNOUNCE_BUSY_MAX_INTERVAL_MS = 500
/**
 * After a session brought it ops, a node announces its vector (no ops) once
 * this long after, unless an announcement of its own writes carried it
 * meanwhile: a neighbour that lacks those ops (a line A - B - C) pulls them.
 * Not after ops that came by gossip: their announcement reached every
 * neighbour already, and in a group of ten one such vector per receiver
 * tripled the messages a lone writer caused. Also this long after a peer
 * subscribes to the group's topic: it was sent nothing we announced before.
 */
export const DEFAULT_VECTOR_ANNOUNCE_DELAY_MS = 500
/** Announcements received and waiting to be applied, in bytes; past this their ops are left for a pull. */
export const MAX_QUEUED_ANNOUNCEMENT_BYTES = 16 * MiB

/**
 * Gaps (see sync/gap-tracker.ts): a vector seen ahead of ours is left to gossip
 * this long before a session pulls the difference; a pull that applied
 * nothing for DEFAULT_PULL_STALL_MS lets another peer serve its gaps, and a
 * pull that left its gap open is followed by another after
 * DEFAULT_GAP_RETRY_MS. Sightings of one origin within GAP_COALESCE_MS share
 * one entry, and an origin keeps at most MAX_GAP_ENTRIES_PER_ORIGIN.
 */
export const DEFAULT_GAP_PULL_DELAY_MS = 1 * second
/**
 * Announced ops that arrive ahead of what we hold are held this long, at most
 * this many and this many bytes, to be applied once the ops before them
 * arrive (see sync/holdback.ts). As long as the gap delay: the pull for the
 * missing ops starts when the hold expires.
 */
export const DEFAULT_HOLD_MS = DEFAULT_GAP_PULL_DELAY_MS
export const DEFAULT_HOLD_MAX_OPS = 20_000
export const DEFAULT_HOLD_MAX_BYTES = 8 * MiB
export const DEFAULT_PULL_STALL_MS = 5 * second
export const DEFAULT_GAP_RETRY_MS = 500
export const GAP_COALESCE_MS = 50
export const MAX_GAP_ENTRIES_PER_ORIGIN = 32
/** Pulls for gaps running at once (each with another peer). */
export const MAX_CONCURRENT_PULLS = 2
/**
 * Announcements carry ops up to this size (before compression); beyond it only
 * the vector, and receivers pull. Gossip goes to relayed peers too, and a stock
 * relay cuts a relayed connection after 128 KiB in all: an announcement near
 * that size would cut it by itself, so large values travel by pull (in
 * fragments there) and announcements stay a small share of the budget.
 */
export const DEFAULT_ANNOUNCE_MAX_OPS_BYTES = 16 * KiB
/**
 * Announcements whose ops take less than this are sent uncompressed: every
 * receiver would inflate each one (tens of µs of zlib set-up apiece), and on
 * a LAN or a member relay the bytes saved are worth less than that CPU.
 */
export const DEFAULT_ANNOUNCE_MIN_COMPRESS_BYTES = 16 * KiB
/** Largest gossip message we accept. */
export const DEFAULT_GOSSIP_MAX_MESSAGE_BYTES = 512 * KiB
/** Ops a single announcement may inflate to. */
export const DEFAULT_ANNOUNCE_MAX_INFLATED_BYTES = 1 * MiB
/**
 * The announcement topic is `/weft/ops/<sync wire version>/<tag>`, where tag
 * is the first ANNOUNCE_TOPIC_TAG_BYTES of SHA-256(ANNOUNCE_TOPIC_DOMAIN, 0,
 * group id), in hex: the wire never names the group, and nodes whose
 * announcements could not be read by each other are on different topics.
 */
export const ANNOUNCE_TOPIC_PREFIX = '/weft/ops/'
export const ANNOUNCE_TOPIC_DOMAIN = 'weft/announce-topic/v1'
export const ANNOUNCE_TOPIC_TAG_BYTES = 16
/**
 * Gossipsub's application score of a non-member (times the default weight of
 * 10): far below the graylist threshold (-80), so even if one reached the
 * router it would get no message, no gossip and no mesh slot. The registrar
 * gate (members/member-gate.ts) is what keeps them out; this is the second layer.
 */
export const NON_MEMBER_GOSSIP_SCORE = -1_000

/** Connected non-members that gated services remember, to tell them about the peer if it becomes a member. */
export const MAX_WITHHELD_PEERS = 256
/**
 * Streams non-members opened on members-only protocols, held unread across
 * the node (more are reset), and the read buffer each may fill before it is
 * reset. The stranger guard closes their connections within seconds anyway.
 */
export const MAX_PARKED_STREAMS = 32
export const PARKED_STREAM_READ_BUFFER_BYTES = 64 * KiB

/**
 * A gated service that keeps one long-lived outbound stream per peer
 * (gossipsub) is told about a connected member again when that stream
 * closes and the member is still connected (members/member-gate.ts): at once
 * the first time, then at most once per this interval per member, so a
 * member that keeps closing our streams costs one stream per interval.
 */
export const RETELL_MIN_INTERVAL_MS = 1 * second

/**
 * Liveness (liveness.ts): every open connection gets a yamux ping this often,
 * as libp2p's connection monitor (which it replaces) pings by default, and is
 * aborted when the answer does not come within the adaptive timeout, which
 * is at least DEFAULT_LIVENESS_MIN_TIMEOUT_MS (the monitor's minimum too).
 */
export const DEFAULT_LIVENESS_INTERVAL_MS = 10 * second
export const DEFAULT_LIVENESS_MIN_TIMEOUT_MS = 5 * second

/**
 * Stranger guard: a non-member's connection (not a configured relay or peer,
 * carrying none of our relayed connections) is closed this long after it
 * opened, unless a pairing stream is open on it then; it is checked again
 * each grace period and closed at the latest after DEFAULT_STRANGER_MAX_MS
 * (a pairing exchange takes at most 30 s: DEFAULT_PAIRING_TIMEOUT_MS).
 */
export const DEFAULT_STRANGER_GRACE_MS = 10 * second
export const DEFAULT_STRANGER_MAX_MS = 60 * second
/** Non-member connections held at once; a new one beyond this is closed at once. */
export const DEFAULT_MAX_STRANGER_CONNECTIONS = 8

/** Relays: check the connection and reservation this often; redial with backoff between these bounds. */
export const DEFAULT_RELAY_CHECK_INTERVAL_MS = 5 * second
export const DEFAULT_RELAY_BACKOFF_MIN_MS = 500
export const DEFAULT_RELAY_BACKOFF_MAX_MS = 30 * second

/**
 * Members whose connection dropped are redialled (members/member-dialer.ts): after a
 * failed attempt, from the minimum doubling to the maximum, with jitter. The
 * maximum bounds how long a healed partition goes unnoticed when nothing else
 * (mDNS, a dial from the other side) says so; an attempt costs a few dials,
 * most of them failing at once.
 */
export const DEFAULT_REDIAL_MIN_MS = 500
export const DEFAULT_REDIAL_MAX_MS = 10 * second
/** Of two members that lose their connection, the one with the larger id waits this long before redialling. */
export const DEFAULT_REDIAL_YIELD_MS = 1 * second
/** Within an attempt, the next address is dialled alongside the running ones after this long (or at once when one fails). */
export const DEFAULT_DIAL_STAGGER_MS = 250
/** One address of an attempt (libp2p's own is 6 s). */
export const DEFAULT_ADDRESS_DIAL_TIMEOUT_MS = 5 * second
/** Addresses dialled at once in one attempt, and in all per attempt. */
export const MAX_PARALLEL_ADDRESS_DIALS = 3
export const MAX_ADDRESSES_PER_ATTEMPT = 8
/** How often the dialer looks for members neither connected nor scheduled (a member just admitted, say). */
export const DEFAULT_MEMBER_CHECK_INTERVAL_MS = 5 * second

/** Discovered peers dialed at once; more wait for the next discovery event. */
export const MAX_PARALLEL_DISCOVERY_DIALS = 4
/** Discovered non-members remembered, to dial them if they become members (libp2p does not rediscover a known peer). */
export const MAX_DISCOVERED_NON_MEMBERS = 256

/**
 * UDX observed address: ask the reflectors again this often. Below the 30 s
 * Linux conntrack timeout for unreplied UDP (nf_conntrack_udp_timeout), so the
 * request also keeps the NAT mapping of the socket alive.
 */
export const DEFAULT_UDX_OBSERVE_REFRESH_MS = 20 * second
export const DEFAULT_UDX_OBSERVE_TIMEOUT_MS = 3 * second
/**
 * Punch datagrams sent to a peer identified over a relayed connection, and the
 * pause between them: they cover the first second of DCUtR, when the peer's
 * unilateral dial retransmits its HELLO (100, 200, 400 ms...).
 */
export const DEFAULT_UDX_RELAYED_PUNCH_COUNT = 10
export const DEFAULT_UDX_RELAYED_PUNCH_INTERVAL_MS = 100
/**
 * IP TTL of those punches: enough to leave our own NAT (a home router is hop 1)
 * and expire before the peer's NAT, which an early datagram would poison (see
 * `PunchOptions.ttl` in src/udx/endpoint.ts).
 */
export const DEFAULT_UDX_RELAYED_PUNCH_TTL = 2
/**
 * Our own dials to that peer wait this long: DCUtR's unilateral dial starts the
 * moment identify completes, often before the peer's punch opened its NAT
 * (seen in the lab: 9 ms ahead, and then no direct path). One relayed round
 * trip is enough; this allows for slow relays.
 */
export const DEFAULT_UDX_RELAYED_DIAL_HOLD_MS = 300

/** Birthday punching over a relayed connection (nat/udx-birthday.ts): `/weft/udx-birthday/1.0.0`. */
export const UDX_BIRTHDAY_PROTOCOL = '/weft/udx-birthday/1.0.0'
/** Sockets of the side behind the randomizing NAT, probes of the other side, and how long the sockets wait. */
export const DEFAULT_UDX_BIRTHDAY_SOCKETS = DEFAULT_BIRTHDAY_SOCKETS
export const MAX_UDX_BIRTHDAY_SOCKETS = MAX_BIRTHDAY_SOCKETS
export const DEFAULT_UDX_BIRTHDAY_PROBES = DEFAULT_BIRTHDAY_PROBES
export const DEFAULT_UDX_BIRTHDAY_TIMEOUT_MS = DEFAULT_BIRTHDAY_TIMEOUT
/** On top of that timeout, for the messages over the relay. */
export const UDX_BIRTHDAY_EXCHANGE_TIMEOUT_MS = 5 * second
/** A message is a few dozen bytes. */
export const MAX_UDX_BIRTHDAY_MESSAGE_BYTES = 512
/** Peers we probe for at once. */
export const MAX_CONCURRENT_UDX_BIRTHDAY_PROBES = 1
/** Attempts with one peer (either role) per window: each relayed connection tries once, a flapping one is capped. */
export const MAX_UDX_BIRTHDAY_ATTEMPTS_PER_PEER = 3
export const UDX_BIRTHDAY_ATTEMPT_WINDOW_MS = 60 * second
