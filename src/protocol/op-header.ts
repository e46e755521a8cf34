/**
 * Where a page leaves the requester, read from the op bodies themselves.
 *
 * To keep a server busy while the requester applies a page, the requester
 * asks for the next page before applying this one. It needs the vector "after
 * this page" for that, so it reads each body's origin and seq: the first
 * fields of the canonical encoding, read by the op format's owner
 * (`oplog/op-header.ts`). Nothing else of the body is touched, and
 * nothing here is trusted: the store still verifies every op, and a page the
 * store refuses any of turns pipelining off for the rest of the session.
 * Announcements use the same reading to hold back ops that arrive ahead of
 * what the store holds (`splitAhead`).
 */
import { deviceIdToString } from '../oplog/keys.js'
import type { EncodedOp } from '../oplog/op.js'
import { readOpHeader } from '../oplog/op-header.js'
import type { VersionVector } from './port.js'

/** memcmp through a Buffer view (no copy): ops of one origin come in runs, so this is mostly equal keys. */
function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/**
 * `vector` advanced by the ops of a page, or undefined when a body cannot be
 * read (another format version, truncated): the caller then falls back to
 * asking with its store's vector after applying.
 */
export function vectorAfter (vector: VersionVector, ops: readonly EncodedOp[]): Map<string, number> | undefined {
  const out = new Map(vector)
  let lastKey: Uint8Array | undefined
  let lastId = ''
  for (const { body } of ops) {
    const h = readOpHeader(body)
    if (h === undefined) return undefined
    if (lastKey === undefined || !sameBytes(h.originKey, lastKey)) {
      lastKey = h.originKey
      lastId = deviceIdToString(h.originKey)
    }
    if (h.seq > (out.get(lastId) ?? 0)) out.set(lastId, h.seq)
  }
  return out
}

/**
 * Splits announced ops into those that extend (or repeat) what `vector`
 * holds and the number that arrive ahead of it: an origin's ops from the
 * first whose seq leaves a hole after what we hold (or after the op before
 * it) on. The store would refuse those as a `gap`; a session pulls them with
 * the missing ones instead. A body whose header cannot be read is kept in
 * `ready`, so the store refuses it with the real reason.
 */
export function splitAhead (vector: VersionVector, ops: readonly EncodedOp[]): { ready: EncodedOp[], ahead: number } {
  const { ready, ahead } = splitAheadWithPositions(vector, ops)
  return { ready, ahead: ahead.length }
}

/** Where an op stands in its origin's log. */
export interface OpPosition {
  readonly origin: string
  readonly seq: number
}

/**
 * Splits announced ops like `splitAhead`, and names the origin and seq of
 * each op that arrived ahead, so that it can be held until the ops before
 * it arrive (see `net/sync/holdback.ts`).
 */
export function splitAheadWithPositions (
  vector: VersionVector,
  ops: readonly EncodedOp[]
): { ready: EncodedOp[], ahead: Array<OpPosition & { op: EncodedOp }> } {
  const ready: EncodedOp[] = []
  const ahead: Array<OpPosition & { op: EncodedOp }> = []
  const next = new Map<string, number>()
  const blocked = new Set<string>()
  let lastKey: Uint8Array | undefined
  let lastId = ''
  for (const op of ops) {
    const h = readOpHeader(op.body)
    if (h === undefined) { ready.push(op); continue }
    if (lastKey === undefined || !sameBytes(h.originKey, lastKey)) {
      lastKey = h.originKey
      lastId = deviceIdToString(h.originKey)
    }
    const held = next.get(lastId) ?? vector.get(lastId) ?? 0
    if (blocked.has(lastId) || h.seq > held + 1) {
      blocked.add(lastId)
      ahead.push({ origin: lastId, seq: h.seq, op })
      continue
    }
    if (h.seq > held) next.set(lastId, h.seq)
    ready.push(op)
  }
  return { ready, ahead }
}
