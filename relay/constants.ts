/**
 * Defaults and wire limits of the weft relay, with units in the names. The
 * config table (`config.ts`) takes every default from here.
 */
const KiB = 1024
const MiB = 1024 * KiB
const second = 1000
const minute = 60 * second
const hour = 60 * minute

/** Log namespace (libp2p's debug logger: `DEBUG=weft:relay*`). */
export const LOG_RELAY_SERVER = 'weft:relay-server'
export const LOG_RELAY_AUTH = 'weft:relay-auth'

export const DEFAULT_LISTEN_ADDRESSES = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws']

/**
 * Reservations held at once. The js-libp2p default is 15, sized for a node
 * that relays on the side; a dedicated relay for a few households holds more.
 */
export const DEFAULT_MAX_RESERVATIONS = 128
/** How long a member's reservation lasts before the client must refresh it (the js-libp2p default). */
export const DEFAULT_RESERVATION_TTL_MS = 2 * hour

/**
 * Strangers (peers not admitted by an allowed group) hold at most this share
 * of the slots, so the rest is always there for members (who may also evict
 * strangers when every slot is taken).
 */
export const DEFAULT_STRANGER_SHARE = 0.5
/**
 * Stranger reservations from one IP (one /64 for IPv6) at once: a few devices
 * behind one NAT, not a farm of throw-away keys.
 */
export const DEFAULT_STRANGER_RESERVATIONS_PER_IP = 4
/**
 * A stranger's reservation lasts this long unless refreshed. A js-libp2p
 * client refreshes 5 minutes before expiry (at most every 30 s), so one that
 * stays keeps its slot; one that vanished without closing its connection
 * frees it this soon. (Every reservation also ends when its holder
 * disconnects.)
 */
export const DEFAULT_STRANGER_RESERVATION_TTL_MS = 10 * minute

/**
 * Limits of a relayed connection for peers not admitted by a group: the
 * circuit relay v2 defaults (2 min, 128 KiB), enough for a DCUtR handshake
 * and a small exchange, not for bulk sync.
 * https://github.com/libp2p/go-libp2p/blob/master/p2p/protocol/circuitv2/relay/resources.go
 */
export const DEFAULT_DURATION_LIMIT_MS = 2 * minute
export const DEFAULT_DATA_LIMIT_BYTES = 128 * KiB

/** Limits of a relayed connection between two peers admitted by an allowed group: long enough for a sync. */
export const DEFAULT_GROUP_DURATION_LIMIT_MS = 30 * minute
export const DEFAULT_GROUP_DATA_LIMIT_BYTES = 64 * MiB

/** Connections in total (clients with reservations, dialers, relayed streams ride on these). */
export const DEFAULT_MAX_CONNECTIONS = 1024
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 64

/** Loopback HTTP server for /metrics and /healthz. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'
export const DEFAULT_METRICS_PORT = 9464

// The relay-auth wire constants are shared with the client side (src/net/relay-auth).
export { RELAY_AUTH_PROTOCOL_NAME, RELAY_AUTH_PROTOCOL_VERSION, RELAY_AUTH_PROTOCOL, RELAY_AUTH_MAX_MESSAGE_BYTES, RELAY_AUTH_TIMEOUT_MS } from '../src/net/relay-auth/constants.js'
/** Auth streams at once per connection. */
export const RELAY_AUTH_MAX_STREAMS = 2
/** A statement whose validity starts later than this from now is refused (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = 5 * minute
/** Validity of a statement `weft-relay sign-statement` makes when `--days` is not given. */
export const DEFAULT_STATEMENT_DAYS = 30
/** A statement valid for longer than this is refused: keys leak, and there is no revocation yet. */
export const MAX_STATEMENT_VALIDITY_MS = 366 * 24 * hour

/** Config file size bound: the runtime kit's, the same as the daemon's. */
export { MAX_CONFIG_FILE_BYTES as MAX_CONFIG_BYTES } from '../src/runtime/config.js'
/** Allowed groups in one config. */
export const MAX_GROUPS = 1024

/**
 * A graceful stop (SIGINT/SIGTERM) still running after this is cut short
 * with exit code 1: below `docker stop`'s 10 s and weft-relay.service's
 * TimeoutStopSec (20 s), so the relay says why it stopped before it is
 * killed silently. A relay's stop normally takes well under a second.
 */
export const STOP_DEADLINE_MS = 8 * second
