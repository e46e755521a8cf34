/**
 * applyRemote: verify a batch of ops from a peer and apply what is authentic,
 * in one transaction.
 *
 * Order of checks per origin: decode and form; split into ops we already hold
 * or hold in quarantine (identical: duplicate; different content:
 * equivocation) and new ones; truncate the new ones at the first HLC beyond
 * the drift limit or refused by the authorization hook; then verify the
 * chain and the one signature that closes the run. Only then is anything
 * written, so a rejected op never leaves partial state. Drift and
 * authorization come before the signature check so that the accepted prefix
 * always ends on a verified signature, which the new head keeps.
 *
 * Ops from the future (beyond the drift limit) are not refused but held
 * (quarantine.ts), with the unsigned ops just before them and every later op
 * of their origin: `planHold` verifies them the same way, and `writePlan`
 * puts them in the quarantine instead of the oplog.
 *
 * `planApply` is pure over a read-only view of the store: it reads heads and
 * writes nothing, not even the membership records the batch carries (it
 * counts them when authorizing, and returns them in the plan). The caller
 * runs it inside its transaction, saves the records and `writePlan`s the
 * rest in the same transaction.
 */
import { compareHlc, type Hlc, type HybridClock } from '../hlc/index.js'
import { bytesEqual, toHex } from '../oplog/bytes.js'
import { deviceIdToString, parseDeviceId, type SignatureVerifier } from '../oplog/keys.js'
import { decodeOp, OpRejectedError, signingMessage, type DecodeLimits, type EncodedOp, type Op } from '../oplog/op.js'
import { verifyRun, type ChainHead } from '../oplog/verify.js'
import type { ApplyResult, Rejection } from '../protocol/port.js'
import type { OplogTables, OriginHead } from './oplog-store.js'
import { MAX_SEQ, SIGNATURE_EVERY_BYTES, SIGNATURE_EVERY_OPS } from './oplog-store.js'
import { opsOf, planHold, type BatchOp, type HeldRun, type Quarantine } from './quarantine.js'
import type { StateTables } from './state.js'

/** Decides whether an origin (device id) may write at an HLC (group membership, revocation). */
export type OriginAuthorizer = (origin: string, hlc: Hlc) => boolean
/** The same, by public key: what the store checks per op. */
export type OriginKeyAuthorizer = (origin: Uint8Array, hlc: Hlc) => boolean

/** The group as a plan sees it (group-records.ts implements it). Read-only. */
export interface MembershipView {
  /** The membership records `ops` carry: self-certifying, so taken from any origin. */
  recordsIn(ops: readonly Op[]): Uint8Array[]
  /** Who may write when, counting `records` as if already saved (without saving them). */
  authorizer(records: readonly Uint8Array[]): OriginKeyAuthorizer
}

/** What `planApply` reads: heads, the clock, the quarantine's runs, the group. It writes through none of them. */
export interface ApplyView {
  readonly oplog: Pick<OplogTables, 'origin' | 'hashAt'>
  readonly clock: Pick<HybridClock, 'wall' | 'maxDriftMs'>
  readonly verifier: SignatureVerifier
  readonly limits: DecodeLimits
  /** Checked after the group's own rule (e.g. an app's hook). */
  readonly authorize?: OriginKeyAuthorizer | undefined
  /** The group this replica is in now, if any: looked up per batch, as pairing can change it. */
  readonly membership?: (() => MembershipView | undefined) | undefined
  /** Where ops from the future wait (quarantine.ts); without it they are refused as `drift`. */
  readonly quarantine?: Pick<Quarantine, 'run' | 'hashAt' | 'fits' | 'maxBytes'> | undefined
}

/** What `writePlan` writes to. */
export interface ApplyTarget {
  readonly oplog: OplogTables
  readonly state: StateTables
  readonly quarantine?: Quarantine | undefined
}

export interface PlannedRun {
  readonly origin: OriginHead | undefined
  readonly key: Uint8Array
  readonly ops: readonly Op[]
  readonly signedIndex: number
  /** Signatures to keep: the run's last verified one, and verified ones along the way (see SIGNATURE_EVERY_OPS). */
  readonly keepSig: ReadonlySet<number>
}

