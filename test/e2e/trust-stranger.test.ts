/**
 * A stranger (random key) that knows a member's address, the group id and
 * every protocol id gets no data on any path, and its sync writes, gossip and
 * pairing attempts are refused. The member is a real daemon process; the
 * stranger a full weft node in this process, configured to claim the group.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { PAIRING_PROTOCOL_ID } from '../../src/auth/constants.js'
import { removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'
import { startNode, stopAll, waitFor } from '../helpers/net-nodes.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await stopAll()
  for (const f of cleanup.splice(0).reverse()) await f()
})

const json = (r: { stdout: string }): any => JSON.parse(r.stdout)

describe('a stranger', () => {
  it('gets no data and writes nothing, on sync, gossip or pairing', async () => {
    const dir = tempDataDir()
    const member: DaemonProcess = await startDaemon(dir, ['--device-name', 'member'])
    cleanup.push(async () => { await member.stop('SIGKILL'); removeDir(dir) })
    expect((await member.cli(['put', 'secrets', 's1', 'pin=1234'])).code).toBe(0)
    const status = json(await member.cli(['status', '--json']))
    const memberAddr = (status.network.addresses as string[])[0]!

    // The stranger claims the member's group id and dials it directly.
    const stranger = await startNode({ groupId: status.group, peers: [memberAddr], syncIntervalMs: 500 })
    stranger.replica.put('secrets', 'forged', { pin: '0000' })
    await waitFor(() => stranger.node.getConnections().length > 0, 'the stranger connects')

    // Sync: every session it tries ends in NOT_MEMBER.
    const result = await stranger.node.services.sync.syncWith(member.deviceId)
    expect(result.ok).toBe(false)
    expect(result.error?.code).toBe('NOT_MEMBER')
    // Gossip: a live write announced on the group's topic.
    stranger.replica.put('secrets', 'forged2', { pin: '9999' })
    // Pairing without an invite.
    const conn = stranger.node.getConnections()[0]!
    const stream = await conn.newStream(PAIRING_PROTOCOL_ID)
    stream.send(new Uint8Array([5, 1, 2, 3, 4, 5]))
    await new Promise(resolve => setTimeout(resolve, 1500))

    expect(stranger.replica.get('secrets', 's1')).toBeUndefined()
    expect([...stranger.replica.versionVector().keys()]).toEqual([stranger.id])
    const forged = await member.cli(['get', 'secrets', 'forged'])
    expect(forged.code).toBe(1)
    expect((await member.cli(['get', 'secrets', 'forged2'])).code).toBe(1)
    const vector = json(await member.cli(['status', '--json'])).vector as Record<string, number>
    expect(Object.keys(vector)).toEqual([member.deviceId])
    const peers = json(await member.cli(['peers', '--json'])) as Array<{ peerId: string, lastError?: { code: string } }>
    const seen = peers.find(p => p.peerId === stranger.id)
    expect(seen?.lastError?.code).toBe('NOT_MEMBER')
  })
})
