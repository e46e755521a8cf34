/**
 * A joiner reaching the inviter through an invite whose first address does
 * not lead there: real libp2p nodes on 127.0.0.1, a real pairing exchange.
 *
 * - A silent address (TCP accepts, nothing answers: what a LAN address looks
 *   like from another network behind a firewall that drops, or a half-dead
 *   host) must not hold pairing up until libp2p's per-address timeout: the
 *   next address is dialled while the silent one still hangs, and the
 *   silent dial is closed once the inviter answers.
 * - A different device answering at an invite address (the same private IP
 *   on another LAN) is not the inviter: the joiner drops that connection and
 *   pairs with the right device at the next address.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createInvite } from '../../src/auth/invite.js'
import { pairingMembership } from '../../src/daemon/network.js'
import { handlePairing, pairWithInviter } from '../../src/net/members/pairing.js'
import { startNode, stopAll, waitFor, type TestNode } from '../helpers/net-nodes.js'

const servers: Server[] = []
const held: Socket[] = []
afterEach(async () => {
  for (const sock of held.splice(0)) sock.destroy()
  for (const s of servers.splice(0)) s.close()
  await stopAll()
})

/** libp2p's default per-address dial timeout (connectionManager.addressDialTimeout), which weft keeps. */
const LIBP2P_ADDRESS_DIAL_TIMEOUT_MS = 6_000

/** A TCP listener that accepts connections and never says a word. */
async function silentListener (): Promise<{ addr: string, accepted: () => number, open: () => number }> {
  let accepted = 0
  let open = 0
  const server = createServer(sock => {
    accepted++
    open++
    held.push(sock)
    sock.on('error', () => {})
    sock.once('close', () => { open-- })
    // read: a socket nobody reads from never sees its peer's FIN or RST
    sock.resume()
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { addr: `/ip4/127.0.0.1/tcp/${(server.address() as AddressInfo).port}`, accepted: () => accepted, open: () => open }
}

async function inviterWithInvite (firstAddresses: string[]): Promise<{ inviter: TestNode, invite: ReturnType<typeof createInvite>['invite'] }> {
  const inviter = await startNode()
  const replica = inviter.replica
  replica.createGroup('inviter')
  await handlePairing(inviter.node, {
    deviceKey: replica.deviceKey,
    invites: replica.invites,
    membership: () => pairingMembership(replica),
    onAccepted: accepted => { replica.publishRecord(accepted.admission) }
  })
  const own = inviter.node.getMultiaddrs().map(a => a.decapsulate(`/p2p/${inviter.id}`).toString())
  const created = createInvite({ group: replica.group!.pub, inviter: replica.deviceKey.publicKey, addresses: [...firstAddresses, ...own], now: Date.now() })
  await replica.invites.add(created.issued)
  return { inviter, invite: created.invite }
}

describe('pairing dials the invite\'s addresses', () => {
  it('pairs through the next address while the first one stays silent, and closes the silent dial', async () => {
    const silent = await silentListener()
    const { inviter, invite } = await inviterWithInvite([silent.addr])
    const joiner = await startNode()
    // Less time than libp2p gives one address (addressDialTimeout, 6 s): a
    // joiner that waited for the silent address to time out cannot pair in it.
    const signal = AbortSignal.timeout(LIBP2P_ADDRESS_DIAL_TIMEOUT_MS - 1_000)
    const joined = await pairWithInviter(joiner.node, { invite, device: joiner.replica.deviceKey.publicKey, name: 'joiner', signal })
    expect(joined.groupId).toBe(inviter.replica.group!.id)
    expect(silent.accepted()).toBe(1)
    // the losing dial is aborted and its socket closed, not left open
    await waitFor(() => silent.open() === 0, 'the silent dial to be closed')
  })

  it('refuses a device that answers at an invite address but is not the inviter, and pairs with the inviter', async () => {
    const stranger = await startNode()
    const strangerAddr = stranger.node.getMultiaddrs()[0]!.decapsulate(`/p2p/${stranger.id}`).toString()
    const { inviter, invite } = await inviterWithInvite([strangerAddr])
    const joiner = await startNode()
    const joined = await pairWithInviter(joiner.node, { invite, device: joiner.replica.deviceKey.publicKey, name: 'joiner' })
    expect(joined.groupId).toBe(inviter.replica.group!.id)
    expect(joiner.node.getConnections(stranger.node.peerId)).toHaveLength(0)
  })

  it('names the inviter and the last failure when no address reaches it', async () => {
    const stranger = await startNode()
    const strangerAddr = stranger.node.getMultiaddrs()[0]!.decapsulate(`/p2p/${stranger.id}`).toString()
    const { inviter, invite } = await inviterWithInvite([])
    const joiner = await startNode()
    const err = await pairWithInviter(joiner.node, { invite: { ...invite, addresses: [strangerAddr] }, device: joiner.replica.deviceKey.publicKey, name: 'joiner' }).then(() => undefined, (e: unknown) => e as Error)
    expect(err).toBeInstanceOf(Error)
    expect(err?.message).toContain(inviter.id)
    expect(err?.message).toContain('not the inviting device')
  })
})
