/**
 * A reservation flood against a real `weft-relay` process, then a member.
 *
 * 200 stock libp2p clients with random keys (test/helpers/stock-client.ts:
 * stock packages only) each connect and ask for a reservation, paced at 4
 * connections per second, under libp2p's per-host inbound threshold (5 per
 * second), and stay connected. Every client comes from 127.0.0.1, so the
 * relay's per-IP bound is raised for this run: the flood stands for many
 * strangers on many addresses, and what holds it back is the strangers'
 * share of the slots. Then a weft daemon whose group the relay allows
 * connects: it must hold a member reservation within 5 s. The relay's
 * resident memory (/proc) stays under 150 MB throughout, and when the flood
 * disconnects its reservations are freed at once (not after their TTL).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { removeDir, startDaemon, tempDataDir } from '../helpers/daemon.js'
import { startRelayProcess, type RelayProcess } from '../helpers/relay-process.js'
import { createStockClient, knowsUdx, type StockClient } from '../helpers/stock-client.js'

const FLOOD_KEYS = 200
/** libp2p refuses a host's 6th inbound connection within a second (connectionManager.inboundConnectionThreshold, 5). */
const FLOOD_INTERVAL_MS = 250
/** weft-relay's defaults: 128 slots, strangers at most half of them. */
const MAX_RESERVATIONS = 128
const STRANGER_SLOTS = MAX_RESERVATIONS / 2
const MEMBER_DEADLINE_MS = 5_000
const MAX_RELAY_RSS_BYTES = 150 * 1024 * 1024

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Samples the relay's RSS every half second; `stop()` returns the highest seen. */
function watchRss (relay: RelayProcess): { stop: () => number } {
  let max = relay.rssBytes()
  const timer = setInterval(() => { try { max = Math.max(max, relay.rssBytes()) } catch {} }, 500)
  return { stop: () => { clearInterval(timer); return Math.max(max, relay.rssBytes()) } }
}

describe('weft-relay under a reservation flood', () => {
  it('200 stranger keys take at most the strangers\' share; a member then holds a slot within 5 s; RSS stays under 150 MB', async () => {
    expect(knowsUdx()).toBe(false)
    // The member: a daemon whose group (made on its first start) the relay will allow.
    const dir = tempDataDir()
    cleanup.push(() => { removeDir(dir) })
    const first = await startDaemon(dir)
    const group = JSON.parse((await first.cli(['status', '--json'])).stdout).group as string
    expect(group).toMatch(/^wg/)
    await first.stop()

    const relay = await startRelayProcess(['--group', `home=${group}`, '--stranger-reservations-per-ip', String(FLOOD_KEYS)])
    cleanup.push(async () => { await relay.stop() })
    const rss = watchRss(relay)

    const flood: StockClient[] = []
    cleanup.push(async () => { await Promise.allSettled(flood.map(async c => { await c.stop() })) })
    for (let i = 0; i < FLOOD_KEYS; i++) {
      const t = Date.now()
      flood.push(await createStockClient({ relays: [relay.tcpAddress], reservationMayFail: true, listenTcp: false }))
      await sleep(Math.max(0, FLOOD_INTERVAL_MS - (Date.now() - t)))
    }
    // The relay's count is the truth: on a loaded machine a client may give up on an answer (its 5 s
    // reservation timeout) that the relay did send, and ask again.
    expect(await relay.metric('weft_relay_peers_connected')).toBe(FLOOD_KEYS)
    expect(await relay.metric('weft_relay_reservations_active', '{class="stranger"}')).toBe(STRANGER_SLOTS)
    expect(await relay.metric('weft_relay_reservations_refused_total', '{reason="strangers_full"}')).toBeGreaterThanOrEqual(FLOOD_KEYS - STRANGER_SLOTS)
    const reserved = flood.filter(c => c.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit'))).length
    expect(reserved).toBeLessThanOrEqual(STRANGER_SLOTS)

    // one more second: the member's connection must not trip the per-host threshold the flood was paced under
    await sleep(1_000)
    const member = await startDaemon(dir, ['--relay', relay.tcpAddress])
    cleanup.push(async () => { await member.stop('SIGKILL') })
    const ready = Date.now()
    while (await relay.metric('weft_relay_reservations_active', '{class="member"}') !== 1) {
      if (Date.now() - ready > MEMBER_DEADLINE_MS) throw new Error(`the member holds no reservation ${MEMBER_DEADLINE_MS} ms after it started; relay metrics:\n${await relay.metrics()}`)
      await sleep(100)
    }
    const doctor = JSON.parse((await member.cli(['doctor', '--json'])).stdout) as Array<{ check: string, ok: boolean | null, detail: string }>
    expect(doctor.find(c => c.check.startsWith('relay '))).toMatchObject({ ok: true, detail: 'connected, reservation held' })
    expect(await relay.metric('weft_relay_reservations_active', '{class="stranger"}')).toBe(STRANGER_SLOTS)

    // the flood leaves: its reservations go with its connections
    await Promise.all(flood.map(async c => { await c.stop() }))
    await expect.poll(async () => await relay.metric('weft_relay_reservations_active', '{class="stranger"}'), { timeout: 10_000 }).toBe(0)
    expect(await relay.metric('weft_relay_reservations_ended_total', '{class="stranger",reason="disconnected"}')).toBe(STRANGER_SLOTS)
    expect(await relay.metric('weft_relay_reservations_active', '{class="member"}')).toBe(1)

    expect(rss.stop()).toBeLessThan(MAX_RELAY_RSS_BYTES)
  }, 240_000)
})
