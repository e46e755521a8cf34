/**
 * A progress bar for long syncs, on a TTY only: ops held here against what
 * the peers' version vectors say exists (their vectors merged with ours).
 * Shown only once a sync has taken more than a couple of seconds.
 */
import type { PeerView, StatusResponse } from '../daemon/api-types.js'
import { call } from './client.js'

const SHOW_AFTER_MS = 2_000
const POLL_MS = 300
const WIDTH = 30

async function counts (socket: string): Promise<{ have: number, expected: number }> {
  const s = await call<StatusResponse>(socket, 'GET', '/v1/status', { timeoutMs: 5_000 })
  const merged = new Map(Object.entries(s.vector))
  for (const p of s.peers) for (const [o, n] of Object.entries(p.theirVector)) merged.set(o, Math.max(n, merged.get(o) ?? 0))
  let have = 0
  let expected = 0
  for (const [o, n] of merged) { expected += n; have += s.vector[o] ?? 0 }
  return { have, expected }
}

/** Runs `work`, drawing progress on stderr while it lasts (TTY only). */
export async function withProgress<T> (socket: string, work: Promise<T>): Promise<T> {
  if (process.stderr.isTTY !== true) return await work
  const started = Date.now()
  let done = false
  let drawn = false
  const draw = async (): Promise<void> => {
    while (!done) {
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
      if (done || Date.now() - started < SHOW_AFTER_MS) continue
      try {
        const { have, expected } = await counts(socket)
        const frac = expected === 0 ? 1 : Math.min(1, have / expected)
        const bar = '#'.repeat(Math.round(frac * WIDTH)).padEnd(WIDTH, '.')
        if (!done) { process.stderr.write(`\r[${bar}] ${have.toLocaleString('en-US')} / ${expected.toLocaleString('en-US')} ops`); drawn = true }
      } catch { /* the daemon is busy; try again */ }
    }
  }
  const drawing = draw()
  try {
    return await work
  } finally {
    done = true
    await drawing
    if (drawn) process.stderr.write('\n')
  }
}

/** After a join: waits (bounded) until this device holds what its peers announced, with progress. */
export async function waitForInitialSync (socket: string, timeoutMs = 10 * 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  const wait = (async () => {
    let seenPeer = false
    while (Date.now() < until) {
      const { have, expected } = await counts(socket)
      const s = await call<PeerView[]>(socket, 'GET', '/v1/peers', { timeoutMs: 5_000 })
      if (s.some(p => p.lastSync !== undefined && p.lastSync !== null)) seenPeer = true
      if (seenPeer && have >= expected) return
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  })()
  await withProgress(socket, wait)
}
