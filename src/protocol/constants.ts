/**
 * Wire constants and defaults of the sync protocol. Units are in the names;
 * every default an option can override lives here, in one table.
 */
const KiB = 1024
const MiB = 1024 * KiB
const second = 1000

/** Protocol ids are built from parts, as js-libp2p builds `/ipfs/ping/1.0.0`. */
export const PROTOCOL_PREFIX = 'weft'
export const SYNC_PROTOCOL_NAME = 'sync'
export const SYNC_PROTOCOL_VERSION = '1.0.0'
export const SYNC_PROTOCOL_ID = `/${PROTOCOL_PREFIX}/${SYNC_PROTOCOL_NAME}/${SYNC_PROTOCOL_VERSION}`

/** The version number carried in `Hello`; a peer with another number gets VERSION_MISMATCH. */
export const SYNC_WIRE_VERSION = 1

/** Largest frame (one length-prefixed SyncMessage) either side reads or writes. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * MiB
/** A length prefix longer than this many varint bytes cannot describe an acceptable frame. */
export const MAX_LENGTH_PREFIX_BYTES = 5

/** Largest uncompressed op list a page or announcement may inflate to (zip-bomb bound). */
export const DEFAULT_MAX_INFLATED_BYTES = 16 * MiB
/** Most ops one page or announcement may carry (it may run past the requested limit to end on a signed op). */
export const MAX_OPS_PER_MESSAGE = 200_000

/** Page bounds a server applies when the requester asks for nothing smaller. */
export const DEFAULT_PAGE_MAX_OPS = 5_000
export const DEFAULT_PAGE_MAX_BYTES = 1 * MiB
/** Floor for requested page bounds, so a requester cannot force one op per round trip forever. */
export const MIN_PAGE_MAX_OPS = 16
export const MIN_PAGE_MAX_BYTES = 4 * KiB

/**
 * A received page is applied in chunks of at least this many bytes, each
 * ending on a signed op. The store keeps one signature per applied run, and
 * runs we keep are runs we serve: 64 KiB (about 30 KB deflated) still crosses
 * a relay's 128 KiB connection limit, and costs the store almost nothing
 * over applying the whole page at once.
 */
export const DEFAULT_APPLY_CHUNK_BYTES = 64 * KiB

/** Op lists smaller than this are sent uncompressed: deflate costs more than it saves. */
export const MIN_COMPRESS_BYTES = 512
/**
 * Op lists up to this size are deflated and inflated inline (zlib's sync
 * calls): an async zlib call sets up a stream and a thread-pool job, which
 * for a list of a few KiB costs about three times the compression itself
 * (measured: 55 against 174 µs of CPU to inflate 2 KB). Larger lists go to
 * the thread pool, so a big page does not hold the event loop.
 */
export const INLINE_ZLIB_MAX_BYTES = 64 * KiB
/**
 * Op lists of at least twice the sampled bytes are deflated only when these
 * samples (evenly spaced, each deflated on its own) shrink to at most
 * `MAX_DEFLATED_RATIO` of their size: op metadata deflates to about half,
 * already-compressed values not at all, and a full deflate that saves a few
 * per cent costs both sides more CPU than it saves on the wire.
 */
export const COMPRESS_SAMPLES = 3
export const COMPRESS_SAMPLE_BYTES = 16 * KiB
export const MAX_DEFLATED_RATIO = 0.95
/** zlib level 1: most of the gain (repeated origin keys, field names) for a fraction of the CPU of level 6. */
export const DEFAULT_COMPRESSION_LEVEL = 1

/** Origins a vector may name; more is BAD_REQUEST (a group has a handful of devices). */
export const MAX_VECTOR_ENTRIES = 10_000
export const MAX_GROUP_ID_BYTES = 256
/** Collection schema versions a hello may carry, and the longest collection name among them. */
export const MAX_HELLO_SCHEMAS = 1024
export const MAX_SCHEMA_COLLECTION_BYTES = 256
/** Error messages on the wire are cut to this many characters. */
export const MAX_ERROR_MESSAGE_CHARS = 500

/** Wait at most this long for the remote's `Hello`. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10 * second
/** Wait at most this long for any one frame after the hello. */
export const DEFAULT_READ_TIMEOUT_MS = 20 * second
/** Wait at most this long for a frame to leave our write buffer. */
export const DEFAULT_WRITE_TIMEOUT_MS = 20 * second
/**
 * Runs too large for a page travel in fragments (see `fragments.ts`). A
 * requester asks for them above this many page sizes: an ordinary page may
 * overshoot its size by one run (a page ends each origin's ops on a signed
 * op), and only a run well beyond that, in practice one large value, is cut.
 */
export const DEFAULT_FRAGMENT_ABOVE_PAGES = 2
/** Servers fragment nothing smaller than this, whatever a requester asks (a requester cannot force tiny slices). */
export const MIN_FRAGMENT_ABOVE_BYTES = MIN_PAGE_MAX_BYTES
/**
 * Largest run a receiver assembles from fragments. The frame limit: anything
 * that could arrive in one page can arrive in fragments (a 1 MiB value, the
 * default `maxValueBytes`, with the ops of its batch before it).
 */
export const DEFAULT_MAX_RUN_BYTES = DEFAULT_MAX_FRAME_BYTES
/** Bytes of partly received runs a node keeps, all origins and peers together. */
export const DEFAULT_MAX_HELD_RUN_BYTES = 16 * MiB
/** Partly received runs a node keeps (one per origin at a time), and the most a Want lists. */
export const MAX_HELD_RUNS = 16
/** A partly received run nobody added to for this long is dropped. */
export const DEFAULT_HELD_RUN_IDLE_MS = 10 * 60 * second

/** Most pages one session pulls before it ends and lets the next session continue (bounds a session's life). */
export const DEFAULT_MAX_PAGES_PER_SESSION = 10_000