export interface ApplyPlan {
  readonly runs: PlannedRun[]
  readonly duplicates: number
  readonly rejected: Rejection[]
  readonly equivocating: Uint8Array[]
  readonly maxHlc: Hlc | undefined
  /** Verified ops from the future, one list per origin, to put in quarantine. */
  readonly holds: Op[][]
  /**
   * Membership records the batch carries (from any of its ops, applied or
   * not: each record proves itself), for the caller to save with the plan.
   * Authorization already counted them.
   */
  readonly records: readonly Uint8Array[]
}

/** A plan while `planApply` builds it. */
interface PlanBuilder {
  runs: PlannedRun[]
  duplicates: number
  rejected: Rejection[]
  equivocating: Uint8Array[]
  maxHlc: Hlc | undefined
  holds: Op[][]
  records: readonly Uint8Array[]
}

/**
 * The planning step: reads through `ctx`, writes nothing; the plan says what
 * to write.
 *
 * It runs once per received message, so V8 optimizes it early in a daemon's
 * life, and it is split into small functions for that: written as one
 * function whose checks were closures, it took TurboFan about 35 ms of CPU to
 * compile (most of it escape analysis), which every daemon of a group paid in
 * its first bursts of traffic (`npm run bench:group`).
 */
export function planApply (ctx: ApplyView, batch: readonly EncodedOp[]): ApplyPlan {
  const rejected: Rejection[] = []
  const byOrigin = decodeByOrigin(ctx.limits, batch, rejected)
  // Records first: a new device's ops in the same batch as its admission are accepted.
  const group = ctx.membership?.()
  const records = group === undefined ? [] : group.recordsIn(allOps(byOrigin))
  const authorize = bothAuthorizers(group?.authorizer(records), ctx.authorize)
  const plan: PlanBuilder = { runs: [], duplicates: 0, rejected, equivocating: [], maxHlc: undefined, holds: [], records }
  const wall = ctx.clock.wall()
  for (const list of byOrigin.values()) planOrigin(new OriginOps(ctx, plan, list, authorize), wall)
  return plan
}

/** Decodes a batch into its ops by origin (hex key), each with its index in the batch; an op that does not decode is rejected. */
function decodeByOrigin (limits: DecodeLimits, batch: readonly EncodedOp[], rejected: Rejection[]): Map<string, BatchOp[]> {
  const byOrigin = new Map<string, BatchOp[]>()
  // Pages come in runs of one origin: compare with the last op's origin
  // before turning the key into a map key.
  let lastOrigin: Uint8Array | undefined
  let lastList: BatchOp[] | undefined
  for (let index = 0; index < batch.length; index++) {
    let op: Op
    try {
      op = decodeOp(batch[index]!, limits)
      if (op.seq > MAX_SEQ) throw new OpRejectedError('malformed', `op seq ${op.seq} is beyond the supported range`)
    } catch (err) {
      if (!(err instanceof OpRejectedError)) throw err
      rejected.push({ index, reason: err.reason, message: err.message })
      continue
    }
    if (lastList !== undefined && bytesEqual(op.origin, lastOrigin!)) { lastList.push({ op, index }); continue }
    const k = toHex(op.origin)
    let list = byOrigin.get(k)
    if (list === undefined) byOrigin.set(k, list = [{ op, index }])
    else list.push({ op, index })
    lastOrigin = op.origin
    lastList = list
  }
  return byOrigin
}

function allOps (byOrigin: Map<string, BatchOp[]>): Op[] {
  const ops: Op[] = []
  for (const list of byOrigin.values()) for (const it of list) ops.push(it.op)
  return ops
}

/** The group's rule and an app's hook, both when there are both. */
function bothAuthorizers (group: OriginKeyAuthorizer | undefined, external: OriginKeyAuthorizer | undefined): OriginKeyAuthorizer | undefined {
  if (group === undefined) return external
  if (external === undefined) return group
  return (origin, hlc) => group(origin, hlc) && external(origin, hlc)
}

