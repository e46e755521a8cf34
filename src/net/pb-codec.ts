/**
 * A protons codec for `pbStream`: pbStream hands `decode` its own
 * uint8arraylist (another major than ours), while protons codecs read plain
 * bytes, so this flattens it first.
 */
type Chunk = Uint8Array | { subarray: () => Uint8Array }

export interface PbCodec<T> {
  encode(message: Partial<T>): Uint8Array
  decode(data: Chunk): T
}

export function pbCodec<T> (codec: { encode(message: Partial<T>): Uint8Array, decode(data: Uint8Array): T }): PbCodec<T> {
  return {
    encode: (message) => codec.encode(message),
    decode: (data) => codec.decode(data instanceof Uint8Array ? data : data.subarray())
  }
}
