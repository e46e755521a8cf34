/**
 * The NAT lab's scenarios. Each runs in a fresh topology and records checks:
 * first connectivity with plain libp2p probes (what the relay and the NATs
 * allow), then the same situation with real weft daemons driven through the
 * CLI (whether data written on both sides converges).
 *
 * 1. relay-only: plain MASQUERADE on both sides; traffic goes through the relay.
 * 2. upnp-dcutr: miniupnpd on nat1; A maps its port with @libp2p/upnp-nat and,
 *    dialing B through the relay, DCUtR upgrades to a direct connection.
 * 3. relay-restart: the relay restarts mid-sync; reservations come back
 *    (same relay peer id) and data still converges.
 * 4. symmetric-nat: --random-fully on both NATs; hole punching cannot work,
 *    the connection stays relayed and still carries the data.
 * 5. udx-punch: plain MASQUERADE on both sides, no UPnP: each node learns its
 *    public UDX mapping from the relay, DCUtR punches, and the relayed
 *    connection becomes a direct UDX one that carries more than the relay allows.
 * 6. udx-one-random: --random-fully on nat2 only. B learns from the relay's
 *    two reflector ports that its NAT randomizes ports; birthday punching
 *    (256 sockets on B, random probes from A) gets a direct UDX connection.
 * 7. udx-both-random: --random-fully on both NATs, UDX on: both learn their
 *    NAT randomizes and advertise no UDX address; stays relayed, converges.
 */
import { assertConverged, peersOf, SkipError, startPairedDaemons, writeBoth } from '../../lab/convergence.js'
import { DAEMON_UDX, type Daemon, type Lab, type Probe } from '../../lab/lab.js'
import { poll, sleep } from '../../lab/procs.js'
import { ADDR, type NatOptions } from '../../lab/topology.js'

export type Check = (name: string, fn: () => Promise<string | undefined | void>) => Promise<boolean>

export interface Scenario {
  name: string
  summary: string
  nat1: NatOptions
  nat2: NatOptions
  /** Seconds before the runner gives up on it (default 300). */
  deadlineS?: number
  run(lab: Lab, check: Check): Promise<void>
}

const PLAIN: NatOptions = { symmetric: false }
const SYMMETRIC: NatOptions = { symmetric: true }
/** More than the relay's default per-connection data limit (128 KiB): only a direct connection carries it. */
const BIG = 1024 * 1024

function expect (cond: boolean, message: string): void {
  if (!cond) throw new Error(message)
}

async function reservedPair (lab: Lab, aArgs: string[] = [], bArgs: string[] = []): Promise<[Probe, Probe]> {
  const [a, b] = await Promise.all([lab.probe('a', aArgs), lab.probe('b', bArgs)])
  await Promise.all([a.next('reserved', 20_000), b.next('reserved', 20_000)])
  return [a, b]
}

/** The daemons' part, shared by scenarios 1, 3 and 4. */
async function daemonsConverge (
  lab: Lab,
  check: Check,
  opts: { aArgs?: string[], bArgs?: string[], restartRelay?: boolean, rows?: number, staysRelayed?: boolean } = {}
): Promise<void> {
  let pair: [Daemon, Daemon] | undefined
  await check('weft daemons: A joins B\'s group through the relay (invite/join)', async () => {
    pair = await startPairedDaemons(lab, ['--no-upnp', ...(opts.aArgs ?? [])], ['--no-upnp', ...(opts.bArgs ?? [])])
    return `A ${pair[0].id.slice(-8)} joined B ${pair[1].id.slice(-8)}`
  })
  if (pair === undefined) return
  const [a, b] = pair
  const rows = opts.rows ?? 5
  if (opts.restartRelay !== true) {
    await check('weft daemons: data written on both sides converges', async () => {
      const res = await assertConverged(lab, [a, b], writeBoth([a, b], rows, 'w1'))
      if (opts.staysRelayed === true) {
        const path = String(peersOf(a).find(p => p.peerId === b.id)?.path)
        expect(path.startsWith('relayed'), `weft peers on A shows path ${path} to B, expected relayed`)
        return `${res}; path ${path.slice(0, 20)}…`
      }
      return res
    })
  } else {
    await check('weft daemons: rows written before, while the relay is down, and after it restarts all converge', async () => {
      const before = writeBoth([a, b], rows, 'before')
      await sleep(500)
      const code = await lab.stopRelay()
      expect(code === 0, `relay exit code ${code}`)
      const during = writeBoth([a, b], rows, 'during')
      await lab.startRelay()
      const after = writeBoth([a, b], rows, 'after')
      const all = {
        collection: before.collection,
        keys: {
          a: [...before.keys.a, ...during.keys.a, ...after.keys.a],
          b: [...before.keys.b, ...during.keys.b, ...after.keys.b]
        }
      }
      return await assertConverged(lab, [a, b], all)
    })
  }
  await a.proc.stop(); await b.proc.stop()
}

