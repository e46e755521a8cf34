// @ts-nocheck: protons output does not satisfy exactOptionalPropertyTypes
import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface AuthRequest {
  scheme: string
  credential: Uint8Array
}

export namespace AuthRequest {
  let _codec: Codec<AuthRequest>

  export const codec = (): Codec<AuthRequest> => {
    if (_codec == null) {
      _codec = message<AuthRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.scheme != null && obj.scheme !== '')) {
          w.uint32(10)
          w.string(obj.scheme)
        }

        if ((obj.credential != null && obj.credential.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.credential)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          scheme: '',
          credential: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.scheme = reader.string()
              break
            }
            case 2: {
              obj.credential = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.scheme`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.credential`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AuthRequestSchemeFieldEvent {
    field: '$.scheme'
    value: string
  }

  export interface AuthRequestCredentialFieldEvent {
    field: '$.credential'
    value: Uint8Array
  }

  export function encode (obj: Partial<AuthRequest>): Uint8Array {
    return encodeMessage(obj, AuthRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthRequest>): AuthRequest {
    return decodeMessage(buf, AuthRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthRequest>): Generator<AuthRequestSchemeFieldEvent | AuthRequestCredentialFieldEvent> {
    return streamMessage(buf, AuthRequest.codec(), opts)
  }
}

export interface AuthResponse {
  status: AuthResponse.Status
  group: string
  validUntilMs: number
  durationLimitMs: number
  dataLimitBytes: number
}

export namespace AuthResponse {
  export enum Status {
    UNSPECIFIED = 'UNSPECIFIED',
    OK = 'OK',
    UNKNOWN_SCHEME = 'UNKNOWN_SCHEME',
    MALFORMED = 'MALFORMED',
    UNKNOWN_GROUP = 'UNKNOWN_GROUP',
    BAD_SIGNATURE = 'BAD_SIGNATURE',
    WRONG_PEER = 'WRONG_PEER',
    NOT_YET_VALID = 'NOT_YET_VALID',
    EXPIRED = 'EXPIRED',
    INTERNAL_ERROR = 'INTERNAL_ERROR'
  }

  enum __StatusValues {
    UNSPECIFIED = 0,
    OK = 1,
    UNKNOWN_SCHEME = 2,
    MALFORMED = 3,
    UNKNOWN_GROUP = 4,
    BAD_SIGNATURE = 5,
    WRONG_PEER = 6,
    NOT_YET_VALID = 7,
    EXPIRED = 8,
    INTERNAL_ERROR = 9
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<AuthResponse>

  export const codec = (): Codec<AuthResponse> => {
    if (_codec == null) {
      _codec = message<AuthResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          AuthResponse.Status.codec().encode(obj.status, w)
        }

        if ((obj.group != null && obj.group !== '')) {
          w.uint32(18)
          w.string(obj.group)
        }

        if ((obj.validUntilMs != null && obj.validUntilMs !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.validUntilMs)
        }

        if ((obj.durationLimitMs != null && obj.durationLimitMs !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.durationLimitMs)
        }

        if ((obj.dataLimitBytes != null && obj.dataLimitBytes !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.dataLimitBytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.UNSPECIFIED,
          group: '',
          validUntilMs: 0,
          durationLimitMs: 0,
          dataLimitBytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = AuthResponse.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.group = reader.string()
              break
            }
            case 3: {
              obj.validUntilMs = reader.uint64Number()
              break
            }
            case 4: {
              obj.durationLimitMs = reader.uint64Number()
              break
            }
            case 5: {
              obj.dataLimitBytes = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: AuthResponse.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.group`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.validUntilMs`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.durationLimitMs`,
                value: reader.uint64Number()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.dataLimitBytes`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AuthResponseStatusFieldEvent {
    field: '$.status'
    value: AuthResponse.Status
  }

  export interface AuthResponseGroupFieldEvent {
    field: '$.group'
    value: string
  }

  export interface AuthResponseValidUntilMsFieldEvent {
    field: '$.validUntilMs'
    value: number
  }

  export interface AuthResponseDurationLimitMsFieldEvent {
    field: '$.durationLimitMs'
    value: number
  }

  export interface AuthResponseDataLimitBytesFieldEvent {
    field: '$.dataLimitBytes'
    value: number
  }

  export function encode (obj: Partial<AuthResponse>): Uint8Array {
    return encodeMessage(obj, AuthResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthResponse>): AuthResponse {
    return decodeMessage(buf, AuthResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthResponse>): Generator<AuthResponseStatusFieldEvent | AuthResponseGroupFieldEvent | AuthResponseValidUntilMsFieldEvent | AuthResponseDurationLimitMsFieldEvent | AuthResponseDataLimitBytesFieldEvent> {
    return streamMessage(buf, AuthResponse.codec(), opts)
  }
}

export interface GroupStatement {
  groupKey: Uint8Array
  peer: Uint8Array
  notBeforeMs: number
  notAfterMs: number
  signature: Uint8Array
}

export namespace GroupStatement {
  let _codec: Codec<GroupStatement>

  export const codec = (): Codec<GroupStatement> => {
    if (_codec == null) {
      _codec = message<GroupStatement>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.groupKey != null && obj.groupKey.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.groupKey)
        }

        if ((obj.peer != null && obj.peer.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.peer)
        }

        if ((obj.notBeforeMs != null && obj.notBeforeMs !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.notBeforeMs)
        }

        if ((obj.notAfterMs != null && obj.notAfterMs !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.notAfterMs)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          groupKey: uint8ArrayAlloc(0),
          peer: uint8ArrayAlloc(0),
          notBeforeMs: 0,
          notAfterMs: 0,
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.groupKey = reader.bytes()
              break
            }
            case 2: {
              obj.peer = reader.bytes()
              break
            }
            case 3: {
              obj.notBeforeMs = reader.uint64Number()
              break
            }
            case 4: {
              obj.notAfterMs = reader.uint64Number()
              break
            }
            case 5: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.groupKey`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.notBeforeMs`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.notAfterMs`,
                value: reader.uint64Number()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface GroupStatementGroupKeyFieldEvent {
    field: '$.groupKey'
    value: Uint8Array
  }

  export interface GroupStatementPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array
  }

  export interface GroupStatementNotBeforeMsFieldEvent {
    field: '$.notBeforeMs'
    value: number
  }

  export interface GroupStatementNotAfterMsFieldEvent {
    field: '$.notAfterMs'
    value: number
  }

  export interface GroupStatementSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array
  }

  export function encode (obj: Partial<GroupStatement>): Uint8Array {
    return encodeMessage(obj, GroupStatement.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupStatement>): GroupStatement {
    return decodeMessage(buf, GroupStatement.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupStatement>): Generator<GroupStatementGroupKeyFieldEvent | GroupStatementPeerFieldEvent | GroupStatementNotBeforeMsFieldEvent | GroupStatementNotAfterMsFieldEvent | GroupStatementSignatureFieldEvent> {
    return streamMessage(buf, GroupStatement.codec(), opts)
  }
}
