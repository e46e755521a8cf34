/**
 * Pairing messages: typed objects, their binary encoding, and the small
 * channel interface pairing runs over.
 *
 * Pairing never sees a libp2p stream. It sends and receives whole messages
 * through `PairingChannel`; `framedPairingChannel` builds one over anything
 * that reads and writes length-prefixed frames (the protocol's
 * `FramedChannel` fits, with `maxFrameBytes: MAX_PAIRING_MESSAGE_BYTES`).
 * Decoding is the boundary: a frame that is too large or out of form is a
 * `PairingError('BAD_MESSAGE')`, and everything past it is typed.
 *
 * Encoding v1 (one u8 type, then the fields):
 *   1 hello      varint version, 16 invite id, str name (1..64 bytes)   joiner -> inviter
 *   2 challenge  32 nonce                                               inviter -> joiner
 *   3 proof      32 HMAC-SHA256                                          joiner -> inviter
 *   4 welcome    bytes admission, varint n (<= 64), n x bytes admission  inviter -> joiner
 *   5 error      u8 code, str message (<= 300 characters)                either way
 */
import { MalformedError } from '../errors.js'
import { ByteReader, ByteWriter } from '../oplog/bytes.js'
import { decodeAdmission, encodeAdmission, type Admission } from './certificate.js'
import { INVITE_ID_BYTES, MAX_CERTIFICATE_BYTES, MAX_CHAIN_LENGTH, MAX_DEVICE_NAME_BYTES, MAX_PAIRING_ERROR_CHARS, MAX_PAIRING_MESSAGE_BYTES, PAIRING_NONCE_BYTES } from './constants.js'
import { CertificateError, pairingCodeFromWire, pairingCodeToWire, PairingError, type PairingWireCode } from './errors.js'

const PROOF_BYTES = 32

export interface HelloMessage {
  readonly type: 'hello'
  readonly version: number
  /** `inviteIdBytes(secret)`: finds the invite, proves nothing. */
  readonly inviteId: Uint8Array
  /** The name the joiner wants in its admission. */
  readonly name: string
}

export interface ChallengeMessage { readonly type: 'challenge', readonly nonce: Uint8Array }

export interface ProofMessage { readonly type: 'proof', readonly proof: Uint8Array }

export interface WelcomeMessage {
  readonly type: 'welcome'
  /** The joiner's admission, signed by the inviter's device key. */
  readonly admission: Admission
  /** The inviter's own chain, root first: with `admission` appended it proves the joiner's membership. */
  readonly chain: readonly Admission[]
}

export interface ErrorMessage { readonly type: 'error', readonly code: PairingWireCode, readonly message: string }

export type PairingMessage = HelloMessage | ChallengeMessage | ProofMessage | WelcomeMessage | ErrorMessage

/** Whole pairing messages in both directions. */
export interface PairingChannel {
  /** Resolves once the message is handed to the transport; rejects when `signal` aborts first or the channel fails. */
  send(msg: PairingMessage, signal: AbortSignal): Promise<void>
  /** The next message. Rejects with `PairingError` (CLOSED when the channel ended, BAD_MESSAGE for a bad frame) or with the signal's reason. */
  receive(signal: AbortSignal): Promise<PairingMessage>
}

/** Length-prefixed frames, as `protocol/framing.ts`'s `FrameDuplex` provides them. */
export interface FrameIO {
  readFrame(signal: AbortSignal): Promise<Uint8Array | null>
  writeFrame(frame: Uint8Array, signal: AbortSignal): Promise<void>
}

const TYPE_CODES = { hello: 1, challenge: 2, proof: 3, welcome: 4, error: 5 } as const

export function encodePairingMessage (msg: PairingMessage): Uint8Array {
  const w = new ByteWriter(msg.type === 'welcome' ? 256 * (msg.chain.length + 1) : 128)
  w.u8(TYPE_CODES[msg.type])
  switch (msg.type) {
    case 'hello': w.varint(msg.version).raw(msg.inviteId).string(msg.name); break
    case 'challenge': w.raw(msg.nonce); break
    case 'proof': w.raw(msg.proof); break
    case 'welcome':
      w.bytes(encodeAdmission(msg.admission)).varint(msg.chain.length)
      for (const a of msg.chain) w.bytes(encodeAdmission(a))
      break
    case 'error': w.u8(pairingCodeToWire(msg.code)).string(msg.message.slice(0, MAX_PAIRING_ERROR_CHARS)); break
  }
  return w.finish()
}

const take = (r: ByteReader, n: number, field: string): Uint8Array => r.raw(n, field).slice()

/** One frame to one message, or `PairingError('BAD_MESSAGE')`. */
export function decodePairingMessage (frame: Uint8Array): PairingMessage {
  if (frame.length > MAX_PAIRING_MESSAGE_BYTES) throw new PairingError('BAD_MESSAGE', `pairing message of ${frame.length} bytes is over the ${MAX_PAIRING_MESSAGE_BYTES}-byte limit`)
  try {
    const r = new ByteReader(frame, 'pairing message')
    const type = r.u8('type')
    let msg: PairingMessage
    switch (type) {
      case TYPE_CODES.hello:
        msg = { type: 'hello', version: r.varint('version'), inviteId: take(r, INVITE_ID_BYTES, 'invite id'), name: r.string('name', MAX_DEVICE_NAME_BYTES) }
        break
      case TYPE_CODES.challenge: msg = { type: 'challenge', nonce: take(r, PAIRING_NONCE_BYTES, 'nonce') }; break
      case TYPE_CODES.proof: msg = { type: 'proof', proof: take(r, PROOF_BYTES, 'proof') }; break
      case TYPE_CODES.welcome: {
        const admission = decodeAdmission(r.bytes('admission', MAX_CERTIFICATE_BYTES))
        const n = r.varint('chain length')
        if (n > MAX_CHAIN_LENGTH) throw new MalformedError(`chain of ${n} admissions is over the ${MAX_CHAIN_LENGTH} limit`)
        const chain: Admission[] = []
        for (let i = 0; i < n; i++) chain.push(decodeAdmission(r.bytes('chain admission', MAX_CERTIFICATE_BYTES)))
        msg = { type: 'welcome', admission, chain }
        break
      }
      case TYPE_CODES.error:
        msg = { type: 'error', code: pairingCodeFromWire(r.u8('code')), message: r.string('message', MAX_PAIRING_ERROR_CHARS * 4) }
        break
      default: throw new MalformedError(`unknown pairing message type ${type}`)
    }
    r.end()
    return msg
  } catch (err) {
    if (err instanceof MalformedError || err instanceof CertificateError) throw new PairingError('BAD_MESSAGE', `bad pairing message: ${err.message}`)
    throw err
  }
}

/** A `PairingChannel` over length-prefixed frames (a libp2p stream through `FramedChannel`, or a memory pipe). */
export function framedPairingChannel (frames: FrameIO): PairingChannel {
  return {
    async send (msg, signal) { await frames.writeFrame(encodePairingMessage(msg), signal) },
    async receive (signal) {
      const frame = await frames.readFrame(signal)
      if (frame === null) throw new PairingError('CLOSED', 'the peer closed the pairing stream')
      return decodePairingMessage(frame)
    }
  }
}