const bySeq = (a: BatchOp, b: BatchOp): number => a.op.seq - b.op.seq

/** One origin's ops in a batch, sorted by seq, with its head as we hold it; what is refused goes to the plan. */
class OriginOps {
  readonly ctx: ApplyView
  readonly plan: PlanBuilder
  readonly list: BatchOp[]
  readonly authorize: OriginKeyAuthorizer | undefined
  readonly key: Uint8Array
  readonly origin: OriginHead | undefined
  #verdicts: Map<BatchOp, Rejection | undefined> | undefined
  #position: Map<BatchOp, number> | undefined

  constructor (ctx: ApplyView, plan: PlanBuilder, list: BatchOp[], authorize: OriginKeyAuthorizer | undefined) {
    list.sort(bySeq)
    this.ctx = ctx
    this.plan = plan
    this.list = list
    this.authorize = authorize
    this.key = list[0]!.op.origin
    this.origin = ctx.oplog.origin(this.key)
  }

  reject (it: BatchOp, reason: Rejection['reason'], message: string): void {
    this.plan.rejected.push({ index: it.index, origin: this.origin?.deviceId ?? deviceIdOf(this.key), seq: it.op.seq, reason, message })
  }

  /**
   * Did the origin really sign `it`? Follows `it`'s own chain through the
   * batch to a signature covering it. Anyone can alter bytes, so only an op
   * that passes this proves equivocation. One walk settles every op of the
   * chain it covers, so a batch of forgeries costs linear time.
   */
  authenticate (it: BatchOp): Rejection | undefined {
    const verdicts = this.#verdicts ??= new Map()
    if (verdicts.has(it)) return verdicts.get(it)
    const list = this.list
    const position = this.#position ??= new Map(list.map((x, i) => [x, i]))
    const chain = [it]
    let tail = it.op
    for (let i = position.get(it)! + 1; i < list.length && list[i]!.op.seq <= tail.seq + 1; i++) {
      const next = list[i]!
      if (next.op.seq === tail.seq + 1 && bytesEqual(next.op.prev, tail.hash)) { chain.push(next); tail = next.op }
    }
    const v = verifyRun({ seq: it.op.seq - 1, hash: it.op.prev }, opsOf(chain), this.ctx.verifier)
    chain.forEach((c, i) => {
      if (!verdicts.has(c)) verdicts.set(c, i < v.accepted ? undefined : { index: c.index, reason: v.rejection!.reason, message: `op ${c.op.seq}: no valid signature of its origin covers it` })
    })
    return verdicts.get(it)
  }

  /** `it` has a seq we hold (in the oplog, or in quarantine): a duplicate, a forgery, or equivocation. */
  known (it: BatchOp, inQuarantine: boolean): void {
    const have = inQuarantine ? this.ctx.quarantine!.hashAt(this.key, it.op.seq) : this.ctx.oplog.hashAt(this.origin!, it.op.seq)
    if (have !== undefined && bytesEqual(have, it.op.hash)) { this.plan.duplicates++; return }
    const bad = this.authenticate(it)
    if (bad !== undefined) { this.reject(it, bad.reason, bad.message); return }
    this.plan.equivocating.push(this.key)
    this.reject(it, 'equivocation', `origin ${this.origin?.deviceId ?? ''}: op ${it.op.seq} differs from the op ${it.op.seq} we hold`)
  }

  /**
   * The same seq twice in one batch, which of the two to keep: identical is a
   * duplicate; of two different ops the authentic one; both authentic is
   * equivocation.
   */
  eitherOf (prev: BatchOp, it: BatchOp): BatchOp {
    if (bytesEqual(prev.op.hash, it.op.hash)) { this.plan.duplicates++; return prev }
    const bad = this.authenticate(it)
    if (bad !== undefined) { this.reject(it, bad.reason, bad.message); return prev }
    const prevBad = this.authenticate(prev)
    if (prevBad === undefined) {
      this.plan.equivocating.push(this.key)
      this.reject(it, 'equivocation', `origin signed two different ops with seq ${it.op.seq}`)
      return prev
    }
    this.reject(prev, prevBad.reason, prevBad.message)
    return it
  }

