import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FramedChannel, encodeLengthPrefix } from '../../src/protocol/framing.js'
import { packOps, unpackOps } from '../../src/protocol/ops-codec.js'
import { Compression } from '../../src/protocol/pb/sync.js'
import { duplexPair } from '../helpers/memory-pipe.js'
import type { ByteChannel } from '../../src/protocol/framing.js'
import type { EncodedOp } from '../../src/oplog/op.js'

const never = new AbortController().signal

/** A channel that replays fixed chunks, then ends. */
function replay (chunks: Uint8Array[]): ByteChannel {
  const queue = [...chunks]
  return {
    read: async () => queue.shift() ?? null,
    write: async () => {},
    closeWrite: async () => {},
    abort: () => {}
  }
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

describe('framing', () => {
  it('round-trips frames however the bytes are split into chunks', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      async (frames, cuts) => {
        const wire = concat(frames.flatMap(f => [encodeLengthPrefix(f.byteLength), f]))
        const chunks: Uint8Array[] = []
        for (let at = 0, i = 0; at < wire.byteLength; i++) {
          const n = cuts[i % cuts.length]!
          chunks.push(wire.subarray(at, at + n))
          at += n
        }
        const framed = new FramedChannel(replay(chunks))
        const got: Uint8Array[] = []
        for (let f = await framed.readFrame(never); f !== null; f = await framed.readFrame(never)) got.push(f)
        expect(got).toEqual(frames)
        expect(framed.bytesRead).toBe(wire.byteLength)
      }))
  })

  it('refuses an oversized frame from its prefix alone, before buffering the body', async () => {
    const framed = new FramedChannel(replay([encodeLengthPrefix(5_000)]), { maxFrameBytes: 4_096 })
    await expect(framed.readFrame(never)).rejects.toMatchObject({ name: 'TooLargeError', code: 'TOO_LARGE' })
  })

  it('refuses a length prefix longer than five bytes', async () => {
    const framed = new FramedChannel(replay([Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])]))
    await expect(framed.readFrame(never)).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('reports a stream that ends inside a frame as CLOSED', async () => {
    const framed = new FramedChannel(replay([Uint8Array.from([10, 1, 2, 3])]))
    await expect(framed.readFrame(never)).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('refuses to write a frame over the limit', async () => {
    const [a] = duplexPair()
    const framed = new FramedChannel(a, { maxFrameBytes: 10 })
    await expect(framed.writeFrame(new Uint8Array(11), never)).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('passes frames through a pipe and reads null at a clean end', async () => {
    const [a, b] = duplexPair()
    const fa = new FramedChannel(a)
    const fb = new FramedChannel(b)
    await fa.writeFrame(Uint8Array.from([1, 2, 3]), never)
    await fa.writeFrame(new Uint8Array(0), never)
    await fa.closeWrite(never)
    expect(await fb.readFrame(never)).toEqual(Uint8Array.from([1, 2, 3]))
    expect(await fb.readFrame(never)).toEqual(new Uint8Array(0))
    expect(await fb.readFrame(never)).toBeNull()
  })
})

/** Element-wise toEqual on megabytes of typed arrays takes seconds; compare the bytes instead. */
function sameOps (a: readonly EncodedOp[], b: readonly EncodedOp[]): boolean {
  const same = (x: Uint8Array | undefined, y: Uint8Array | undefined): boolean =>
    x === undefined || y === undefined ? x === y : Buffer.from(x).equals(Buffer.from(y))
  return a.length === b.length && a.every((op, i) => same(op.body, b[i]!.body) && same(op.sig, b[i]!.sig))
}

describe('op lists', () => {
  const ops = Array.from({ length: 200 }, (_, i) => ({ body: new Uint8Array(100).fill(i % 7), ...(i % 10 === 9 ? { sig: new Uint8Array(64).fill(1) } : {}) }))

  it('compresses and restores bodies and signatures', async () => {
    const packed = await packOps(ops)
    expect(packed.compression).toBe(Compression.DEFLATE_RAW)
    expect(packed.ops.byteLength).toBeLessThan(packed.rawBytes)
    const back = await unpackOps(packed)
    expect(back).toEqual(ops)
  })

  it('sends already-compressed values as they are, and still deflates ops around such a value', async () => {
    const photo = (): Uint8Array => new Uint8Array(randomBytes(512 * 1024))
    const photos = [{ body: photo() }, { body: photo(), sig: new Uint8Array(64).fill(1) }]
    const plain = await packOps(photos)
    expect(plain.compression).toBe(Compression.NONE)
    expect(sameOps(await unpackOps(plain), photos)).toBe(true)

    const meta = (n: number): Array<{ body: Uint8Array }> => Array.from({ length: n }, (_, i) => ({ body: new TextEncoder().encode(`{"collection":"notes","key":"note-${i}","field":"title","value":"note number ${i}"}`) }))
    const mixed = [...meta(4000), { body: photo() }, ...meta(4000)]
    const packed = await packOps(mixed)
    expect(packed.compression).toBe(Compression.DEFLATE_RAW)
    expect(packed.ops.byteLength).toBeLessThan(packed.rawBytes * 0.9)
    expect(sameOps(await unpackOps(packed), mixed)).toBe(true)
  })

  it('refuses a declared size over the inflation limit without inflating', async () => {
    const packed = await packOps(ops)
    await expect(unpackOps({ ...packed, rawBytes: 100 * 1024 * 1024 })).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('stops a zip bomb at its declared size', async () => {
    const bomb = await packOps([{ body: new Uint8Array(8 * 1024 * 1024) }])
    await expect(unpackOps({ ...bomb, rawBytes: 1024 })).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('refuses corrupt deflate data, wrong counts and empty bodies', async () => {
    const packed = await packOps(ops)
    await expect(unpackOps({ ...packed, ops: packed.ops.map(b => b ^ 0x5a) })).rejects.toMatchObject({ code: expect.stringMatching(/BAD_REQUEST|TOO_LARGE/) })
    await expect(unpackOps({ ...packed, count: 10 })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await expect(unpackOps({ ...packed, count: 300 })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    const empty = await packOps([{ body: new Uint8Array(0) }])
    await expect(unpackOps(empty)).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })
})

describe('encodeOpList', () => {
  it('writes what the generated OpList codec reads', async () => {
    const { encodeOpList } = await import('../../src/protocol/ops-codec.js')
    const { OpList } = await import('../../src/protocol/pb/sync.js')
    await fc.assert(fc.property(
      fc.array(fc.record({
        body: fc.uint8Array({ minLength: 1, maxLength: 400 }),
        sig: fc.option(fc.uint8Array({ minLength: 64, maxLength: 64 }), { nil: undefined })
      }), { maxLength: 50 }),
      ops => {
        const encoded = encodeOpList(ops)
        const decoded = OpList.decode(encoded).ops.map(o => o.sig === undefined ? { body: o.body } : o)
        expect(decoded).toEqual(ops.map(o => o.sig === undefined ? { body: o.body } : o))
        expect(encoded).toEqual(OpList.encode({ ops: ops.map(o => o.sig === undefined ? { body: o.body } : { body: o.body, sig: o.sig }) }))
      }))
  })
})
