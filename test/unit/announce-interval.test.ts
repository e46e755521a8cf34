import { describe, expect, it } from 'vitest'
import { announceInterval } from '../../src/net/sync/announcer.js'
import { DEFAULT_ANNOUNCE_INTERVAL_PER_RECIPIENT_MS, DEFAULT_ANNOUNCE_MAX_INTERVAL_MS, DEFAULT_ANNOUNCE_MIN_INTERVAL_MS } from '../../src/net/constants.js'

const defaults = {
  minMs: DEFAULT_ANNOUNCE_MIN_INTERVAL_MS,
  perRecipientMs: DEFAULT_ANNOUNCE_INTERVAL_PER_RECIPIENT_MS,
  maxMs: DEFAULT_ANNOUNCE_MAX_INTERVAL_MS
}

describe('announceInterval', () => {
  it('is the minimum for small groups, grows with the recipients, and stops at the maximum', () => {
    expect([0, 1, 2, 4].map(r => announceInterval(r, defaults))).toEqual([100, 100, 100, 100])
    expect(announceInterval(6, defaults)).toBe(150)
    expect([8, 9, 19, 1000].map(r => announceInterval(r, defaults))).toEqual([200, 200, 200, 200])
  })

  it('never goes below a minimum set above the maximum', () => {
    expect(announceInterval(9, { minMs: 60_000, perRecipientMs: 25, maxMs: 200 })).toBe(60_000)
  })
})
