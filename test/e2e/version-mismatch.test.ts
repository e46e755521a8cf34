/**
 * Gossip checks what sync checks. A member that speaks another op format or
 * sync protocol version (built here as a real member that joined with an
 * invite, and then sends what a build with one version constant changed
 * would send) gets nothing applied on either path, and the daemon's
 * `weft status` and `weft doctor` name that peer. Announcements that arrive
 * ahead of what a node holds are pulled, not refused as gaps.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeAdmission } from '../../src/auth/certificate.js'
import { decodeInviteCode } from '../../src/auth/invite.js'
import { openReplica, type Replica } from '../../src/index.js'
import { parseDeviceId } from '../../src/oplog/keys.js'
import { OP_FORMAT_VERSION } from '../../src/oplog/op.js'
import { pairWithInviter } from '../../src/net/members/pairing.js'
import { announceTopic } from '../../src/net/sync/announcer.js'
import { SYNC_PROTOCOL_ID, SYNC_WIRE_VERSION } from '../../src/protocol/constants.js'
import { FramedChannel } from '../../src/protocol/framing.js'
import { packOps } from '../../src/protocol/ops-codec.js'
import { Announce, ErrorCode, SyncMessage } from '../../src/protocol/pb/sync.js'
import { vectorToWire } from '../../src/protocol/vector.js'
import { streamChannel } from '../../src/net/stream-channel.js'
import { eventually, removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'
import { connect, startNode, stopAll, waitFor, writeRows, type TestNode } from '../helpers/net-nodes.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await stopAll()
  for (const f of cleanup.splice(0).reverse()) await f()
})

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)
/** The versions this build speaks; a test announces another build's by overriding one. */
const THIS_BUILD = { protocolVersion: SYNC_WIRE_VERSION, dataFormatVersion: OP_FORMAT_VERSION }

/**
 * An in-process node that joined `inviter`'s group with an invite and runs as
 * a member (gossip of its own off), and `twin`: a copy of its store taken
 * when it joined, the same device with the same key.
 *
 * The test decides when ops travel, so no sync session may run after the
 * first one: the member restarts on the address it paired from, the daemon
 * redials it there and syncs once as the dialer, and the member, the dialed
 * side, never starts a session of its own (its connect grace is a day).
 * Ops written on the twin exist nowhere the member could serve them from,
 * so they reach the daemon only in the announcements the test publishes.
 */
async function member (inviter: DaemonProcess): Promise<{ m: TestNode, twin: Replica }> {
  const code = json(await inviter.cli(['invite', '--json'])).code as string
  const first = await startNode()
  const listen = first.node.getMultiaddrs().map(a => a.decapsulateCode(421).toString())
  const joined = await pairWithInviter(first.node, { invite: decodeInviteCode(code), device: first.replica.deviceKey.publicKey, name: 'other-build' })
  first.replica.joinGroup(joined.groupPub, joined.chain.map(encodeAdmission))
  await first.stop()
  const twinDir = mkdtempSync(join(tmpdir(), 'weft-twin-'))
  cpSync(first.dir, twinDir, { recursive: true })
  const twin = openReplica({ dir: twinDir })
  cleanup.push(() => { twin.close(); rmSync(twinDir, { recursive: true, force: true }) })
  return { m: await startNode({ dir: first.dir, trust: true, gossip: false, listen, connectGraceMs: 24 * 3600_000 }), twin }
}

/** An announcement of `m`'s ops beyond `before` (held in `source`), as a build with these versions would publish it. */
async function announcement (
  m: TestNode,
  before: Map<string, number>,
  versions: { protocolVersion: number, dataFormatVersion: number },
  source: Replica = m.replica
): Promise<Uint8Array> {
  const { ops } = source.opsSince(before, { limit: 100, maxBytes: 1 << 20 })
  return Announce.encode({ deviceId: parseDeviceId(m.id), vector: vectorToWire(source.versionVector()), ...await packOps(ops), ...versions })
}

