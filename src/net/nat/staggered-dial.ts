/**
 * Dials a list of candidates staggered (Happy Eyeballs, RFC 8305 in spirit):
 * the first at once, the next after `staggerMs` or as soon as one fails, at
 * most `maxParallel` at a time; the first connection wins and the others are
 * aborted. Each candidate has its own timeout and the whole race a deadline.
 *
 * The member dialer orders its candidates best first, so a good address is
 * never kept waiting by a dead one ahead of it for more than `staggerMs`.
 */
import { deadline, linkSignals } from '../../runtime/deadline.js'

export interface StaggeredDialOptions<C, T> {
  readonly candidates: readonly C[]
  /** Dials one candidate; must honour `signal`. */
  dial(candidate: C, signal: AbortSignal): Promise<T>
  /** Called for a candidate that failed on its own (not one aborted because another won or the race ended). */
  onFailure?(candidate: C, err: Error, timedOut: boolean): void
  /** Called for a candidate that connected after another had already won; the winner is returned, this one is the caller's to drop. */
  onLate?(candidate: C, result: T): void
  readonly staggerMs: number
  readonly maxParallel: number
  readonly candidateTimeoutMs: number
  readonly deadlineMs: number
  /** Aborting ends the race (node shutdown). */
  readonly signal?: AbortSignal
}

export interface StaggeredDialResult<C, T> {
  readonly winner: C
  readonly result: T
}

/** Why a race ended without a winner. */
export class AllDialsFailedError extends Error {
  static override name = 'AllDialsFailedError'
  /** 'failed': every candidate failed; 'deadline': time ran out; 'aborted': the caller's signal. */
  readonly why: 'failed' | 'deadline' | 'aborted'
  constructor (why: 'failed' | 'deadline' | 'aborted') {
    super(why === 'failed' ? 'every address failed' : why === 'deadline' ? 'no address answered in time' : 'the dial was cancelled')
    this.why = why
  }
}

export async function staggeredDial<C, T> (o: StaggeredDialOptions<C, T>): Promise<StaggeredDialResult<C, T>> {
  if (o.candidates.length === 0) throw new AllDialsFailedError('failed')
  const limit = deadline(o.deadlineMs, o.signal)
  const won = new AbortController()
  const all = linkSignals(won.signal, limit.signal)
  return await new Promise<StaggeredDialResult<C, T>>((resolve, reject) => {
    let next = 0
    let running = 0
    let settled = false
    const finish = (err?: Error, win?: StaggeredDialResult<C, T>): void => {
      if (settled) return
      settled = true
      clearInterval(stagger)
      limit.signal.removeEventListener('abort', onDeadline)
      won.abort()
      all.clear()
      limit.clear()
      if (win !== undefined) resolve(win)
      else reject(err)
    }
    const onDeadline = (): void => { finish(new AllDialsFailedError(o.signal?.aborted === true ? 'aborted' : 'deadline')) }
    limit.signal.addEventListener('abort', onDeadline, { once: true })
    const launch = (): void => {
      if (settled || next >= o.candidates.length) return
      const candidate = o.candidates[next++]!
      running++
      const own = deadline(o.candidateTimeoutMs, all.signal)
      o.dial(candidate, own.signal).then(result => {
        own.clear()
        running--
        if (settled) { o.onLate?.(candidate, result); return }
        finish(undefined, { winner: candidate, result })
      }, (err: Error) => {
        own.clear()
        running--
        if (!all.signal.aborted) o.onFailure?.(candidate, err, own.signal.aborted)
        if (settled) return
        if (next < o.candidates.length) launch()
        else if (running === 0) finish(new AllDialsFailedError('failed'))
      })
    }
    const stagger = setInterval(() => { if (running < o.maxParallel) launch() }, o.staggerMs)
    launch()
  })
}
