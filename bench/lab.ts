/**
 * `npm run bench:lab` (as root): hole punching in the NAT lab, per case, over
 * fresh probe pairs (new identities, new UDX sockets, so new NAT mappings):
 * how often the relayed connection becomes a direct UDX one (DCUtR, or birthday
 * punching behind a port-randomizing NAT), how long after the relayed
 * connection opened, and the throughput of a probe stream over the direct
 * path versus over the relay (32 MiB each). The probes' yamux uses a weft
 * node's stream window (2 MiB) and their streams are read and written through
 * weft's sync channel adapter, as a sync session's are.
 *
 *   node dist/bench/lab.js [--attempts N] [case...]     cases: udx-punch, udx-one-random, udx-both-random, tcp-upnp (default: all four)
 *
 * `tcp-upnp` is a reference, not a hole-punching case: miniupnpd on nat1 maps
 * A's TCP port and DCUtR upgrades to a direct TCP connection (lab scenario 2).
 * TCP is the cheapest direct path libp2p has here, so its direct/relayed ratio
 * is what this lab (every role on the same cores) allows any direct path.
 *
 * Each case runs in one fresh topology with one relay; prints one JSON line
 * per attempt and a summary line per case. Skips (exit 0) where network
 * namespaces are unavailable.
 */
import '../src/polyfill.js'
import { parseArgs } from 'node:util'
import { Lab } from '../lab/lab.js'
import { stopAllProcesses } from '../lab/procs.js'
import { netnsUnavailable, removeStale, type NatOptions } from '../lab/topology.js'

interface Case {
  nat1: NatOptions
  nat2: NatOptions
  /** Hole punching over UDX, or a direct TCP path through a UPnP mapping on nat1. */
  direct: 'udx' | 'tcp-upnp'
}
const CASES: Record<string, Case> = {
  'udx-punch': { nat1: { symmetric: false }, nat2: { symmetric: false }, direct: 'udx' },
  'udx-one-random': { nat1: { symmetric: false }, nat2: { symmetric: true }, direct: 'udx' },
  'udx-both-random': { nat1: { symmetric: true }, nat2: { symmetric: true }, direct: 'udx' },
  'tcp-upnp': { nat1: { symmetric: false }, nat2: { symmetric: false }, direct: 'tcp-upnp' }
}
/**
 * One transfer, the same over both paths so that both are measured over the
 * same phases (start-up, steady state). The bench's relay lets strangers (the
 * probes) move 64 MiB per relayed connection instead of the stock 128 KiB.
 */
const TRANSFER_BYTES = 32 * 1024 * 1024
const RELAY_ARGS = ['--data-limit-bytes', String(64 * 1024 * 1024), '--duration-limit-ms', String(10 * 60_000)]
const WATCH_DIRECT_MS = 10_000
/** @libp2p/upnp-nat maps about 6 to 7 s after start (see the notes). */
const WAIT_UPNP_MS = 25_000

const { values: v, positionals } = parseArgs({ options: { attempts: { type: 'string', default: '10' } }, allowPositionals: true })
const out = (s: string): void => { process.stdout.write(s + '\n') }
const why = netnsUnavailable()
if (why !== undefined) { out(`bench:lab skipped (${why})`); process.exit(0) }
removeStale()

const attempts = Number(v.attempts)
const names = positionals.length > 0 ? positionals : Object.keys(CASES)
const unknown = names.filter(n => CASES[n] === undefined)
if (!Number.isInteger(attempts) || attempts < 1 || unknown.length > 0) {
  out(unknown.length > 0 ? `unknown case ${unknown.join(', ')} (cases: ${Object.keys(CASES).join(', ')})` : '--attempts must be a positive integer')
  process.exit(2)
}
const mibps = (bytes: number, ms: number): number => Math.round(bytes / 1024 / 1024 / (ms / 1000) * 10) / 10
const median = (xs: number[]): number | undefined => xs.length === 0 ? undefined : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

