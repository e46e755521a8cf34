/**
 * Hostile input on /weft/sync/1.0.0 from a raw libp2p peer: garbage, an
 * oversized length prefix, well-framed messages with wrong fields, a peer
 * that opens streams and never writes. Each gets a typed error or a timeout
 * (never a stack trace), costs a bounded amount of memory (the oversized
 * frame is refused from its prefix: the flood behind it is cut off after a
 * stream window), and a good peer keeps syncing with the node meanwhile.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { parseDeviceId } from '../../src/oplog/keys.js'
import { OP_FORMAT_VERSION } from '../../src/oplog/op.js'
import { SYNC_PROTOCOL_ID, SYNC_WIRE_VERSION } from '../../src/protocol/constants.js'
import { encodeLengthPrefix, FramedChannel } from '../../src/protocol/framing.js'
import { decodeFrame, type Decoded } from '../../src/protocol/messages.js'
import { Compression, ErrorCode, SyncMessage } from '../../src/protocol/pb/sync.js'
import { streamChannel } from '../../src/net/stream-channel.js'
import { connect, converged, startNode, stopAll, waitFor, writeRows, type TestNode } from '../helpers/net-nodes.js'

afterEach(stopAll)

async function attacker (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  afterEach(async () => { await node.stop() })
  return node
}

/** Everything the node sends back until it closes or resets the stream (bounded by `timeoutMs`). */
async function replies (stream: Stream, timeoutMs = 10_000): Promise<{ frames: Decoded[], closedBy: 'end' | 'reset' | 'timeout' }> {
  const io = new FramedChannel(streamChannel(stream))
  const frames: Decoded[] = []
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    for (let f = await io.readFrame(signal); f !== null; f = await io.readFrame(signal)) frames.push(decodeFrame(f))
    return { frames, closedBy: 'end' }
  } catch (err) {
    return { frames, closedBy: signal.aborted ? 'timeout' : 'reset' }
  }
}

const frame = (msg: Partial<SyncMessage>): Uint8Array => {
  const body = SyncMessage.encode(msg)
  const out = new Uint8Array(encodeLengthPrefix(body.byteLength).byteLength + body.byteLength)
  out.set(encodeLengthPrefix(body.byteLength))
  out.set(body, out.byteLength - body.byteLength)
  return out
}

const errorOf = (r: { frames: Decoded[] }): { code: ErrorCode, message: string } | undefined => {
  const last = r.frames.at(-1)
  return last?.kind === 'error' ? last.error : undefined
}

async function open (from: Libp2p, to: TestNode): Promise<Stream> {
  return from.dialProtocol(to.node.getMultiaddrs()[0]!, SYNC_PROTOCOL_ID)
}

