// @ts-nocheck: protons output does not satisfy exactOptionalPropertyTypes
import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BirthdayMessage {
  type: BirthdayMessage.Type
  host: string
  port: number
  sockets: number
  probes: number
  reason: string
}

export namespace BirthdayMessage {
  export enum Type {
    REQUEST = 'REQUEST',
    ACCEPT = 'ACCEPT',
    REFUSE = 'REFUSE',
    READY = 'READY',
    HIT = 'HIT',
    DONE = 'DONE'
  }

  enum __TypeValues {
    REQUEST = 0,
    ACCEPT = 1,
    REFUSE = 2,
    READY = 3,
    HIT = 4,
    DONE = 5
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<BirthdayMessage>

  export const codec = (): Codec<BirthdayMessage> => {
    if (_codec == null) {
      _codec = message<BirthdayMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(8)
          BirthdayMessage.Type.codec().encode(obj.type, w)
        }

        if ((obj.host != null && obj.host !== '')) {
          w.uint32(18)
          w.string(obj.host)
        }

        if ((obj.port != null && obj.port !== 0)) {
          w.uint32(24)
          w.uint32(obj.port)
        }

        if ((obj.sockets != null && obj.sockets !== 0)) {
          w.uint32(32)
          w.uint32(obj.sockets)
        }

        if ((obj.probes != null && obj.probes !== 0)) {
          w.uint32(40)
          w.uint32(obj.probes)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(50)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: Type.REQUEST,
          host: '',
          port: 0,
          sockets: 0,
          probes: 0,
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = BirthdayMessage.Type.codec().decode(reader)
              break
            }
            case 2: {
              obj.host = reader.string()
              break
            }
            case 3: {
              obj.port = reader.uint32()
              break
            }
            case 4: {
              obj.sockets = reader.uint32()
              break
            }
            case 5: {
              obj.probes = reader.uint32()
              break
            }
            case 6: {
              obj.reason = reader.string()
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
                field: `${prefix}.type`,
                value: BirthdayMessage.Type.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.host`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.port`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sockets`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.probes`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.reason`,
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

  export interface BirthdayMessageTypeFieldEvent {
    field: '$.type'
    value: BirthdayMessage.Type
  }

  export interface BirthdayMessageHostFieldEvent {
    field: '$.host'
    value: string
  }

  export interface BirthdayMessagePortFieldEvent {
    field: '$.port'
    value: number
  }

  export interface BirthdayMessageSocketsFieldEvent {
    field: '$.sockets'
    value: number
  }

  export interface BirthdayMessageProbesFieldEvent {
    field: '$.probes'
    value: number
  }

  export interface BirthdayMessageReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<BirthdayMessage>): Uint8Array {
    return encodeMessage(obj, BirthdayMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BirthdayMessage>): BirthdayMessage {
    return decodeMessage(buf, BirthdayMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BirthdayMessage>): Generator<BirthdayMessageTypeFieldEvent | BirthdayMessageHostFieldEvent | BirthdayMessagePortFieldEvent | BirthdayMessageSocketsFieldEvent | BirthdayMessageProbesFieldEvent | BirthdayMessageReasonFieldEvent> {
    return streamMessage(buf, BirthdayMessage.codec(), opts)
  }
}
