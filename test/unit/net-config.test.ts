import { describe, expect, it } from 'vitest'
import { checkNodeConfig, type NodeConfig } from '../../src/net/config.js'
import { parseRelayAddress } from '../../src/net/nat/relay-keeper.js'
import { MemoryStore } from '../helpers/memory-store.js'

const store = new MemoryStore()
const base = (): NodeConfig => ({ privateKey: store.key.raw, store })

describe('node config', () => {
  it('accepts a minimal config', () => {
    expect(() => { checkNodeConfig(base()) }).not.toThrow()
  })

  it('reports every problem at once, unknown keys included', () => {
    const bad = { ...base(), privateKey: new Uint8Array(10), relay: ['x'], listen: ['not a multiaddr'], relays: ['/ip4/127.0.0.1/tcp/4001'], syncIntervalMs: -1, mdns: 'yes', groupId: '' } as unknown as NodeConfig
    let message = ''
    try { checkNodeConfig(bad) } catch (err) { message = (err as Error).message; expect((err as Error).name).toBe('InvalidArgumentError') }
    expect(message).toContain('unknown option "relay"')
    expect(message).toContain('privateKey must be 64 bytes')
    expect(message).toContain('listen: "not a multiaddr" is not a multiaddr')
    expect(message).toContain('must end with /p2p/<relay peer id>')
    expect(message).toContain('syncIntervalMs must be a non-negative number')
    expect(message).toContain('mdns must be true or false')
    expect(message).toContain('groupId must be a non-empty string')
  })

  it('takes an option given as undefined as not given, except the two it needs', () => {
    const unset = { mdns: undefined, listen: undefined, syncIntervalMs: undefined, membership: undefined }
    expect(() => { checkNodeConfig({ ...base(), ...unset } as unknown as NodeConfig) }).not.toThrow()
    expect(() => { checkNodeConfig({} as NodeConfig) }).toThrow('invalid node configuration:\n  - privateKey must be 64 bytes (seed then public key)\n  - store must implement SyncStore')
  })

  it('names each bad element of a list option', () => {
    expect(() => { checkNodeConfig({ ...base(), announce: ['/ip4/127.0.0.1/tcp/1', 'a', 'b'] }) })
      .toThrow('invalid node configuration:\n  - announce: "a" is not a multiaddr\n  - announce: "b" is not a multiaddr')
  })

  it('checks the membership predicate and the stranger grace period', () => {
    expect(() => { checkNodeConfig({ ...base(), membership: { isMember: () => true, onChange: () => () => {} }, strangerGraceMs: 500 }) }).not.toThrow()
    expect(() => { checkNodeConfig({ ...base(), membership: {} as never }) }).toThrow(/membership must have isMember/)
    expect(() => { checkNodeConfig({ ...base(), strangerGraceMs: -1 }) }).toThrow(/strangerGraceMs must be a non-negative number/)
  })

  it('accepts the sync service\'s gossip options, checked as durations', () => {
    expect(() => { checkNodeConfig({ ...base(), announceDelayMs: 5, gapPullDelayMs: 3_000 }) }).not.toThrow()
    expect(() => { checkNodeConfig({ ...base(), gapPullDelayMs: -1 }) }).toThrow(/gapPullDelayMs must be a non-negative number/)
  })

  it('refuses a store that is not a SyncStore', () => {
    expect(() => { checkNodeConfig({ ...base(), store: {} as never }) }).toThrow(/store must implement SyncStore/)
  })

  it('parses relay addresses into address and peer id', () => {
    const { addr, peerId } = parseRelayAddress(`/ip4/127.0.0.1/tcp/4001/p2p/${store.deviceId}`)
    expect(peerId.toString()).toBe(store.deviceId)
    expect(addr.toString()).toContain('/tcp/4001')
  })
})