describe('versions on every path', () => {
  it('an announcement or hello of another version is not applied, and status and doctor name the peer', async () => {
    const dir = tempDataDir()
    // Anti-entropy off on the daemon, so the ops below can reach it only by the announcement under test.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ syncIntervalMs: 24 * 3600_000 }))
    const a = await startDaemon(dir, ['--device-name', 'alpha'])
    cleanup.push(async () => { await a.stop('SIGKILL'); removeDir(dir) })
    const { m, twin } = await member(a)
    const group = json(await a.cli(['status', '--json'])).group as string
    const vector = json(await a.cli(['status', '--json'])).vector as Record<string, number>
    await waitFor(() => m.replica.versionVector().get(a.deviceId) === vector[a.deviceId], 'the member syncs with alpha')
    const topic = announceTopic(group)
    await waitFor(() => m.node.services.pubsub.getSubscribers(topic).length > 0, 'the member sees alpha on the topic')

    // Another op format: the op is not applied, and the writer is named.
    let before = m.replica.versionVector()
    twin.put('notes', 'from-v2', { by: 'a newer build' })
    await m.node.services.pubsub.publish(topic, await announcement(m, before, { ...THIS_BUILD, dataFormatVersion: OP_FORMAT_VERSION + 1 }, twin))
    const mismatch = await eventually('alpha reports the mismatch', async () => json(await a.cli(['status', '--json'])).peers as any[],
      peers => peers.some(p => p.peerId === m.id && String(p.status).startsWith('version mismatch')))
    expect(mismatch.find(p => p.peerId === m.id).status).toContain(`op format ${OP_FORMAT_VERSION + 1}`)
    expect((await a.cli(['get', 'notes', 'from-v2'])).code).toBe(1)
    const human = await a.cli(['status'])
    expect(human.stdout).toMatch(new RegExp(`${m.id}.*version mismatch`))
    const doctor = await a.cli(['doctor', '--json'])
    expect(doctor.code).toBe(1)
    expect(json(doctor).find((c: any) => c.check === 'versions')).toMatchObject({ ok: false, detail: expect.stringContaining(m.id) })
    expect(json(doctor).find((c: any) => c.check === 'versions').detail).toContain('other-build')

    // The same ops in a matching announcement are applied, and the mismatch clears.
    await m.node.services.pubsub.publish(topic, await announcement(m, before, THIS_BUILD, twin))
    await eventually('alpha applies the matching announcement', async () => await a.cli(['get', 'notes', 'from-v2']), r => r.code === 0)
    expect(json(await a.cli(['doctor', '--json'])).find((c: any) => c.check === 'versions')).toMatchObject({ ok: true })

    // Another sync protocol in a hello: VERSION_MISMATCH back, and alpha names the peer again.
    before = m.replica.versionVector()
    const conn = m.node.getConnections().find(c => c.remotePeer.toString() === a.deviceId)!
    const stream = await conn.newStream(SYNC_PROTOCOL_ID)
    const io = new FramedChannel(streamChannel(stream))
    const signal = AbortSignal.timeout(10_000)
    const hello = {
      protocolVersion: SYNC_WIRE_VERSION + 1,
      groupId: group,
      deviceId: parseDeviceId(m.id),
      dataFormatVersion: OP_FORMAT_VERSION,
      vector: vectorToWire(before),
      schemas: []
    }
    await io.writeFrame(SyncMessage.encode({ hello }), signal)
    const reply = SyncMessage.decode((await io.readFrame(signal))!)
    expect(reply.hello).toBeUndefined()
    expect(reply.error?.code).toBe(ErrorCode.VERSION_MISMATCH)
    io.abort(new Error('done'))
    const peers = await eventually('alpha reports the sync mismatch', async () => json(await a.cli(['peers', '--json'])) as any[],
      list => list.some(p => p.peerId === m.id && p.versionMismatch?.via === 'sync'))
    expect(peers.find(p => p.peerId === m.id).versionMismatch.message).toContain(`sync protocol version ${SYNC_WIRE_VERSION + 1}`)
    expect(json(await a.cli(['doctor', '--json'])).find((c: any) => c.check === 'versions')).toMatchObject({ ok: false })
  }, 120_000)

  it('ops announced ahead of what a node holds are deferred and pulled, never refused as a gap', async () => {
    // The writer announces nothing by itself (gossip off), and nothing syncs on a timer.
    const writer = await startNode({ gossip: false, syncIntervalMs: 0 })
    const reader = await startNode({ syncIntervalMs: 0 })
    writeRows(writer, 3, 'synced')
    await connect(reader, writer)
    await waitFor(() => reader.replica.versionVector().get(writer.id) === 3, 'the connect-time session')
    const topic = announceTopic(reader.node.services.sync.groupId)
    await waitFor(() => writer.node.services.pubsub.getSubscribers(topic).length > 0, 'the writer sees the reader on the topic')

    // Op 4's announcement is lost; op 5's arrives.
    writeRows(writer, 1, 'lost')
    const before = writer.replica.versionVector()
    writeRows(writer, 1, 'announced')
    await writer.node.services.pubsub.publish(topic, await announcement(writer, before, THIS_BUILD))

    await waitFor(() => reader.replica.versionVector().get(writer.id) === 5, 'the reader pulls ops 4 and 5')
    expect(reader.replica.stats().rejected).toEqual({})
    expect(reader.node.services.sync.getTotals().opsDeferred).toBe(1)
    expect(reader.node.services.sync.getPeerState(writer.id)?.opsDeferred).toBe(1)
  }, 60_000)
})
