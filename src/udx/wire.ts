/**
 * Control datagrams that share the UDX socket with the streams.
 *
 * UDX stream packets start with 0xff 0x01 (libudx's magic byte and version);
 * ours start with the ASCII bytes "UDX" and a version, so the two can never be
 * confused, and anything else that reaches the socket decodes to `undefined`
 * and is dropped. Every control datagram is exactly `CONTROL_DATAGRAM_BYTES`
 * long: the decoder rejects other sizes, and no answer can be larger than the
 * request that caused it.
 *
 * Layout after the 5-byte header (magic[3], version, type), big-endian:
 * - HELLO:  nonce u64, stream id u32, echo u64 (nonce of the peer's dial we already answered, or 0),
 *           cookie u64 (from a RETRY, or 0)
 * - ACK:    echo u64 (the HELLO answered), stream id u32, flags u8, nonce u64 (our dial's, when crossed)
 * - RETRY:  echo u64 (the HELLO answered), cookie u64: "prove you receive at that address, then ask again"
 * - PUNCH:  random u64 (ignored by the receiver; only opens NAT mappings)
 * - OBSERVE:       request id u64
 * - OBSERVED:      request id u64, family u8, port u16, address (4 or 16 bytes; 16 reserved), alternate port u16
 *                  (a second socket of the reflector that answers OBSERVE too, or 0: asking both tells
 *                  whether our NAT maps each destination to another port)
 */
import { CONTROL_DATAGRAM_BYTES } from './constants.js'

const MAGIC = [0x55, 0x44, 0x58] as const
const VERSION = 1

export const MessageType = {
  HELLO: 1,
  ACK: 2,
  PUNCH: 3,
  OBSERVE: 4,
  OBSERVED: 5,
  RETRY: 6
} as const

/** ACK flag: the answering side paired our HELLO with its own dial to us. */
export const ACK_FLAG_CROSSED = 0x01

export interface Hello { type: typeof MessageType.HELLO, nonce: bigint, streamId: number, echo: bigint, cookie: bigint }
export interface Retry { type: typeof MessageType.RETRY, echo: bigint, cookie: bigint }
export interface Ack { type: typeof MessageType.ACK, echo: bigint, streamId: number, crossed: boolean, nonce: bigint }
export interface Punch { type: typeof MessageType.PUNCH }
export interface Observe { type: typeof MessageType.OBSERVE, requestId: bigint }
export interface Observed { type: typeof MessageType.OBSERVED, requestId: bigint, family: 4 | 6, host: string, port: number, alternatePort: number }
export type ControlMessage = Hello | Ack | Retry | Punch | Observe | Observed

function frame (type: number): Buffer {
  const buf = Buffer.alloc(CONTROL_DATAGRAM_BYTES)
  buf[0] = MAGIC[0]
  buf[1] = MAGIC[1]
  buf[2] = MAGIC[2]
  buf[3] = VERSION
  buf[4] = type
  return buf
}

export function encodeHello (nonce: bigint, streamId: number, echo: bigint, cookie = 0n): Buffer {
  const buf = frame(MessageType.HELLO)
  buf.writeBigUInt64BE(nonce, 5)
  buf.writeUInt32BE(streamId, 13)
  buf.writeBigUInt64BE(echo, 17)
  buf.writeBigUInt64BE(cookie, 25)
  return buf
}

export function encodeRetry (echo: bigint, cookie: bigint): Buffer {
  const buf = frame(MessageType.RETRY)
  buf.writeBigUInt64BE(echo, 5)
  buf.writeBigUInt64BE(cookie, 13)
  return buf
}

export function encodeAck (echo: bigint, streamId: number, crossed: boolean, nonce: bigint): Buffer {
  const buf = frame(MessageType.ACK)
  buf.writeBigUInt64BE(echo, 5)
  buf.writeUInt32BE(streamId, 13)
  buf[17] = crossed ? ACK_FLAG_CROSSED : 0
  buf.writeBigUInt64BE(nonce, 18)
  return buf
}

export function encodePunch (random: bigint): Buffer {
  const buf = frame(MessageType.PUNCH)
  buf.writeBigUInt64BE(random, 5)
  return buf
}

export function encodeObserve (requestId: bigint): Buffer {
  const buf = frame(MessageType.OBSERVE)
  buf.writeBigUInt64BE(requestId, 5)
  return buf
}

const OBSERVED_ALTERNATE_PORT_OFFSET = 32

