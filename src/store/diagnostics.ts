/**
 * Reads for `weft doctor`, `weft status` and `weft diff`: what the store
 * holds and whether SQLite finds the file sound. Read-only; each takes the
 * tables it reads.
 */
import { decodeOp } from '../oplog/op.js'
import type { VersionVector } from '../protocol/port.js'
import type { OplogTables } from './oplog-store.js'
import { isCorruption, quickCheck, storeError, type Db } from './sqlite.js'

export interface StoreStats {
  readonly ops: number
  /** Origins with at least one op. */
  readonly origins: number
  /** Ops refused, per reason, as recorded. */
  readonly rejected: Record<string, number>
  /** Device ids caught signing two different ops with one seq. */
  readonly equivocating: string[]
}

export function stats (oplog: OplogTables): StoreStats {
  const origins = oplog.origins()
  return {
    ops: oplog.opCount(),
    origins: origins.filter(o => o.seq > 0).length,
    rejected: oplog.rejectionCounts(),
    equivocating: origins.filter(o => o.equivocating).map(o => o.deviceId)
  }
}

/** SQLite's quick_check: the problems found, empty when the file is sound. */
export function integrityCheck (db: Db, file: string): string[] {
  try {
    return quickCheck(db)
  } catch (err) {
    // A file damaged badly enough makes quick_check itself fail: that is its answer too.
    if (isCorruption(err)) return [(err as Error).message]
    throw storeError(err, file)
  }
}

/** Ops held beyond `vector`, counted per origin and per collection. Reads the ops, so it costs what they cost. */
export function countBeyond (oplog: OplogTables, vector: VersionVector): { perOrigin: Record<string, number>, perCollection: Record<string, number> } {
  const perOrigin: Record<string, number> = {}
  const perCollection: Record<string, number> = {}
  for (const o of oplog.origins()) {
    const have = vector.get(o.deviceId) ?? 0
    if (o.seq <= have) continue
    perOrigin[o.deviceId] = o.seq - have
    for (const s of oplog.range(o, have, o.seq)) {
      const c = decodeOp({ body: s.body }).collection
      perCollection[c] = (perCollection[c] ?? 0) + 1
    }
  }
  return { perOrigin, perCollection }
}
