import { createHash } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { describe, expect, it } from 'vitest'
import {
  checkInviteFresh, createInvite, decodeInviteCode, DEFAULT_INVITE_TTL_MS, encodeInviteCode, INVITE_CODE_PREFIX,
  inviteIdOf, MAX_INVITE_CODE_CHARS, MemoryInviteStore, proofKeyOf, type Invite
} from '../../src/auth/index.js'
import { ByteWriter } from '../../src/oplog/bytes.js'
import { DeviceKey } from '../../src/oplog/keys.js'

const T0 = 1_700_000_000_000
const group = DeviceKey.generate().publicKey
const inviter = DeviceKey.generate()
const relay = DeviceKey.generate()
const LAN = '/ip4/192.168.1.23/tcp/4001'
const CIRCUIT = `/dns4/relay.example.com/tcp/443/wss/p2p/${relay.id}/p2p-circuit`

const codeReason = (r: string): unknown => expect.objectContaining({ name: 'InviteCodeError', reason: r })

function sample (): { invite: Invite, code: string } {
  const { invite, code } = createInvite({ group, inviter: inviter.publicKey, addresses: [LAN, `${CIRCUIT}/p2p/${inviter.id}`], now: T0 })
  return { invite, code }
}

describe('invite codes', () => {
  it('round-trip, drop the redundant /p2p/<inviter> suffix, and expire after 10 minutes by default', () => {
    const { invite, code } = sample()
    expect(code.startsWith(INVITE_CODE_PREFIX)).toBe(true)
    expect(code).not.toMatch(/\s/)
    expect(code.length).toBeLessThan(300)
    const back = decodeInviteCode(code)
    expect(back).toEqual(invite)
    expect(back.addresses).toEqual([LAN, CIRCUIT])
    expect(back.inviter).toEqual(inviter.publicKey)
    expect(back.group).toEqual(group)
    expect(back.expiresAt).toBe(T0 + DEFAULT_INVITE_TTL_MS)
    expect(back.secret).toHaveLength(32)
    expect(encodeInviteCode(back)).toBe(code)
  })

  it('uses a fresh secret each time', () => {
    expect(sample().code).not.toBe(sample().code)
  })

  it('tolerates pasting: line breaks, spaces, an upper-case prefix', () => {
    const { code, invite } = sample()
    const wrapped = '  ' + code.slice(0, 40) + '\n' + code.slice(40, 90) + ' \r\n' + code.slice(90) + '\n'
    expect(decodeInviteCode(wrapped)).toEqual(invite)
    expect(decodeInviteCode('WEFT1:' + code.slice(INVITE_CODE_PREFIX.length))).toEqual(invite)
  })

  it('detects any single mistyped character with a checksum message', () => {
    const { code } = sample()
    const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
    for (let i = INVITE_CODE_PREFIX.length; i < code.length; i++) {
      const ch = code[i]!
      const typo = alphabet[(alphabet.indexOf(ch) + 1) % alphabet.length]!
      const bad = code.slice(0, i) + typo + code.slice(i + 1)
      expect(() => decodeInviteCode(bad), `position ${i}`).toThrow(codeReason('checksum'))
    }
  })

  it('detects swapped neighbours and truncation', () => {
    const { code } = sample()
    const i = 50
    const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2)
    if (swapped !== code) expect(() => decodeInviteCode(swapped)).toThrow(codeReason('checksum'))
    expect(() => decodeInviteCode(code.slice(0, -1))).toThrow(/mistyped, or the code is cut short/)
    expect(() => decodeInviteCode(code.slice(0, 10))).toThrow(codeReason('checksum'))
  })

  it('names characters that never appear in a code, with their position', () => {
    const { code } = sample()
    const bad = code.slice(0, 20) + '0' + code.slice(21)
    expect(() => decodeInviteCode(bad)).toThrow(/"0" at position 21/)
    expect(() => decodeInviteCode(bad)).toThrow(codeReason('encoding'))
  })

  it('refuses other prefixes, oversize input and newer versions', () => {
    expect(() => decodeInviteCode('wg' + 'x'.repeat(40))).toThrow(codeReason('prefix'))
    expect(() => decodeInviteCode('')).toThrow(codeReason('prefix'))
    expect(() => decodeInviteCode(INVITE_CODE_PREFIX + '1'.repeat(MAX_INVITE_CODE_CHARS))).toThrow(codeReason('too_large'))
    // A well-formed code of format 2, with a valid checksum.
    const payload = new ByteWriter().u8(2).raw(new Uint8Array(100)).finish()
    const sum = createHash('sha256').update('weft/invite-code/v1').update(payload).digest().subarray(0, 4)
    const v2 = INVITE_CODE_PREFIX + base58btc.baseEncode(Uint8Array.from([...payload, ...sum]))
    expect(() => decodeInviteCode(v2)).toThrow(/upgrade weft/)
  })

  it('refuses a code whose checksum matches but whose contents are out of form', () => {
    const payload = new ByteWriter().u8(1).raw(new Uint8Array(96)).varint(T0).varint(1).bytes(Uint8Array.of(0xff, 0xff)).finish()
    const sum = createHash('sha256').update('weft/invite-code/v1').update(payload).digest().subarray(0, 4)
    expect(() => decodeInviteCode(INVITE_CODE_PREFIX + base58btc.baseEncode(Uint8Array.from([...payload, ...sum])))).toThrow(codeReason('malformed'))
  })

  it('limits addresses and checks them when the invite is made', () => {
    const base = { group, inviter: inviter.publicKey, now: T0 }
    expect(() => createInvite({ ...base, addresses: Array.from({ length: 9 }, () => LAN) })).toThrow(/at most 8 addresses/)
    expect(() => createInvite({ ...base, addresses: ['not an address'] })).toThrow(/not a multiaddr/)
    expect(() => createInvite({ ...base, addresses: [], ttlMs: 0 })).toThrow(/TTL/)
    expect(decodeInviteCode(createInvite({ ...base, addresses: [] }).code).addresses).toEqual([])
  })
})

