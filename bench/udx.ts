/**
 * UDX transport benchmark: throughput of one libp2p stream (Noise + yamux)
 * between two nodes on 127.0.0.1, over UDX and over TCP in the same run, so
 * the ratio is measured under the same machine noise.
 *
 * The receiving node runs in a child process (this same module, started with
 * `--receiver <kind>`): real nodes have an event loop each, and with both in
 * one process UDX's acknowledgements wait behind the other node's decryption,
 * which measures the benchmark rather than the transport. Each run uses a
 * fresh pair of nodes and sends 64 MiB one way after the connection is up;
 * the receiver confirms the byte count. Medians of `WEFT_BENCH_RUNS`
 * (default 3) runs, the order of the kinds rotating from run to run. Each side also reports the
 * CPU time (user + system) it spent per MiB during the transfer: on a
 * machine whose cores are shared, that, not the wall-clock rate, says what a
 * transport costs. A third kind, a bare udx-native stream (no libp2p, Noise
 * or yamux; the transport's 4 MiB socket buffers), measures what UDX itself
 * costs, so that the gap to TCP can be split between udx-native and the layers
 * above it.
 *
 * Alone: `node dist/bench/udx.js` after `npm run build`.
 */
import '../src/polyfill.js'
import { fork } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { udx } from '../src/udx/index.js'
import { DEFAULT_SOCKET_BUFFER_BYTES as SOCKET_BUFFER_BYTES } from '../src/udx/constants.js'
import { createUdx, type Udx, type UdxSocket, type UdxStream } from '../src/udx/udx-native.js'
import { median, row, seconds } from './util.js'
import type { Stream } from '@libp2p/interface'

const RUNS = Number(process.env.WEFT_BENCH_RUNS ?? 3)
const MiB = 1024 * 1024
const TOTAL_BYTES = Number(process.env.WEFT_BENCH_UDX_MIB ?? 64) * MiB
const CHUNK_BYTES = 64 * 1024
const WRITE_HIGH_WATER_BYTES = 1 * MiB
const PROTOCOL = '/weft-bench/sink/1.0.0'
const RECEIVER_FLAG = '--receiver'

type Kind = 'udx' | 'tcp' | 'raw-udx'
type Libp2pKind = Exclude<Kind, 'raw-udx'>

