/** The relay's admission-chain/1 scheme: a device proves membership with the admissions it already holds. */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { admissionChainVerifier } from '../../relay/auth/admission-chain.js'
import { decodeAdmissionChain, encodeAdmissionChain } from '../../src/net/relay-auth/admission-chain.js'
import { signAdmission } from '../../src/auth/certificate.js'
import { createGroup } from '../../src/auth/group.js'
import { DeviceKey } from '../../src/oplog/keys.js'

const now = 1_700_000_000_000
const peerOf = (k: DeviceKey) => peerIdFromPublicKey(publicKeyFromRaw(k.publicKey))

function setup () {
  const first = DeviceKey.generate()
  const g = createGroup({ device: first.publicKey, name: 'first', now })
  const second = DeviceKey.generate()
  const admitted = signAdmission({ group: g.groupPub, device: second.publicKey, name: 'second', addedAt: now + 1 }, first)
  const verifier = admissionChainVerifier([{ name: 'home', publicKey: g.groupPub }])
  return { first, second, g, chain: [g.genesis, admitted], verifier }
}

describe('admission-chain/1', () => {
  it('admits the device the chain names, on its own connection', async () => {
    const { second, chain, verifier } = setup()
    const res = await verifier.verify(encodeAdmissionChain(chain), peerOf(second), now)
    expect(res).toMatchObject({ ok: true, admission: { group: 'home' } })
    expect(decodeAdmissionChain(encodeAdmissionChain(chain))).toHaveLength(2)
  })

  it('refuses a chain presented by another peer', async () => {
    const { chain, verifier } = setup()
    const res = await verifier.verify(encodeAdmissionChain(chain), peerOf(DeviceKey.generate()), now)
    expect(res).toMatchObject({ ok: false, failure: 'WRONG_PEER' })
  })

  it('refuses a group the relay does not list, and garbage', async () => {
    const { second, chain } = setup()
    const other = admissionChainVerifier([{ name: 'x', publicKey: DeviceKey.generate().publicKey }])
    expect(await other.verify(encodeAdmissionChain(chain), peerOf(second), now)).toMatchObject({ ok: false, failure: 'UNKNOWN_GROUP' })
    expect(await other.verify(Uint8Array.from([1, 2, 3]), peerOf(second), now)).toMatchObject({ ok: false, failure: 'MALFORMED' })
  })

  it('refuses a forged link (admission signed by a non-member)', async () => {
    const { g, verifier } = setup()
    const outsider = DeviceKey.generate()
    const victim = DeviceKey.generate()
    const forged = signAdmission({ group: g.groupPub, device: victim.publicKey, name: 'forged', addedAt: now + 2 }, outsider)
    const res = await verifier.verify(encodeAdmissionChain([g.genesis, forged]), peerOf(victim), now)
    expect(res.ok).toBe(false)
  })
})
