/**
 * One sync session between two replicas, both directions at once.
 *
 *   initiator                         responder
 *     Hello(version, group, device, vector) ->
 *                                     <- Hello (or Error NOT_MEMBER, VERSION_MISMATCH…)
 *   then, each side independently, as a requester:
 *     Want(my vector) -> <- Page(ops beyond it, more?)   repeated while `more`
 *     Done(my vector) ->                                 when it wants nothing more
 *   and, as a server, answers each Want of the other side with one Page.
 *   The session ends once both sides have sent Done; each closes its write end.
 *
 * Each side's Done carries its vector as it sends it, after applying what it
 * pulled, so the other side knows exactly what the session left it holding
 * (`remoteDoneVector`): the Wants overstate it (a pipelined Want is read from
 * page headers before the page is applied, and a peer holds back ops stamped
 * too far ahead without applying them), and the hello understates it.
 *
 * Why a Want per page: the requester's vector after applying a page is the
 * exact resume point, so a session cut off anywhere (a relay's 128 KiB limit,
 * a restart) loses at most the pages in flight, and every page is applied
 * (committed) as soon as it arrives. It also gives flow control for free: a
 * server never has more than two pages of ours in flight. The second one is
 * the pipelining: the Want for page n+1 leaves before page n is applied (its
 * vector read from page n's op headers), so the server reads and compresses
 * n+1 while we commit n.
 *
 * Written against `FrameDuplex` and the `SyncStore` port only, so the same code
 * runs over libp2p streams and in-memory pipes. Every read and write has a
 * deadline; any failure ends the session with a typed error that is sent to
 * the peer when it has a wire code, and returned (never thrown) in the result.
 *
 * Crossed sessions: when both devices open a session with each other at once,
 * the responder that keeps its own (the caller decides which) answers the
 * other stream with a Hello marked `crossed` and pulls nothing; the initiator
 * then pulls nothing either, and both end with Done: one session carries both
 * directions, with no error and nothing to retry.
 *
 * A page is applied in chunks, each its own transaction, with a turn of the
 * event loop between them (`apply-chunks.ts`), so a local write waits for at
 * most one chunk.
 */
import { bytesEqual } from '../oplog/bytes.js'
import { OP_FORMAT_VERSION, type EncodedOp } from '../oplog/op.js'
import { deviceIdToString, parseDeviceId } from '../oplog/keys.js'
import { applyInChunks } from './apply-chunks.js'
import {
  DEFAULT_APPLY_CHUNK_BYTES, DEFAULT_FRAGMENT_ABOVE_PAGES, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_PAGES_PER_SESSION, DEFAULT_PAGE_MAX_BYTES,
  DEFAULT_PAGE_MAX_OPS, DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS, MAX_HELLO_SCHEMAS, MIN_FRAGMENT_ABOVE_BYTES, MIN_PAGE_MAX_BYTES,
  MIN_PAGE_MAX_OPS, SYNC_WIRE_VERSION
} from './constants.js'
import { withDeadline } from './deadline.js'
import { asSyncError, BadRequestError, fromWireError, NotMemberError, SessionClosedError, SyncProtocolError, TooLargeError, toWireError } from './errors.js'
import { checkFragmentHeader, checkRunOps, planPage, resumeOffset, RunAssembler, RunEncoder, type EncodedRun } from './fragments.js'
import type { FrameDuplex } from './framing.js'
import { checkHello, decodeFrame, type CheckedHello, type Decoded } from './messages.js'
import { decodeOpList, packBytes, packOps, unpackBytes, unpackOps } from './ops-codec.js'
import { SyncMessage, type Page, type Want } from './pb/sync.js'
import type { ApplyResult, Rejection, SyncStore, VersionVector } from './port.js'
import { vectorAfter } from './op-header.js'
import { isAhead, vectorFromWire, vectorToWire } from './vector.js'

/** The logging surface the session needs; libp2p's component loggers fit it. */
export interface SessionLogger {
  (formatter: string, ...args: unknown[]): void
  error(formatter: string, ...args: unknown[]): void
  trace(formatter: string, ...args: unknown[]): void
}

const silent: SessionLogger = Object.assign(() => {}, { error: () => {}, trace: () => {} })

