/**
 * Applying a received batch of ops in chunks, yielding between them.
 *
 * `SyncStore.applyRemote` is synchronous (better-sqlite3 runs a transaction
 * on the calling thread), so a 1 MiB page applied in one call holds the event
 * loop for its whole length, and a local write that arrives meanwhile (an
 * app's PUT on the control API) waits behind it. Applied in chunks of about
 * `chunkBytes` that each end on a signed op, with a turn of the event loop
 * between chunks, a local write waits for at most one chunk's transaction.
 *
 * Each chunk must end on a signed op because the store keeps one signature
 * per applied run, and the runs we keep are the runs we serve (a relay's 128
 * KiB budget must still fit one). Chunks of one batch are applied in order,
 * and each commits before the next starts, so another apply that runs in
 * between (a page from another session, an announcement) sees a consistent
 * prefix: what it brings again is counted as duplicates.
 */
import type { EncodedOp } from '../oplog/op.js'
import { DEFAULT_APPLY_CHUNK_BYTES } from './constants.js'
import type { ApplyResult, Rejection, SyncStore } from './port.js'

export interface ApplyChunksOptions {
  /** Chunks hold at least this many bytes (bodies and signatures), and end on a signed op. @default DEFAULT_APPLY_CHUNK_BYTES (64 KiB) */
  chunkBytes?: number
  /** Awaited between two chunks. @default a turn of the event loop (`setImmediate`) */
  yieldBetween?: () => Promise<void>
}

/** One turn of the event loop: I/O callbacks that are due (a control API request) run before we continue. */
export async function yieldToEventLoop (): Promise<void> {
  await new Promise<void>(resolve => { setImmediate(resolve) })
}

/** Applies `ops` with `store.applyRemote`, one chunk per transaction; rejection indexes refer to `ops`. */
export async function applyInChunks (store: Pick<SyncStore, 'applyRemote'>, ops: readonly EncodedOp[], options: ApplyChunksOptions = {}): Promise<ApplyResult> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_APPLY_CHUNK_BYTES
  const pause = options.yieldBetween ?? yieldToEventLoop
  let applied = 0
  let duplicates = 0
  const rejected: Rejection[] = []
  let start = 0
  let bytes = 0
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!
    bytes += op.body.byteLength + (op.sig?.byteLength ?? 0)
    if (i < ops.length - 1 && (op.sig === undefined || bytes < chunkBytes)) continue
    if (start > 0) await pause()
    const r = store.applyRemote(start === 0 && i === ops.length - 1 ? ops : ops.slice(start, i + 1))
    applied += r.applied
    duplicates += r.duplicates
    for (const x of r.rejected) rejected.push({ ...x, index: x.index + start })
    start = i + 1
    bytes = 0
  }
  return { applied, duplicates, rejected }
}
