/**
 * The relay-auth client reads the relay's answer at the boundary: a status
 * this build does not know (from a newer relay, or a broken one) is never
 * read as an admission. The "relay" is a stock js-libp2p node (tcp, noise,
 * yamux) that answers `/weft/relay-auth/1.0.0` with bytes written by hand,
 * so no weft code is on its side.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { pbStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { authenticateToRelay } from '../../src/net/relay-auth/client.js'
import { RELAY_AUTH_PROTOCOL } from '../../src/net/relay-auth/constants.js'

const nodes: Libp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

async function stockNode (): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  nodes.push(node)
  return node
}

/** A relay that reads one request and answers `answer` (the bytes of an AuthResponse) whatever it was. */
async function relayAnswering (answer: Uint8Array): Promise<Libp2p> {
  const relay = await stockNode()
  await relay.handle(RELAY_AUTH_PROTOCOL, async stream => {
    const pb = pbStream(stream)
    await pb.read({ decode: data => data })
    await pb.write(answer, { encode: bytes => bytes })
    await stream.close()
  })
  return relay
}

async function askRelay (relay: Libp2p): Promise<ReturnType<typeof authenticateToRelay>> {
  const client = await stockNode()
  const conn = await client.dial(relay.getMultiaddrs()[0]!)
  return authenticateToRelay(conn, 'group-statement/1', new Uint8Array([1, 2, 3]), { signal: AbortSignal.timeout(10_000) })
}

describe('relay-auth answers', () => {
  it('reads OK (status 1) as an admission, to show the hand-written bytes are what a relay sends', async () => {
    // status = 1 (OK), group = "g", valid_until_ms = 5
    const relay = await relayAnswering(Uint8Array.of(0x08, 1, 0x12, 1, 0x67, 0x18, 5))
    expect(await askRelay(relay)).toMatchObject({ ok: true, group: 'g', validUntilMs: 5 })
  })

  it('reads an empty answer (status 0, UNSPECIFIED) as a refusal', async () => {
    const relay = await relayAnswering(new Uint8Array(0))
    expect(await askRelay(relay)).toEqual({ ok: false, status: 'UNSPECIFIED' })
  })

  it('rejects a status number it does not know (the node keeps the relay\'s stock limits) instead of reading it as anything', async () => {
    const relay = await relayAnswering(Uint8Array.of(0x08, 99, 0x12, 1, 0x67))
    await expect(askRelay(relay)).rejects.toThrow(/enum/i)
  })
})
