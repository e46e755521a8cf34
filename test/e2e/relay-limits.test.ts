/**
 * The relay's limits and the relay-auth allow-list, with plain libp2p peers
 * on 127.0.0.1: a relayed connection is cut at the data limit unless both
 * ends are admitted members of an allowed group; the verifier refuses what it
 * documents it refuses; `others: "deny"` keeps strangers out entirely;
 * reservations end with their holder's connection; strangers hold a bounded
 * part of the slots, a few per IP, and a member evicts one when every slot is
 * taken.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { authenticateToRelay, type RelayAuthResult } from '../../src/net/relay-auth/client.js'
import { generateGroupKey, GROUP_STATEMENT_SCHEME, signGroupStatement } from '../../relay/auth/verifier.js'
import { loadRelayConfig } from '../../relay/config.js'
import { startRelay, type Relay } from '../../relay/relay-node.js'
import { circuitAddress, createPeer, hasReservation, sendBytes, waitUntil, type Peer } from '../../lab/peers.js'
import { startNode, stopAll } from '../helpers/net-nodes.js'
import type { RelayAuthOutcome } from '../../src/net/relay-auth/index.js'

const KiB = 1024
const DATA_LIMIT = 64 * KiB
const PAYLOAD = 512 * KiB
const hour = 3600_000

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await stopAll()
  for (const f of cleanup.splice(0).reverse()) await f()
})

interface Setup { relay: Relay, addr: string, group: { privateKey: Uint8Array, publicKey: Uint8Array } }

async function setup (overrides: Record<string, unknown> = {}): Promise<Setup> {
  const group = await generateGroupKey()
  const config = loadRelayConfig(undefined, {
    listen: ['/ip4/127.0.0.1/tcp/0'],
    metricsPort: 0,
    dataLimitBytes: DATA_LIMIT,
    groupDataLimitBytes: 8 * 1024 * KiB,
    groups: [{ name: 'home', publicKey: Buffer.from(group.publicKey).toString('base64url') }],
    ...overrides
  })
  const relay = await startRelay(config, { privateKey: await generateKeyPair('Ed25519') })
  cleanup.push(async () => { await relay.stop() })
  return { relay, addr: relay.addresses()[0]!, group }
}

async function peer (relays: string[] = []): Promise<Peer> {
  const p = await createPeer({ relays })
  cleanup.push(async () => { await p.stop() })
  return p
}

async function relayConnection (p: Peer, s: Setup): Promise<Connection> {
  return await p.dial(multiaddr(s.addr))
}

/** Reserves on the relay over `p`'s current connection to it (a peer that authenticated first reserves as a member). */
async function reserve (p: Peer, s: Setup): Promise<void> {
  await (p as unknown as { components: { transportManager: TransportManager } }).components.transportManager.listen([multiaddr(`${s.addr}/p2p-circuit`)])
}

/** `p` presents a statement signed by `key` naming `named` (default: itself). */
async function admit (p: Peer, s: Setup, opts: { key?: Uint8Array, named?: Peer, from?: number, until?: number } = {}): Promise<RelayAuthResult> {
  const now = Date.now()
  const credential = await signGroupStatement(opts.key ?? s.group.privateKey, (opts.named ?? p).peerId, opts.from ?? now - 1000, opts.until ?? now + hour)
  return await authenticateToRelay(await relayConnection(p, s), GROUP_STATEMENT_SCHEME, credential)
}

