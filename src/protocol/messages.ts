/**
 * Decoding and checking sync frames at the boundary: one frame in, one
 * well-formed message out, or a typed error (BAD_REQUEST, TOO_LARGE,
 * VERSION_MISMATCH, NOT_MEMBER). Everything past this module works with
 * trusted shapes.
 */
import { OP_FORMAT_VERSION } from '../oplog/op.js'
import { deviceIdToString, PUBLIC_KEY_BYTES } from '../oplog/keys.js'
import { MAX_GROUP_ID_BYTES, MAX_HELD_RUNS, MAX_HELLO_SCHEMAS, MAX_SCHEMA_COLLECTION_BYTES, MAX_VECTOR_ENTRIES, SYNC_WIRE_VERSION } from './constants.js'
import { BadRequestError, NotMemberError, TooLargeError, VersionMismatchError } from './errors.js'
import { SyncMessage, type Hello } from './pb/sync.js'
import { vectorFromWire } from './vector.js'

export type Decoded =
  | { kind: 'hello', hello: NonNullable<SyncMessage['hello']> }
  | { kind: 'want', want: NonNullable<SyncMessage['want']> }
  | { kind: 'page', page: NonNullable<SyncMessage['page']> }
  | { kind: 'done', done: NonNullable<SyncMessage['done']> }
  | { kind: 'error', error: NonNullable<SyncMessage['error']> }

const DECODE_LIMITS = {
  limits: {
    hello: { vector: MAX_VECTOR_ENTRIES, schemas: MAX_HELLO_SCHEMAS },
    want: { vector: MAX_VECTOR_ENTRIES, held: MAX_HELD_RUNS },
    done: { vector: MAX_VECTOR_ENTRIES }
  }
}

export function decodeFrame (frame: Uint8Array): Decoded {
  let msg: SyncMessage
  try {
    msg = SyncMessage.decode(frame, DECODE_LIMITS)
  } catch (err) {
    if ((err as Error).name === 'MaxLengthError') throw new TooLargeError(`a list in the frame is over its limit (${MAX_VECTOR_ENTRIES} vector entries, ${MAX_HELD_RUNS} held runs, ${MAX_HELLO_SCHEMAS} schema versions in a hello)`)
    throw new BadRequestError('frame does not decode as a sync message')
  }
  const set = [msg.hello, msg.want, msg.page, msg.done, msg.error].filter(x => x !== undefined).length
  if (set !== 1) throw new BadRequestError(set === 0 ? 'sync message carries no payload' : 'sync message carries more than one payload')
  if (msg.hello !== undefined) return { kind: 'hello', hello: msg.hello }
  if (msg.want !== undefined) return { kind: 'want', want: msg.want }
  if (msg.page !== undefined) return { kind: 'page', page: msg.page }
  if (msg.done !== undefined) return { kind: 'done', done: msg.done }
  return { kind: 'error', error: msg.error! }
}

export interface CheckedHello {
  readonly deviceId: string
  readonly groupId: string
  readonly vector: Map<string, number>
  /** Collection -> version of the schemas the peer's app declared (empty from peers older than schemas). */
  readonly schemas: Map<string, number>
}

export interface HelloExpectations {
  readonly groupId: string
  /** The peer id the connection authenticated, when known: the hello must claim the same device. */
  readonly expectedDeviceId?: string | undefined
}

/** Checks a remote hello against our versions, group and the connection's peer. Membership is checked by the caller. */
export function checkHello (hello: Hello, expect: HelloExpectations): CheckedHello {
  if (hello.protocolVersion !== SYNC_WIRE_VERSION) {
    throw new VersionMismatchError(`sync protocol version ${hello.protocolVersion} is not supported (this node speaks ${SYNC_WIRE_VERSION})`)
  }
  if (hello.dataFormatVersion !== OP_FORMAT_VERSION) {
    throw new VersionMismatchError(`op format version ${hello.dataFormatVersion} is not supported (this node reads ${OP_FORMAT_VERSION})`)
  }
  if (Buffer.byteLength(hello.groupId) > MAX_GROUP_ID_BYTES) throw new TooLargeError(`group id is over ${MAX_GROUP_ID_BYTES} bytes`)
  if (hello.deviceId.byteLength !== PUBLIC_KEY_BYTES) throw new BadRequestError(`hello device id is ${hello.deviceId.byteLength} bytes, expected ${PUBLIC_KEY_BYTES}`)
  const deviceId = deviceIdToString(hello.deviceId)
  if (expect.expectedDeviceId !== undefined && deviceId !== expect.expectedDeviceId) {
    throw new BadRequestError('hello device id is not the peer id of the connection')
  }
  if (hello.groupId !== expect.groupId) throw new NotMemberError(`not a member of group ${JSON.stringify(hello.groupId)}`)
  return { deviceId, groupId: hello.groupId, vector: vectorFromWire(hello.vector, 'hello vector'), schemas: schemasFromWire(hello.schemas ?? []) }
}

function schemasFromWire (entries: ReadonlyArray<{ collection: string, version: number }>): Map<string, number> {
  const out = new Map<string, number>()
  for (const { collection, version } of entries) {
    if (collection === '' || Buffer.byteLength(collection) > MAX_SCHEMA_COLLECTION_BYTES) throw new BadRequestError(`hello schema names a collection of ${Buffer.byteLength(collection)} bytes (1 to ${MAX_SCHEMA_COLLECTION_BYTES})`)
    if (version < 1) throw new BadRequestError(`hello schema of ${JSON.stringify(collection.slice(0, 80))} has version 0`)
    if (out.has(collection)) throw new BadRequestError(`hello names the schema of ${JSON.stringify(collection.slice(0, 80))} twice`)
    out.set(collection, version)
  }
  return out
}
