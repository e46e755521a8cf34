/**
 * The weft sync protocol: wire messages, framing, and the session logic that
 * brings two replicas to the same version vector.
 *
 * Nothing here imports libp2p or SQLite. The session runs over an abstract
 * framed duplex (`FrameDuplex`) against the `SyncStore` port, so it is tested
 * with in-memory pipes and stores and wired to libp2p streams in `net/`.
 */
export * from './constants.js'
export * from './errors.js'
export { FramedChannel, encodeLengthPrefix, type ByteChannel, type FrameDuplex, type FramingOptions } from './framing.js'
export { checkHello, decodeFrame, type CheckedHello, type Decoded } from './messages.js'
export { packOps, unpackOps, packBytes, unpackBytes, decodeOpList, encodedOpsBytes, type PackedOps, type PackOptions, type UnpackOptions } from './ops-codec.js'
export { RunAssembler, planPage, type HeldRunInfo, type RunAssemblerOptions, type RunIdentity, type FragmentHeader } from './fragments.js'
export { withDeadline } from './deadline.js'
export { runSyncSession, SyncSession, type PageProgress, type SessionLogger, type SessionOptions, type SessionResult, type SessionStats } from './session.js'
export { isAhead, opsBeyond, vectorFromWire, vectorToObject, vectorToWire, vectorsEqual } from './vector.js'
export type { ApplyResult, OpsPage, OpsSinceOptions, Rejection, SyncStore, VersionVector } from './port.js'
export { Announce, Compression, ErrorCode, SyncMessage } from './pb/sync.js'
