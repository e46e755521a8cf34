/**
 * The daemon's periodic work: apply held ops the clock has reached, and say
 * in the log when the clock or the quarantine needs attention (once per
 * change, not every tick).
 */
import type { WeftError } from '../errors.js'
import type { DaemonContext } from './routes/context.js'
import { clockView, nameOf, peersHoldingOurs } from './views.js'

/** How often the daemon applies held ops the clock has reached, and checks its own clock. */
export const HOUSEKEEPING_INTERVAL_MS = 1000
/** Housekeeping ticks between looks at which peers hold our ops (while our HLC runs ahead). */
const PEER_HOLD_CHECK_TICKS = 15

export class Housekeeping {
  readonly #d: DaemonContext
  #clockWarned = false
  readonly #heldSeen = new Map<string, number>()
  #lastError: string | undefined
  #ticks = 0
  #holdingLogged = ''

  constructor (d: DaemonContext) { this.#d = d }

  tick (): void {
    const d = this.#d
    const r = d.replica
    try {
      const res = r.releaseHeld()
      if (res.applied > 0) d.log('info', 'applied ops that were held until this clock reached them', { applied: res.applied, rejected: res.rejected.length })
      const held = new Map(r.held().map(h => [h.deviceId, h]))
      for (const [device, h] of held) {
        if ((this.#heldSeen.get(device) ?? 0) < h.ops) {
          d.log('warn', 'holding ops stamped ahead of this clock beyond the drift bound; they apply once this clock reaches them', { device, name: nameOf(d, device), ops: h.ops, aheadSeconds: Math.round((h.firstMs - Date.now()) / 1000) })
        }
      }
      this.#heldSeen.clear()
      for (const [device, h] of held) this.#heldSeen.set(device, h.ops)
      const clock = clockView(d)
      if (!clock.ok && !this.#clockWarned) d.log('warn', clock.detail, { aheadSeconds: Math.round(clock.aheadMs / 1000) })
      else if (clock.ok && this.#clockWarned) d.log('info', 'this device\'s HLC is back within the drift bound of its wall clock')
      this.#clockWarned = !clock.ok
      // While our stamps run ahead, say which peers hold our ops (a look at the peers' vectors, now and then).
      const network = d.network
      if (!clock.ok && network !== undefined && ++this.#ticks % PEER_HOLD_CHECK_TICKS === 0) {
        void network.peers().then(peers => {
          const holding = peersHoldingOurs(d, peers).map(p => p.name ?? p.peer).sort().join(', ')
          if (holding !== '' && holding !== this.#holdingLogged) d.log('warn', 'peers hold this device\'s ops, stamped beyond the drift bound of their clocks, until their clocks reach them', { peers: holding })
          this.#holdingLogged = holding
        }).catch(() => {})
      }
      this.#lastError = undefined
    } catch (err) {
      // Once per distinct failure (a full disk would otherwise log every second).
      const message = (err as Error).message
      if (message !== this.#lastError) d.log('warn', `applying held ops failed: ${message}`, { code: (err as WeftError).code })
      this.#lastError = message
    }
  }
}