/**
 * Probes with UDX on both sides: both learn their public UDX mapping from the
 * relay, A dials B through the relay, and the test watches for DCUtR's direct
 * connection. `expectDirect` says which outcome is asserted.
 */
async function udxProbes (lab: Lab, check: Check, expectDirect: boolean, bRandom = false, aRandom = false): Promise<void> {
  const b = await lab.probe('b', ['--dcutr', '--udx'])
  await b.next('reserved', 20_000)
  if (bRandom) {
    await check('B learns from the relay\'s two reflector ports that its NAT randomizes ports, and advertises no UDX address', async () => {
      const ev = await b.next('nat-mapping', 15_000)
      expect(ev.mapping === 'dependent' && ev.publicHost === ADDR.nat2Wan, `B's NAT mapping: ${JSON.stringify(ev)}`)
      const adv = b.events().find(e => e.event === 'public-udx')
      expect(adv === undefined, `B advertises ${String(adv?.addr)}`)
      return `mapping ${String(ev.mapping)}, public IP ${String(ev.publicHost)}, no UDX address advertised`
    })
  } else {
    await check('B learns its public UDX mapping from the relay and advertises it', async () => {
      const ev = await b.next('public-udx', 15_000)
      const bPublic = String(ev.addr)
      expect(bPublic.includes(`/ip4/${ADDR.nat2Wan}/udp/`), `B advertises ${bPublic}`)
      return bPublic
    })
  }
  const a = await lab.probe('a', ['--dcutr', '--udx', '--dial', b.peerId, '--wait-public', '10000', '--watch-direct', '15000',
    '--direct-bytes', String(BIG), '--bytes', '65536'])
  if (aRandom) {
    await check('A learns that its NAT randomizes ports too, and advertises no public address', async () => {
      const ev = await a.next('nat-mapping', 15_000)
      expect(ev.mapping === 'dependent' && ev.publicHost === ADDR.nat1Wan, `A's NAT mapping: ${JSON.stringify(ev)}`)
      const pub = await a.next('public', 20_000)
      expect(pub.found === false, `A advertises ${JSON.stringify(pub.addrs)}`)
      return `mapping ${String(ev.mapping)}; nothing advertised after 10 s`
    })
  } else {
    await check('A learns its public UDX mapping before dialing B through the relay', async () => {
      const pub = await a.next('public', 20_000)
      expect(pub.found === true, 'A advertises no public address after 10 s')
      return (pub.addrs as string[]).join(' ')
    })
  }
  if (expectDirect) {
    await check(`${bRandom ? 'birthday punching' : 'DCUtR'} upgrades the relayed connection to a direct UDX connection without limits`, async () => {
      const relayed = await a.next('relayed')
      expect(relayed.limited === true, `first connection was not relayed: ${JSON.stringify(relayed)}`)
      const direct = await a.next('direct', 30_000)
      expect(direct.found === true, 'no direct connection within 15 s of the relayed one')
      expect(direct.limited === false && String(direct.remoteAddr).includes('/udx'), `not direct over UDX: ${JSON.stringify(direct)}`)
      const sent = await a.next('sent', 60_000)
      expect(sent.over === 'direct' && sent.acked === BIG, `1 MiB over the direct connection: ${JSON.stringify(sent)}`)
      return `direct ${String(direct.remoteAddr)} ${String(direct.afterMs)} ms after the relayed one; 1 MiB (> relay limit) acknowledged`
    })
  } else {
    await check('no direct path: the connection stays relayed and carries data', async () => {
      const relayed = await a.next('relayed')
      expect(relayed.limited === true, `not relayed: ${JSON.stringify(relayed)}`)
      const direct = await a.next('direct', 30_000)
      expect(direct.found === false, `unexpected direct connection: ${JSON.stringify(direct)}`)
      const sent = await a.next('sent', 60_000)
      expect(sent.over === 'relayed' && sent.acked === 65536, `sent: ${JSON.stringify(sent)}`)
      return 'no direct connection after 15 s; 64 KiB acknowledged over the relay'
    })
  }
  await a.proc.stop(); await b.proc.stop()
}

