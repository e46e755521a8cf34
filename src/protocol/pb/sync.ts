// @ts-nocheck: protons output does not satisfy exactOptionalPropertyTypes
import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface VectorEntry {
  origin: Uint8Array
  seq: number
}

export namespace VectorEntry {
  let _codec: Codec<VectorEntry>

  export const codec = (): Codec<VectorEntry> => {
    if (_codec == null) {
      _codec = message<VectorEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.origin != null && obj.origin.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.origin)
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.seq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          origin: uint8ArrayAlloc(0),
          seq: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.origin = reader.bytes()
              break
            }
            case 2: {
              obj.seq = reader.uint64Number()
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
                field: `${prefix}.origin`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.seq`,
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

  export interface VectorEntryOriginFieldEvent {
    field: '$.origin'
    value: Uint8Array
  }

  export interface VectorEntrySeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export function encode (obj: Partial<VectorEntry>): Uint8Array {
    return encodeMessage(obj, VectorEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<VectorEntry>): VectorEntry {
    return decodeMessage(buf, VectorEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<VectorEntry>): Generator<VectorEntryOriginFieldEvent | VectorEntrySeqFieldEvent> {
    return streamMessage(buf, VectorEntry.codec(), opts)
  }
}

export interface SchemaVersion {
  collection: string
  version: number
}

export namespace SchemaVersion {
  let _codec: Codec<SchemaVersion>

  export const codec = (): Codec<SchemaVersion> => {
    if (_codec == null) {
      _codec = message<SchemaVersion>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.collection != null && obj.collection !== '')) {
          w.uint32(10)
          w.string(obj.collection)
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(16)
          w.uint32(obj.version)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          collection: '',
          version: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.collection = reader.string()
              break
            }
            case 2: {
              obj.version = reader.uint32()
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
                field: `${prefix}.collection`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
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

  export interface SchemaVersionCollectionFieldEvent {
    field: '$.collection'
    value: string
  }

  export interface SchemaVersionVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export function encode (obj: Partial<SchemaVersion>): Uint8Array {
    return encodeMessage(obj, SchemaVersion.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SchemaVersion>): SchemaVersion {
    return decodeMessage(buf, SchemaVersion.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SchemaVersion>): Generator<SchemaVersionCollectionFieldEvent | SchemaVersionVersionFieldEvent> {
    return streamMessage(buf, SchemaVersion.codec(), opts)
  }
}

export interface Hello {
  protocolVersion: number
  groupId: string
  deviceId: Uint8Array
  dataFormatVersion: number
  vector: VectorEntry[]
  schemas: SchemaVersion[]
  crossed?: boolean
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.protocolVersion != null && obj.protocolVersion !== 0)) {
          w.uint32(8)
          w.uint32(obj.protocolVersion)
        }

        if ((obj.groupId != null && obj.groupId !== '')) {
          w.uint32(18)
          w.string(obj.groupId)
        }

        if ((obj.deviceId != null && obj.deviceId.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.deviceId)
        }

        if ((obj.dataFormatVersion != null && obj.dataFormatVersion !== 0)) {
          w.uint32(32)
          w.uint32(obj.dataFormatVersion)
        }

        if (obj.vector != null && obj.vector.length > 0) {
          for (const value of obj.vector) {
            w.uint32(42)
            VectorEntry.codec().encode(value, w)
          }
        }

        if (obj.schemas != null && obj.schemas.length > 0) {
          for (const value of obj.schemas) {
            w.uint32(50)
            SchemaVersion.codec().encode(value, w)
          }
        }

        if (obj.crossed != null) {
          w.uint32(56)
          w.bool(obj.crossed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          protocolVersion: 0,
          groupId: '',
          deviceId: uint8ArrayAlloc(0),
          dataFormatVersion: 0,
          vector: [],
          schemas: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.protocolVersion = reader.uint32()
              break
            }
            case 2: {
              obj.groupId = reader.string()
              break
            }
            case 3: {
              obj.deviceId = reader.bytes()
              break
            }
            case 4: {
              obj.dataFormatVersion = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.vector != null && obj.vector.length === opts.limits.vector) {
                throw new MaxLengthError('Decode error - repeated field "vector" had too many elements')
              }

              obj.vector.push(VectorEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.vector$
              }))
              break
            }
            case 6: {
              if (opts.limits?.schemas != null && obj.schemas.length === opts.limits.schemas) {
                throw new MaxLengthError('Decode error - repeated field "schemas" had too many elements')
              }

              obj.schemas.push(SchemaVersion.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.schemas$
              }))
              break
            }
            case 7: {
              obj.crossed = reader.bool()
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
        const obj = {
          vector: 0,
          schemas: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.protocolVersion`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.groupId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.deviceId`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.dataFormatVersion`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              if (opts.limits?.vector != null && obj.vector === opts.limits.vector) {
                throw new MaxLengthError('Streaming decode error - repeated field "vector" had too many elements')
              }

              for (const evt of VectorEntry.codec().stream(reader, reader.uint32(), `${prefix}.vector[]`, {
                limits: opts.limits?.vector$
              })) {
                yield {
                  ...evt,
                  index: obj.vector
                }
              }

              obj.vector++

              break
            }
            case 6: {
              if (opts.limits?.schemas != null && obj.schemas === opts.limits.schemas) {
                throw new MaxLengthError('Streaming decode error - repeated field "schemas" had too many elements')
              }

              for (const evt of SchemaVersion.codec().stream(reader, reader.uint32(), `${prefix}.schemas[]`, {
                limits: opts.limits?.schemas$
              })) {
                yield {
                  ...evt,
                  index: obj.schemas
                }
              }

              obj.schemas++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.crossed`,
                value: reader.bool()
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

  export interface HelloProtocolVersionFieldEvent {
    field: '$.protocolVersion'
    value: number
  }

  export interface HelloGroupIdFieldEvent {
    field: '$.groupId'
    value: string
  }

  export interface HelloDeviceIdFieldEvent {
    field: '$.deviceId'
    value: Uint8Array
  }

  export interface HelloDataFormatVersionFieldEvent {
    field: '$.dataFormatVersion'
    value: number
  }

  export interface HelloVectorOriginFieldEvent {
    field: '$.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface HelloVectorSeqFieldEvent {
    field: '$.vector[].seq'
    value: number
    index: number
  }

  export interface HelloSchemasCollectionFieldEvent {
    field: '$.schemas[].collection'
    value: string
    index: number
  }

  export interface HelloSchemasVersionFieldEvent {
    field: '$.schemas[].version'
    value: number
    index: number
  }

  export interface HelloCrossedFieldEvent {
    field: '$.crossed'
    value: boolean
  }

  export function encode (obj: Partial<Hello>): Uint8Array {
    return encodeMessage(obj, Hello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello {
    return decodeMessage(buf, Hello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Generator<HelloProtocolVersionFieldEvent | HelloGroupIdFieldEvent | HelloDeviceIdFieldEvent | HelloDataFormatVersionFieldEvent | HelloVectorOriginFieldEvent | HelloVectorSeqFieldEvent | HelloSchemasCollectionFieldEvent | HelloSchemasVersionFieldEvent | HelloCrossedFieldEvent> {
    return streamMessage(buf, Hello.codec(), opts)
  }
}

export interface Want {
  vector: VectorEntry[]
  maxOps: number
  maxBytes: number
  fragmentAboveBytes: number
  held: RunPrefix[]
}

export namespace Want {
  let _codec: Codec<Want>

  export const codec = (): Codec<Want> => {
    if (_codec == null) {
      _codec = message<Want>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.vector != null && obj.vector.length > 0) {
          for (const value of obj.vector) {
            w.uint32(10)
            VectorEntry.codec().encode(value, w)
          }
        }

        if ((obj.maxOps != null && obj.maxOps !== 0)) {
          w.uint32(16)
          w.uint32(obj.maxOps)
        }

        if ((obj.maxBytes != null && obj.maxBytes !== 0)) {
          w.uint32(24)
          w.uint32(obj.maxBytes)
        }

        if ((obj.fragmentAboveBytes != null && obj.fragmentAboveBytes !== 0)) {
          w.uint32(32)
          w.uint32(obj.fragmentAboveBytes)
        }

        if (obj.held != null && obj.held.length > 0) {
          for (const value of obj.held) {
            w.uint32(42)
            RunPrefix.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          vector: [],
          maxOps: 0,
          maxBytes: 0,
          fragmentAboveBytes: 0,
          held: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.vector != null && obj.vector.length === opts.limits.vector) {
                throw new MaxLengthError('Decode error - repeated field "vector" had too many elements')
              }

              obj.vector.push(VectorEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.vector$
              }))
              break
            }
            case 2: {
              obj.maxOps = reader.uint32()
              break
            }
            case 3: {
              obj.maxBytes = reader.uint32()
              break
            }
            case 4: {
              obj.fragmentAboveBytes = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.held != null && obj.held.length === opts.limits.held) {
                throw new MaxLengthError('Decode error - repeated field "held" had too many elements')
              }

              obj.held.push(RunPrefix.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.held$
              }))
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
        const obj = {
          vector: 0,
          held: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.vector != null && obj.vector === opts.limits.vector) {
                throw new MaxLengthError('Streaming decode error - repeated field "vector" had too many elements')
              }

              for (const evt of VectorEntry.codec().stream(reader, reader.uint32(), `${prefix}.vector[]`, {
                limits: opts.limits?.vector$
              })) {
                yield {
                  ...evt,
                  index: obj.vector
                }
              }

              obj.vector++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.maxOps`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.maxBytes`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.fragmentAboveBytes`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              if (opts.limits?.held != null && obj.held === opts.limits.held) {
                throw new MaxLengthError('Streaming decode error - repeated field "held" had too many elements')
              }

              for (const evt of RunPrefix.codec().stream(reader, reader.uint32(), `${prefix}.held[]`, {
                limits: opts.limits?.held$
              })) {
                yield {
                  ...evt,
                  index: obj.held
                }
              }

              obj.held++

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

  export interface WantVectorOriginFieldEvent {
    field: '$.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface WantVectorSeqFieldEvent {
    field: '$.vector[].seq'
    value: number
    index: number
  }

  export interface WantMaxOpsFieldEvent {
    field: '$.maxOps'
    value: number
  }

  export interface WantMaxBytesFieldEvent {
    field: '$.maxBytes'
    value: number
  }

  export interface WantFragmentAboveBytesFieldEvent {
    field: '$.fragmentAboveBytes'
    value: number
  }

  export interface WantHeldOriginFieldEvent {
    field: '$.held[].origin'
    value: Uint8Array
    index: number
  }

  export interface WantHeldFirstSeqFieldEvent {
    field: '$.held[].firstSeq'
    value: number
    index: number
  }

  export interface WantHeldLastSeqFieldEvent {
    field: '$.held[].lastSeq'
    value: number
    index: number
  }

  export interface WantHeldDigestFieldEvent {
    field: '$.held[].digest'
    value: Uint8Array
    index: number
  }

  export interface WantHeldBytesFieldEvent {
    field: '$.held[].bytes'
    value: number
    index: number
  }

  export function encode (obj: Partial<Want>): Uint8Array {
    return encodeMessage(obj, Want.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Want>): Want {
    return decodeMessage(buf, Want.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Want>): Generator<WantVectorOriginFieldEvent | WantVectorSeqFieldEvent | WantMaxOpsFieldEvent | WantMaxBytesFieldEvent | WantFragmentAboveBytesFieldEvent | WantHeldOriginFieldEvent | WantHeldFirstSeqFieldEvent | WantHeldLastSeqFieldEvent | WantHeldDigestFieldEvent | WantHeldBytesFieldEvent> {
    return streamMessage(buf, Want.codec(), opts)
  }
}

export interface RunPrefix {
  origin: Uint8Array
  firstSeq: number
  lastSeq: number
  digest: Uint8Array
  bytes: number
}

export namespace RunPrefix {
  let _codec: Codec<RunPrefix>

  export const codec = (): Codec<RunPrefix> => {
    if (_codec == null) {
      _codec = message<RunPrefix>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.origin != null && obj.origin.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.origin)
        }

        if ((obj.firstSeq != null && obj.firstSeq !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.firstSeq)
        }

        if ((obj.lastSeq != null && obj.lastSeq !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.lastSeq)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.digest)
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(40)
          w.uint32(obj.bytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          origin: uint8ArrayAlloc(0),
          firstSeq: 0,
          lastSeq: 0,
          digest: uint8ArrayAlloc(0),
          bytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.origin = reader.bytes()
              break
            }
            case 2: {
              obj.firstSeq = reader.uint64Number()
              break
            }
            case 3: {
              obj.lastSeq = reader.uint64Number()
              break
            }
            case 4: {
              obj.digest = reader.bytes()
              break
            }
            case 5: {
              obj.bytes = reader.uint32()
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
                field: `${prefix}.origin`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.firstSeq`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.lastSeq`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.bytes`,
                value: reader.uint32()
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

  export interface RunPrefixOriginFieldEvent {
    field: '$.origin'
    value: Uint8Array
  }

  export interface RunPrefixFirstSeqFieldEvent {
    field: '$.firstSeq'
    value: number
  }

  export interface RunPrefixLastSeqFieldEvent {
    field: '$.lastSeq'
    value: number
  }

  export interface RunPrefixDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array
  }

  export interface RunPrefixBytesFieldEvent {
    field: '$.bytes'
    value: number
  }

  export function encode (obj: Partial<RunPrefix>): Uint8Array {
    return encodeMessage(obj, RunPrefix.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RunPrefix>): RunPrefix {
    return decodeMessage(buf, RunPrefix.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RunPrefix>): Generator<RunPrefixOriginFieldEvent | RunPrefixFirstSeqFieldEvent | RunPrefixLastSeqFieldEvent | RunPrefixDigestFieldEvent | RunPrefixBytesFieldEvent> {
    return streamMessage(buf, RunPrefix.codec(), opts)
  }
}

export interface Fragment {
  origin: Uint8Array
  firstSeq: number
  lastSeq: number
  digest: Uint8Array
  totalBytes: number
  offset: number
}

export namespace Fragment {
  let _codec: Codec<Fragment>

  export const codec = (): Codec<Fragment> => {
    if (_codec == null) {
      _codec = message<Fragment>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.origin != null && obj.origin.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.origin)
        }

        if ((obj.firstSeq != null && obj.firstSeq !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.firstSeq)
        }

        if ((obj.lastSeq != null && obj.lastSeq !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.lastSeq)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.digest)
        }

        if ((obj.totalBytes != null && obj.totalBytes !== 0)) {
          w.uint32(40)
          w.uint32(obj.totalBytes)
        }

        if ((obj.offset != null && obj.offset !== 0)) {
          w.uint32(48)
          w.uint32(obj.offset)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          origin: uint8ArrayAlloc(0),
          firstSeq: 0,
          lastSeq: 0,
          digest: uint8ArrayAlloc(0),
          totalBytes: 0,
          offset: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.origin = reader.bytes()
              break
            }
            case 2: {
              obj.firstSeq = reader.uint64Number()
              break
            }
            case 3: {
              obj.lastSeq = reader.uint64Number()
              break
            }
            case 4: {
              obj.digest = reader.bytes()
              break
            }
            case 5: {
              obj.totalBytes = reader.uint32()
              break
            }
            case 6: {
              obj.offset = reader.uint32()
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
                field: `${prefix}.origin`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.firstSeq`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.lastSeq`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.totalBytes`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.offset`,
                value: reader.uint32()
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

  export interface FragmentOriginFieldEvent {
    field: '$.origin'
    value: Uint8Array
  }

  export interface FragmentFirstSeqFieldEvent {
    field: '$.firstSeq'
    value: number
  }

  export interface FragmentLastSeqFieldEvent {
    field: '$.lastSeq'
    value: number
  }

  export interface FragmentDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array
  }

  export interface FragmentTotalBytesFieldEvent {
    field: '$.totalBytes'
    value: number
  }

  export interface FragmentOffsetFieldEvent {
    field: '$.offset'
    value: number
  }

  export function encode (obj: Partial<Fragment>): Uint8Array {
    return encodeMessage(obj, Fragment.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Fragment>): Fragment {
    return decodeMessage(buf, Fragment.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Fragment>): Generator<FragmentOriginFieldEvent | FragmentFirstSeqFieldEvent | FragmentLastSeqFieldEvent | FragmentDigestFieldEvent | FragmentTotalBytesFieldEvent | FragmentOffsetFieldEvent> {
    return streamMessage(buf, Fragment.codec(), opts)
  }
}

export enum Compression {
  NONE = 'NONE',
  DEFLATE_RAW = 'DEFLATE_RAW'
}

enum __CompressionValues {
  NONE = 0,
  DEFLATE_RAW = 1
}

export namespace Compression {
  export const codec = (): Codec<Compression> => {
    return enumeration<Compression>(__CompressionValues)
  }
}

export interface WireOp {
  body: Uint8Array
  sig?: Uint8Array
}

export namespace WireOp {
  let _codec: Codec<WireOp>

  export const codec = (): Codec<WireOp> => {
    if (_codec == null) {
      _codec = message<WireOp>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.body)
        }

        if (obj.sig != null) {
          w.uint32(18)
          w.bytes(obj.sig)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          body: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.body = reader.bytes()
              break
            }
            case 2: {
              obj.sig = reader.bytes()
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
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sig`,
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

  export interface WireOpBodyFieldEvent {
    field: '$.body'
    value: Uint8Array
  }

  export interface WireOpSigFieldEvent {
    field: '$.sig'
    value: Uint8Array
  }

  export function encode (obj: Partial<WireOp>): Uint8Array {
    return encodeMessage(obj, WireOp.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WireOp>): WireOp {
    return decodeMessage(buf, WireOp.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WireOp>): Generator<WireOpBodyFieldEvent | WireOpSigFieldEvent> {
    return streamMessage(buf, WireOp.codec(), opts)
  }
}

export interface OpList {
  ops: WireOp[]
}

export namespace OpList {
  let _codec: Codec<OpList>

  export const codec = (): Codec<OpList> => {
    if (_codec == null) {
      _codec = message<OpList>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.ops != null && obj.ops.length > 0) {
          for (const value of obj.ops) {
            w.uint32(10)
            WireOp.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ops: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ops != null && obj.ops.length === opts.limits.ops) {
                throw new MaxLengthError('Decode error - repeated field "ops" had too many elements')
              }

              obj.ops.push(WireOp.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ops$
              }))
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
        const obj = {
          ops: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ops != null && obj.ops === opts.limits.ops) {
                throw new MaxLengthError('Streaming decode error - repeated field "ops" had too many elements')
              }

              for (const evt of WireOp.codec().stream(reader, reader.uint32(), `${prefix}.ops[]`, {
                limits: opts.limits?.ops$
              })) {
                yield {
                  ...evt,
                  index: obj.ops
                }
              }

              obj.ops++

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

  export interface OpListOpsBodyFieldEvent {
    field: '$.ops[].body'
    value: Uint8Array
    index: number
  }

  export interface OpListOpsSigFieldEvent {
    field: '$.ops[].sig'
    value: Uint8Array
    index: number
  }

  export function encode (obj: Partial<OpList>): Uint8Array {
    return encodeMessage(obj, OpList.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OpList>): OpList {
    return decodeMessage(buf, OpList.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OpList>): Generator<OpListOpsBodyFieldEvent | OpListOpsSigFieldEvent> {
    return streamMessage(buf, OpList.codec(), opts)
  }
}

export interface Page {
  compression: Compression
  ops: Uint8Array
  count: number
  rawBytes: number
  more: boolean
  fragment?: Fragment
}

export namespace Page {
  let _codec: Codec<Page>

  export const codec = (): Codec<Page> => {
    if (_codec == null) {
      _codec = message<Page>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.compression != null && __CompressionValues[obj.compression] !== 0) {
          w.uint32(8)
          Compression.codec().encode(obj.compression, w)
        }

        if ((obj.ops != null && obj.ops.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.ops)
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(24)
          w.uint32(obj.count)
        }

        if ((obj.rawBytes != null && obj.rawBytes !== 0)) {
          w.uint32(32)
          w.uint32(obj.rawBytes)
        }

        if ((obj.more != null && obj.more !== false)) {
          w.uint32(40)
          w.bool(obj.more)
        }

        if (obj.fragment != null) {
          w.uint32(50)
          Fragment.codec().encode(obj.fragment, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          compression: Compression.NONE,
          ops: uint8ArrayAlloc(0),
          count: 0,
          rawBytes: 0,
          more: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.compression = Compression.codec().decode(reader)
              break
            }
            case 2: {
              obj.ops = reader.bytes()
              break
            }
            case 3: {
              obj.count = reader.uint32()
              break
            }
            case 4: {
              obj.rawBytes = reader.uint32()
              break
            }
            case 5: {
              obj.more = reader.bool()
              break
            }
            case 6: {
              obj.fragment = Fragment.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fragment
              })
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
                field: `${prefix}.compression`,
                value: Compression.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.ops`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.count`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.rawBytes`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.more`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield * Fragment.codec().stream(reader, reader.uint32(), `${prefix}.fragment`, {
                limits: opts.limits?.fragment
              })

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

  export interface PageCompressionFieldEvent {
    field: '$.compression'
    value: Compression
  }

  export interface PageOpsFieldEvent {
    field: '$.ops'
    value: Uint8Array
  }

  export interface PageCountFieldEvent {
    field: '$.count'
    value: number
  }

  export interface PageRawBytesFieldEvent {
    field: '$.rawBytes'
    value: number
  }

  export interface PageMoreFieldEvent {
    field: '$.more'
    value: boolean
  }

  export interface PageFragmentOriginFieldEvent {
    field: '$.fragment.origin'
    value: Uint8Array
  }

  export interface PageFragmentFirstSeqFieldEvent {
    field: '$.fragment.firstSeq'
    value: number
  }

  export interface PageFragmentLastSeqFieldEvent {
    field: '$.fragment.lastSeq'
    value: number
  }

  export interface PageFragmentDigestFieldEvent {
    field: '$.fragment.digest'
    value: Uint8Array
  }

  export interface PageFragmentTotalBytesFieldEvent {
    field: '$.fragment.totalBytes'
    value: number
  }

  export interface PageFragmentOffsetFieldEvent {
    field: '$.fragment.offset'
    value: number
  }

  export function encode (obj: Partial<Page>): Uint8Array {
    return encodeMessage(obj, Page.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Page>): Page {
    return decodeMessage(buf, Page.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Page>): Generator<PageCompressionFieldEvent | PageOpsFieldEvent | PageCountFieldEvent | PageRawBytesFieldEvent | PageMoreFieldEvent | PageFragmentOriginFieldEvent | PageFragmentFirstSeqFieldEvent | PageFragmentLastSeqFieldEvent | PageFragmentDigestFieldEvent | PageFragmentTotalBytesFieldEvent | PageFragmentOffsetFieldEvent> {
    return streamMessage(buf, Page.codec(), opts)
  }
}

export interface Done {
  vector: VectorEntry[]
}

export namespace Done {
  let _codec: Codec<Done>

  export const codec = (): Codec<Done> => {
    if (_codec == null) {
      _codec = message<Done>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.vector != null && obj.vector.length > 0) {
          for (const value of obj.vector) {
            w.uint32(10)
            VectorEntry.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          vector: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.vector != null && obj.vector.length === opts.limits.vector) {
                throw new MaxLengthError('Decode error - repeated field "vector" had too many elements')
              }

              obj.vector.push(VectorEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.vector$
              }))
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
        const obj = {
          vector: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.vector != null && obj.vector === opts.limits.vector) {
                throw new MaxLengthError('Streaming decode error - repeated field "vector" had too many elements')
              }

              for (const evt of VectorEntry.codec().stream(reader, reader.uint32(), `${prefix}.vector[]`, {
                limits: opts.limits?.vector$
              })) {
                yield {
                  ...evt,
                  index: obj.vector
                }
              }

              obj.vector++

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

  export interface DoneVectorOriginFieldEvent {
    field: '$.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface DoneVectorSeqFieldEvent {
    field: '$.vector[].seq'
    value: number
    index: number
  }

  export function encode (obj: Partial<Done>): Uint8Array {
    return encodeMessage(obj, Done.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Done>): Done {
    return decodeMessage(buf, Done.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Done>): Generator<DoneVectorOriginFieldEvent | DoneVectorSeqFieldEvent> {
    return streamMessage(buf, Done.codec(), opts)
  }
}

export enum ErrorCode {
  UNKNOWN = 'UNKNOWN',
  VERSION_MISMATCH = 'VERSION_MISMATCH',
  NOT_MEMBER = 'NOT_MEMBER',
  BAD_REQUEST = 'BAD_REQUEST',
  TOO_LARGE = 'TOO_LARGE',
  INTERNAL = 'INTERNAL'
}

enum __ErrorCodeValues {
  UNKNOWN = 0,
  VERSION_MISMATCH = 1,
  NOT_MEMBER = 2,
  BAD_REQUEST = 3,
  TOO_LARGE = 4,
  INTERNAL = 5
}

export namespace ErrorCode {
  export const codec = (): Codec<ErrorCode> => {
    return enumeration<ErrorCode>(__ErrorCodeValues)
  }
}

export interface Failure {
  code: ErrorCode
  message: string
}

export namespace Failure {
  let _codec: Codec<Failure>

  export const codec = (): Codec<Failure> => {
    if (_codec == null) {
      _codec = message<Failure>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.code != null && __ErrorCodeValues[obj.code] !== 0) {
          w.uint32(8)
          ErrorCode.codec().encode(obj.code, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: ErrorCode.UNKNOWN,
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = ErrorCode.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
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
                field: `${prefix}.code`,
                value: ErrorCode.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
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

  export interface FailureCodeFieldEvent {
    field: '$.code'
    value: ErrorCode
  }

  export interface FailureMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<Failure>): Uint8Array {
    return encodeMessage(obj, Failure.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Failure>): Failure {
    return decodeMessage(buf, Failure.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Failure>): Generator<FailureCodeFieldEvent | FailureMessageFieldEvent> {
    return streamMessage(buf, Failure.codec(), opts)
  }
}

export interface SyncMessage {
  hello?: Hello
  want?: Want
  page?: Page
  done?: Done
  error?: Failure
}

export namespace SyncMessage {
  let _codec: Codec<SyncMessage>

  export const codec = (): Codec<SyncMessage> => {
    if (_codec == null) {
      _codec = message<SyncMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.error != null) {
          obj.done = undefined
          obj.page = undefined
          obj.want = undefined
          obj.hello = undefined
        }

        if (obj.done != null) {
          obj.error = undefined
          obj.page = undefined
          obj.want = undefined
          obj.hello = undefined
        }

        if (obj.page != null) {
          obj.error = undefined
          obj.done = undefined
          obj.want = undefined
          obj.hello = undefined
        }

        if (obj.want != null) {
          obj.error = undefined
          obj.done = undefined
          obj.page = undefined
          obj.hello = undefined
        }

        if (obj.hello != null) {
          obj.error = undefined
          obj.done = undefined
          obj.page = undefined
          obj.want = undefined
        }

        if (obj.hello != null) {
          w.uint32(10)
          Hello.codec().encode(obj.hello, w)
        }

        if (obj.want != null) {
          w.uint32(18)
          Want.codec().encode(obj.want, w)
        }

        if (obj.page != null) {
          w.uint32(26)
          Page.codec().encode(obj.page, w)
        }

        if (obj.done != null) {
          w.uint32(34)
          Done.codec().encode(obj.done, w)
        }

        if (obj.error != null) {
          w.uint32(42)
          Failure.codec().encode(obj.error, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.hello = Hello.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hello
              })
              break
            }
            case 2: {
              obj.want = Want.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.want
              })
              break
            }
            case 3: {
              obj.page = Page.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.page
              })
              break
            }
            case 4: {
              obj.done = Done.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.done
              })
              break
            }
            case 5: {
              obj.error = Failure.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.error != null) {
          delete obj.done
          delete obj.page
          delete obj.want
          delete obj.hello
        }

        if (obj.done != null) {
          delete obj.error
          delete obj.page
          delete obj.want
          delete obj.hello
        }

        if (obj.page != null) {
          delete obj.error
          delete obj.done
          delete obj.want
          delete obj.hello
        }

        if (obj.want != null) {
          delete obj.error
          delete obj.done
          delete obj.page
          delete obj.hello
        }

        if (obj.hello != null) {
          delete obj.error
          delete obj.done
          delete obj.page
          delete obj.want
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Hello.codec().stream(reader, reader.uint32(), `${prefix}.hello`, {
                limits: opts.limits?.hello
              })

              break
            }
            case 2: {
              yield * Want.codec().stream(reader, reader.uint32(), `${prefix}.want`, {
                limits: opts.limits?.want
              })

              break
            }
            case 3: {
              yield * Page.codec().stream(reader, reader.uint32(), `${prefix}.page`, {
                limits: opts.limits?.page
              })

              break
            }
            case 4: {
              yield * Done.codec().stream(reader, reader.uint32(), `${prefix}.done`, {
                limits: opts.limits?.done
              })

              break
            }
            case 5: {
              yield * Failure.codec().stream(reader, reader.uint32(), `${prefix}.error`, {
                limits: opts.limits?.error
              })

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

  export interface SyncMessageHelloProtocolVersionFieldEvent {
    field: '$.hello.protocolVersion'
    value: number
  }

  export interface SyncMessageHelloGroupIdFieldEvent {
    field: '$.hello.groupId'
    value: string
  }

  export interface SyncMessageHelloDeviceIdFieldEvent {
    field: '$.hello.deviceId'
    value: Uint8Array
  }

  export interface SyncMessageHelloDataFormatVersionFieldEvent {
    field: '$.hello.dataFormatVersion'
    value: number
  }

  export interface SyncMessageHelloVectorOriginFieldEvent {
    field: '$.hello.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface SyncMessageHelloVectorSeqFieldEvent {
    field: '$.hello.vector[].seq'
    value: number
    index: number
  }

  export interface SyncMessageHelloSchemasCollectionFieldEvent {
    field: '$.hello.schemas[].collection'
    value: string
    index: number
  }

  export interface SyncMessageHelloSchemasVersionFieldEvent {
    field: '$.hello.schemas[].version'
    value: number
    index: number
  }

  export interface SyncMessageHelloCrossedFieldEvent {
    field: '$.hello.crossed'
    value: boolean
  }

  export interface SyncMessageWantVectorOriginFieldEvent {
    field: '$.want.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface SyncMessageWantVectorSeqFieldEvent {
    field: '$.want.vector[].seq'
    value: number
    index: number
  }

  export interface SyncMessageWantMaxOpsFieldEvent {
    field: '$.want.maxOps'
    value: number
  }

  export interface SyncMessageWantMaxBytesFieldEvent {
    field: '$.want.maxBytes'
    value: number
  }

  export interface SyncMessageWantFragmentAboveBytesFieldEvent {
    field: '$.want.fragmentAboveBytes'
    value: number
  }

  export interface SyncMessageWantHeldOriginFieldEvent {
    field: '$.want.held[].origin'
    value: Uint8Array
    index: number
  }

  export interface SyncMessageWantHeldFirstSeqFieldEvent {
    field: '$.want.held[].firstSeq'
    value: number
    index: number
  }

  export interface SyncMessageWantHeldLastSeqFieldEvent {
    field: '$.want.held[].lastSeq'
    value: number
    index: number
  }

  export interface SyncMessageWantHeldDigestFieldEvent {
    field: '$.want.held[].digest'
    value: Uint8Array
    index: number
  }

  export interface SyncMessageWantHeldBytesFieldEvent {
    field: '$.want.held[].bytes'
    value: number
    index: number
  }

  export interface SyncMessagePageCompressionFieldEvent {
    field: '$.page.compression'
    value: Compression
  }

  export interface SyncMessagePageOpsFieldEvent {
    field: '$.page.ops'
    value: Uint8Array
  }

  export interface SyncMessagePageCountFieldEvent {
    field: '$.page.count'
    value: number
  }

  export interface SyncMessagePageRawBytesFieldEvent {
    field: '$.page.rawBytes'
    value: number
  }

  export interface SyncMessagePageMoreFieldEvent {
    field: '$.page.more'
    value: boolean
  }

  export interface SyncMessagePageFragmentOriginFieldEvent {
    field: '$.page.fragment.origin'
    value: Uint8Array
  }

  export interface SyncMessagePageFragmentFirstSeqFieldEvent {
    field: '$.page.fragment.firstSeq'
    value: number
  }

  export interface SyncMessagePageFragmentLastSeqFieldEvent {
    field: '$.page.fragment.lastSeq'
    value: number
  }

  export interface SyncMessagePageFragmentDigestFieldEvent {
    field: '$.page.fragment.digest'
    value: Uint8Array
  }

  export interface SyncMessagePageFragmentTotalBytesFieldEvent {
    field: '$.page.fragment.totalBytes'
    value: number
  }

  export interface SyncMessagePageFragmentOffsetFieldEvent {
    field: '$.page.fragment.offset'
    value: number
  }

  export interface SyncMessageDoneVectorOriginFieldEvent {
    field: '$.done.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface SyncMessageDoneVectorSeqFieldEvent {
    field: '$.done.vector[].seq'
    value: number
    index: number
  }

  export interface SyncMessageErrorCodeFieldEvent {
    field: '$.error.code'
    value: ErrorCode
  }

  export interface SyncMessageErrorMessageFieldEvent {
    field: '$.error.message'
    value: string
  }

  export function encode (obj: Partial<SyncMessage>): Uint8Array {
    return encodeMessage(obj, SyncMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncMessage>): SyncMessage {
    return decodeMessage(buf, SyncMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncMessage>): Generator<SyncMessageHelloProtocolVersionFieldEvent | SyncMessageHelloGroupIdFieldEvent | SyncMessageHelloDeviceIdFieldEvent | SyncMessageHelloDataFormatVersionFieldEvent | SyncMessageHelloVectorOriginFieldEvent | SyncMessageHelloVectorSeqFieldEvent | SyncMessageHelloSchemasCollectionFieldEvent | SyncMessageHelloSchemasVersionFieldEvent | SyncMessageHelloCrossedFieldEvent | SyncMessageWantVectorOriginFieldEvent | SyncMessageWantVectorSeqFieldEvent | SyncMessageWantMaxOpsFieldEvent | SyncMessageWantMaxBytesFieldEvent | SyncMessageWantFragmentAboveBytesFieldEvent | SyncMessageWantHeldOriginFieldEvent | SyncMessageWantHeldFirstSeqFieldEvent | SyncMessageWantHeldLastSeqFieldEvent | SyncMessageWantHeldDigestFieldEvent | SyncMessageWantHeldBytesFieldEvent | SyncMessagePageCompressionFieldEvent | SyncMessagePageOpsFieldEvent | SyncMessagePageCountFieldEvent | SyncMessagePageRawBytesFieldEvent | SyncMessagePageMoreFieldEvent | SyncMessagePageFragmentOriginFieldEvent | SyncMessagePageFragmentFirstSeqFieldEvent | SyncMessagePageFragmentLastSeqFieldEvent | SyncMessagePageFragmentDigestFieldEvent | SyncMessagePageFragmentTotalBytesFieldEvent | SyncMessagePageFragmentOffsetFieldEvent | SyncMessageDoneVectorOriginFieldEvent | SyncMessageDoneVectorSeqFieldEvent | SyncMessageErrorCodeFieldEvent | SyncMessageErrorMessageFieldEvent> {
    return streamMessage(buf, SyncMessage.codec(), opts)
  }
}

export interface Announce {
  deviceId: Uint8Array
  vector: VectorEntry[]
  compression: Compression
  ops: Uint8Array
  count: number
  rawBytes: number
  protocolVersion: number
  dataFormatVersion: number
  sentToAll: boolean
}

export namespace Announce {
  let _codec: Codec<Announce>

  export const codec = (): Codec<Announce> => {
    if (_codec == null) {
      _codec = message<Announce>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.deviceId != null && obj.deviceId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.deviceId)
        }

        if (obj.vector != null && obj.vector.length > 0) {
          for (const value of obj.vector) {
            w.uint32(18)
            VectorEntry.codec().encode(value, w)
          }
        }

        if (obj.compression != null && __CompressionValues[obj.compression] !== 0) {
          w.uint32(24)
          Compression.codec().encode(obj.compression, w)
        }

        if ((obj.ops != null && obj.ops.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.ops)
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(40)
          w.uint32(obj.count)
        }

        if ((obj.rawBytes != null && obj.rawBytes !== 0)) {
          w.uint32(48)
          w.uint32(obj.rawBytes)
        }

        if ((obj.protocolVersion != null && obj.protocolVersion !== 0)) {
          w.uint32(56)
          w.uint32(obj.protocolVersion)
        }

        if ((obj.dataFormatVersion != null && obj.dataFormatVersion !== 0)) {
          w.uint32(64)
          w.uint32(obj.dataFormatVersion)
        }

        if ((obj.sentToAll != null && obj.sentToAll !== false)) {
          w.uint32(72)
          w.bool(obj.sentToAll)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          deviceId: uint8ArrayAlloc(0),
          vector: [],
          compression: Compression.NONE,
          ops: uint8ArrayAlloc(0),
          count: 0,
          rawBytes: 0,
          protocolVersion: 0,
          dataFormatVersion: 0,
          sentToAll: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.deviceId = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.vector != null && obj.vector.length === opts.limits.vector) {
                throw new MaxLengthError('Decode error - repeated field "vector" had too many elements')
              }

              obj.vector.push(VectorEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.vector$
              }))
              break
            }
            case 3: {
              obj.compression = Compression.codec().decode(reader)
              break
            }
            case 4: {
              obj.ops = reader.bytes()
              break
            }
            case 5: {
              obj.count = reader.uint32()
              break
            }
            case 6: {
              obj.rawBytes = reader.uint32()
              break
            }
            case 7: {
              obj.protocolVersion = reader.uint32()
              break
            }
            case 8: {
              obj.dataFormatVersion = reader.uint32()
              break
            }
            case 9: {
              obj.sentToAll = reader.bool()
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
        const obj = {
          vector: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.deviceId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.vector != null && obj.vector === opts.limits.vector) {
                throw new MaxLengthError('Streaming decode error - repeated field "vector" had too many elements')
              }

              for (const evt of VectorEntry.codec().stream(reader, reader.uint32(), `${prefix}.vector[]`, {
                limits: opts.limits?.vector$
              })) {
                yield {
                  ...evt,
                  index: obj.vector
                }
              }

              obj.vector++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.compression`,
                value: Compression.codec().decode(reader)
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.ops`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.count`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.rawBytes`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.protocolVersion`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.dataFormatVersion`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.sentToAll`,
                value: reader.bool()
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

  export interface AnnounceDeviceIdFieldEvent {
    field: '$.deviceId'
    value: Uint8Array
  }

  export interface AnnounceVectorOriginFieldEvent {
    field: '$.vector[].origin'
    value: Uint8Array
    index: number
  }

  export interface AnnounceVectorSeqFieldEvent {
    field: '$.vector[].seq'
    value: number
    index: number
  }

  export interface AnnounceCompressionFieldEvent {
    field: '$.compression'
    value: Compression
  }

  export interface AnnounceOpsFieldEvent {
    field: '$.ops'
    value: Uint8Array
  }

  export interface AnnounceCountFieldEvent {
    field: '$.count'
    value: number
  }

  export interface AnnounceRawBytesFieldEvent {
    field: '$.rawBytes'
    value: number
  }

  export interface AnnounceProtocolVersionFieldEvent {
    field: '$.protocolVersion'
    value: number
  }

  export interface AnnounceDataFormatVersionFieldEvent {
    field: '$.dataFormatVersion'
    value: number
  }

  export interface AnnounceSentToAllFieldEvent {
    field: '$.sentToAll'
    value: boolean
  }

  export function encode (obj: Partial<Announce>): Uint8Array {
    return encodeMessage(obj, Announce.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Announce {
    return decodeMessage(buf, Announce.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Generator<AnnounceDeviceIdFieldEvent | AnnounceVectorOriginFieldEvent | AnnounceVectorSeqFieldEvent | AnnounceCompressionFieldEvent | AnnounceOpsFieldEvent | AnnounceCountFieldEvent | AnnounceRawBytesFieldEvent | AnnounceProtocolVersionFieldEvent | AnnounceDataFormatVersionFieldEvent | AnnounceSentToAllFieldEvent> {
    return streamMessage(buf, Announce.codec(), opts)
  }
}
