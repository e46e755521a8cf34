/** Limits and defaults of declared-table queries, with units in the names. */
const KiB = 1024
const MiB = 1024 * KiB
const second = 1000

/** Rows a result may hold before the query fails with QueryLimitError. */
export const DEFAULT_QUERY_MAX_ROWS = 10_000
export const MAX_QUERY_MAX_ROWS = 1_000_000
/** Time a query may run. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5 * second
export const MAX_QUERY_TIMEOUT_MS = 60 * second
/** Estimated size of a result (strings, blobs, 8 bytes per number) before the query fails with QueryLimitError. */
export const DEFAULT_QUERY_MAX_BYTES = 16 * MiB
export const MAX_QUERY_MAX_BYTES = 256 * MiB
/** Largest SQL text. */
export const MAX_QUERY_SQL_BYTES = 64 * KiB
/** Most bound parameters, and the largest one. */
export const MAX_QUERY_PARAMS = 256
export const MAX_QUERY_PARAM_BYTES = 1 * MiB
/** Prepared statements kept per query connection (by SQL text). */
export const QUERY_CACHE_STATEMENTS = 128
/** Live queries one replica (or one daemon) runs at once. */
export const MAX_LIVE_QUERIES = 256
/** A query process that does not answer within its deadline plus this is killed. */
export const QUERY_KILL_GRACE_MS = 250
