/**
 * Op lists as they travel in pages and announcements: a protobuf `OpList`
 * of (body, sig) byte pairs, deflated when that pays.
 *
 * The bodies are opaque here (their canonical encoding is the oplog's
 * business); we only carry bytes. Deflate earns its keep because every body
 * repeats its 32-byte origin key and usually its collection and field names;
 * the prev hashes and signatures do not compress, so level 1 gets nearly all
 * of the gain. Values that are already compressed (images, archives) do not
 * deflate at all, so a large list is sampled first and sent as it is when
 * the samples do not shrink. Compression of large lists runs on libuv's
 * thread pool (async zlib), which keeps a large page from stalling sessions
 * with other peers; small ones (announcements) run inline, where setting up
 * an async zlib stream would cost several times the work itself.
 *
 * Decoding is bounded before any allocation: the declared raw size is checked
 * against the inflation limit, inflation is capped at that size (a zip bomb
 * stops there), and the op count is checked before decoding the list.
 */
import { promisify } from 'node:util'
import { deflateRaw as deflateRawCb, deflateRawSync, inflateRaw as inflateRawCb, inflateRawSync, type ZlibOptions } from 'node:zlib'
import type { EncodedOp } from '../oplog/op.js'
import {
  COMPRESS_SAMPLE_BYTES, COMPRESS_SAMPLES, DEFAULT_COMPRESSION_LEVEL, DEFAULT_MAX_INFLATED_BYTES, INLINE_ZLIB_MAX_BYTES, MAX_DEFLATED_RATIO,
  MAX_OPS_PER_MESSAGE, MIN_COMPRESS_BYTES
} from './constants.js'
import { BadRequestError, TooLargeError } from './errors.js'
import { Compression, OpList } from './pb/sync.js'

const deflateRawAsync = promisify(deflateRawCb)
const inflateRawAsync = promisify(inflateRawCb)

/** Small inputs inline, large ones on the thread pool (see the module doc). */
async function deflateRaw (input: Uint8Array, options: ZlibOptions): Promise<Uint8Array> {
  return input.byteLength <= INLINE_ZLIB_MAX_BYTES ? deflateRawSync(input, options) : await deflateRawAsync(input, options)
}

async function inflateRaw (input: Uint8Array, options: ZlibOptions & { maxOutputLength: number }): Promise<Uint8Array> {
  return options.maxOutputLength <= INLINE_ZLIB_MAX_BYTES ? inflateRawSync(input, options) : await inflateRawAsync(input, options)
}

/** The op-carrying fields shared by `Page` and `Announce`. */
export interface PackedOps {
  compression: Compression
  ops: Uint8Array
  count: number
  rawBytes: number
}

export interface PackOptions {
  /** zlib level, 0 to 9. @default DEFAULT_COMPRESSION_LEVEL (1) */
  compressionLevel?: number
  /** Lists smaller than this are sent as they are. @default MIN_COMPRESS_BYTES (512) */
  minCompressBytes?: number
}

export interface UnpackOptions {
  /** @default DEFAULT_MAX_INFLATED_BYTES (16 MiB) */
  maxInflatedBytes?: number
  /** @default MAX_OPS_PER_MESSAGE */
  maxOps?: number
}

export async function packOps (ops: readonly EncodedOp[], options: PackOptions = {}): Promise<PackedOps> {
  return { ...await packBytes(encodeOpList(ops), options), count: ops.length }
}

/** Bytes as they travel in a page's `ops` field: deflated when that pays, as `packOps` does for op lists. */
export async function packBytes (raw: Uint8Array, options: PackOptions = {}): Promise<Omit<PackedOps, 'count'>> {
  const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL
  const plain = { compression: Compression.NONE, ops: raw, rawBytes: raw.byteLength }
  if (raw.byteLength < (options.minCompressBytes ?? MIN_COMPRESS_BYTES) || level === 0) return plain
  if (raw.byteLength >= COMPRESS_SAMPLES * COMPRESS_SAMPLE_BYTES * 2 && !(await worthDeflating(raw, level))) return plain
  const deflated = new Uint8Array(await deflateRaw(raw, { level }))
  if (deflated.byteLength >= raw.byteLength) return plain
  return { compression: Compression.DEFLATE_RAW, ops: deflated, rawBytes: raw.byteLength }
}

/** Deflate's output for incompressible input: stored blocks, 5 bytes per 64 KiB, plus slack. */
const DEFLATE_WORST_GROWTH = 1.001

/**
 * Whether deflating a large op list is likely to pay, judged from a few
 * evenly spaced samples: a page of photos or other already-compressed values
 * would otherwise cost a full deflate (about 40 ms per MB on a busy core) on
 * every page, only to be thrown away because it saved nothing. Samples are
 * taken in turn and the answer is given as soon as it is certain (deflate
 * never grows its input by more than a fraction of a per cent), so a list of
 * ordinary ops costs one 16 KiB sample.
 */
