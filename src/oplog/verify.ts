/**
 * Verifying a run of one origin's ops against what we already hold.
 *
 * Fast path: check every hash link (one SHA-256 each, already computed at
 * decode), then one signature, the last signed op's, which through the chain
 * authenticates every op before it. Only if that signature fails do we look
 * for the longest prefix that some signature does authenticate.
 */
import { compareHlc, type Hlc } from '../hlc/index.js'
import { bytesEqual } from './bytes.js'
import type { SignatureVerifier } from './keys.js'
import { signingMessage, type Op, type RejectReason } from './op.js'

export interface ChainHead {
  readonly seq: number
  readonly hash: Uint8Array
  /** HLC of op `seq`, when known: the next op's HLC must be greater. */
  readonly hlc?: Hlc | undefined
}

export interface RunRejection {
  /** Index into the run of the first op refused; every op from there on is refused too. */
  readonly index: number
  readonly reason: RejectReason
  readonly message: string
}

export interface RunVerdict {
  /** Ops [0, accepted) are authentic and extend the head contiguously. */
  readonly accepted: number
  /** Index (in the run) of the op whose signature was verified: the new head keeps it. */
  readonly signedIndex: number
  readonly rejection?: RunRejection
}

/**
 * `run` must be one origin's ops sorted by seq, all with seq > head.seq.
 * `head` is null when we hold nothing of this origin.
 */
export function verifyRun (head: ChainHead | null, run: readonly Op[], verifier: SignatureVerifier): RunVerdict {
  let expectedSeq = (head?.seq ?? 0) + 1
  let prevHash = head?.hash
  let prevHlc = head?.hlc
  let linked = run.length
  let rejection: RunRejection | undefined
  for (let i = 0; i < run.length; i++) {
    const op = run[i]!
    if (op.seq !== expectedSeq) {
      linked = i
      rejection = { index: i, reason: 'gap', message: `op ${op.seq} does not follow ${expectedSeq - 1}: the origin's ops must arrive as a contiguous prefix` }
      break
    }
    if (prevHash !== undefined && !bytesEqual(op.prev, prevHash)) {
      linked = i
      rejection = { index: i, reason: 'broken_chain', message: `op ${op.seq}: prev hash does not match the hash of op ${op.seq - 1}` }
      break
    }
    // An origin's HLC rises along its chain; stamps (HLC, origin) must stay
    // unique per op, as the counter and set tables and the model rely on.
    if (prevHlc !== undefined && compareHlc(op.hlc, prevHlc) <= 0) {
      linked = i
      rejection = { index: i, reason: 'broken_chain', message: `op ${op.seq}: HLC does not increase over op ${op.seq - 1} of the same origin` }
      break
    }
    prevHash = op.hash
    prevHlc = op.hlc
    expectedSeq++
  }

  let lastSigned = -1
  for (let i = linked - 1; i >= 0; i--) if (run[i]!.sig !== undefined) { lastSigned = i; break }
  if (lastSigned < linked - 1) {
    // Ops after the last signature: nothing authenticates them (yet).
    rejection = { index: lastSigned + 1, reason: 'unsigned', message: `op ${run[lastSigned + 1]!.seq}: no signature covers it (a run must end with a signed op)` }
  }
  if (lastSigned < 0) return { accepted: 0, signedIndex: -1, ...(rejection === undefined ? {} : { rejection }) }

  const origin = run[0]!.origin
  const check = (i: number): boolean => verifier.verify(origin, signingMessage(run[i]!.hash), run[i]!.sig!)
  if (check(lastSigned)) {
    return { accepted: lastSigned + 1, signedIndex: lastSigned, ...(rejection === undefined ? {} : { rejection }) }
  }
  // Slow path: the newest signature is bad. Find the newest one that verifies.
  for (let i = lastSigned - 1; i >= 0; i--) {
    if (run[i]!.sig !== undefined && check(i)) {
      return { accepted: i + 1, signedIndex: i, rejection: { index: i + 1, reason: 'bad_signature', message: `op ${run[i + 1]!.seq}: the signature covering it does not verify with the origin's key` } }
    }
  }
  return { accepted: 0, signedIndex: -1, rejection: { index: 0, reason: 'bad_signature', message: `op ${run[0]!.seq}: the signature covering it does not verify with the origin's key` } }
}
