/**
 * Child process of the mDNS e2e test, run on the built code inside a network
 * namespace that has only loopback up (`ip netns exec <ns> node
 * dist/test/helpers/mdns-pair.js`): mDNS multicasts on the default interface
 * and must not leak onto the host's network.
 *
 * Two nodes with real replicas and no peer configuration at all; mDNS on,
 * UPnP off. Each writes, then we wait (bounded) until they found each other
 * and converged. Prints one `RESULT {json}` line; exits 0 on convergence.
 */
import '../../src/polyfill.js'
import { converged, startNode, stopAll, waitFor, writeRows } from './net-nodes.js'

const TIMEOUT_MS = Number(process.env.WEFT_MDNS_TIMEOUT_MS ?? 30_000)

async function main (): Promise<number> {
  const a = await startNode({ mdns: true, mdnsIntervalMs: 1_000 })
  const b = await startNode({ mdns: true, mdnsIntervalMs: 1_000 })
  writeRows(a, 30)
  writeRows(b, 20)
  let ok = false
  let error: string | undefined
  try {
    await waitFor(() => converged([a, b]), 'mDNS discovery and convergence', TIMEOUT_MS, 100)
    ok = true
  } catch (err) {
    error = (err as Error).message
  }
  const result = {
    ok,
    error,
    ops: [a.replica.stats().ops, b.replica.stats().ops],
    digests: [a.replica.digest(), b.replica.digest()],
    connected: a.node.getConnections(b.node.peerId).length > 0,
    configuredPeers: 0
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  await stopAll()
  return ok ? 0 : 1
}

main().then(code => { process.exitCode = code }, err => {
  process.stdout.write(`RESULT ${JSON.stringify({ ok: false, error: String(err) })}\n`)
  process.exitCode = 1
})
