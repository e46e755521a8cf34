import { describe, expect, it } from 'vitest'
import { dialFirst, pairingDialRank } from '../../src/net/members/pairing.js'

describe('the order in which a joiner tries an invite\'s addresses', () => {
  const relay = '/ip4/11.23.0.10/tcp/4001/p2p/12D3KooWPUSPE8aLnNzGo72TGxVBbSnNaUbSEuZBCdUrTrK8itm5/p2p-circuit'
  const lanTcp = '/ip4/192.168.1.20/tcp/4001'
  const lanUdx = '/ip4/192.168.1.20/udp/4001/udx'
  const publicUdx = '/ip4/11.23.2.22/udp/4001/udx'

  it('tries TCP first, then the relay, and UDX last (an unreachable UDX address only times out)', () => {
    const ordered = [lanUdx, relay, publicUdx, lanTcp].sort((a, b) => pairingDialRank(a) - pairingDialRank(b))
    expect(ordered).toEqual([lanTcp, relay, lanUdx, publicUdx])
  })

  it('keeps a circuit over a UDX hop to the relay with the circuits', () => {
    expect(pairingDialRank('/ip4/11.23.0.10/udp/4001/udx/p2p/12D3KooWPUSPE8aLnNzGo72TGxVBbSnNaUbSEuZBCdUrTrK8itm5/p2p-circuit')).toBe(pairingDialRank(relay))
  })
})

describe('dialFirst: staggered dials, first to connect wins (Happy Eyeballs)', () => {
  const never = new AbortController().signal
  /** An attempt that only ends when aborted, and says so. */
  const hang = (aborted: string[], name: string) => async (_: string, signal: AbortSignal): Promise<string> => await new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => { aborted.push(name); reject(new Error(`${name} aborted`)) }, { once: true })
  })

  it('starts the next address while the first hangs, takes the one that answers and aborts the rest', async () => {
    const aborted: string[] = []
    const started: string[] = []
    const result = await dialFirst(['silent', 'good', 'later'], async (c, signal) => {
      started.push(c)
      if (c === 'good') return 'connected via good'
      return await hang(aborted, c)(c, signal)
    }, { staggerMs: 20, signal: never })
    expect(result).toBe('connected via good')
    expect(started).toEqual(['silent', 'good'])
    expect(aborted).toEqual(['silent'])
  })

  it('starts the next address at once when one fails, without waiting out the stagger', async () => {
    const started: string[] = []
    const result = await dialFirst(['refused', 'good'], async c => {
      started.push(c)
      if (c === 'refused') throw new Error('ECONNREFUSED')
      return c
    }, { staggerMs: 3_600_000, signal: never })
    expect(result).toBe('good')
    expect(started).toEqual(['refused', 'good'])
  })

  it('rejects with every failure when no address answers', async () => {
    const err = await dialFirst(['a', 'b'], async c => { throw new Error(`${c} refused`) }, { staggerMs: 10, signal: never }).catch(e => e as AggregateError)
    expect(err).toBeInstanceOf(AggregateError)
    expect(err.errors.map((e: Error) => e.message)).toEqual(['a refused', 'b refused'])
  })

  it('gives up when the caller aborts, aborting the dials in flight', async () => {
    const aborted: string[] = []
    const controller = new AbortController()
    const pending = dialFirst(['a', 'b'], async (c, signal) => await hang(aborted, c)(c, signal), { staggerMs: 5, signal: controller.signal })
    await new Promise(resolve => setTimeout(resolve, 30))
    controller.abort(new Error('pairing cancelled'))
    await expect(pending).rejects.toThrow('pairing cancelled')
    expect(aborted.sort()).toEqual(['a', 'b'])
  })
})
