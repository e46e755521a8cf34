/**
 * Gossipsub tuning: the cached signing key signs exactly as libp2p's own
 * Ed25519 key does (same bytes, verified by libp2p's public key) and leaves
 * other keys alone; the mesh degrees keep gossipsub's invariants; the fast
 * message id tells messages apart by signer and seqno only.
 */
import { generateKeyPair, privateKeyFromRaw } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { fastMessageId, GOSSIP_MESH, withCachedSigning } from '../../src/net/sync/gossip-tuning.js'

const messages = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(4096).fill(7), new TextEncoder().encode('a gossipsub message to sign')]

describe('withCachedSigning', () => {
  it('signs the same bytes as libp2p\'s Ed25519 key, and libp2p verifies them', async () => {
    const key = await generateKeyPair('Ed25519')
    const stock = privateKeyFromRaw(key.raw)
    const cached = withCachedSigning(privateKeyFromRaw(key.raw))
    for (const m of messages) {
      const ours = await cached.sign(m)
      expect(Buffer.from(ours).equals(Buffer.from(await stock.sign(m)))).toBe(true)
      expect(await key.publicKey.verify(m, ours)).toBe(true)
    }
    // A message in pieces goes to libp2p's own signing, with the same result.
    const list = new Uint8ArrayList(Uint8Array.of(1, 2), Uint8Array.of(3))
    expect(Buffer.from(await cached.sign(list as unknown as Uint8Array)).equals(Buffer.from(await stock.sign(Uint8Array.of(1, 2, 3))))).toBe(true)
    // Still the same key to everything else.
    expect(cached.publicKey.equals(key.publicKey)).toBe(true)
    expect(cached.type).toBe('Ed25519')
  })

  it('each key signs with its own key object (no cross-talk between two cached keys)', async () => {
    const a = withCachedSigning(privateKeyFromRaw((await generateKeyPair('Ed25519')).raw))
    const b = withCachedSigning(privateKeyFromRaw((await generateKeyPair('Ed25519')).raw))
    const m = messages[3]!
    const sa = await a.sign(m)
    const sb = await b.sign(m)
    expect(Buffer.from(sa).equals(Buffer.from(sb))).toBe(false)
    expect(await a.publicKey.verify(m, sa)).toBe(true)
    expect(await b.publicKey.verify(m, sb)).toBe(true)
    expect(await a.publicKey.verify(m, sb)).toBe(false)
  })

  it('honours an aborted signal', async () => {
    const cached = withCachedSigning(privateKeyFromRaw((await generateKeyPair('Ed25519')).raw))
    const signal = AbortSignal.abort()
    expect(() => cached.sign(messages[1]!, { signal })).toThrow()
  })

  it('returns other key types as they are', async () => {
    const secp = await generateKeyPair('secp256k1')
    const sign = secp.sign
    expect(withCachedSigning(secp)).toBe(secp)
    expect(secp.sign).toBe(sign)
    const m = messages[1]!
    expect(await secp.publicKey.verify(m, await secp.sign(m))).toBe(true)
  })

  it('returns an Ed25519 key whose raw form is not the 64-byte private key as it is', () => {
    const odd = { type: 'Ed25519', raw: new Uint8Array(32), sign: () => new Uint8Array(64) } as unknown as PrivateKey
    const sign = odd.sign
    expect(withCachedSigning(odd)).toBe(odd)
    expect(odd.sign).toBe(sign)
  })
})

describe('GOSSIP_MESH', () => {
  it('keeps gossipsub\'s invariants: Dlo <= D <= Dhi, Dout < Dlo, Dout <= D / 2', () => {
    // https://github.com/libp2p/specs/blob/master/pubsub/gossipsub/gossipsub-v1.1.md#outbound-mesh-quotas
    const { D, Dlo, Dhi, Dout, Dscore, Dlazy } = GOSSIP_MESH
    expect(Dlo).toBeLessThanOrEqual(D)
    expect(D).toBeLessThanOrEqual(Dhi)
    expect(Dout).toBeLessThan(Dlo)
    expect(Dout).toBeLessThanOrEqual(D / 2)
    expect(Dscore).toBeGreaterThanOrEqual(0)
    expect(Dscore).toBeLessThanOrEqual(D)
    expect(Dlazy).toBeGreaterThanOrEqual(0)
    for (const v of [D, Dlo, Dhi, Dout, Dscore, Dlazy]) expect(Number.isInteger(v)).toBe(true)
  })
})

describe('fastMessageId', () => {
  const from = Uint8Array.of(1, 2, 3, 4)
  const seqno = Uint8Array.of(0, 0, 0, 9)

  it('is the signer and seqno: the same for copies whatever their data, different for another seqno or signer', () => {
    const id = fastMessageId({ from, seqno, data: Uint8Array.of(1) })
    expect(fastMessageId({ from: Uint8Array.from(from), seqno: Uint8Array.from(seqno), data: Uint8Array.of(2) })).toBe(id)
    expect(fastMessageId({ from, seqno: Uint8Array.of(0, 0, 0, 10) })).not.toBe(id)
    expect(fastMessageId({ from: Uint8Array.of(1, 2, 3, 5), seqno })).not.toBe(id)
  })

  it('reads views into a larger buffer correctly', () => {
    const buf = Uint8Array.of(9, 9, 1, 2, 3, 4, 0, 0, 0, 9, 9)
    expect(fastMessageId({ from: buf.subarray(2, 6), seqno: buf.subarray(6, 10) })).toBe(fastMessageId({ from, seqno }))
  })

  it('falls back to a hash of the data for an unsigned message, which never equals a signed one\'s id', () => {
    const a = fastMessageId({ data: Uint8Array.of(1) })
    expect(a.startsWith('unsigned/')).toBe(true)
    expect(fastMessageId({ data: Uint8Array.of(1) })).toBe(a)
    expect(fastMessageId({ data: Uint8Array.of(2) })).not.toBe(a)
    expect(fastMessageId({ from, data: Uint8Array.of(1) })).toBe(a)
    expect(fastMessageId({})).toBe(fastMessageId({ data: new Uint8Array(0) }))
  })
})