export function encodeObserved (requestId: bigint, address: { host: string, port: number, family: 4 | 6 }, alternatePort = 0): Buffer {
  const buf = frame(MessageType.OBSERVED)
  buf.writeBigUInt64BE(requestId, 5)
  buf[13] = address.family
  buf.writeUInt16BE(address.port, 14)
  const bytes = address.family === 4 ? ip4ToBytes(address.host) : ip6ToBytes(address.host)
  if (bytes == null) throw new Error(`cannot encode address ${address.host}`)
  buf.set(bytes, 16)
  buf.writeUInt16BE(alternatePort, OBSERVED_ALTERNATE_PORT_OFFSET)
  return buf
}

/** Decodes one datagram; `undefined` for anything that is not a well-formed control datagram. */
export function decodeControl (buf: Uint8Array): ControlMessage | undefined {
  if (buf.byteLength !== CONTROL_DATAGRAM_BYTES) return undefined
  if (buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2] || buf[3] !== VERSION) return undefined
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  switch (view[4]) {
    case MessageType.HELLO: {
      const nonce = view.readBigUInt64BE(5)
      const streamId = view.readUInt32BE(13)
      if (nonce === 0n || streamId === 0) return undefined
      return { type: MessageType.HELLO, nonce, streamId, echo: view.readBigUInt64BE(17), cookie: view.readBigUInt64BE(25) }
    }
    case MessageType.RETRY: {
      const echo = view.readBigUInt64BE(5)
      const cookie = view.readBigUInt64BE(13)
      if (echo === 0n || cookie === 0n) return undefined
      return { type: MessageType.RETRY, echo, cookie }
    }
    case MessageType.ACK: {
      const echo = view.readBigUInt64BE(5)
      const streamId = view.readUInt32BE(13)
      if (echo === 0n || streamId === 0) return undefined
      const crossed = ((view[17] ?? 0) & ACK_FLAG_CROSSED) !== 0
      const nonce = view.readBigUInt64BE(18)
      if (crossed && nonce === 0n) return undefined
      return { type: MessageType.ACK, echo, streamId, crossed, nonce }
    }
    case MessageType.PUNCH:
      return { type: MessageType.PUNCH }
    case MessageType.OBSERVE:
      return { type: MessageType.OBSERVE, requestId: view.readBigUInt64BE(5) }
    case MessageType.OBSERVED: {
      const family = view[13]
      const port = view.readUInt16BE(14)
      if ((family !== 4 && family !== 6) || port === 0) return undefined
      const host = family === 4 ? bytesToIp4(view.subarray(16, 20)) : bytesToIp6(view.subarray(16, 32))
      const alternatePort = view.readUInt16BE(OBSERVED_ALTERNATE_PORT_OFFSET)
      return { type: MessageType.OBSERVED, requestId: view.readBigUInt64BE(5), family, host, port, alternatePort }
    }
    default:
      return undefined
  }
}

function ip4ToBytes (host: string): Uint8Array | undefined {
  const parts = host.split('.').map(Number)
  if (parts.length !== 4 || parts.some(p => !Number.isInteger(p) || p < 0 || p > 255)) return undefined
  return Uint8Array.from(parts)
}

function ip6ToBytes (host: string): Uint8Array | undefined {
  const zoneless = host.split('%')[0] ?? ''
  let head = zoneless
  let tail = ''
  const gap = zoneless.indexOf('::')
  if (gap >= 0) {
    head = zoneless.slice(0, gap)
    tail = zoneless.slice(gap + 2)
  }
  const groups = (s: string): number[] | undefined => {
    if (s === '') return []
    const out: number[] = []
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = ip4ToBytes(g)
        if (v4 == null) return undefined
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
        out.push(parseInt(g, 16))
      }
    }
    return out
  }
  const h = groups(head)
  const t = groups(tail)
  if (h == null || t == null) return undefined
  const missing = 8 - h.length - t.length
  if (gap >= 0 ? missing < 1 : missing !== 0) return undefined
  const all = [...h, ...new Array<number>(missing).fill(0), ...t]
  const bytes = new Uint8Array(16)
  all.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff })
  return bytes
}

function bytesToIp4 (b: Uint8Array): string {
  return Array.from(b).join('.')
}

function bytesToIp6 (b: Uint8Array): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16))
  // compress the longest run of zero groups, as the textual form prescribes (RFC 5952)
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i }
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}