async function startNode (kind: Libp2pKind, listen: boolean): Promise<Libp2p> {
  const address = kind === 'udx' ? '/ip4/127.0.0.1/udp/0/udx' : '/ip4/127.0.0.1/tcp/0'
  return createLibp2p({
    addresses: { listen: listen ? [address] : [] },
    transports: [kind === 'udx' ? udx() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** CPU milliseconds (user + system) since `from`. */
function cpuMs (from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from)
  return (used.user + used.system) / 1000
}

/** Child process: a node that counts what each stream brings and answers with the count and its CPU time. */
async function runReceiver (kind: Libp2pKind): Promise<void> {
  const node = await startNode(kind, true)
  await node.handle(PROTOCOL, async (stream) => {
    let received = 0
    let cpu: NodeJS.CpuUsage | undefined
    for await (const chunk of stream) {
      cpu ??= process.cpuUsage()
      received += chunk.byteLength
    }
    const spent = cpu === undefined ? 0 : cpuMs(cpu)
    stream.send(new TextEncoder().encode(JSON.stringify({ received, cpuMs: spent })))
    await stream.close()
  })
  process.once('message', () => {
    void Promise.resolve(node.stop()).then(() => { process.exit(0) })
  })
  process.send?.(node.getMultiaddrs()[0]?.toString())
}

async function waitIdle (stream: Stream): Promise<void> {
  await new Promise(resolve => { stream.addEventListener('idle', resolve, { once: true }) })
}

interface Transfer {
  mibps: number
  /** CPU milliseconds per MiB on each side. */
  senderCpu: number
  receiverCpu: number
}

/** What a receiver reports once the sender has ended: bytes counted and its CPU milliseconds. */
interface ReceiverAnswer { received: number, cpuMs: number }

/** The transfer's figures, taken when the receiver's answer arrived; a short count is an error. */
function measured (kind: Kind, start: bigint, cpu: NodeJS.CpuUsage, answer: ReceiverAnswer): Transfer {
  const elapsed = seconds(start)
  const senderCpuMs = cpuMs(cpu)
  if (answer.received !== TOTAL_BYTES) throw new Error(`${kind}: receiver counted ${answer.received} of ${TOTAL_BYTES} bytes`)
  const mib = TOTAL_BYTES / MiB
  return { mibps: mib / elapsed, senderCpu: senderCpuMs / mib, receiverCpu: answer.cpuMs / mib }
}

/** One udx-native instance per process: a stream must come from its socket's instance. */
let instance: Udx | undefined
const rawUdx = (): Udx => (instance ??= createUdx())

/** A UDX socket on 127.0.0.1 with the transport's buffer sizes. */
function rawSocket (): UdxSocket {
  const socket = rawUdx().createSocket()
  socket.bind(0, '127.0.0.1')
  socket.setRecvBufferSize(SOCKET_BUFFER_BYTES)
  socket.setSendBufferSize(SOCKET_BUFFER_BYTES)
  return socket
}

const RAW_RECEIVER_ID = 1
const RAW_SENDER_ID = 2

/**
 * Child process, bare udx-native: a stream that counts bytes until the
 * sender ends, then reports over IPC. Its stream exists before the sender's
 * first packet (the parent dials only after `ready`), which is all the
 * handshake a bare stream needs here.
 */
function runRawReceiver (): void {
  const socket = rawSocket()
  const stream = rawUdx().createStream(RAW_RECEIVER_ID)
  let received = 0
  let cpu: NodeJS.CpuUsage | undefined
  stream.on('data', (data) => { cpu ??= process.cpuUsage(); received += data.byteLength })
  stream.on('end', () => {
    process.send?.({ received, cpuMs: cpu === undefined ? 0 : cpuMs(cpu) })
    stream.end()
  })
  stream.on('error', (err) => { process.send?.({ error: err.message }) })
  process.on('message', (m: { senderPort?: number }) => {
    if (m.senderPort !== undefined) {
      stream.connect(socket, RAW_SENDER_ID, m.senderPort, '127.0.0.1')
      process.send?.({ ready: true })
    } else {
      void socket.close().then(() => { process.exit(0) })
    }
  })
  process.send?.({ port: socket.address()?.port })
}

async function waitDrain (stream: UdxStream): Promise<void> {
  await new Promise<void>(resolve => { stream.once('drain', resolve) })
}

/** TOTAL_BYTES over a bare udx-native stream to a receiver in another process. */
async function rawTransfer (): Promise<Transfer> {
  const child = fork(fileURLToPath(import.meta.url), [RECEIVER_FLAG, 'raw-udx'])
  const exited = new Promise(resolve => { child.once('exit', resolve) })
  const messages: Array<Record<string, unknown>> = []
  let wake: (() => void) | undefined
  child.on('message', (m) => { messages.push(m as Record<string, unknown>); wake?.() })
  child.once('exit', () => { wake?.() })
  const next = async (key: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const i = messages.findIndex(m => key in m || 'error' in m)
      if (i >= 0) {
        const m = messages.splice(i, 1)[0] as Record<string, unknown>
        if ('error' in m) throw new Error(`raw-udx receiver: ${String(m.error)}`)
        return m
      }
      if (child.exitCode !== null) throw new Error('raw-udx receiver exited early')
      await new Promise<void>(resolve => { wake = resolve })
    }
  }
  const socket = rawSocket()
  const stream = rawUdx().createStream(RAW_SENDER_ID)
  stream.on('error', () => {}) // a failure shows as a short count below
  try {
    const { port } = await next('port')
    child.send({ senderPort: socket.address()?.port })
    await next('ready')
    stream.connect(socket, RAW_RECEIVER_ID, Number(port), '127.0.0.1')
    const chunk = new Uint8Array(CHUNK_BYTES).fill(7)
    const cpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    for (let sent = 0; sent < TOTAL_BYTES; sent += CHUNK_BYTES) {
      if (!stream.write(chunk)) await waitDrain(stream)
    }
    stream.end()
    const answer = await next('received')
    return measured('raw-udx', start, cpu, { received: Number(answer.received), cpuMs: Number(answer.cpuMs) })
  } finally {
    stream.destroy()
    await socket.close()
    child.send('stop')
    await exited
  }
}

/** One stream carrying TOTAL_BYTES to a receiver in another process. */
async function transfer (kind: Kind): Promise<Transfer> {
  if (kind === 'raw-udx') return await rawTransfer()
  const child = fork(fileURLToPath(import.meta.url), [RECEIVER_FLAG, kind])
  const exited = new Promise(resolve => { child.once('exit', resolve) })
  const sender = await startNode(kind, false)
  try {
    const address = await new Promise<string>((resolve, reject) => {
      child.once('message', (m) => { resolve(String(m)) })
      child.once('exit', () => { reject(new Error(`${kind} receiver exited early`)) })
    })
    const target = multiaddr(address)
    // connect first so that the figure is the stream's, not the dial's
    await sender.dial(target)
    const stream = await sender.dialProtocol(target, PROTOCOL)
    let reply = ''
    const replied = (async () => {
      for await (const chunk of stream) reply += new TextDecoder().decode(chunk.subarray())
    })()
    const chunk = new Uint8Array(CHUNK_BYTES).fill(7)
    const cpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    for (let sent = 0; sent < TOTAL_BYTES; sent += CHUNK_BYTES) {
      stream.send(chunk)
      if (stream.writeBufferLength > WRITE_HIGH_WATER_BYTES) await waitIdle(stream)
    }
    await stream.close()
    await replied
    return measured(kind, start, cpu, JSON.parse(reply) as ReceiverAnswer)
  } finally {
    await sender.stop()
    child.send('stop')
    await exited
  }
}

export async function benchUdx (): Promise<void> {
  const runs: Record<Kind, Transfer[]> = { udx: [], tcp: [], 'raw-udx': [] }
  const kinds: Kind[] = ['udx', 'tcp', 'raw-udx']
  for (let run = 0; run < RUNS; run++) {
    // rotate the order so that no kind always runs first (or last)
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(run + k) % kinds.length] as Kind
      runs[kind].push(await transfer(kind))
    }
  }
  const results = { udx: runs.udx.map(r => r.mibps), tcp: runs.tcp.map(r => r.mibps), raw: runs['raw-udx'].map(r => r.mibps) }
  const cpu = (kind: Kind, side: 'senderCpu' | 'receiverCpu'): string => median(runs[kind].map(r => r[side])).toFixed(1)
  const size = `${TOTAL_BYTES / MiB} MiB`
  process.stdout.write(`\nlibp2p stream on loopback, Noise + yamux, receiver in another process (median of ${RUNS} runs)\n`)
  row(`UDX, one stream, ${size}`, `${median(results.udx).toFixed(1)} MiB/s`)
  row(`TCP, one stream, ${size}`, `${median(results.tcp).toFixed(1)} MiB/s`)
  row('ratio UDX / TCP (medians)', `${(median(results.udx) / median(results.tcp)).toFixed(2)}`)
  row('UDX runs', results.udx.map(x => x.toFixed(1)).join(', ') + ' MiB/s')
  row('TCP runs', results.tcp.map(x => x.toFixed(1)).join(', ') + ' MiB/s')
  row('UDX CPU per MiB, sender / receiver', `${cpu('udx', 'senderCpu')} / ${cpu('udx', 'receiverCpu')} ms`)
  row('TCP CPU per MiB, sender / receiver', `${cpu('tcp', 'senderCpu')} / ${cpu('tcp', 'receiverCpu')} ms`)
  process.stdout.write('\nbare udx-native stream, no libp2p, Noise or yamux (same runs)\n')
  row(`raw UDX, one stream, ${size}`, `${median(results.raw).toFixed(1)} MiB/s`)
  row('raw UDX runs', results.raw.map(x => x.toFixed(1)).join(', ') + ' MiB/s')
  row('raw UDX CPU per MiB, sender / receiver', `${cpu('raw-udx', 'senderCpu')} / ${cpu('raw-udx', 'receiverCpu')} ms`)
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flag = process.argv.indexOf(RECEIVER_FLAG)
  const kind = process.argv[flag + 1]
  if (flag < 0) await benchUdx()
  else if (kind === 'raw-udx') runRawReceiver()
  else await runReceiver(kind === 'tcp' ? 'tcp' : 'udx')
}
