/**
 * A stock js-libp2p circuit relay v2 for the lab: `@libp2p/circuit-relay-v2`'s
 * `circuitRelayServer()` with its default limits (each relayed connection is
 * cut after 2 minutes or 128 KiB, both directions together) over TCP, Noise
 * and yamux, with identify. No weft code: it imports only stock packages, so
 * what crosses it is what crosses any js-libp2p relay a user might find.
 *
 *   node dist/lab/stock-relay.js --key-file FILE --listen MA [--announce MA]
 *
 * The key file keeps its peer id across restarts (created on first run).
 * Prints `stock-relay: peer id <id>` then `stock-relay: listening <addrs>`;
 * SIGTERM stops it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

// Node 20 lacks Promise.withResolvers, which libp2p 3 calls (see the shared notes); defined only when missing.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    value: function <T>() {
      let resolve!: (v: T) => void
      let reject!: (e: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    },
    configurable: true,
    writable: true
  })
}

const { values } = parseArgs({ options: { 'key-file': { type: 'string' }, listen: { type: 'string', multiple: true }, announce: { type: 'string', multiple: true } } })
const keyFile = values['key-file']
if (keyFile === undefined || values.listen === undefined) {
  process.stderr.write('usage: stock-relay --key-file FILE --listen MA [--announce MA]\n')
  process.exit(2)
}
let privateKey
if (existsSync(keyFile)) privateKey = privateKeyFromProtobuf(readFileSync(keyFile))
else {
  privateKey = await generateKeyPair('Ed25519')
  writeFileSync(keyFile, privateKeyToProtobuf(privateKey), { mode: 0o600 })
}

const node = await createLibp2p({
  privateKey,
  addresses: { listen: values.listen, ...(values.announce === undefined ? {} : { announce: values.announce }) },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), relay: circuitRelayServer() }
})
process.stdout.write(`stock-relay: peer id ${node.peerId.toString()}\n`)
process.stdout.write(`stock-relay: listening ${node.getMultiaddrs().map(String).join(' ')}\n`)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
}