describe('relay limits and relay-auth', () => {
  it('a stranger\'s relayed connection is cut at the data limit; between two admitted peers it is not', async () => {
    const s = await setup()
    const b = await peer([s.addr])
    await waitUntil(() => hasReservation(b, s.relay.peerId), 'B reserves')
    const stranger = await peer()
    const member = await peer()

    // B reserved before it was admitted: admission raises the limits of its existing reservation.
    const bAuth = await admit(b, s)
    expect(bAuth).toMatchObject({ ok: true, group: 'home', dataLimitBytes: 8 * 1024 * KiB })
    expect(await admit(member, s)).toMatchObject({ ok: true, group: 'home' })

    const strangerConn = await stranger.dial(multiaddr(circuitAddress(s.addr, b)))
    const cut = await sendBytes(strangerConn, PAYLOAD)
    expect(cut.acked).toBeUndefined()
    expect(cut.error).toBeDefined()
    await waitUntil(() => s.relay.stats.connectionsClosed.data_limit >= 1, 'the relay reports the data-limit cut')
    expect(s.relay.stats.connectionsOpened.default).toBe(1)

    const memberConn = await member.dial(multiaddr(circuitAddress(s.addr, b)))
    expect(memberConn.limits).toBeDefined()
    const ok = await sendBytes(memberConn, PAYLOAD)
    expect(ok.error).toBeUndefined()
    expect(ok.acked).toBe(PAYLOAD)
    expect(s.relay.stats.connectionsOpened.group).toBe(1)

    const metrics = s.relay.metricsText()
    expect(metrics).toContain('weft_relay_reservations_active{class="member"} 1')
    expect(metrics).toContain('weft_relay_connections_closed_total{reason="data_limit"} 1')
    expect(metrics).toContain('weft_relay_auth_requests_total{result="ok"} 2')
  })

  it('an admitted dialer to a destination that is not admitted gets the default limits', async () => {
    const s = await setup()
    const d = await peer([s.addr])
    await waitUntil(() => hasReservation(d, s.relay.peerId), 'D reserves')
    const member = await peer()
    expect((await admit(member, s)).ok).toBe(true)
    const conn = await member.dial(multiaddr(circuitAddress(s.addr, d)))
    const res = await sendBytes(conn, PAYLOAD)
    expect(res.acked).toBeUndefined()
    await waitUntil(() => s.relay.stats.connectionsClosed.data_limit >= 1, 'the data-limit cut')
  })

  it('refuses bad credentials with the documented codes and admits nobody', async () => {
    const s = await setup()
    const p = await peer()
    const other = await peer()
    const stranger = await generateGroupKey()
    const now = Date.now()
    expect(await admit(p, s, { named: other })).toEqual({ ok: false, status: 'WRONG_PEER' })
    expect(await admit(p, s, { key: stranger.privateKey })).toEqual({ ok: false, status: 'UNKNOWN_GROUP' })
    expect(await admit(p, s, { from: now - 2 * hour, until: now - hour })).toEqual({ ok: false, status: 'EXPIRED' })
    expect(await admit(p, s, { from: now + hour, until: now + 2 * hour })).toEqual({ ok: false, status: 'NOT_YET_VALID' })
    expect(await admit(p, s, { from: now, until: now + 400 * 24 * hour })).toEqual({ ok: false, status: 'MALFORMED' })

    // A valid statement with one flipped signature bit.
    const good = await signGroupStatement(s.group.privateKey, p.peerId, now - 1000, now + hour)
    const bad = Uint8Array.from(good)
    bad[bad.length - 1]! ^= 1
    expect(await authenticateToRelay(await relayConnection(p, s), GROUP_STATEMENT_SCHEME, bad)).toEqual({ ok: false, status: 'BAD_SIGNATURE' })
    expect(await authenticateToRelay(await relayConnection(p, s), 'no-such-scheme/1', good)).toEqual({ ok: false, status: 'UNKNOWN_SCHEME' })
    expect(await authenticateToRelay(await relayConnection(p, s), GROUP_STATEMENT_SCHEME, new Uint8Array([1, 2, 3]))).toEqual({ ok: false, status: 'MALFORMED' })
    expect(s.relay.node.services.relayAuth.admitted).toBe(0)
    expect(s.relay.metricsText()).toContain('weft_relay_auth_requests_total{result="WRONG_PEER"} 1')
  })

  it('others "deny": strangers get no reservation, admitted peers do; admission ends when the peer disconnects', async () => {
    const s = await setup({ others: 'deny' })
    const stranger = await peer([s.addr])
    await waitUntil(() => s.relay.stats.reservationsRefused.not_admitted >= 1, 'the stranger is refused')
    expect(hasReservation(stranger, s.relay.peerId)).toBe(false)

    const member = await createPeer()
    cleanup.push(async () => { await member.stop() })
    expect((await admit(member, s)).ok).toBe(true)
    // Listening on the circuit now makes a reservation over the admitted connection.
    await reserve(member, s)
    await waitUntil(() => hasReservation(member, s.relay.peerId), 'the member reserves')
    expect(s.relay.node.services.relayAuth.admitted).toBe(1)
    await member.hangUp(s.relay.node.peerId)
    await waitUntil(() => s.relay.node.services.relayAuth.admitted === 0, 'the admission ends with the connection')
  })

  it('a reservation ends when its holder disconnects, not hours later', async () => {
    const s = await setup()
    const stranger = await peer([s.addr])
    await waitUntil(() => hasReservation(stranger, s.relay.peerId), 'the stranger reserves')
    expect(s.relay.node.services.relay.reservations.size).toBe(1)
    await stranger.hangUp(s.relay.node.peerId)
    await waitUntil(() => s.relay.node.services.relay.reservations.size === 0, 'the reservation ends with the connection')
    expect(s.relay.stats.reservationsEnded.stranger.disconnected).toBe(1)
    expect(s.relay.metricsText()).toContain('weft_relay_reservations_ended_total{class="stranger",reason="disconnected"} 1')
  })

  it('strangers hold at most their share of the slots and a few per IP; members still get one', async () => {
    // 4 slots, strangers at most 2 of them, at most 2 from one IP (every peer here is 127.0.0.1)
    const s = await setup({ maxReservations: 4, strangerShare: 0.5, strangerReservationsPerIp: 2 })
    const strangers = [await peer([s.addr]), await peer([s.addr])]
    for (const p of strangers) await waitUntil(() => hasReservation(p, s.relay.peerId), 'a stranger reserves')
    await peer([s.addr])
    await waitUntil(() => s.relay.stats.reservationsRefused.strangers_full >= 1, 'the third stranger is refused')
    const perIp = await setup({ maxReservations: 4, strangerShare: 1, strangerReservationsPerIp: 1 })
    const one = await peer([perIp.addr])
    await waitUntil(() => hasReservation(one, perIp.relay.peerId), 'one stranger from 127.0.0.1 reserves')
    await peer([perIp.addr])
    await waitUntil(() => perIp.relay.stats.reservationsRefused.ip_limit >= 1, 'a second stranger from 127.0.0.1 is refused')
    expect(perIp.relay.node.services.relay.reservations.size).toBe(1)

    const member = await peer()
    expect((await admit(member, s)).ok).toBe(true)
    await reserve(member, s)
    expect(hasReservation(member, s.relay.peerId)).toBe(true)
    expect(s.relay.metricsText()).toContain('weft_relay_reservations_active{class="member"} 1')
    expect(s.relay.metricsText()).toContain('weft_relay_reservations_active{class="stranger"} 2')
  })

  it('a member evicts the stranger closest to expiry when every slot is taken', async () => {
    const s = await setup({ maxReservations: 2, strangerShare: 1, strangerReservationsPerIp: 10 })
    const first = await peer([s.addr])
    await waitUntil(() => hasReservation(first, s.relay.peerId), 'the first stranger reserves')
    const second = await peer([s.addr])
    await waitUntil(() => hasReservation(second, s.relay.peerId), 'the second stranger reserves')
    await peer([s.addr])
    await waitUntil(() => s.relay.stats.reservationsRefused.full >= 1, 'a third stranger finds the relay full')

    const member = await peer()
    expect((await admit(member, s)).ok).toBe(true)
    await reserve(member, s)
    expect(hasReservation(member, s.relay.peerId)).toBe(true)
    const held = s.relay.node.services.relay.reservations
    expect(held.has(member.peerId)).toBe(true)
    expect(held.has(first.peerId)).toBe(false)
    expect(held.has(second.peerId)).toBe(true)
    expect(s.relay.stats.reservationsEnded.stranger.evicted).toBe(1)
  })

  it('a weft node presents its credential to its configured relay when it connects (services.relayAuth) and is admitted', async () => {
    const s = await setup()
    // The statement names the node's peer id, known once the node exists: it is read at each connection.
    const held: { credential?: Uint8Array } = {}
    const relayCredential = () => held.credential === undefined ? undefined : { scheme: GROUP_STATEMENT_SCHEME, credential: held.credential }
    const t = await startNode({ relays: [s.addr], relayCredential, start: false })
    const now = Date.now()
    held.credential = await signGroupStatement(s.group.privateKey, t.node.peerId, now - 1000, now + hour)
    const outcomes: RelayAuthOutcome[] = []
    t.node.services.relayAuth.addEventListener('relay:auth', e => { outcomes.push(e.detail) })
    await t.node.start()
    await waitUntil(() => outcomes.length > 0, 'the node authenticates to its relay')
    expect(outcomes).toEqual([{ relay: s.relay.peerId.toString(), result: expect.objectContaining({ ok: true, group: 'home', dataLimitBytes: 8 * 1024 * KiB }) }])
    expect(s.relay.metricsText()).toContain('weft_relay_auth_requests_total{result="ok"} 1')
  })
})