  /** Verifies `ops` as following `base` and puts what passes in quarantine (planHold). */
  hold (base: ChainHead | null, ops: readonly BatchOp[]): void {
    const ctx = { verifier: this.ctx.verifier, authorize: this.authorize }
    const held = planHold(ctx, this.ctx.quarantine!, this.key, base, ops, (it, reason, message) => this.reject(it, reason, message))
    if (held.length > 0) this.plan.holds.push(held)
  }
}

/** One origin's ops: what to append, hold or refuse. */
function planOrigin (o: OriginOps, wall: number): void {
  const held = o.ctx.quarantine?.run(o.key)
  let fresh = freshOps(o, held)
  if (held !== undefined) {
    // Ops after the origin's held run wait behind it, in chain order.
    const behind = fresh.filter(it => it.op.seq > held.last)
    fresh = fresh.filter(it => it.op.seq < held.first)
    o.hold({ seq: held.last, hash: held.lastHash, hlc: held.lastHlc }, behind)
  }
  if (fresh.length === 0) return

  const { cut, future } = firstRefused(o, fresh, wall)
  const candidates = fresh.slice(0, cut)
  const origin = o.origin
  const head = origin === undefined || origin.seq === 0 ? null : { seq: origin.seq, hash: origin.hash!, hlc: origin.hlc }
  const verdict = verifyRun(head, opsOf(candidates), o.ctx.verifier)
  // Unsigned ops just before ops from the future are held with them: the signature covering them comes later in the chain.
  const holdTail = future && (verdict.rejection === undefined || verdict.rejection.reason === 'unsigned')
  if (verdict.rejection !== undefined && !holdTail) {
    const r = verdict.rejection
    o.reject(candidates[r.index]!, r.reason, r.message)
    for (const it of candidates.slice(r.index + 1)) o.reject(it, 'gap', `op ${it.op.seq} follows op ${candidates[r.index]!.op.seq}, which was refused`)
  }
  if (holdTail) {
    const last = candidates[verdict.accepted - 1]?.op
    o.hold(last === undefined ? head : { seq: last.seq, hash: last.hash, hlc: last.hlc }, [...candidates.slice(verdict.accepted), ...fresh.slice(cut)])
  } else {
    const from = future ? cut : cut + 1
    for (const it of fresh.slice(from)) o.reject(it, 'gap', `op ${it.op.seq} follows op ${fresh[from - 1]!.op.seq}, which was refused`)
  }
  if (verdict.accepted > 0) {
    const ops = opsOf(candidates, verdict.accepted)
    const plan = o.plan
    plan.runs.push({ origin, key: o.key, ops, signedIndex: verdict.signedIndex, keepSig: signaturesToKeep(o.ctx, ops, verdict.signedIndex) })
    for (const op of ops) if (plan.maxHlc === undefined || compareHlc(op.hlc, plan.maxHlc) > 0) plan.maxHlc = op.hlc
  }
}

/** The origin's ops that we hold neither in the oplog nor in quarantine, one per seq; the others are settled (`known`, `eitherOf`). */
function freshOps (o: OriginOps, held: HeldRun | undefined): BatchOp[] {
  const headSeq = o.origin?.seq ?? 0
  const fresh: BatchOp[] = []
  for (const it of o.list) {
    const inQuarantine = held !== undefined && it.op.seq >= held.first && it.op.seq <= held.last
    if (it.op.seq <= headSeq || inQuarantine) { o.known(it, inQuarantine); continue }
    const prev = fresh[fresh.length - 1]
    if (prev !== undefined && prev.op.seq === it.op.seq) fresh[fresh.length - 1] = o.eitherOf(prev, it)
    else fresh.push(it)
  }
  return fresh
}