describe('bad input on the sync protocol', () => {
  it('answers each bad frame with a typed error, bounds memory, and keeps syncing with a good peer', async () => {
    const target = await startNode({ helloTimeoutMs: 1_000, readTimeoutMs: 2_000 })
    const good = await startNode()
    const evil = await attacker()
    const evilId = evil.peerId.toString()
    writeRows(target, 40)

    // A peer that opens streams and never writes: more than the per-connection limit allows.
    const silent = await Promise.allSettled(Array.from({ length: 4 }, async () => open(evil, target)))
    const silentStreams = silent.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
    expect(silentStreams.length).toBeGreaterThan(0)

    // The good peer syncs while the silent streams are held open.
    writeRows(good, 25)
    await connect(good, target)
    await waitFor(() => converged([good, target]), 'good peer converges during the attack')

    // Silent streams time out (hello deadline) and are reset.
    const silentOutcomes = await Promise.all(silentStreams.map(async s => replies(s)))
    for (const r of silentOutcomes) expect(r.closedBy).not.toBe('timeout')
    await waitFor(() => target.node.services.sync.getPeerState(evilId)?.lastError?.code === 'TIMEOUT', 'the timeout in the per-peer state')

    // Garbage bytes: a prefix then bytes that are not a SyncMessage.
    let s = await open(evil, target)
    s.send(Uint8Array.from([8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
    let r = await replies(s)
    expect(errorOf(r)?.code).toBe(ErrorCode.BAD_REQUEST)
    expect(errorOf(r)?.message).not.toMatch(/\n\s+at /)

    // An oversized length prefix (1 GiB) followed by a flood: refused from the prefix, the flood is cut off.
    s = await open(evil, target)
    s.send(encodeLengthPrefix(1024 * 1024 * 1024))
    let pushed = 0
    const junk = new Uint8Array(64 * 1024)
    const replied = replies(s)
    for (let i = 0; i < 1_600 && s.writeStatus === 'writable' && s.status === 'open'; i++) {
      try { s.send(junk); pushed += junk.byteLength } catch { break }
      if (s.writeBufferLength > 4 * 1024 * 1024) await new Promise(resolve => setTimeout(resolve, 5))
    }
    r = await replied
    expect(errorOf(r)?.code).toBe(ErrorCode.TOO_LARGE)
    // Whatever the flood pushed locally, the node read at most a stream window of it before resetting.
    expect(target.node.services.sync.getPeerState(evilId)?.lastError?.code).toBe('TOO_LARGE')
    // The reset came back after a few MiB (the attacker's own 4 MiB buffer plus a stream window), not the 100 MiB offered.
    expect(pushed).toBeLessThan(16 * 1024 * 1024)

    // Well-framed messages with wrong fields.
    const hello = { protocolVersion: SYNC_WIRE_VERSION, groupId: 'default', deviceId: parseDeviceId(evilId), dataFormatVersion: OP_FORMAT_VERSION, vector: [], schemas: [] }
    const cases: Array<[string, Uint8Array, ErrorCode]> = [
      ['a want before any hello', frame({ want: { vector: [], maxOps: 10, maxBytes: 1000, fragmentAboveBytes: 0, held: [] } }), ErrorCode.BAD_REQUEST],
      ['another protocol version', frame({ hello: { ...hello, protocolVersion: 99 } }), ErrorCode.VERSION_MISMATCH],
      ['another op format', frame({ hello: { ...hello, dataFormatVersion: 7 } }), ErrorCode.VERSION_MISMATCH],
      ['another group', frame({ hello: { ...hello, groupId: 'not-ours' } }), ErrorCode.NOT_MEMBER],
      ['a device id that is not the connection\'s', frame({ hello: { ...hello, deviceId: parseDeviceId(target.id) } }), ErrorCode.BAD_REQUEST],
      ['a vector entry with a 3-byte origin', frame({ hello: { ...hello, vector: [{ origin: Uint8Array.from([1, 2, 3]), seq: 4 }] } }), ErrorCode.BAD_REQUEST],
      ['a schema version without a collection', frame({ hello: { ...hello, schemas: [{ collection: '', version: 1 }] } }), ErrorCode.BAD_REQUEST],
      ['one collection\'s schema version twice', frame({ hello: { ...hello, schemas: [{ collection: 'a', version: 1 }, { collection: 'a', version: 2 }] } }), ErrorCode.BAD_REQUEST],
      ['more schema versions than a hello may carry', frame({ hello: { ...hello, schemas: Array.from({ length: 1025 }, (_, i) => ({ collection: `c${i}`, version: 1 })) } }), ErrorCode.TOO_LARGE],
      ['an empty message', frame({}), ErrorCode.BAD_REQUEST]
    ]
    for (const [what, bytes, code] of cases) {
      s = await open(evil, target)
      s.send(bytes)
      r = await replies(s)
      expect(errorOf(r)?.code, what).toBe(code)
    }

    // A valid hello, then a page nobody asked for.
    s = await open(evil, target)
    s.send(frame({ hello }))
    s.send(frame({ page: { compression: Compression.NONE, ops: new Uint8Array(0), count: 0, rawBytes: 0, more: false } }))
    r = await replies(s)
    expect(r.frames[0]?.kind).toBe('hello')
    expect(errorOf(r)?.code).toBe(ErrorCode.BAD_REQUEST)

    // A stall inside a frame: the prefix promises 1,000 bytes, 10 arrive.
    s = await open(evil, target)
    s.send(frame({ hello }))
    s.send(Uint8Array.from([0xe8, 0x07, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    r = await replies(s)
    expect(r.closedBy).toBe('reset')
    await waitFor(() => target.node.services.sync.getPeerState(evilId)?.lastError?.code === 'TIMEOUT', 'the stalled frame times out')

    // Through all of it the node still syncs with the good peer.
    writeRows(good, 5, 'after')
    writeRows(target, 5, 'after-t')
    await waitFor(() => converged([good, target]), 'good peer converges after the attack')
    expect(target.node.services.sync.getPeerState(good.id)?.lastError).toBeUndefined()
  })
})
