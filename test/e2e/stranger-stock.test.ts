/**
 * No byte of a group's data reaches a non-member, tried from the outside:
 * the stranger is built only from stock libp2p packages
 * (test/helpers/stock-peer.ts imports no weft code), the members are real
 * daemon processes, and the relay is a stock circuit relay v2 server.
 *
 * The stranger learns the topic from the wire if anything tells it (a
 * daemon's SUBSCRIBE), subscribes to what it learned and, as the worst case,
 * to the real topic too (as if the group id had leaked), and speaks weft's
 * own protocols with bytes written by hand from the public .proto files.
 * This file (the harness) uses weft code only to compute that topic, to read
 * what came back, and to drive the daemons.
 */
import { RPC } from '@libp2p/gossipsub/message'
import type { Connection } from '@libp2p/interface'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeInviteCode, inviteIdBytes } from '../../src/auth/invite.js'
import { decodePairingMessage } from '../../src/auth/pairing-messages.js'
import { announceTopic } from '../../src/net/sync/announcer.js'
import { ErrorCode, SyncMessage } from '../../src/protocol/pb/sync.js'
import { eventually, removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'
import { lengthPrefixed, startStockRelay, startStockStranger, type ProbeResult, type StockStranger } from '../helpers/stock-peer.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)

async function daemon (name: string, args: string[] = []): Promise<DaemonProcess> {
  const dir = tempDataDir()
  const d = await startDaemon(dir, ['--device-name', name, ...args])
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

async function stranger (options: { privateKey?: Uint8Array } = {}): Promise<StockStranger> {
  const s = await startStockStranger(options)
  cleanup.push(async () => { await s.stop() })
  return s
}

async function join (inviter: DaemonProcess, joiner: DaemonProcess): Promise<void> {
  const invite = json(await inviter.cli(['invite', '--json']))
  const r = await joiner.cli(['join', invite.code, '--json'])
  expect(r.code, r.stderr).toBe(0)
}

const metric = (text: string, name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)

const directAddress = (status: any): string => (status.network.addresses as string[]).find(a => !a.includes('/p2p-circuit'))!

// --- what the stranger sends: protobuf written by hand from src/protocol/pb/sync.proto and src/net/pb/udx-birthday.proto
function varint (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}
const pbVarint = (field: number, n: number): number[] => [field << 3, ...varint(n)]
const pbBytes = (field: number, bytes: Uint8Array | number[]): number[] => [(field << 3) | 2, ...varint(bytes.length), ...bytes]
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** SyncMessage { hello: { protocol_version 1, group_id, device_id, data_format_version 1 } }, length-prefixed. */
function syncHello (groupId: string, deviceKey: Uint8Array): Uint8Array {
  const hello = [...pbVarint(1, 1), ...pbBytes(2, utf8(groupId)), ...pbBytes(3, deviceKey), ...pbVarint(4, 1)]
  return lengthPrefixed(Uint8Array.from(pbBytes(1, hello)))
}

/** Pairing v1 hello (type 1, version 1, 16-byte invite id, name) and proof (type 3, 32 bytes), length-prefixed. */
const pairingHello = (inviteId: Uint8Array): Uint8Array => lengthPrefixed(Uint8Array.from([1, 1, ...inviteId, ...varint(8), ...utf8('stranger')]))
const pairingProof = (): Uint8Array => lengthPrefixed(Uint8Array.from([3, ...randomBytes(32)]))

/** BirthdayMessage { type REQUEST (0, the default), host, sockets 256 }, length-prefixed. */
const birthdayRequest = (): Uint8Array => lengthPrefixed(Uint8Array.from([...pbBytes(2, utf8('203.0.113.7')), ...pbVarint(4, 256)]))

/** The length-prefixed frames in `bytes`. */
function frames (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  while (at < bytes.byteLength) {
    let len = 0
    let scale = 1
    for (;;) {
      const b = bytes[at++]!
      len += (b & 0x7f) * scale
      if ((b & 0x80) === 0) break
      scale *= 128
    }
    out.push(bytes.subarray(at, at + len))
    at += len
  }
  return out
}

/** What a sync probe got back: exactly one frame, a NOT_MEMBER error (no hello, so no vector; no page, so no op). */
function expectOnlyNotMember (r: ProbeResult): void {
  expect(r.opened).toBe(true)
  const got = frames(r.received).map(f => SyncMessage.decode(f))
  expect(got).toHaveLength(1)
  expect(got[0]!.hello).toBeUndefined()
  expect(got[0]!.page).toBeUndefined()
  expect(got[0]!.error?.code).toBe(ErrorCode.NOT_MEMBER)
  expect(got[0]!.error?.message).not.toMatch(/wg[1-9A-HJ-NP-Za-km-z]{20,}/) // names no group
}

/** A stream on a members-only protocol: held unanswered (or reset), not a single byte comes back. */
function expectNothing (r: ProbeResult): void {
  expect(r.received.byteLength).toBe(0)
}

describe('a stranger built from stock libp2p packages', () => {
  it('learns no topic and receives no byte of gossip, directly or through a stock relay, while members sync 100 writes', async () => {
    const relay = await startStockRelay()
    cleanup.push(async () => { await relay.stop() })
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const a = await daemon('alpha', ['--relay', relayAddr])
    const b = await daemon('beta')
    await join(a, b)
    await eventually('alpha holds a reservation on the stock relay', async () => json(await a.cli(['peers', '--verbose', '--json'])),
      v => v.relays.some((r: any) => r.reserved === true))
    const statusA = json(await a.cli(['status', '--json']))
    const statusB = json(await b.cli(['status', '--json']))
    await eventually('beta is connected to alpha', async () => json(await b.cli(['peers', '--json'])),
      (peers: any[]) => peers.some(p => p.peerId === a.deviceId && p.connected === true))

    const direct = await stranger()
    const relayed = await stranger()
    const toA = await direct.dial(directAddress(statusA))
    await direct.dial(directAddress(statusB))
    const viaRelay = await relayed.dial(`${relayAddr}/p2p-circuit/p2p/${a.deviceId}`)
    expect(viaRelay.limits).toBeDefined()
    // The worst case: the stranger knows the real topic anyway.
    const topic = announceTopic(statusA.group)
    expect(topic).not.toContain(statusA.group)
    direct.subscribe(topic)
    relayed.subscribe(topic)
    // And it speaks gossipsub itself: SUBSCRIBE, then read whatever comes back.
    const subscribe = lengthPrefixed(RPC.encode({ subscriptions: [{ subscribe: true, topic }], messages: [] }))
    const raw = await Promise.all([direct.probe(toA, '/meshsub/1.1.0', [subscribe]), relayed.probe(viaRelay, '/meshsub/1.2.0', [subscribe])])

    for (let i = 0; i < 100; i++) await a.api('PUT', `/v1/data/secrets/s${i}`, { fields: { password: `hunter${i}` } })
    const rows = await eventually('beta holds alpha\'s 100 writes', async () => await b.api('GET', '/v1/data/secrets?limit=1000') as unknown[], r => r.length === 100)
    expect(rows).toHaveLength(100)
    // Announcements went out (beta got them live or by pull) while the strangers listened.
    await new Promise(resolve => setTimeout(resolve, 1_000))

    for (const s of [direct, relayed]) {
      expect([...s.learnedTopics]).toEqual([])
      expect(s.messages).toEqual([])
      expect(s.gossipIn).toEqual({ streams: 0, bytes: 0 })
      expect(s.node.services.pubsub.getSubscribers(topic)).toEqual([])
      expect(s.meshPeers(topic)).toEqual([])
    }
    for (const r of raw) expectNothing(r)
    const metrics = await a.api('GET', '/metrics') as string
    expect(metrics).toMatch(/^weft_peers_connected\{type="direct"\} 1$/m) // beta; not the strangers
    // Every write reached beta, live or pulled: the ops count as sent on whichever path carried them.
    expect(metric(metrics, 'weft_ops_sent_total')).toBeGreaterThanOrEqual(100)
  }, 120_000)

  it('gets nothing from sync, pairing with a wrong code or birthday punching, directly or relayed, and its idle connection is closed', async () => {
    const relay = await startStockRelay()
    cleanup.push(async () => { await relay.stop() })
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const a = await daemon('alpha', ['--relay', relayAddr])
    await eventually('alpha holds a reservation on the stock relay', async () => json(await a.cli(['peers', '--verbose', '--json'])),
      v => v.relays.some((r: any) => r.reserved === true))
    const status = json(await a.cli(['status', '--json']))
    const s = await stranger()
    let relayAuthAsked = 0
    await s.node.handle('/weft/relay-auth/1.0.0', stream => { relayAuthAsked++; stream.abort(new Error('not a relay')) })
    // The daemon closes a stranger's idle connection after 10 s: each probe below dials (a relayed dial always opens a new connection).
    const direct = async (): Promise<Connection> => await s.dial(directAddress(status))
    const relayed = async (): Promise<Connection> => await s.dial(`${relayAddr}/p2p-circuit/p2p/${a.deviceId}`)
    const key = s.node.peerId.publicKey!.raw
    const code = json(await a.cli(['invite', '--json'])).code as string

    // Sync, claiming the group: one NOT_MEMBER frame, nothing else, on either path.
    for (const conn of [await direct(), await relayed()]) expectOnlyNotMember(await s.probe(conn, '/weft/sync/1.0.0', [syncHello(status.group, key)]))
    // Sync without a word: the same answer, before anything is read.
    expectOnlyNotMember(await s.probe(await direct(), '/weft/sync/1.0.0', []))

    // Pairing with a code that is not one: an error, nothing else.
    const unknown = frames((await s.probe(await direct(), '/weft/pair/1.0.0', [pairingHello(randomBytes(16))])).received).map(decodePairingMessage)
    expect(unknown.map(m => m.type)).toEqual(['error'])
    expect(unknown[0]).toMatchObject({ code: 'INVITE_WRONG' })
    // Pairing with a real invite's id but a wrong proof (the secret is what it lacks): a challenge nonce, then an error.
    const inviteId = inviteIdBytes(decodeInviteCode(code).secret)
    const wrong = await s.probe(await relayed(), '/weft/pair/1.0.0', [pairingHello(inviteId), pairingProof()])
    const replies = frames(wrong.received).map(decodePairingMessage)
    expect(replies.map(m => m.type)).toEqual(['challenge', 'error'])
    expect(replies[1]).toMatchObject({ code: 'INVITE_WRONG' })

    // Birthday punching: not a byte comes back (no ACCEPT, no REFUSE naming our NAT).
    for (const conn of [await relayed(), await direct()]) expectNothing(await s.probe(conn, '/weft/udx-birthday/1.0.0', [birthdayRequest()], 1_500))
    // DCUtR: the same.
    expectNothing(await s.probe(await relayed(), '/libp2p/dcutr', [lengthPrefixed(Uint8Array.from(pbVarint(1, 100)))], 1_500))

    // The daemon sends its admission chain to its configured relay only, never to a stranger that offers relay-auth.
    expect(relayAuthAsked).toBe(0)
    // Each refused session counts (three here), not each refused peer.
    expect(metric(await a.api('GET', '/metrics') as string, 'weft_sync_errors_total')).toBeGreaterThanOrEqual(3)
    // weft peers shows the stranger as a non-member that tried to sync; it is not counted as a group peer.
    const peers = json(await a.cli(['peers', '--json'])) as any[]
    expect(peers.find(p => p.peerId === s.node.peerId.toString())).toMatchObject({ member: false, lastError: { code: 'NOT_MEMBER' } })

    // An identify and a ping are all a stranger may do besides: ping works, and then the daemon closes the idle connection.
    expect(await s.node.services.ping.ping((await direct()).remotePeer, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
    await eventually('alpha closes the stranger\'s connections (grace period 10 s)', async () => s.node.getConnections().filter(c => c.remotePeer.toString() === a.deviceId).length, n => n === 0, 120)
  }, 120_000)

  it('a revoked device, even with its own key in a stock peer, cannot connect', async () => {
    const a = await daemon('alpha')
    const cDir = tempDataDir()
    const c = await startDaemon(cDir, ['--device-name', 'gamma'])
    cleanup.push(async () => { await c.stop('SIGKILL'); removeDir(cDir) })
    await join(a, c)
    expect(await c.stop()).toBe(0)
    const revoke = await a.cli(['devices', 'revoke', c.deviceId, '--json'])
    expect(revoke.code, revoke.stderr).toBe(0)
    const { readFileSync } = await import('node:fs')
    const { join: joinPath } = await import('node:path')
    const s = await stranger({ privateKey: new Uint8Array(readFileSync(joinPath(cDir, 'device.key'))) })
    expect(s.node.peerId.toString()).toBe(c.deviceId)
    const status = json(await a.cli(['status', '--json']))
    // The daemon's gater drops the connection once Noise names the key; the dialer may see it open for a moment.
    const conn = await s.dial(directAddress(status)).catch(() => undefined)
    if (conn !== undefined) {
      const r = await s.probe(conn, '/weft/sync/1.0.0', [syncHello(status.group, s.node.peerId.publicKey!.raw)])
      expect(r.received.byteLength).toBe(0)
      expect(r.opened === false || r.end !== 'timeout').toBe(true)
    }
    await eventually('no connection to alpha stays open', async () => s.node.getConnections().filter(c => c.status === 'open').length, n => n === 0, 20)
    const peers = json(await a.cli(['peers', '--json'])) as any[]
    expect(peers.some(p => p.peerId === c.deviceId && p.connected === true)).toBe(false)
  }, 120_000)
})
