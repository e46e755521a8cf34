/**
 * Real weft nodes for e2e tests: a real replica on a SQLite file in a temp
 * directory, a libp2p node listening on 127.0.0.1 only, mDNS and UPnP off.
 * Everything started here is stopped and removed by `stopAll()`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { openReplica, type Replica } from '../../src/index.js'
import { createNode, type NodeConfig, type SyncSessionEvent, type WeftNode } from '../../src/net/index.js'
import { replicaMembership } from '../../src/daemon/network.js'

export interface TestNode {
  readonly node: WeftNode
  readonly replica: Replica
  readonly dir: string
  readonly id: string
  /** Stops the node and closes the replica, keeping the directory (for restarts). */
  stop(): Promise<void>
}

const cleanups: Array<() => Promise<void> | void> = []

export function tempDir (prefix = 'weft-net-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/**
 * `trust`: run as the daemon does: the replica's group id and membership (a node without a group then has no members).
 * `bookInReplica`: the node keeps its peer book in its replica (as the daemon does), so it survives restarts.
 */
export type TestNodeOptions = Partial<Omit<NodeConfig, 'privateKey' | 'store'>> & { dir?: string, trust?: boolean, bookInReplica?: boolean }

export async function startNode (options: TestNodeOptions = {}): Promise<TestNode> {
  const { dir = tempDir(), trust = false, bookInReplica = false, ...config } = options
  const replica = openReplica({ dir })
  if (trust) Object.assign(config, { groupId: replica.group?.id ?? 'none', membership: replicaMembership(replica) }, config)
  let node: WeftNode
  try {
    node = await createNode({
      privateKey: replica.deviceKey.raw,
      store: replica,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      upnp: false,
      syncIntervalMs: 0,
      ...(bookInReplica ? { peerBook: replica.peerBook } : {}),
      ...config
    })
  } catch (err) {
    replica.close()
    throw err
  }
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await node.stop()
    replica.close()
  }
  cleanups.push(stop)
  return { node, replica, dir, id: replica.deviceId, stop }
}

/** A stock relay: `circuitRelayServer()` with its default limits (2 min, 128 KiB per relayed connection). */
export async function startRelay (
  options: { privateKey?: PrivateKey, port?: number } = {}
): Promise<Libp2p<{ identify: unknown, relay: CircuitRelayService }>> {
  const relay = await createLibp2p({
    ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${options.port ?? 0}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), relay: circuitRelayServer() }
  })
  cleanups.push(async () => { await relay.stop() })
  return relay
}

export async function stopAll (): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!
    try { await fn() } catch {}
  }
}

/** Polls `check` every `intervalMs` until it holds or `timeoutMs` passes (bounded; not a timing assertion). */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/**
 * Equal vectors and equal state digests on every node. Vectors first: they
 * are cheap, while a digest hashes the whole state, and polling it while sync
 * runs on the same event loop would slow the very thing being waited for.
 */
export function converged (nodes: readonly TestNode[]): boolean {
  const vectorOf = (n: TestNode): string => JSON.stringify([...n.replica.versionVector()].sort())
  const v = vectorOf(nodes[0]!)
  if (!nodes.every(n => vectorOf(n) === v)) return false
  const d = nodes[0]!.replica.digest()
  return nodes.every(n => n.replica.digest() === d)
}

/**
 * A connection gater that can cut a node off from everyone (a network
 * partition: nodes now redial their members, so closing the connections
 * alone no longer keeps them apart).
 */
export function partitionGate (): { gater: ConnectionGater, cut: () => void, heal: () => void } {
  let cut = false
  const deny = async (): Promise<boolean> => cut
  return {
    gater: {
      denyDialPeer: deny,
      denyDialMultiaddr: deny,
      denyInboundConnection: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny
    },
    cut: () => { cut = true },
    heal: () => { cut = false }
  }
}

/** Every session `t` ends from now on (the `session:end` events' details), in order. */
export function recordSessions (t: TestNode): SyncSessionEvent[] {
  const events: SyncSessionEvent[] = []
  t.node.services.sync.addEventListener('session:end', e => { events.push(e.detail) })
  return events
}

export async function connect (a: TestNode, b: TestNode): Promise<void> {
  await a.node.dial(b.node.getMultiaddrs()[0]!)
}

/** Writes `n` rows on `t` (each put is its own signed batch of `fields` ops). */
export function writeRows (t: TestNode, n: number, prefix = t.id.slice(-6), fields = 1): void {
  for (let i = 0; i < n; i++) {
    const row: Record<string, string | number> = {}
    for (let f = 0; f < fields; f++) row[`f${f}`] = `${prefix}-${i}-${f}`
    t.replica.put('notes', `${prefix}-${i}`, row)
  }
}

/** Writes `n` ops on `t` in batches of `batch` (one signature each): fast bulk data. */
export function writeBulk (t: TestNode, n: number, batch = 1_000, prefix = t.id.slice(-6)): void {
  for (let done = 0; done < n;) {
    const size = Math.min(batch, n - done)
    t.replica.batch(w => {
      for (let i = 0; i < size; i++) w.put('bulk', `${prefix}-${done + i}`, { v: done + i })
    })
    done += size
  }
}