for (const name of names) {
  const c = CASES[name]
  if (c === undefined) continue // checked above
  const lab = new Lab(c.nat1, c.nat2)
  const direct: number[] = []
  const directMiBps: number[] = []
  const relayMiBps: number[] = []
  /** Direct over relayed throughput of the same attempt: both measured back to back under the same machine load. */
  const ratios: number[] = []
  try {
    await lab.startRelay(RELAY_ARGS)
    if (c.direct === 'tcp-upnp') await lab.miniupnpd('nat1')
    const punch = c.direct === 'udx' ? ['--dcutr', '--udx'] : ['--dcutr']
    for (let i = 0; i < attempts; i++) {
      const b = await lab.probe('b', [...punch, '--weft-muxer'])
      await b.next('reserved', 20_000)
      await b.next('nat-mapping', 15_000).catch(() => undefined)
      // relay throughput: a plain relayed stream, no upgrade watched
      // (without UDX, so that no hole punching starts on this connection)
      const r = await lab.probe('a', ['--weft-muxer', '--dial', b.peerId, '--bytes', String(TRANSFER_BYTES)])
      const rs = await r.next('sent', 60_000)
      const relayed = rs.acked === TRANSFER_BYTES ? mibps(TRANSFER_BYTES, Number(rs.ms)) : undefined
      if (relayed !== undefined) relayMiBps.push(relayed)
      await r.proc.stop()
      // A dials: DCUtR only tries the dialer's public addresses (see the notes)
      const a = await lab.probe('a', [...punch, ...(c.direct === 'tcp-upnp' ? ['--upnp'] : []), '--weft-muxer', '--dial', b.peerId,
        '--wait-public', String(c.direct === 'udx' ? 10_000 : WAIT_UPNP_MS), '--watch-direct', String(WATCH_DIRECT_MS),
        '--direct-bytes', String(TRANSFER_BYTES), '--bytes', String(TRANSFER_BYTES)])
      let row: Record<string, unknown>
      try {
        const d = await a.next('direct', WAIT_UPNP_MS + WATCH_DIRECT_MS + 30_000)
        const sent = await a.next('sent', 120_000)
        row = {
          case: name,
          attempt: i + 1,
          direct: d.found === true,
          remoteAddr: d.remoteAddr,
          afterMs: d.afterMs,
          over: sent.over,
          acked: sent.acked,
          ms: sent.ms,
          relayMiBps: relayed
        }
      } catch (err) {
        // counted as an attempt without a direct path
        row = { case: name, attempt: i + 1, direct: false, error: (err as Error).message.split('\n')[0], events: a.events().map(e => e.event).join(',') }
        out(JSON.stringify(row))
        await a.proc.stop(); await b.proc.stop()
        continue
      }
      const d = { found: row.direct, remoteAddr: row.remoteAddr, afterMs: row.afterMs }
      const sent = { acked: row.acked, ms: row.ms }
      const addr = String(d.remoteAddr)
      if (d.found === true && (c.direct === 'udx' ? addr.includes('/udx') : addr.includes('/tcp/') && !addr.includes('/p2p-circuit'))) {
        direct.push(Number(d.afterMs))
        if (sent.acked === TRANSFER_BYTES) {
          const throughput = mibps(TRANSFER_BYTES, Number(sent.ms))
          directMiBps.push(throughput)
          row.directMiBps = throughput
          if (relayed !== undefined) {
            row.ratio = Math.round(throughput / relayed * 100) / 100
            ratios.push(row.ratio as number)
          }
        }
      }
      out(JSON.stringify(row))
      await a.proc.stop(); await b.proc.stop()
    }
  } finally {
    await stopAllProcesses()
    await lab.close()
  }
  out(JSON.stringify({
    case: name,
    path: c.direct === 'udx' ? 'udx' : 'tcp through a UPnP mapping (reference)',
    attempts,
    directRate: `${direct.length}/${attempts}`,
    relayedToDirectMs: { median: median(direct), min: Math.min(...direct), max: Math.max(...direct) },
    directMiBps: { median: median(directMiBps), n: directMiBps.length, bytes: TRANSFER_BYTES },
    relayMiBps: { median: median(relayMiBps), n: relayMiBps.length, bytes: TRANSFER_BYTES },
    directOverRelayed: { median: median(ratios), n: ratios.length, min: Math.min(...ratios), max: Math.max(...ratios) }
  }))
}