describe('expiry', () => {
  it('fails fast only when clearly expired: the inviter\'s clock decides', () => {
    const { invite } = sample()
    expect(() => { checkInviteFresh(invite, invite.expiresAt) }).not.toThrow()
    expect(() => { checkInviteFresh(invite, invite.expiresAt + 59_000) }).not.toThrow()
    expect(() => { checkInviteFresh(invite, invite.expiresAt + 61_000) }).toThrow(expect.objectContaining({ name: 'PairingError', code: 'INVITE_EXPIRED' }))
    expect(() => { checkInviteFresh(invite, invite.expiresAt + 1, 0) }).toThrow(/expired/)
  })
})

describe('issued invites and the store', () => {
  it('store only what is derived from the secret, never the secret', () => {
    const { invite, issued } = createInvite({ group, inviter: inviter.publicKey, addresses: [LAN], now: T0 })
    expect(issued.id).toBe(inviteIdOf(invite.secret))
    expect(issued.id).toMatch(/^[0-9a-f]{32}$/)
    expect(issued.proofKey).toEqual(proofKeyOf(invite.secret))
    const stored = JSON.stringify(issued, (_, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)
    expect(stored).not.toContain(Buffer.from(invite.secret).toString('hex'))
    expect(issued).toMatchObject({ createdAt: T0, expiresAt: invite.expiresAt, failures: 0 })
    expect(issued.usedBy).toBeUndefined()
  })

  it('claims atomically, lets the same device retry, counts failures and prunes', async () => {
    const store = new MemoryInviteStore()
    const { issued } = createInvite({ group, inviter: inviter.publicKey, addresses: [], now: T0 })
    await store.add(issued)
    const [x, y] = [DeviceKey.generate().publicKey, DeviceKey.generate().publicKey]
    const claims = await Promise.all([store.claim(issued.id, x, T0), store.claim(issued.id, y, T0)])
    expect(claims).toEqual(['claimed', 'used'])
    expect(await store.claim(issued.id, x, T0 + 1)).toBe('claimed')
    expect(await store.claim('00'.repeat(16), x, T0)).toBe('unknown')
    expect(await store.recordFailure(issued.id)).toBe(1)
    expect(await store.recordFailure(issued.id)).toBe(2)
    expect(await store.recordFailure('nope')).toBe(0)
    expect((await store.get(issued.id))).toMatchObject({ usedBy: x, usedAt: T0, failures: 2 })
    expect(await store.prune(issued.expiresAt)).toBe(0)
    expect(await store.prune(issued.expiresAt + 1)).toBe(1)
    expect(await store.list()).toEqual([])
  })
})