/** The daemons' part of scenarios 5 and 6: paired through the relay, they converge and end up on a direct UDX path. */
async function daemonsDirect (lab: Lab, check: Check, how: string): Promise<void> {
  await check(`weft daemons: data converges over a direct UDX connection (${how})`, async () => {
    const [da, db] = await startPairedDaemons(lab, ['--no-upnp', ...DAEMON_UDX], ['--no-upnp', ...DAEMON_UDX])
    const res = await assertConverged(lab, [da, db], writeBoth([da, db], 5, 'udx'))
    const t0 = Date.now()
    const directTo = (d: Daemon, other: Daemon): Record<string, unknown> | undefined =>
      peersOf(d).find(p => p.peerId === other.id && String(p.path) === 'direct' && String(p.address).includes('/udx'))
    // A relayed connection that fails to punch is retried on the next one (the relay's limits end each).
    await poll(() => directTo(da, db) !== undefined, 'weft peers on A to show a direct UDX path to B', 150_000, 500)
    const directAfter = (Date.now() - t0) / 1000
    // rows written now sync over the direct path (each CLI write is a process: keep the batch small)
    const more = writeBoth([da, db], 20, 'direct')
    const res2 = await assertConverged(lab, [da, db], more)
    const p = directTo(da, db)
    expect(p !== undefined, `A's path to B is no longer direct UDX: ${JSON.stringify(peersOf(da).find(x => x.peerId === db.id))}`)
    return `${res}; direct ${String(p?.address)} ${directAfter.toFixed(1)} s after converging; then ${res2}`
  })
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'relay-only',
    summary: 'plain MASQUERADE on both NATs; sync over the relayed connection',
    nat1: PLAIN,
    nat2: PLAIN,
    async run (lab, check) {
      await lab.startRelay()
      const [, b] = await reservedPair(lab)
      await check('both peers hold a reservation on the relay', async () => {
        const n = lab.metric('weft_relay_reservations_active', '{class="stranger"}')
        expect(n === 2, `relay reports ${n} reservations`)
        return 'relay reports 2 reservations'
      })
      await check('A reaches B only through the relay, and the relayed connection carries data', async () => {
        const a = await lab.probe('a', ['--dial', b.peerId, '--bytes', '65536'])
        const relayed = await a.next('relayed')
        expect(relayed.limited === true && String(relayed.remoteAddr).includes('/p2p-circuit'), `not relayed: ${JSON.stringify(relayed)}`)
        const sent = await a.next('sent')
        expect(sent.acked === 65536, `sent: ${JSON.stringify(sent)}`)
        expect(lab.metric('weft_relay_connections_total', '{limits="default"}') >= 1, 'relay counted no relayed connection')
        expect(lab.metric('weft_relay_bytes_total') > 65536, 'relay counted too few bytes')
        return `64 KiB acknowledged over ${String(relayed.remoteAddr)}`
      })
      await daemonsConverge(lab, check)
    }
  },
  {
    name: 'upnp-dcutr',
    summary: 'miniupnpd on nat1; A maps its port; DCUtR upgrades relayed to direct',
    nat1: PLAIN,
    nat2: PLAIN,
    async run (lab, check) {
      await lab.startRelay()
      await lab.miniupnpd('nat1')
      const b = await lab.probe('b', ['--dcutr'])
      await b.next('reserved', 20_000)
      // A (behind the UPnP router) dials: DCUtR only tries the dialer's public addresses (see the notes).
      const a = await lab.probe('a', ['--dcutr', '--upnp', '--dial', b.peerId, '--wait-public', '25000', '--watch-direct', '15000', '--direct-bytes', String(BIG)])
      await check('A maps its port on nat1 with UPnP and advertises the public address', async () => {
        const pub = await a.next('public', 40_000)
        expect(pub.found === true, `no public address after 25 s; nat1 rules:\n${lab.upnpRules('nat1')}`)
        const rules = lab.upnpRules('nat1')
        expect(/dnat.*10\.1\.0\.2/.test(rules), `no DNAT rule for A on nat1:\n${rules}`)
        return `advertised ${(pub.addrs as string[]).join(' ')}`
      })
      await check('DCUtR upgrades the relayed connection to a direct one without limits', async () => {
        const relayed = await a.next('relayed')
        expect(relayed.limited === true, `first connection was not relayed: ${JSON.stringify(relayed)}`)
        const direct = await a.next('direct', 30_000)
        expect(direct.found === true, 'no direct connection within 15 s of the relayed one')
        expect(direct.limited === false && !String(direct.remoteAddr).includes('/p2p-circuit'), `not direct: ${JSON.stringify(direct)}`)
        const sent = await a.next('sent')
        expect(sent.over === 'direct' && sent.acked === BIG, `1 MiB over the direct connection: ${JSON.stringify(sent)}`)
        return `direct ${String(direct.remoteAddr)} ${String(direct.afterMs)} ms after the relayed one; 1 MiB (> relay limit) acknowledged`
      })
      await a.proc.stop(); await b.proc.stop()

      await check('weft daemons: data converges and A-B ends up direct', async () => {
        const [da, db] = await startPairedDaemons(lab, [], ['--no-upnp'])
        const w = writeBoth([da, db], 5, 'up')
        const res = await assertConverged(lab, [da, db], w)
        // The daemon dials B at start, before its UPnP mapping exists (about 6 s), and DCUtR runs once per relayed
        // connection; the stock relay limits cut that connection within 2 minutes and the redial can upgrade.
        const t0 = Date.now()
        await poll(() => peersOf(da).some(p => p.peerId === db.id && String(p.path) === 'direct'), 'weft peers on A to show a direct path to B', 150_000, 1000)
        return `${res}; direct after ${((Date.now() - t0) / 1000).toFixed(0)} s more`
      })
    }
  },
  {
    name: 'relay-restart',
    summary: 'the relay restarts mid-sync; reservations return and data converges',
    nat1: PLAIN,
    nat2: PLAIN,
    async run (lab, check) {
      await lab.startRelay()
      const [a, b] = await reservedPair(lab)
      const firstId = lab.relayId
      await check('after a relay restart both peers reserve again on the same relay peer id', async () => {
        const code = await lab.stopRelay()
        expect(code === 0, `relay exit code ${code}`)
        await Promise.all([a.next('unreserved', 20_000), b.next('unreserved', 20_000)])
        await lab.startRelay()
        expect(lab.relayId === firstId, `peer id changed: ${firstId} -> ${lab.relayId}`)
        await Promise.all([a.next('reserved', 30_000), b.next('reserved', 30_000)])
        return `peer id ${firstId} kept; both re-reserved`
      })
      await check('a relayed connection works through the restarted relay', async () => {
        const d = await lab.probe('a', ['--dial', b.peerId, '--bytes', '65536'])
        const sent = await d.next('sent')
        expect(sent.acked === 65536, `sent: ${JSON.stringify(sent)}`)
        return '64 KiB acknowledged'
      })
      await a.proc.stop(); await b.proc.stop()
      await daemonsConverge(lab, check, { restartRelay: true })
    }
  },
  {
    name: 'symmetric-nat',
    summary: '--random-fully on both NATs; stays relayed and still converges',
    nat1: SYMMETRIC,
    nat2: SYMMETRIC,
    async run (lab, check) {
      await lab.startRelay()
      const [, b] = await reservedPair(lab, ['--dcutr'], ['--dcutr'])
      await check('with DCUtR on, the connection stays relayed (no direct path) and carries data', async () => {
        const a = await lab.probe('a', ['--dcutr', '--dial', b.peerId, '--watch-direct', '8000', '--bytes', '65536'])
        const relayed = await a.next('relayed')
        expect(relayed.limited === true, `not relayed: ${JSON.stringify(relayed)}`)
        const direct = await a.next('direct', 20_000)
        expect(direct.found === false, `unexpected direct connection: ${JSON.stringify(direct)}`)
        const sent = await a.next('sent')
        expect(sent.over === 'relayed' && sent.acked === 65536, `sent: ${JSON.stringify(sent)}`)
        return 'no direct connection after 8 s; 64 KiB acknowledged over the relay'
      })
      await daemonsConverge(lab, check, { staysRelayed: true })
    }
  },
  {
    name: 'udx-punch',
    summary: 'plain MASQUERADE on both NATs, no UPnP; DCUtR punches a direct UDX connection',
    nat1: PLAIN,
    nat2: PLAIN,
    async run (lab, check) {
      await lab.startRelay()
      await udxProbes(lab, check, true)
      await daemonsDirect(lab, check, 'DCUtR')
    }
  },
  {
    name: 'udx-one-random',
    summary: '--random-fully on nat2 only, UDX on; birthday punching gets a direct UDX connection',
    nat1: PLAIN,
    nat2: SYMMETRIC,
    async run (lab, check) {
      await lab.startRelay()
      await udxProbes(lab, check, true, true)
      await daemonsDirect(lab, check, 'birthday')
    }
  },
  {
    name: 'udx-both-random',
    summary: '--random-fully on both NATs, UDX on; stays relayed and converges',
    nat1: SYMMETRIC,
    nat2: SYMMETRIC,
    async run (lab, check) {
      await lab.startRelay()
      await udxProbes(lab, check, false, true, true)
      await daemonsConverge(lab, check, { aArgs: DAEMON_UDX, bArgs: DAEMON_UDX, staysRelayed: true })
    }
  }
]

export { SkipError }
