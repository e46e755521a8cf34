/**
 * Defaults and wire limits of the UDX transport, in one place, with units in
 * the names. Every option of `udx(init)` falls back to one of these.
 */

const second = 1000
const KiB = 1024
const MiB = 1024 * KiB

/**
 * Multiaddr protocol code of `/udx`. It is taken from the multicodec
 * private-use range 0x300000–0x3fffff
 * (https://github.com/multiformats/multicodec/blob/master/table.csv), so it can
 * never clash with a registered protocol; 0x7564 is "ud" in ASCII.
 */
export const UDX_PROTOCOL_CODE = 0x307564
export const UDX_PROTOCOL_NAME = 'udx'

/** Whole dial: handshake plus Noise and yamux negotiation. */
export const DEFAULT_DIAL_TIMEOUT = 5 * second

/** HELLO until ACK. A closed port answers nothing, so this is how long such a dial takes to fail. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 3 * second

/** First HELLO retransmit; doubles up to `MAX_HELLO_RETRY_INTERVAL`. */
export const INITIAL_HELLO_RETRY_INTERVAL = 100
export const MAX_HELLO_RETRY_INTERVAL = 1 * second

/** Socket send and receive buffers. The kernel defaults drop packets at loopback speed. */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * MiB

/** UDX streams (connections, pending or not) one socket carries at most. */
export const DEFAULT_MAX_CONNECTIONS = 1024

/** Inbound handshakes answered but not yet upgraded, in total and from one IP. */
export const DEFAULT_MAX_PENDING_INBOUND = 64
export const DEFAULT_MAX_PENDING_INBOUND_PER_HOST = 8

/** A RETRY cookie is valid for this long at least (and twice this at most). */
export const COOKIE_LIFETIME = 10 * second

/** Outbound dials waiting for an ACK at once. */
export const DEFAULT_MAX_PENDING_DIALS = 256

/** Answers (ACK, address reports) sent per second at most: a cap on reflection. */
export const DEFAULT_MAX_REPLIES_PER_SECOND = 2000

/** Punch datagrams per `punch()` call, the pause between them, and the hard cap. */
export const DEFAULT_PUNCH_COUNT = 5
export const DEFAULT_PUNCH_INTERVAL = 20
export const MAX_PUNCH_COUNT = 100

/** "What is my address?" requests: overall timeout, retry interval, concurrent requests. */
export const DEFAULT_OBSERVE_TIMEOUT = 3 * second
export const OBSERVE_RETRY_INTERVAL = 250
export const MAX_PENDING_OBSERVATIONS = 32

/** Graceful close of a stream (FIN exchanged) before it is destroyed. */
export const DEFAULT_CLOSE_TIMEOUT = 1 * second

/**
 * Every control datagram has exactly this size, requests and answers alike,
 * so an answer is never larger than the request that caused it (no
 * amplification through a spoofed source address).
 */
export const CONTROL_DATAGRAM_BYTES = 40

/** Read buffer of a connection before the muxer reads from it. */
export const MAX_READ_BUFFER_BYTES = 4 * MiB

/**
 * Birthday punching (one side's NAT gives every destination a new random
 * port). The randomizing side opens `DEFAULT_BIRTHDAY_SOCKETS` sockets, each of
 * which punches its NAT open towards the peer; the peer probes random ports of
 * that NAT. With k sockets among N = 64,512 ports (1024–65535, where Linux
 * `--random-fully` and most NATs pick), p probes hit at least one with
 * probability 1 - (1 - k/N)^p: 98 % for k = 256 and p = 1024, 99.97 % for
 * p = 2048, the numbers Tailscale uses
 * (https://tailscale.com/blog/how-nat-traversal-works, "The birthday paradox").
 */
export const DEFAULT_BIRTHDAY_SOCKETS = 256
export const MAX_BIRTHDAY_SOCKETS = 1024
/**
 * When binding fails part-way (out of file descriptors), an attempt goes on
 * with what it has if that is at least this many (16 sockets and 2,048
 * probes still hit 40 % of the time), after handing this many back.
 */
export const MIN_BIRTHDAY_SOCKETS = 16
export const BIRTHDAY_SPARE_DESCRIPTORS = 32
export const DEFAULT_BIRTHDAY_PROBES = 2048
export const MAX_BIRTHDAY_PROBES = 8192
/** Probes are sent in batches: this many per batch, one batch per interval (3,200 datagrams, 220 KB, per second). */
export const BIRTHDAY_PROBE_BATCH = 16
export const BIRTHDAY_PROBE_INTERVAL = 5
/** Punches each birthday socket sends, this far apart (a lost first one must not lose the socket). */
export const BIRTHDAY_PUNCHES_PER_SOCKET = 2
export const BIRTHDAY_PUNCH_SPACING = 50
/** How long the sockets wait for a probe before the attempt fails. */
export const DEFAULT_BIRTHDAY_TIMEOUT = 5 * second
/** The winning socket closes if no connection uses it within this time. */
export const BIRTHDAY_WINNER_IDLE_GRACE = 10 * second
/** Ports a NAT hands out: the probes' range. */
export const NAT_PORT_MIN = 1024
export const NAT_PORT_MAX = 65535

/**
 * `/weft/udx-addrs/1.0.0`: how nodes that can use UDX addresses learn each
 * other's (identify must not carry them, see hide-addresses.ts). One message
 * each way per stream, at most `MAX_UDX_ADDRS` addresses (a node has a LAN
 * address or two per family and one public mapping), bounded in bytes before
 * it is buffered, and the whole exchange within the timeout.
 */
export const UDX_ADDRS_PROTOCOL = '/weft/udx-addrs/1.0.0'
export const MAX_UDX_ADDRS = 16
/** 16 IPv6 UDX multiaddrs are about 16 × 25 bytes; the rest is headroom. */
export const MAX_UDX_ADDRS_MESSAGE_BYTES = 1 * KiB
export const DEFAULT_UDX_ADDRS_TIMEOUT = 5 * second
/** Exchanges at once per connection, each way (both sides may open one when a connection opens, and again when an address changes). */
export const MAX_UDX_ADDRS_STREAMS = 2
