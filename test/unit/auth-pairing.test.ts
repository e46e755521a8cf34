import { describe, expect, it } from 'vitest'
import {
  acceptPairing, createGroup, createInvite, decodePairingMessage, encodePairingMessage, framedPairingChannel, inviteIdBytes,
  joinGroup, MAX_PAIRING_MESSAGE_BYTES, Membership, MemoryInviteStore, pairingProof, proofKeyOf, signAdmission, signRevocation, verifyChain,
  type Invite, type PairingChannel, type PairingMessage
} from '../../src/auth/index.js'
import { DeviceKey } from '../../src/oplog/keys.js'
import { FramedChannel } from '../../src/protocol/framing.js'
import { duplexPair } from '../helpers/memory-pipe.js'

const T0 = 1_700_000_000_000

/** An in-memory duplex of pairing channels; every message crosses as bytes, and each side's bytes are kept. */
function channelPair (): { inviter: PairingChannel, joiner: PairingChannel, sentBy: { inviter: Uint8Array[], joiner: Uint8Array[] } } {
  const inbox: [Uint8Array[], Uint8Array[]] = [[], []]
  const wake: Array<(() => void) | undefined> = [undefined, undefined]
  const sentBy = { inviter: [] as Uint8Array[], joiner: [] as Uint8Array[] }
  const end = (me: 0 | 1): PairingChannel => ({
    async send (msg) {
      const bytes = encodePairingMessage(msg)
      ;(me === 0 ? sentBy.inviter : sentBy.joiner).push(bytes)
      inbox[1 - me]!.push(bytes)
      wake[1 - me]?.()
    },
    async receive (signal) {
      while (inbox[me].length === 0) {
        await new Promise<void>((resolve, reject) => {
          if (signal.aborted) { reject(signal.reason); return }
          signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
          wake[me] = resolve
        })
      }
      return decodePairingMessage(inbox[me].shift()!)
    }
  })
  return { inviter: end(0), joiner: end(1), sentBy }
}

interface World {
  readonly alice: DeviceKey
  readonly membership: Membership
  readonly invites: MemoryInviteStore
  readonly invite: Invite
  readonly clock: { ms: number }
}

async function world (): Promise<World> {
  const alice = DeviceKey.generate()
  const g = createGroup({ device: alice.publicKey, name: 'laptop', now: T0 })
  const membership = new Membership(g.groupPub)
  membership.add(g.genesis)
  const invites = new MemoryInviteStore()
  const { invite, issued } = createInvite({ group: g.groupPub, inviter: alice.publicKey, addresses: ['/ip4/10.0.0.2/tcp/4001'], now: T0 })
  await invites.add(issued)
  return { alice, membership, invites, invite, clock: { ms: T0 + 1000 } }
}

/** Runs both sides; returns both outcomes (value or error). */
async function pair (
  w: World,
  opts: { joiner?: DeviceKey, invite?: Invite, inviterSees?: Uint8Array, joinerNow?: number, channels?: ReturnType<typeof channelPair> } = {}
) {
  const joiner = opts.joiner ?? DeviceKey.generate()
  const ch = opts.channels ?? channelPair()
  const now = (): number => w.clock.ms
  const [accepted, joined] = await Promise.allSettled([
    acceptPairing({
      channel: ch.inviter,
      deviceKey: w.alice,
      remotePeer: opts.inviterSees ?? joiner.publicKey,
      membership: w.membership,
      invites: w.invites,
      now
    }),
    joinGroup({ channel: ch.joiner, invite: opts.invite ?? w.invite, device: joiner.publicKey, name: 'phone', remotePeer: w.alice.publicKey, now: () => opts.joinerNow ?? w.clock.ms })
  ])
  return { accepted, joined, joiner, sentBy: ch.sentBy }
}

const failedWith = (code: string, remote?: boolean): object => ({ status: 'rejected', reason: expect.objectContaining({ name: 'PairingError', code, ...(remote === undefined ? {} : { remote }) }) })

