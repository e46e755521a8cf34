/**
 * The receiving end of announcements: applies the ops they carry without a
 * session, in order.
 *
 * Announcements are applied one after another (a queue), never two at once:
 * then "ahead of what we hold" means the same thing when an announcement is
 * split as when the one before it finishes. Ops that extend the prefix are
 * applied at once; ops beyond a hole are held (`holdback.ts`) and applied the
 * moment the ops before them are, in the same way. Applying goes in chunks
 * with a turn of the event loop between them (`apply-chunks.ts`), so a local
 * write never waits for more than one chunk.
 *
 * The queue is bounded in bytes: an announcement that would overflow it is
 * not applied (its ops count as deferred, and the gap tracker pulls them).
 * Held ops that expire are reported per forwarding peer, for the same count.
 */
import type { Logger } from '@libp2p/interface'
import type { EncodedOp } from '../../oplog/op.js'
import { applyInChunks } from '../../protocol/apply-chunks.js'
import { DEFAULT_APPLY_CHUNK_BYTES } from '../../protocol/constants.js'
import { splitAheadWithPositions } from '../../protocol/op-header.js'
import type { ApplyResult, SyncStore } from '../../protocol/port.js'
import { MAX_QUEUED_ANNOUNCEMENT_BYTES } from '../constants.js'
import { Holdback, type HoldbackOptions } from './holdback.js'

export interface GossipInboxInit extends HoldbackOptions {
  store: SyncStore
  log: Logger
  /** Held ops that expired unapplied (a pull brings them, or brought them), per peer that forwarded them. */
  onExpired?: (droppedBySource: ReadonlyMap<string, number>) => void
  /** @default DEFAULT_APPLY_CHUNK_BYTES (64 KiB) */
  chunkBytes?: number
  /** @default MAX_QUEUED_ANNOUNCEMENT_BYTES (16 MiB) */
  maxQueuedBytes?: number
  /** @default Date.now */
  now?: () => number
}

export interface InboxResult {
  /** Ops applied, whether they came in this announcement or were held from an earlier one. */
  readonly applied: number
  /** Of those, ops that had been held. */
  readonly fromHold: number
  /** Ops of this announcement held for later. */
  readonly held: number
  /** Ops of this announcement neither applied nor held (the hold or the queue was full): left for a pull. */
  readonly deferred: number
  readonly rejected: number
}

export class GossipInbox {
  readonly #init: GossipInboxInit
  readonly #holdback: Holdback
  readonly #now: () => number
  #queue: Promise<unknown> = Promise.resolve()
  #queuedBytes = 0
  #expiry: ReturnType<typeof setTimeout> | undefined
  #expiryAt = Infinity
  #stopped = false

  constructor (init: GossipInboxInit) {
    this.#init = init
    this.#holdback = new Holdback(init)
    this.#now = init.now ?? Date.now
  }

  /** Ops and bytes held now. */
  get held (): { ops: number, bytes: number } { return this.#holdback.size }

  /** Applies (or holds) an announcement's ops, after the announcements received before it. `from`: the forwarding peer. */
  async receive (from: string, ops: readonly EncodedOp[], bytes: number): Promise<InboxResult> {
    const max = this.#init.maxQueuedBytes ?? MAX_QUEUED_ANNOUNCEMENT_BYTES
    if (this.#stopped || this.#queuedBytes + bytes > max) return { applied: 0, fromHold: 0, held: 0, deferred: ops.length, rejected: 0 }
    this.#queuedBytes += bytes
    const run = this.#queue.then(async () => await this.#receive(from, ops))
    this.#queue = run.catch(() => {})
    try {
      return await run
    } finally {
      this.#queuedBytes -= bytes
    }
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#expiry)
    await this.#queue
    this.#holdback.clear()
  }

  async #receive (from: string, ops: readonly EncodedOp[]): Promise<InboxResult> {
    const { store, log } = this.#init
    if (this.#stopped) return { applied: 0, fromHold: 0, held: 0, deferred: ops.length, rejected: 0 }
    const { ready, ahead } = splitAheadWithPositions(store.versionVector(), ops)
    const { held, refused } = this.#holdback.hold(ahead, this.#now(), from)
    let applied = 0
    let rejected = 0
    if (ready.length > 0) {
      const r = await this.#apply(ready)
      applied += r.applied
      rejected += r.rejected.length
      if (r.rejected.length > 0) log.trace('%d announced ops via %p not applied, first: %s', r.rejected.length, from, r.rejected[0]!.message)
    }
    let fromHold = 0
    for (;;) {
      const next = this.#holdback.take(store.versionVector())
      if (next.length === 0) break
      const r = await this.#apply(next)
      fromHold += r.applied
      rejected += r.rejected.length
      // Nothing taken moved the prefix (all refused): the loop would spin.
      if (r.applied === 0) break
    }
    applied += fromHold
    if (held > 0) log.trace('%d announced ops via %p arrived ahead of what we hold: held', held, from)
    if (fromHold > 0) log.trace('%d held ops applied in order', fromHold)
    this.#armExpiry()
    return { applied, fromHold, held, deferred: refused, rejected }
  }

  async #apply (ops: readonly EncodedOp[]): Promise<ApplyResult> {
    return await applyInChunks(this.#init.store, ops, { chunkBytes: this.#init.chunkBytes ?? DEFAULT_APPLY_CHUNK_BYTES })
  }

  #armExpiry (): void {
    const at = this.#holdback.nextExpiry()
    if (at === undefined || at >= this.#expiryAt || this.#stopped) return
    clearTimeout(this.#expiry)
    this.#expiryAt = at
    this.#expiry = setTimeout(() => {
      this.#expiry = undefined
      this.#expiryAt = Infinity
      const r = this.#holdback.expire(this.#now(), this.#init.store.versionVector())
      if (r.dropped > 0) this.#init.log('%d held announced ops expired before the ops before them arrived: left for a pull', r.dropped)
      if (r.dropped + r.stale > 0) this.#init.onExpired?.(r.droppedBySource)
      this.#armExpiry()
    }, Math.max(0, at - this.#now()))
  }
}