export interface SessionOptions {
  /** The initiator sends its Hello first; the responder answers after checking it. */
  initiator: boolean
  groupId: string
  /** The remote device id the transport authenticated; the hello must match it. */
  expectedDeviceId?: string
  /** Membership check, called with the remote's device id and group. Returning false ends the session with NOT_MEMBER. @default allow all */
  authorize?: (deviceId: string, groupId: string) => boolean | Promise<boolean>
  /** Largest page we ask for and serve, in ops. @default DEFAULT_PAGE_MAX_OPS */
  pageMaxOps?: number
  /** Largest page we ask for and serve, in encoded bytes before compression. @default DEFAULT_PAGE_MAX_BYTES */
  pageMaxBytes?: number
  /** @default DEFAULT_HELLO_TIMEOUT_MS */
  helloTimeoutMs?: number
  /** Deadline for each frame after the hello. @default DEFAULT_READ_TIMEOUT_MS */
  readTimeoutMs?: number
  /** @default DEFAULT_WRITE_TIMEOUT_MS */
  writeTimeoutMs?: number
  /** Pages we pull before ending the session (the next one continues). @default DEFAULT_MAX_PAGES_PER_SESSION */
  maxPages?: number
  /** @default DEFAULT_MAX_INFLATED_BYTES */
  maxInflatedBytes?: number
  /** @default DEFAULT_COMPRESSION_LEVEL */
  compressionLevel?: number
  /** Pages are applied in chunks of at least this many bytes, each ending on a signed op. @default DEFAULT_APPLY_CHUNK_BYTES (64 KiB) */
  applyChunkBytes?: number
  /** Ask for the next page before applying the current one. @default true */
  pipeline?: boolean
  /**
   * Responder only: this stream crosses a session we started with the same
   * peer. Our Hello says so and we pull nothing; a peer that reads the flag
   * pulls nothing either. @default false
   */
  crossed?: boolean
  /** Awaited between two applied chunks of a page. @default a turn of the event loop */
  yieldBetweenChunks?: () => Promise<void>
  /**
   * Ask for runs larger than this many bytes in fragments of at most a page
   * (see `fragments.ts`); 0 never asks. @default DEFAULT_FRAGMENT_ABOVE_PAGES × pageMaxBytes
   */
  fragmentAboveBytes?: number
  /**
   * Where fragments of partly received runs are kept. Shared by a node's
   * sessions, so that the next session (on the next relayed connection, or
   * with another peer) resumes a run where this one was cut.
   * @default an assembler private to this session
   */
  fragments?: RunAssembler
  /** Aborting ends the session at once (node shutdown). */
  signal?: AbortSignal
  log?: SessionLogger
  /** Called once the remote hello is accepted. */
  onHello?: (remote: CheckedHello) => void
  /** Called after each page we applied. */
  onPage?: (progress: PageProgress) => void
}

export interface PageProgress {
  readonly ops: number
  readonly applied: number
  readonly duplicates: number
  readonly rejected: number
  readonly more: boolean
}

export interface SessionStats {
  pagesSent: number
  opsSent: number
  pagesReceived: number
  opsReceived: number
  applied: number
  duplicates: number
  rejected: number
  /** Pages that carried a slice of a fragmented run (also counted in pagesSent / pagesReceived); a session always sets them. */
  fragmentsSent?: number
  fragmentsReceived?: number
}

export interface SessionResult extends Readonly<SessionStats> {
  readonly initiator: boolean
  /** Both sides sent Done and closed cleanly. */
  readonly ok: boolean
  /** We pulled everything the peer offered (its last page said no more). */
  readonly complete: boolean
  readonly remoteDeviceId?: string
  readonly remoteVector?: VersionVector
  /** The peer's vector from its Done: what it held once it applied what it pulled here (empty from a peer that predates the field). */
  readonly remoteDoneVector?: VersionVector
  readonly error?: SyncProtocolError
  /** The first few ops the store refused, for logs and the per-peer state. */
  readonly rejections: readonly Rejection[]
  /** One side said the session crossed another between the same devices: nothing was pulled here (the other session carries both directions). */
  readonly crossed?: boolean
  /** Frame bytes on the stream, prefixes included. */
  readonly bytesSent: number
  readonly bytesReceived: number
}

const MAX_REPORTED_REJECTIONS = 10
/** Wants out at once for slices of one fragmented run (see #applyPage). */
const FRAGMENTS_IN_FLIGHT = 2
/** Deadline for telling the peer why we end the session. */
const ERROR_WRITE_TIMEOUT_MS = 2_000

const clamp = (asked: number, min: number, max: number): number => asked <= 0 ? max : Math.max(min, Math.min(asked, max))