describe('pairing', () => {
  it('admits the joiner, which can verify and present its chain', async () => {
    const w = await world()
    const { accepted, joined, joiner } = await pair(w)
    expect(accepted.status).toBe('fulfilled')
    expect(joined.status).toBe('fulfilled')
    if (accepted.status !== 'fulfilled' || joined.status !== 'fulfilled') return
    expect(accepted.value.admission).toEqual(joined.value.admission)
    expect(joined.value).toMatchObject({ groupId: w.membership.groupId, admission: { name: 'phone', addedBy: w.alice.publicKey, addedAt: T0 + 1000 } })
    expect(verifyChain(w.membership.groupPub, joined.value.chain, joiner.publicKey).ok).toBe(true)
    expect(w.membership.add(accepted.value.admission).status).toBe('added')
    expect(w.membership.isMember(joiner.publicKey)).toBe(true)
    expect(await w.invites.get(accepted.value.inviteId)).toMatchObject({ usedBy: joiner.publicKey, usedAt: T0 + 1000 })
  })

  it('works over length-prefixed frames on a byte stream', async () => {
    const w = await world()
    const [x, y] = duplexPair()
    const channels = {
      inviter: framedPairingChannel(new FramedChannel(x, { maxFrameBytes: MAX_PAIRING_MESSAGE_BYTES })),
      joiner: framedPairingChannel(new FramedChannel(y)),
      sentBy: { inviter: [], joiner: [] }
    }
    const { accepted, joined } = await pair(w, { channels })
    expect([accepted.status, joined.status]).toEqual(['fulfilled', 'fulfilled'])
  })

  it('never sends the secret (or anything the code could be rebuilt from) from the joiner', async () => {
    const w = await world()
    const { joined, sentBy } = await pair(w)
    expect(joined.status).toBe('fulfilled')
    const sent = Buffer.concat(sentBy.joiner)
    expect(sentBy.joiner).toHaveLength(2) // hello, proof
    for (const needle of [w.invite.secret, proofKeyOf(w.invite.secret)]) {
      expect(sent.indexOf(Buffer.from(needle))).toBe(-1)
      for (let i = 0; i + 8 <= needle.length; i++) expect(sent.indexOf(Buffer.from(needle.subarray(i, i + 8)))).toBe(-1)
    }
    expect(Buffer.concat(sentBy.inviter).indexOf(Buffer.from(w.invite.secret))).toBe(-1)
  })

  it('fails an expired invite with INVITE_EXPIRED on both sides', async () => {
    const w = await world()
    w.clock.ms = w.invite.expiresAt + 1
    const { accepted, joined } = await pair(w, { joinerNow: T0 })
    expect(accepted).toMatchObject(failedWith('INVITE_EXPIRED', false))
    expect(joined).toMatchObject(failedWith('INVITE_EXPIRED', true))
    // A joiner whose own clock says so fails without asking.
    const late = joinGroup({ channel: channelPair().joiner, invite: w.invite, device: DeviceKey.generate().publicKey, name: 'x', remotePeer: w.alice.publicKey, now: () => w.invite.expiresAt + 120_000 })
    await expect(late).rejects.toMatchObject({ code: 'INVITE_EXPIRED', remote: false })
  })

  it('fails a reused invite with INVITE_USED, but lets the same device retry', async () => {
    const w = await world()
    const first = await pair(w)
    expect(first.joined.status).toBe('fulfilled')
    const again = await pair(w, { joiner: first.joiner })
    expect(again.joined.status).toBe('fulfilled')
    const other = await pair(w)
    expect(other.accepted).toMatchObject(failedWith('INVITE_USED'))
    expect(other.joined).toMatchObject(failedWith('INVITE_USED', true))
    expect((other.joined as PromiseRejectedResult).reason.message).toMatch(/already used by another device/)
  })

  it('fails a code this device never issued with INVITE_WRONG', async () => {
    const w = await world()
    const stranger = createInvite({ group: w.membership.groupPub, inviter: w.alice.publicKey, addresses: [], now: T0 })
    const { accepted, joined } = await pair(w, { invite: stranger.invite })
    expect(accepted).toMatchObject(failedWith('INVITE_WRONG'))
    expect(joined).toMatchObject(failedWith('INVITE_WRONG', true))
    expect((joined as PromiseRejectedResult).reason.message).toMatch(/no such invite/)
  })

  it('fails a proof made for another connection (a relayed proof) with INVITE_WRONG', async () => {
    const w = await world()
    const { accepted, joined } = await pair(w, { inviterSees: DeviceKey.generate().publicKey })
    expect(accepted).toMatchObject(failedWith('INVITE_WRONG'))
    expect((joined as PromiseRejectedResult).reason.message).toMatch(/proof does not match/)
  })

  it('burns an invite after five wrong proofs, even for the right code afterwards', async () => {
    const w = await world()
    const joiner = DeviceKey.generate()
    for (let i = 1; i <= 5; i++) {
      const ch = channelPair()
      const inviter = acceptPairing({
        channel: ch.inviter,
        deviceKey: w.alice,
        remotePeer: joiner.publicKey,
        membership: w.membership,
        invites: w.invites,
        now: () => w.clock.ms
      })
      await ch.joiner.send({ type: 'hello', version: 1, inviteId: inviteIdBytes(w.invite.secret), name: 'guess' }, AbortSignal.timeout(1000))
      const challenge = await ch.joiner.receive(AbortSignal.timeout(1000))
      expect(challenge.type).toBe('challenge')
      await ch.joiner.send({ type: 'proof', proof: pairingProof(new Uint8Array(32), new Uint8Array(32), joiner.publicKey, w.alice.publicKey, w.membership.groupPub) }, AbortSignal.timeout(1000))
      await expect(inviter).rejects.toMatchObject({ code: i < 5 ? 'INVITE_WRONG' : 'INVITE_BURNED' })
    }
    const { accepted, joined } = await pair(w, { joiner })
    expect(accepted).toMatchObject(failedWith('INVITE_BURNED'))
    expect(joined).toMatchObject(failedWith('INVITE_BURNED', true))
  })

  it('refuses to invite when the inviter was revoked (NOT_MEMBER), and refuses a revoked key', async () => {
    const w = await world()
    const victim = DeviceKey.generate()
    w.membership.add(signRevocation({ group: w.membership.groupPub, device: victim.publicKey, at: { ms: T0, counter: 0 } }, w.alice))
    const revokedJoiner = await pair(w, { joiner: victim })
    expect(revokedJoiner.joined).toMatchObject(failedWith('NOT_MEMBER', true))
    w.membership.add(signRevocation({ group: w.membership.groupPub, device: w.alice.publicKey, at: { ms: T0, counter: 0 } }, w.alice))
    const { accepted, joined } = await pair(w)
    expect(accepted).toMatchObject(failedWith('NOT_MEMBER'))
    expect((joined as PromiseRejectedResult).reason.message).toMatch(/no longer a member/)
  })

  it('refuses to pair with a peer other than the invite\'s inviter (WRONG_PEER)', async () => {
    const w = await world()
    const ch = channelPair()
    const result = joinGroup({ channel: ch.joiner, invite: w.invite, device: DeviceKey.generate().publicKey, name: 'x', remotePeer: DeviceKey.generate().publicKey, now: () => T0 })
    await expect(result).rejects.toMatchObject({ code: 'WRONG_PEER' })
  })

  it('refuses a welcome that does not verify (NOT_MEMBER) or admits someone else (BAD_MESSAGE)', async () => {
    const w = await world()
    const joiner = DeviceKey.generate()
    const run = async (reply: (nonce: Uint8Array) => PairingMessage): Promise<unknown> => {
      const ch = channelPair()
      const joined = joinGroup({ channel: ch.joiner, invite: w.invite, device: joiner.publicKey, name: 'x', remotePeer: w.alice.publicKey, now: () => T0 })
      await ch.inviter.receive(AbortSignal.timeout(1000))
      await ch.inviter.send({ type: 'challenge', nonce: new Uint8Array(32) }, AbortSignal.timeout(1000))
      await ch.inviter.receive(AbortSignal.timeout(1000))
      await ch.inviter.send(reply(new Uint8Array(32)), AbortSignal.timeout(1000))
      return await joined.catch((err: unknown) => err)
    }
    const group = w.membership.groupPub
    const noChain = signAdmission({ group, device: joiner.publicKey, name: 'x', addedAt: T0 }, w.alice)
    expect(await run(() => ({ type: 'welcome', admission: noChain, chain: [] }))).toMatchObject({ code: 'NOT_MEMBER' })
    const someoneElse = signAdmission({ group, device: DeviceKey.generate().publicKey, name: 'x', addedAt: T0 }, w.alice)
    expect(await run(() => ({ type: 'welcome', admission: someoneElse, chain: w.membership.chainFor(w.alice.publicKey)! }))).toMatchObject({ code: 'BAD_MESSAGE' })
  })

  it('times out a silent peer, and stops when the caller aborts', async () => {
    const w = await world()
    const ch = channelPair()
    const base = { channel: ch.joiner, invite: w.invite, device: DeviceKey.generate().publicKey, name: 'x', remotePeer: w.alice.publicKey, now: () => T0 }
    await expect(joinGroup({ ...base, stepTimeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT', message: /waiting for challenge/ })
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 20)
    await expect(joinGroup({ ...base, signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' })
    const quiet = channelPair()
    await expect(acceptPairing({
      channel: quiet.inviter,
      deviceKey: w.alice,
      remotePeer: base.device,
      membership: w.membership,
      invites: w.invites,
      timeoutMs: 50
    })).rejects.toMatchObject({ code: 'TIMEOUT' })
  })

  it('answers an out-of-order or malformed message with BAD_MESSAGE', async () => {
    const w = await world()
    const ch = channelPair()
    const inviter = acceptPairing({
      channel: ch.inviter,
      deviceKey: w.alice,
      remotePeer: DeviceKey.generate().publicKey,
      membership: w.membership,
      invites: w.invites
    })
    await ch.joiner.send({ type: 'proof', proof: new Uint8Array(32) }, AbortSignal.timeout(1000))
    await expect(inviter).rejects.toMatchObject({ code: 'BAD_MESSAGE' })
    expect(await ch.joiner.receive(AbortSignal.timeout(1000))).toMatchObject({ type: 'error', code: 'BAD_MESSAGE', message: 'expected hello, got proof' })
    expect(() => decodePairingMessage(Uint8Array.of(9))).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }))
    expect(() => decodePairingMessage(new Uint8Array(MAX_PAIRING_MESSAGE_BYTES + 1))).toThrow(/over the/)
  })

  it('reports a failing store as INTERNAL without leaking its message to the joiner', async () => {
    const w = await world()
    w.invites.claim = async () => { throw new Error('SQLITE_BUSY: database is locked at /home/me/.weft/db') }
    const { accepted, joined } = await pair(w)
    expect(accepted).toMatchObject(failedWith('INTERNAL', false))
    expect((accepted as PromiseRejectedResult).reason.cause.message).toMatch(/SQLITE_BUSY/)
    expect(joined).toMatchObject(failedWith('INTERNAL', true))
    expect((joined as PromiseRejectedResult).reason.message).toBe('peer reported: internal error')
  })

  it('lets the inviter choose the name in the admission', async () => {
    const w = await world()
    const ch = channelPair()
    const joiner = DeviceKey.generate()
    const [accepted, joined] = await Promise.all([
      acceptPairing({ channel: ch.inviter, deviceKey: w.alice, remotePeer: joiner.publicKey, membership: w.membership, invites: w.invites, now: () => w.clock.ms, deviceName: 'work phone' }),
      joinGroup({ channel: ch.joiner, invite: w.invite, device: joiner.publicKey, name: 'phone', remotePeer: w.alice.publicKey, now: () => w.clock.ms })
    ])
    expect(accepted.admission.name).toBe('work phone')
    expect(joined.admission.name).toBe('work phone')
  })

  it('encodes every message type and back', () => {
    const g = createGroup({ device: DeviceKey.generate().publicKey, name: 'a', now: T0 })
    const msgs: PairingMessage[] = [
      { type: 'hello', version: 1, inviteId: new Uint8Array(16).fill(3), name: 'phone' },
      { type: 'challenge', nonce: new Uint8Array(32).fill(1) },
      { type: 'proof', proof: new Uint8Array(32).fill(2) },
      { type: 'welcome', admission: g.genesis, chain: [g.genesis] },
      { type: 'error', code: 'INVITE_USED', message: 'used' }
    ]
    for (const m of msgs) expect(decodePairingMessage(encodePairingMessage(m))).toEqual(m)
  })
})
