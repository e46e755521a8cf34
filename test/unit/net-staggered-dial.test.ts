/**
 * The staggered race the member dialer runs over a member's addresses, with
 * fake dials: the best candidate alone when it answers, the next one after
 * the stagger when it does not, at once when it fails; a late winner is
 * handed back to be dropped; failures are reported, aborted dials are not.
 */
import { describe, expect, it } from 'vitest'
import { AllDialsFailedError, staggeredDial } from '../../src/net/nat/staggered-dial.js'

type Plan = { after: number, ok: boolean } | 'hang'

function fake (plans: Record<string, Plan>): { dial: (c: string, signal: AbortSignal) => Promise<string>, started: string[], aborted: string[] } {
  const started: string[] = []
  const aborted: string[] = []
  const dial = async (c: string, signal: AbortSignal): Promise<string> => {
    started.push(c)
    const plan = plans[c]!
    return await new Promise<string>((resolve, reject) => {
      const onAbort = (): void => { aborted.push(c); reject(new Error(`${c} aborted`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      if (plan === 'hang') return
      setTimeout(() => {
        signal.removeEventListener('abort', onAbort)
        if (plan.ok) resolve(`conn-${c}`)
        else reject(new Error(`${c} refused`))
      }, plan.after)
    })
  }
  return { dial, started, aborted }
}

const base = { staggerMs: 100, maxParallel: 3, candidateTimeoutMs: 2_000, deadlineMs: 5_000 }

describe('staggeredDial', () => {
  it('dials only the first candidate when it answers within the stagger', async () => {
    const f = fake({ a: { after: 10, ok: true }, b: { after: 10, ok: true } })
    const r = await staggeredDial({ ...base, candidates: ['a', 'b'], dial: f.dial })
    expect(r).toEqual({ winner: 'a', result: 'conn-a' })
    expect(f.started).toEqual(['a'])
  })

  it('starts the next candidate after the stagger when the first hangs, and aborts the hanging one when it wins', async () => {
    const f = fake({ a: 'hang', b: { after: 10, ok: true } })
    const failures: string[] = []
    const r = await staggeredDial({ ...base, candidates: ['a', 'b'], dial: f.dial, onFailure: c => { failures.push(c) } })
    expect(r.winner).toBe('b')
    expect(f.aborted).toEqual(['a'])
    // aborted because another won: not a failure of the address
    expect(failures).toEqual([])
  })

  it('starts the next candidate at once when one fails, reporting the failure', async () => {
    const f = fake({ a: { after: 1, ok: false }, b: { after: 1, ok: true } })
    const failures: Array<[string, boolean]> = []
    // a stagger longer than the test's timeout: only a's failure can start b
    const r = await staggeredDial({ ...base, staggerMs: 600_000, deadlineMs: 600_000, candidates: ['a', 'b'], dial: f.dial, onFailure: (c, _e, timedOut) => { failures.push([c, timedOut]) } })
    expect(r.winner).toBe('b')
    expect(failures).toEqual([['a', false]])
  })

  it('reports a candidate that times out, and rejects once every candidate failed', async () => {
    const f = fake({ a: 'hang', b: { after: 5, ok: false } })
    const failures: Array<[string, boolean]> = []
    const err = await staggeredDial({ ...base, candidateTimeoutMs: 200, candidates: ['a', 'b'], dial: f.dial, onFailure: (c, _e, timedOut) => { failures.push([c, timedOut]) } }).catch(e => e)
    expect(err).toBeInstanceOf(AllDialsFailedError)
    expect(err.why).toBe('failed')
    expect(failures.sort()).toEqual([['a', true], ['b', false]])
  })

  it('gives up at the deadline, and hands a late success back to be dropped', async () => {
    const f = fake({ a: 'hang', b: 'hang' })
    const err = await staggeredDial({ ...base, deadlineMs: 300, candidates: ['a', 'b'], dial: f.dial }).catch(e => e)
    expect(err.why).toBe('deadline')

    // a dial that completes whatever the signal says (a handshake already past the point of no return)
    const stubborn = async (c: string): Promise<string> => await new Promise(resolve => setTimeout(() => { resolve(`conn-${c}`) }, c === 'a' ? 150 : 10))
    const late: string[] = []
    const r = await staggeredDial({ ...base, staggerMs: 20, candidates: ['a', 'b'], dial: stubborn, onLate: (c, res) => { late.push(`${c}:${res}`) } })
    expect(r.winner).toBe('b')
    await new Promise(resolve => setTimeout(resolve, 250))
    expect(late).toEqual(['a:conn-a'])
  })

  it('refuses an empty list and stops when the caller aborts', async () => {
    await expect(staggeredDial({ ...base, candidates: [], dial: async () => 'x' })).rejects.toThrow(AllDialsFailedError)
    const ctrl = new AbortController()
    const f = fake({ a: 'hang' })
    const p = staggeredDial({ ...base, candidates: ['a'], dial: f.dial, signal: ctrl.signal })
    ctrl.abort()
    const err = await p.catch(e => e)
    expect(err.why).toBe('aborted')
  })
})
