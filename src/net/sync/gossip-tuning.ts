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
 *
 * The mesh is kept small (GOSSIP_MESH). Flood publish already sends each
 * announcement to every connected member; mesh forwarding matters only where
 * members are not all connected to each other (a line A - B - C), and there a
 * degree of 2 still forwards to both neighbours of a node in the middle.
 * With the default degree of 6 in a group of ten, each announcement was sent
 * about 70 times for 9 deliveries (measured in one process: 21,409 RPCs for
 * 300 announcements; 10,888 with a degree of 3, 7,282 with 2).
 *
 * Signing: libp2p's Ed25519 key builds a node KeyObject from the raw key on
 * every signature (each publish), which costs about as much as the signature
 * itself here; `withCachedSigning` builds it once. The signatures are the
 * same bytes (Ed25519 is deterministic).
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'

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

/**
 * Gossipsub mesh degrees: D, and the bounds it is kept within. Dout must stay
 * below Dlo and at most D / 2; Dlazy peers outside the mesh get IHAVE gossip.
 * https://github.com/libp2p/specs/blob/master/pubsub/gossipsub/gossipsub-v1.1.md#parameters
 */
export const GOSSIP_MESH = { D: 2, Dlo: 2, Dhi: 3, Dout: 1, Dscore: 1, Dlazy: 2 } as const

/**
 * How gossipsub scores members on the group's topic (gossipsub v1.1 P1..P4;
 * https://github.com/libp2p/specs/blob/master/pubsub/gossipsub/gossipsub-v1.1.md#topic-parameter-calculation-and-decay).
 *
 * An invalid announcement (bad signer, undecodable) costs the peer that
 * passed it (P4, heavily).
 *
 * Mesh delivery scoring (P3 and its sticky form P3b) is off. It is meant for
 * open networks with steady traffic, where a mesh peer that delivers fewer
 * than a threshold of messages is probably withholding them. Here every peer
 * is an authenticated member and the topic is quiet most of the time, so the
 * defaults (a threshold of 20 deliveries, weight -1) judge every mesh peer a
 * withholder: with ten members, each peer pruned from an oversubscribed mesh
 * is left with a penalty of -400 (20 squared), under the graylist threshold
 * (-80) for about three seconds. In that time gossipsub drops everything the
 * member sends, its own announcements included, and does not flood-publish
 * to it (publish threshold -50), so those announcements come by another path
 * or by a later pull. Seen with ten stock gossipsub nodes; both sides are
 * shown by test/integration/gossip-score.test.ts.
 */
export const GOSSIP_TOPIC_SCORE = {
  topicWeight: 1,
  invalidMessageDeliveriesWeight: -100,
  invalidMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0
} as const

/**
 * Gossipsub 1.2 sends IDONTWANT to every mesh peer for each first copy of a
 * message of at least this size, so that they do not forward it to us. For
 * announcements of a few hundred bytes that control message costs about what
 * the duplicate it saves would (per-message work dominates, not bytes), so
 * only large ones get it. (Gossipsub's default is 512 bytes.)
 */
export const GOSSIP_IDONTWANT_MIN_BYTES = 16 * 1024

/** The same key, signing with a node KeyObject made once (see the module doc). Other key types are returned as they are. */
export function withCachedSigning (key: PrivateKey): PrivateKey {
  if (key.type !== 'Ed25519' || key.raw.byteLength !== 64) return key
  let keyObject: KeyObject | undefined
  const original = key.sign.bind(key)
  return Object.assign(key, {
    sign: (message: Parameters<PrivateKey['sign']>[0], options?: Parameters<PrivateKey['sign']>[1]): Uint8Array | Promise<Uint8Array> => {
      if (!(message instanceof Uint8Array)) return original(message, options)
      options?.signal?.throwIfAborted()
      keyObject ??= createPrivateKey({
        format: 'jwk',
        key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(key.raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(key.raw.subarray(32)).toString('base64url') }
      })
      return new Uint8Array(sign(null, message, keyObject))
    }
  })
}
