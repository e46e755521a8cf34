/**
 * Typed access to `udx-native`, which ships no type declarations. Only the
 * part of its API this transport uses is described here, from its README and
 * lib/ sources (version 1.21). Loading it through `createRequire` keeps the
 * types local: no ambient module declaration leaks into consumers.
 */
import { createRequire } from 'node:module'

export interface UdxRemoteInfo {
  host: string
  family: 4 | 6
  port: number
}

export interface UdxSocket {
  readonly streams: Set<UdxStream>
  readonly closing: boolean
  address(): UdxRemoteInfo | null
  /** Throws when the port is taken. Without a host it binds `::` (dual stack). */
  bind(port?: number, host?: string): void
  /** Resolves once every stream on it is closed and the handle is released. */
  close(): Promise<void>
  setRecvBufferSize(bytes: number): void
  setSendBufferSize(bytes: number): void
  getRecvBufferSize(): number
  getSendBufferSize(): number
  /** Fire and forget; throws on an invalid host. */
  /** `ttl` 0 or absent: the socket's default. */
  trySend(buffer: Uint8Array, port: number, host: string, ttl?: number): void
  on(event: 'message', listener: (message: Buffer, from: UdxRemoteInfo) => void): this
  on(event: 'close', listener: () => void): this
  off(event: 'message', listener: (message: Buffer, from: UdxRemoteInfo) => void): this
}

export interface UdxStreamOptions {
  /**
   * Called for a packet that reaches a stream that is not connected yet;
   * returning true drops it. The default drops everything.
   */
  firewall?: (socket: UdxSocket, port: number, host: string) => boolean
}

/** A streamx Duplex. */
export interface UdxStream {
  readonly id: number
  readonly connected: boolean
  readonly destroyed: boolean
  readonly destroying: boolean
  readonly remoteHost: string | null
  readonly remotePort: number
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void
  /** False when the write buffer is full: wait for 'drain'. */
  write(data: Uint8Array): boolean
  end(): void
  destroy(err?: Error): void
  pause(): void
  resume(): void
  on(event: 'data', listener: (data: Buffer) => void): this
  on(event: 'error', listener: (err: Error & { code?: string }) => void): this
  on(event: 'end' | 'close' | 'drain', listener: () => void): this
  once(event: 'close' | 'end' | 'drain', listener: () => void): this
  off(event: 'close' | 'end', listener: () => void): this
}

export interface Udx {
  createSocket(options?: { ipv6Only?: boolean, reuseAddress?: boolean }): UdxSocket
  createStream(id: number, options?: UdxStreamOptions): UdxStream
}

const require = createRequire(import.meta.url)
const UdxClass = require('udx-native') as new () => Udx

export function createUdx (): Udx {
  return new UdxClass()
}
