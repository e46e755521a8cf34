/**
 * weft's library API: open a replica, read and write it, and hand its ops to
 * peers. The network node, daemon and CLI are built on exactly this.
 */
import './polyfill.js'

export { openReplica, Replica, MAX_BATCH_OPS } from './store/replica.js'
export { loadStoreDeviceKey, StoreDeviceKey } from './store/device-key-file.js'
export type { ReplicaOptions, ChangeEvent, ChangeListener, ListOptions, Row, Writer } from './store/replica.js'
export type { ApplyResult, OpsPage, OpsSinceOptions, Rejection, SyncStore, VersionVector } from './protocol/port.js'
export type { EncodedOp, Op, OpKind, RejectReason } from './oplog/op.js'
export type { Value, JsonValue } from './oplog/value.js'
export type { Hlc, WallClock } from './hlc/index.js'
export { DeviceKey, deviceIdToString, parseDeviceId } from './oplog/keys.js'
export { WeftError, InvalidArgumentError, ClockDriftError, MalformedError, StoreOpenError, StoreCorruptError, DiskFullError, ClosedError, ERROR_CODE_MEANINGS, isErrorCode, parseErrorCode } from './errors.js'
export type { ErrorCode, StoreOpenReason } from './errors.js'
export type { CollectionSchema, FieldSpec, FieldType, DeclareResult, SchemaInfo, QueryOptions, QueryParams, QueryResult, SqlParam, LiveQuery, LiveQueryListener, LiveQueryOptions } from './store/tables/index.js'
export { FIELD_TYPES, SchemaError, QueryError, QueryLimitError, QueryTimeoutError } from './store/tables/index.js'
export { QueryProcess, type QueryProcessOptions } from './store/tables/query-process.js'
