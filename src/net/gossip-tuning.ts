/**
 * Gossipsub settings that bound the CPU one announcement costs the group.
 *
 * Measured with the group bench (`npm run bench:group`), each message a node
 * receives costs it a Noise decryption, a protobuf decode and, before this,
 * an Ed25519 verification: gossipsub checks the signature *before* it looks
 * the message up among those it has seen, so each duplicate (flood publish
 * sends every message to every peer, and each receiver forwards it to its
 * mesh) was verified again.
 *
 * A fast message id, read from the raw message's `from` and `seqno` (what
 * the message id is made of under the strict-sign policy), lets gossipsub
 * drop a duplicate before verifying it. Nothing is weakened: the first copy
 * of a message is still verified in full, and only a copy whose signature
 * checked enters the fast-id cache, so a forged copy that comes first is
 * rejected as before, and one that comes after a genuine copy is dropped
 * unread. The fast id cannot make us drop a different message, because only
 * the signer of `from` can produce a valid message with that `seqno`.
 */
import { createHash } from 'node:crypto'

/** The part of a raw gossipsub RPC message the fast id reads. */
export interface RawGossipMessage {
  from?: Uint8Array
  seqno?: Uint8Array
  data?: Uint8Array
}

/**
 * `from` and `seqno` as one string (a strict-sign message has both; one
 * without them is invalid and gets an id from its data, so it is checked in
 * full and rejected).
 */
export function fastMessageId (msg: RawGossipMessage): string {
  if (msg.from !== undefined && msg.seqno !== undefined) {
    return Buffer.from(msg.from.buffer, msg.from.byteOffset, msg.from.byteLength).toString('base64') + '/' +
      Buffer.from(msg.seqno.buffer, msg.seqno.byteOffset, msg.seqno.byteLength).toString('base64')
  }
  return 'unsigned/' + createHash('sha256').update(msg.data ?? new Uint8Array(0)).digest('base64')
}
