/**
 * A libp2p peer built only from stock packages, as a stranger to weft would
 * build it: js-libp2p 3 with TCP, Noise, yamux, identify, ping and the circuit
 * relay v2 transport, and nothing else. It registers no private multiaddr
 * code and imports no weft file, so what it can and cannot parse is exactly
 * what a stock peer can (`knowsUdx()` checks that the `/udx` code really is
 * unknown in this process).
 *
 * (Node 20 lacks `Promise.withResolvers`, which libp2p 3 calls; the test
 * runner's setup file defines it before any test file loads. That shim adds
 * no libp2p code.)
 *
 * It also speaks a tiny counting protocol on limited (relayed) connections, so
 * a test sees how many bytes a relay let through before it cut the stream.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify, type Identify } from '@libp2p/identify'
import { FaultTolerance, type Connection, type IdentifyResult, type Libp2p, type Stream } from '@libp2p/interface'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { registry, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

export const COUNT_PROTOCOL = '/stock-test/count/1.0.0'

export type StockClient = Libp2p<{ identify: Identify, ping: Ping }> & {
  /** Bytes each inbound count stream received before it ended or was cut, in arrival order (settled once the stream ends). */
  readonly received: Array<Promise<number>>
}

export interface StockClientOptions {
  /** Relay multiaddrs (with /p2p/<id>) to reserve a slot on at start; a refused reservation makes start fail, unless `reservationMayFail`. @default [] */
  relays?: string[]
  /** Start even when a reservation is refused (then the client just has no circuit address). @default false */
  reservationMayFail?: boolean
  /** Listen on a TCP port of 127.0.0.1 too. @default true */
  listenTcp?: boolean
}

/** The code weft uses for `/udx` (0x307564, from the multicodec private-use range): a stock peer must not know it. */
const UDX_CODE = 0x307564

/** True when this process's multiaddr registry knows the `/udx` code (it must not, for a stock peer). */
export function knowsUdx (): boolean {
  try {
    registry.getProtocol(UDX_CODE)
    return true
  } catch {
    return false
  }
}

export async function createStockClient (o: StockClientOptions = {}): Promise<StockClient> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [...(o.listenTcp === false ? [] : ['/ip4/127.0.0.1/tcp/0']), ...(o.relays ?? []).map(r => `${r}/p2p-circuit`)] },
    ...(o.reservationMayFail === true ? { transportManager: { faultTolerance: FaultTolerance.NO_FATAL } } : {}),
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
  const received: Array<Promise<number>> = []
  await node.handle(COUNT_PROTOCOL, (stream) => { received.push(countBytes(stream)) }, { runOnLimitedConnection: true })
  return Object.assign(node, { received })
}

/**
 * Dials `addr` (ending in /p2p/<id>) and returns the connection with the identify result of the
 * exchange libp2p runs on every new connection. When that one does not
 * succeed in time, identifies again by hand, so the test fails with the real
 * error (an unknown multiaddr code, say) instead of a timeout.
 */
export async function dialAndIdentify (
  client: StockClient,
  addr: Multiaddr,
  timeoutMs = 10_000
): Promise<{ connection: Connection, identified: IdentifyResult }> {
  const peer = addr.getComponents().findLast(c => c.name === 'p2p')?.value
  let onIdentify: (evt: CustomEvent<IdentifyResult>) => void = () => {}
  const automatic = new Promise<IdentifyResult | undefined>(resolve => {
    const timer = setTimeout(() => { resolve(undefined) }, timeoutMs)
    onIdentify = (evt) => {
      if (evt.detail.peerId.toString() === peer) {
        clearTimeout(timer)
        resolve(evt.detail)
      }
    }
    client.addEventListener('peer:identify', onIdentify)
  })
  try {
    const connection = await client.dial(addr)
    const identified = await automatic ?? await client.services.identify.identify(connection)
    return { connection, identified }
  } finally {
    client.removeEventListener('peer:identify', onIdentify)
  }
}

/** Counts what arrives until the sender ends the stream or the stream dies. */
async function countBytes (stream: Stream): Promise<number> {
  let n = 0
  try {
    for await (const chunk of stream) n += chunk.byteLength
  } catch {}
  return n
}

/**
 * Writes `bytes` in 8 KiB chunks on a new count stream over `conn` (relayed
 * connections included). Resolves with what was handed to the stream before
 * it failed, and the error, if any.
 */
export async function sendCount (
  conn: Connection,
  bytes: number,
  signal = AbortSignal.timeout(30_000)
): Promise<{ written: number, error: Error | undefined }> {
  let written = 0
  let stream: Stream | undefined
  try {
    stream = await conn.newStream(COUNT_PROTOCOL, { runOnLimitedConnection: true, signal })
    const chunk = new Uint8Array(8 * 1024).fill(1)
    while (written < bytes) {
      const part = chunk.subarray(0, Math.min(chunk.byteLength, bytes - written))
      stream.send(part)
      written += part.byteLength
      // onDrain() resolves only once per stream in libp2p 3: poll the flag instead
      while (stream.writableNeedsDrain && stream.status === 'open') {
        signal.throwIfAborted()
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    }
    await stream.close({ signal })
    return { written, error: undefined }
  } catch (err) {
    stream?.abort(err as Error)
    return { written, error: err as Error }
  }
}
