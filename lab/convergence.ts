/**
 * Convergence of weft daemons in the lab, checked only through the weft CLI:
 * data written on both sides must show up on both sides.
 *
 * Until the daemon runs a network layer (`weft status --json` shows
 * `network: null`), there is nothing to converge over; the check then
 * reports a skip with that reason instead of failing on a timeout, and turns
 * into a real assertion the day the network layer is wired in.
 */
import type { Daemon, Lab } from './lab.js'
import { poll } from './procs.js'

export class SkipError extends Error {
  static override name = 'SkipError'
}

export interface Written { collection: string, keys: Record<'a' | 'b', string[]> }

export function networkOf (d: Daemon): unknown {
  const status = JSON.parse(d.cli(['status', '--json'])) as { network?: unknown }
  return status.network ?? null
}

/** Throws SkipError when a daemon has no network layer yet. */
export function requireNetwork (daemons: Daemon[]): void {
  for (const d of daemons) {
    if (networkOf(d) === null) throw new SkipError(`weft daemon ${d.role} runs without a network layer yet (status.network is null: src/daemon/network.ts exports no factory), so nothing can sync`)
  }
}

/** The daemon's listen and relayed addresses, as `weft status --json` shows them. */
export function addressesOf (d: Daemon): string[] {
  const status = JSON.parse(d.cli(['status', '--json'])) as { network?: { addresses?: string[] } | null }
  return status.network?.addresses ?? []
}

/**
 * Starts B, then A, and pairs them the way a user does: `weft invite` on B
 * (once B holds a relay reservation, so the code carries its relayed
 * address) and `weft join <code>` on A, which reaches B through the relay.
 */
export async function startPairedDaemons (lab: Lab, aArgs: string[], bArgs: string[]): Promise<[Daemon, Daemon]> {
  const b = await lab.daemon('b', bArgs)
  const a = await lab.daemon('a', aArgs)
  requireNetwork([a, b])
  await poll(() => addressesOf(b).some(x => x.includes('/p2p-circuit')), 'daemon B to hold a relay reservation', 30_000, 500)
  const invite = JSON.parse(b.cli(['invite', '--json'])) as { code: string }
  a.cli(['join', invite.code, '--json'])
  return [a, b]
}

/** Writes `n` rows on each daemon under distinct keys. */
export function writeBoth (daemons: [Daemon, Daemon], n: number, tag: string): Written {
  const w: Written = { collection: 'lab', keys: { a: [], b: [] } }
  for (const d of daemons) {
    for (let i = 0; i < n; i++) {
      const key = `${tag}-${d.role}-${i}`
      d.cli(['put', w.collection, key, `from=${d.role}`, `i=${i}`, `pad="${'x'.repeat(200)}"`])
      w.keys[d.role].push(key)
    }
  }
  return w
}

function rowsOf (d: Daemon, collection: string): Map<string, string> {
  const rows = JSON.parse(d.cli(['ls', collection, '--json', '--limit', '10000'])) as Array<{ key: string, fields: unknown }>
  return new Map(rows.map(r => [r.key, JSON.stringify(r.fields)]))
}

/** Waits until both daemons hold every written row, with equal contents. */
export async function assertConverged (lab: Lab, daemons: [Daemon, Daemon], w: Written, timeoutMs = 90_000): Promise<string> {
  void lab
  const all = [...w.keys.a, ...w.keys.b]
  const t0 = Date.now()
  let last = ''
  await poll(() => {
    const [ra, rb] = daemons.map(d => rowsOf(d, w.collection)) as [Map<string, string>, Map<string, string>]
    const missingA = all.filter(k => !ra.has(k)).length
    const missingB = all.filter(k => !rb.has(k)).length
    const differ = all.filter(k => ra.has(k) && rb.has(k) && ra.get(k) !== rb.get(k)).length
    last = `a misses ${missingA}, b misses ${missingB}, ${differ} differ`
    return missingA === 0 && missingB === 0 && differ === 0
  }, `convergence of ${all.length} rows`, timeoutMs, 500).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${last}; peers: ${daemons.map(d => `${d.role}: ${describePeers(d)}`).join(' | ')}`)
  })
  return `${all.length} rows on both sides ${((Date.now() - t0) / 1000).toFixed(1)} s after the last write`
}

function describePeers (d: Daemon): string {
  try {
    const peers = peersOf(d).map(p => ({
      peer: String(p.peerId).slice(-8),
      connected: p.connected,
      path: p.path,
      status: p.status,
      lastError: p.lastError
    }))
    return JSON.stringify(peers)
  } catch (err) {
    return `(weft peers failed: ${(err as Error).message})`
  }
}

/** Peers as `weft peers --json` lists them. */
export function peersOf (d: Daemon): Array<Record<string, unknown>> {
  return JSON.parse(d.cli(['peers', '--json'])) as Array<Record<string, unknown>>
}