/**
 * Where to truncate fresh ops: at the first we must refuse (or hold) whatever
 * its signature says, an HLC beyond the drift limit (`future` when the
 * quarantine takes it) or an origin not authorized at that time.
 */
function firstRefused (o: OriginOps, fresh: readonly BatchOp[], wall: number): { cut: number, future: boolean } {
  const { clock, quarantine } = o.ctx
  for (let i = 0; i < fresh.length; i++) {
    const { op } = fresh[i]!
    if (op.hlc.ms - wall > clock.maxDriftMs) {
      if (quarantine !== undefined) return { cut: i, future: true }
      o.reject(fresh[i]!, 'drift', `op ${op.seq}: HLC is ${op.hlc.ms - wall} ms ahead of the local clock (max drift ${clock.maxDriftMs} ms)`)
      return { cut: i, future: false }
    }
    if (o.authorize !== undefined && !o.authorize(o.key, op.hlc)) {
      o.reject(fresh[i]!, 'not_member', `op ${op.seq}: origin is not a member of this group at the op's time`)
      return { cut: i, future: false }
    }
  }
  return { cut: fresh.length, future: false }
}

const deviceIdCache = new Map<string, string>()
function deviceIdOf (key: Uint8Array): string {
  const hex = Buffer.from(key).toString('hex')
  let id = deviceIdCache.get(hex)
  if (id === undefined) {
    try { id = deviceIdToString(key) } catch { id = hex }
    if (deviceIdCache.size > 4096) deviceIdCache.clear()
    deviceIdCache.set(hex, id)
  }
  return id
}

/**
 * Which signatures of an accepted run to store. The chain is authentic from
 * the last one alone; the others are kept only every SIGNATURE_EVERY_OPS ops
 * or SIGNATURE_EVERY_BYTES bytes, and each is verified first (one check per
 * interval), so a forwarder cannot plant a bad signature that would later
 * end a page we serve.
 */
function signaturesToKeep (ctx: ApplyView, ops: readonly Op[], signedIndex: number): Set<number> {
  const keep = new Set<number>([signedIndex])
  let opsSince = 0
  let bytesSince = 0
  for (let i = 0; i < signedIndex; i++) {
    const op = ops[i]!
    opsSince++
    bytesSince += op.body.length + (op.sig?.length ?? 0)
    if (op.sig === undefined || (opsSince < SIGNATURE_EVERY_OPS && bytesSince < SIGNATURE_EVERY_BYTES)) continue
    if (ctx.verifier.verify(op.origin, signingMessage(op.hash), op.sig)) {
      keep.add(i)
      opsSince = 0
      bytesSince = 0
    }
  }
  return keep
}

function originKeyOf (id: string | undefined): Uint8Array | undefined {
  if (id === undefined) return undefined
  try { return parseDeviceId(id) } catch { return undefined }
}

/** Writes a plan (all but its `records`, which the group's owner saves); must run inside a transaction. Returns the applied ops. */
export function writePlan (ctx: ApplyTarget, plan: ApplyPlan, now: number): Op[] {
  const applied: Op[] = []
  for (const run of plan.runs) {
    const origin = run.origin ?? ctx.oplog.ensureOrigin(run.key)
    ctx.oplog.append(origin, run.ops, run.keepSig)
    for (const op of run.ops) applied.push(op)
  }
  ctx.state.applyMany(applied)
  for (const ops of plan.holds) ctx.quarantine!.hold(ops, now)
  for (const key of plan.equivocating) ctx.oplog.flagEquivocating(ctx.oplog.ensureOrigin(key))
  for (const r of plan.rejected) ctx.oplog.recordRejection(now, originKeyOf(r.origin), r.seq, r.reason, r.message)
  if (plan.rejected.length > 0) ctx.oplog.trimRejections()
  return applied
}

export function resultOf (plan: ApplyPlan, applied: number): ApplyResult {
  let held = 0
  for (const ops of plan.holds) held += ops.length
  return { applied, duplicates: plan.duplicates, rejected: plan.rejected, held }
}