async function worthDeflating (raw: Uint8Array, level: number): Promise<boolean> {
  const budget = COMPRESS_SAMPLES * COMPRESS_SAMPLE_BYTES * MAX_DEFLATED_RATIO
  const step = Math.floor((raw.byteLength - COMPRESS_SAMPLE_BYTES) / (COMPRESS_SAMPLES - 1))
  let deflated = 0
  for (let i = 0; i < COMPRESS_SAMPLES; i++) {
    deflated += (await deflateRaw(raw.subarray(i * step, i * step + COMPRESS_SAMPLE_BYTES), { level })).byteLength
    const rest = (COMPRESS_SAMPLES - 1 - i) * COMPRESS_SAMPLE_BYTES * DEFLATE_WORST_GROWTH
    if (deflated + rest <= budget) return true
    if (deflated > budget) return false
  }
  return false
}

const varintSize = (n: number): number => n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5

function writeVarint (out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) { out[at++] = (n & 0x7f) | 0x80; n >>>= 7 }
  out[at++] = n
  return at
}

/**
 * The protobuf encoding of `OpList { repeated WireOp ops = 1 }` with
 * `WireOp { bytes body = 1; optional bytes sig = 2 }`, written in one buffer:
 * the server encodes a page per request, and the generic encoder's per-op
 * objects and forks cost more than the deflate that follows. `OpList.decode`
 * reads it (a test checks both agree).
 */
export function encodeOpList (ops: readonly EncodedOp[]): Uint8Array {
  let total = 0
  const sizes = new Array<number>(ops.length)
  for (let i = 0; i < ops.length; i++) {
    const { body, sig } = ops[i]!
    let inner = 1 + varintSize(body.byteLength) + body.byteLength
    if (sig !== undefined) inner += 1 + varintSize(sig.byteLength) + sig.byteLength
    sizes[i] = inner
    total += 1 + varintSize(inner) + inner
  }
  const out = new Uint8Array(total)
  let at = 0
  for (let i = 0; i < ops.length; i++) {
    const { body, sig } = ops[i]!
    out[at++] = 0x0a // field 1 (ops), length-delimited
    at = writeVarint(out, at, sizes[i]!)
    out[at++] = 0x0a // field 1 (body)
    at = writeVarint(out, at, body.byteLength)
    out.set(body, at); at += body.byteLength
    if (sig !== undefined) {
      out[at++] = 0x12 // field 2 (sig)
      at = writeVarint(out, at, sig.byteLength)
      out.set(sig, at); at += sig.byteLength
    }
  }
  return out
}

export async function unpackOps (packed: PackedOps, options: UnpackOptions = {}): Promise<EncodedOp[]> {
  const maxOps = options.maxOps ?? MAX_OPS_PER_MESSAGE
  if (packed.count > maxOps) throw new TooLargeError(`${packed.count} ops in one message, over the limit of ${maxOps}`)
  return decodeOpList(await unpackBytes(packed, options), packed.count)
}

/**
 * The raw bytes of a page's `ops` field: the declared size is checked against
 * the inflation limit before anything is allocated, and inflation stops there.
 */
export async function unpackBytes (packed: Omit<PackedOps, 'count'>, options: UnpackOptions = {}): Promise<Uint8Array> {
  const maxInflated = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES
  if (packed.rawBytes > maxInflated) throw new TooLargeError(`op list of ${packed.rawBytes} bytes, over the ${maxInflated}-byte limit`)
  let raw: Uint8Array
  switch (packed.compression) {
    case Compression.NONE:
      raw = packed.ops
      break
    case Compression.DEFLATE_RAW:
      try {
        // +1 so that a stream inflating past the declared size is caught as a mismatch, not truncated to fit.
        raw = new Uint8Array(await inflateRaw(packed.ops, { maxOutputLength: packed.rawBytes + 1 }))
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new TooLargeError(`op list inflates past its declared ${packed.rawBytes} bytes`)
        throw new BadRequestError('op list does not inflate (corrupt deflate stream)')
      }
      break
    default:
      throw new BadRequestError(`unknown compression ${String(packed.compression)}`)
  }
  if (raw.byteLength !== packed.rawBytes) throw new BadRequestError(`op list is ${raw.byteLength} bytes, declared ${packed.rawBytes}`)
  return raw
}

/** Decodes an `OpList` that must hold exactly `count` ops, each with a body. */
export function decodeOpList (raw: Uint8Array, count: number): EncodedOp[] {
  let list: OpList
  try {
    list = OpList.decode(raw, { limits: { ops: count } })
  } catch (err) {
    if ((err as Error).name === 'MaxLengthError') throw new BadRequestError(`op list holds more ops than its declared ${count}`)
    throw new BadRequestError('op list does not decode')
  }
  if (list.ops.length !== count) throw new BadRequestError(`op list holds ${list.ops.length} ops, declared ${count}`)
  for (let i = 0; i < list.ops.length; i++) {
    if (list.ops[i]!.body.byteLength === 0) throw new BadRequestError(`op ${i} has an empty body`)
  }
  // WireOp is { body, sig? }: already the EncodedOp shape.
  return list.ops
}

/** Bytes a list of ops takes in an OpList before compression (a cheap upper bound for page budgets). */
export function encodedOpsBytes (ops: readonly EncodedOp[]): number {
  let n = 0
  for (const o of ops) n += o.body.byteLength + (o.sig?.byteLength ?? 0) + 8
  return n
}