export class SyncSession {
  readonly #io: FrameDuplex
  readonly #store: SyncStore
  readonly #opts: SessionOptions
  readonly #log: SessionLogger
  readonly #stats: Required<SessionStats> = {
    pagesSent: 0,
    opsSent: 0,
    pagesReceived: 0,
    opsReceived: 0,
    applied: 0,
    duplicates: 0,
    rejected: 0,
    fragmentsSent: 0,
    fragmentsReceived: 0
  }

  readonly #rejections: Rejection[] = []
  #remote: CheckedHello | undefined
  #remoteDone: VersionVector | undefined
  #complete = false
  #crossed = false
  /** Vectors of the Wants sent and not yet answered, oldest first (at most two: one page being applied, one in flight). */
  readonly #wants: VersionVector[] = []
  #pipelining: boolean
  readonly #fragments: RunAssembler
  readonly #runEncoder = new RunEncoder()

  constructor (io: FrameDuplex, store: SyncStore, options: SessionOptions) {
    this.#io = io
    this.#store = store
    this.#opts = options
    this.#log = options.log ?? silent
    this.#pipelining = options.pipeline ?? true
    // A private assembler only lives as long as the session: its clock never needs to advance.
    this.#fragments = options.fragments ?? new RunAssembler({ now: () => 0 })
  }

  /** Live counters (also valid while the session runs). */
  get stats (): Readonly<SessionStats> { return this.#stats }

  async run (): Promise<SessionResult> {
    let error: SyncProtocolError | undefined
    try {
      await this.#handshake()
      await this.#exchange()
      await this.#finish()
    } catch (err) {
      error = asSyncError(this.#opts.signal?.aborted === true ? new SessionClosedError('session cancelled', { cause: err }) : err)
      await this.#fail(error)
    }
    const remote = this.#remote
    return {
      ...this.#stats,
      initiator: this.#opts.initiator,
      ok: error === undefined,
      complete: this.#complete,
      ...(remote === undefined ? {} : { remoteDeviceId: remote.deviceId, remoteVector: remote.vector }),
      ...(this.#remoteDone === undefined ? {} : { remoteDoneVector: this.#remoteDone }),
      ...(error === undefined ? {} : { error }),
      rejections: this.#rejections,
      ...(this.#crossed ? { crossed: true } : {}),
      bytesSent: this.#io.bytesWritten,
      bytesReceived: this.#io.bytesRead
    }
  }

  async #handshake (): Promise<void> {
    const timeout = this.#opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS
    if (this.#opts.initiator) await this.#sendHello()
    const first = await this.#read(timeout)
    if (first === null) throw new SessionClosedError('peer closed the stream before its hello')
    if (first.kind === 'error') throw fromWireError(first.error.code, first.error.message)
    if (first.kind !== 'hello') throw new BadRequestError(`expected a hello, got ${first.kind}`)
    const remote = checkHello(first.hello, { groupId: this.#opts.groupId, expectedDeviceId: this.#opts.expectedDeviceId })
    const authorize = this.#opts.authorize
    if (authorize !== undefined && !(await authorize(remote.deviceId, remote.groupId))) {
      throw new NotMemberError(`device ${remote.deviceId} is not a member of group ${JSON.stringify(remote.groupId)}`)
    }
    this.#remote = remote
    this.#crossed = this.#opts.crossed === true || first.hello.crossed === true
    this.#opts.onHello?.(remote)
    if (!this.#opts.initiator) await this.#sendHello()
  }

  async #exchange (): Promise<void> {
    const remote = this.#remote!
    let localDone = false
    let remoteDone = false
    const local = this.#store.versionVector()
    if (!this.#crossed && isAhead(remote.vector, local)) {
      await this.#sendWant(local)
    } else {
      this.#complete = !this.#crossed
      await this.#sendDone()
      localDone = true
    }
    const readTimeout = this.#opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS
    while (!localDone || !remoteDone) {
      const msg = await this.#read(readTimeout)
      if (msg === null) throw new SessionClosedError('peer closed the stream before the session finished')
      switch (msg.kind) {
        case 'want':
          if (remoteDone) throw new BadRequestError('want after done')
          await this.#serve(msg.want)
          break
        case 'page':
          if (this.#wants.length === 0) throw new BadRequestError('page that was not asked for')
          localDone = await this.#applyPage(msg.page)
          break
        case 'done':
          if (remoteDone) throw new BadRequestError('done sent twice')
          this.#remoteDone = vectorFromWire(msg.done.vector, 'done vector')
          remoteDone = true
          break
        case 'error':
          throw fromWireError(msg.error.code, msg.error.message)
        case 'hello':
          throw new BadRequestError('hello sent twice')
      }
    }
  }

  /** Both sides are done: close our end and expect the peer to close its end without sending more. */
  async #finish (): Promise<void> {
    await this.#withDeadline(this.#opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, 'close', async signal => { await this.#io.closeWrite(signal) })
    const tail = await this.#read(this.#opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS)
    if (tail !== null) throw new BadRequestError(`${tail.kind} after done`)
  }

  async #fail (error: SyncProtocolError): Promise<void> {
    this.#log('session with %s failed: %s %s', this.#remote?.deviceId ?? this.#opts.expectedDeviceId ?? 'an unidentified peer', error.code, error.message)
    const wire = !error.remote && error.code !== 'TIMEOUT' && error.code !== 'CLOSED'
    if (wire && this.#opts.signal?.aborted !== true) {
      try {
        // Tell the peer why, then close our end so the frame is flushed before the reset below.
        const frame = SyncMessage.encode({ error: toWireError(error) })
        await withDeadline(ERROR_WRITE_TIMEOUT_MS, 'error write', async signal => {
          await this.#io.writeFrame(frame, signal)
          await this.#io.closeWrite(signal)
        })
      } catch (err) {
        this.#log.trace('could not send the error to the peer: %s', (err as Error).message)
      }
    }
    this.#io.abort(error)
  }

  async #sendDone (): Promise<void> {
    await this.#send({ done: { vector: vectorToWire(this.#store.versionVector()) } })
  }

  async #sendHello (): Promise<void> {
    await this.#send({
      hello: {
        protocolVersion: SYNC_WIRE_VERSION,
        groupId: this.#opts.groupId,
        deviceId: parseDeviceId(this.#store.deviceId),
        dataFormatVersion: OP_FORMAT_VERSION,
        vector: vectorToWire(this.#store.versionVector()),
        schemas: [...(this.#store.schemaVersions?.() ?? [])].slice(0, MAX_HELLO_SCHEMAS).map(([collection, version]) => ({ collection, version })),
        ...(this.#opts.crossed === true && !this.#opts.initiator ? { crossed: true } : {})
      }
    })
  }

  /** `ahead`: name this many bytes as held of that origin's run (a slice still in flight will bring them). */
  async #sendWant (vector: VersionVector, ahead?: { origin: Uint8Array, bytes: number }): Promise<void> {
    this.#wants.push(vector)
    const maxBytes = this.#opts.pageMaxBytes ?? DEFAULT_PAGE_MAX_BYTES
    const fragmentAboveBytes = this.#opts.fragmentAboveBytes ?? DEFAULT_FRAGMENT_ABOVE_PAGES * maxBytes
    let held = fragmentAboveBytes > 0 ? this.#fragments.prefixes() : []
    if (ahead !== undefined) held = held.map(p => bytesEqual(p.origin, ahead.origin) ? { ...p, bytes: ahead.bytes } : p)
    await this.#send({
      want: {
        vector: vectorToWire(vector),
        maxOps: this.#opts.pageMaxOps ?? DEFAULT_PAGE_MAX_OPS,
        maxBytes,
        fragmentAboveBytes,
        held
      }
    })
  }

  async #serve (want: Want): Promise<void> {
    const vector = vectorFromWire(want.vector, 'want vector')
    const ownOps = this.#opts.pageMaxOps ?? DEFAULT_PAGE_MAX_OPS
    const ownBytes = this.#opts.pageMaxBytes ?? DEFAULT_PAGE_MAX_BYTES
    const limit = clamp(want.maxOps, Math.min(MIN_PAGE_MAX_OPS, ownOps), ownOps)
    const maxBytes = clamp(want.maxBytes, Math.min(MIN_PAGE_MAX_BYTES, ownBytes), ownBytes)
    if (want.fragmentAboveBytes > 0 && want.held.length > 0) {
      const next = this.#runEncoder.continuing(want.held, vector)
      if (next !== undefined) { await this.#sendSlice(next.run, next.offset, maxBytes); return }
    }
    const page = this.#store.opsSince(vector, { limit, maxBytes })
    let ops = page.ops
    let more = page.more
    if (want.fragmentAboveBytes > 0 && ops.length > 0) {
      const plan = planPage(ops, Math.max(want.fragmentAboveBytes, MIN_FRAGMENT_ABOVE_BYTES))
      if (plan.kind === 'run' && await this.#serveFragment(plan.ops, want, maxBytes)) return
      if (plan.kind === 'ops' && plan.trimmed) { ops = plan.ops; more = true }
    }
    const packed = await packOps(ops, this.#packOptions())
    await this.#send({ page: { ...packed, more } })
    this.#stats.pagesSent++
    this.#stats.opsSent += ops.length
    this.#log.trace('served %d ops (%d bytes packed), more: %s', ops.length, packed.ops.byteLength, more)
  }

  #packOptions (): { compressionLevel?: number } {
    return this.#opts.compressionLevel === undefined ? {} : { compressionLevel: this.#opts.compressionLevel }
  }

  /**
   * Sends the next slice of a run too large for the requester's pages,
   * starting where the prefix it holds of that run ends. False when the run
   * cannot be read as one origin's seqs (another op format): it goes whole.
   */
  async #serveFragment (runOps: readonly EncodedOp[], want: Want, sliceBytes: number): Promise<boolean> {
    const run = this.#runEncoder.encode(runOps)
    if (run === undefined) return false
    await this.#sendSlice(run, resumeOffset(run, want.held), sliceBytes)
    return true
  }

  async #sendSlice (run: EncodedRun, offset: number, sliceBytes: number): Promise<void> {
    const slice = run.bytes.subarray(offset, offset + sliceBytes)
    const packed = await packBytes(slice, this.#packOptions())
    const fragment = { origin: run.origin, firstSeq: run.firstSeq, lastSeq: run.lastSeq, digest: run.digest, totalBytes: run.bytes.byteLength, offset }
    await this.#send({ page: { ...packed, count: 0, more: true, fragment } })
    const s = this.#stats
    s.pagesSent++
    s.fragmentsSent++
    if (offset + slice.byteLength === run.bytes.byteLength) s.opsSent += run.count
    this.#log.trace('served bytes %d..%d of the %d-byte run of seq %d..%d', offset, offset + slice.byteLength, run.bytes.byteLength, run.firstSeq, run.lastSeq)
  }

  /**
   * Applies one page; returns true when we want nothing more (Done was sent).
   * While pages apply cleanly, the next Want goes out before this page is
   * applied (its vector read from the page), so the server prepares page n+1
   * while we commit page n.
   */
  async #applyPage (page: Page): Promise<boolean> {
    const asked = this.#wants.shift()!
    const s = this.#stats
    const maxPages = this.#opts.maxPages ?? DEFAULT_MAX_PAGES_PER_SESSION
    let ops: readonly EncodedOp[]
    if (page.fragment !== undefined) {
      const taken = await this.#takeFragment(page, asked)
      if (taken.run === undefined) {
        s.pagesReceived++
        this.#opts.onPage?.({ ops: 0, applied: 0, duplicates: 0, rejected: 0, more: page.more })
        if (taken.grew) {
          // Keep the next slices of this run coming: up to FRAGMENTS_IN_FLIGHT Wants out, each naming the prefix
          // we will hold once the slices before it arrived (a stream delivers them in order), so the server is
          // not idle for a round trip per slice. A cut loses those in flight; the next session names what we hold.
          const f = page.fragment
          const depth = this.#pipelining ? FRAGMENTS_IN_FLIGHT : 1
          while (this.#wants.length < depth && s.pagesReceived + this.#wants.length < maxPages) {
            const expected = taken.held + this.#wants.length * page.rawBytes
            if (expected >= f.totalBytes) break
            await this.#sendWant(asked, { origin: f.origin, bytes: expected })
          }
        }
        if (this.#wants.length > 0) return false
        // A slice we could not use (it did not continue what we hold): the next session starts from what we hold.
        await this.#sendDone()
        return true
      }
      ops = taken.run
    } else {
      this.#log.trace('page of %d ops (%d bytes packed), more: %s', page.count, page.ops.byteLength, page.more)
      ops = await unpackOps(page, this.#opts.maxInflatedBytes === undefined ? {} : { maxInflatedBytes: this.#opts.maxInflatedBytes })
      if (this.#pipelining && page.more && this.#wants.length === 0 && s.pagesReceived + 1 < maxPages) {
        const next = vectorAfter(asked, ops)
        if (next !== undefined && isAhead(next, asked)) await this.#sendWant(next)
      }
    }
    const result = await this.#apply(ops)
    s.pagesReceived++
    s.opsReceived += ops.length
    s.applied += result.applied
    s.duplicates += result.duplicates
    s.rejected += result.rejected.length
    for (const r of result.rejected) {
      if (this.#rejections.length >= MAX_REPORTED_REJECTIONS) break
      this.#rejections.push(r)
    }
    if (result.rejected.length > 0) {
      // The vector read from the page overshoots what the store took: ask from the store's vector from now on.
      this.#pipelining = false
      this.#log('%d of %d ops from %s rejected, first: %s', result.rejected.length, ops.length, this.#remote!.deviceId, result.rejected[0]!.message)
    }
    this.#opts.onPage?.({ ops: ops.length, applied: result.applied, duplicates: result.duplicates, rejected: result.rejected.length, more: page.more })
    const after = this.#store.versionVector()
    this.#fragments.pruneApplied(after)
    if (this.#wants.length > 0) return false
    if (page.more && isAhead(after, asked) && s.pagesReceived < maxPages) {
      await this.#sendWant(after)
      return false
    }
    // No progress despite `more` means the rest was refused (see rejections): asking again would loop.
    this.#complete = !page.more
    await this.#sendDone()
    return true
  }

  /**
   * Checks one slice of a fragmented run and adds it to the held prefix;
   * returns the run's ops once all of it is held and matches its digest.
   */
  async #takeFragment (page: Page, asked: VersionVector): Promise<{ run?: EncodedOp[], grew: boolean, held: number }> {
    const f = page.fragment!
    if (page.count !== 0) throw new BadRequestError('a page with a fragment carries no whole ops')
    checkFragmentHeader(f, page.rawBytes)
    const origin = deviceIdToString(f.origin)
    const from = (asked.get(origin) ?? 0) + 1
    if (f.firstSeq !== from) throw new BadRequestError(`fragment of seq ${f.firstSeq}..${f.lastSeq} of ${origin}, asked from seq ${from}`)
    const maxRunBytes = this.#fragments.maxRunBytes
    if (f.totalBytes > maxRunBytes) {
      throw new TooLargeError(`ops ${f.firstSeq}..${f.lastSeq} of ${origin} take ${f.totalBytes} bytes, over the ${maxRunBytes}-byte limit for one run`)
    }
    const data = await unpackBytes(page, { maxInflatedBytes: f.totalBytes - f.offset })
    this.#stats.fragmentsReceived++
    // Another session (with this peer or another) applied the run meanwhile: a slice of it must not start a new prefix.
    if (f.firstSeq <= (this.#store.versionVector().get(origin) ?? 0)) return { grew: false, held: 0 }
    this.#log.trace('bytes %d..%d of the %d-byte run of seq %d..%d of %s', f.offset, f.offset + data.byteLength, f.totalBytes, f.firstSeq, f.lastSeq, origin)
    const added = this.#fragments.add(f, data)
    if (!added.complete) return { grew: added.grew, held: added.held }
    const ops = decodeOpList(added.bytes, f.lastSeq - f.firstSeq + 1)
    checkRunOps(f, ops)
    return { run: ops, grew: true, held: f.totalBytes }
  }

  /**
   * Applies a page in chunks that each end on a signed op (at least
   * `applyChunkBytes` each), one transaction per chunk with a turn of the
   * event loop between them (see `apply-chunks.ts`). The store keeps one
   * signature per applied run, so this is also what bounds the unsigned runs
   * we will later serve to others: a whole 1 MiB page applied at once would
   * come back out as one run too big to cross a relay (its limit is 128 KiB
   * per connection).
   */
  async #apply (ops: readonly EncodedOp[]): Promise<ApplyResult> {
    return await applyInChunks(this.#store, ops, {
      chunkBytes: this.#opts.applyChunkBytes ?? DEFAULT_APPLY_CHUNK_BYTES,
      ...(this.#opts.yieldBetweenChunks === undefined ? {} : { yieldBetween: this.#opts.yieldBetweenChunks })
    })
  }

  async #send (msg: Partial<SyncMessage>): Promise<void> {
    const frame = SyncMessage.encode(msg)
    await this.#withDeadline(this.#opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, 'write', async signal => { await this.#io.writeFrame(frame, signal) })
  }

  async #read (timeoutMs: number): Promise<Decoded | null> {
    const frame = await this.#withDeadline(timeoutMs, 'read', async signal => this.#io.readFrame(signal))
    return frame === null ? null : decodeFrame(frame)
  }

  async #withDeadline<T> (ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(ms, what, fn, this.#opts.signal)
  }
}

/** Runs one session to its end. Never throws: failures are in `result.error`. */
export async function runSyncSession (io: FrameDuplex, store: SyncStore, options: SessionOptions): Promise<SessionResult> {
  return new SyncSession(io, store, options).run()
}
