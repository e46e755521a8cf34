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
 * (default 3) runs, the two transports alternating. Each side also reports the
 * CPU time (user + system) it spent per MiB during the transfer: on a
 * machine whose cores are shared, that, not the wall-clock rate, says what a
 * transport costs.
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
import { median, row, seconds } from './util.js'
import type { Stream } from '@libp2p/interface'

const RUNS = Number(process.env.WEFT_BENCH_RUNS ?? 3)
const MiB = 1024 * 1024
const TOTAL_BYTES = Number(process.env.WEFT_BENCH_UDX_MIB ?? 64) * MiB
const CHUNK_BYTES = 64 * 1024
const WRITE_HIGH_WATER_BYTES = 1 * MiB
const PROTOCOL = '/weft-bench/sink/1.0.0'
const RECEIVER_FLAG = '--receiver'

type Kind = 'udx' | 'tcp'

async function startNode (kind: Kind, listen: boolean): Promise<Libp2p> {
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
async function runReceiver (kind: Kind): Promise<void> {
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

/** One stream carrying TOTAL_BYTES to a receiver in another process. */
async function transfer (kind: Kind): Promise<Transfer> {
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
    const elapsed = seconds(start)
    const senderCpuMs = cpuMs(cpu)
    const answer = JSON.parse(reply) as { received: number, cpuMs: number }
    if (answer.received !== TOTAL_BYTES) throw new Error(`${kind}: receiver counted ${answer.received} of ${TOTAL_BYTES} bytes`)
    const mib = TOTAL_BYTES / MiB
    return { mibps: mib / elapsed, senderCpu: senderCpuMs / mib, receiverCpu: answer.cpuMs / mib }
  } finally {
    await sender.stop()
    child.send('stop')
    await exited
  }
}

export async function benchUdx (): Promise<void> {
  const runs: Record<Kind, Transfer[]> = { udx: [], tcp: [] }
  for (let run = 0; run < RUNS; run++) {
    for (const kind of run % 2 === 0 ? ['udx', 'tcp'] as const : ['tcp', 'udx'] as const) {
      runs[kind].push(await transfer(kind))
    }
  }
  const results = { udx: runs.udx.map(r => r.mibps), tcp: runs.tcp.map(r => r.mibps) }
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
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flag = process.argv.indexOf(RECEIVER_FLAG)
  if (flag >= 0) await runReceiver(process.argv[flag + 1] === 'tcp' ? 'tcp' : 'udx')
  else await benchUdx()
}
