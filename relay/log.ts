/**
 * Relay logs: one line per event on stderr, JSON lines when stderr is not a
 * TTY (journald, docker logs), filtered by level. libp2p's own debug logs
 * stay behind `DEBUG=libp2p:*,weft:*`.
 */
import type { LogLevel } from './config.js'

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export type RelayLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void

export function createRelayLog (level: LogLevel, out: NodeJS.WriteStream = process.stderr): RelayLog {
  const tty = out.isTTY === true
  return (lvl, msg, fields = {}) => {
    if (ORDER[lvl] > ORDER[level]) return
    const time = new Date().toISOString()
    if (tty) {
      const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
      out.write(`${time.slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra === '' ? '' : ' ' + extra}\n`)
    } else {
      out.write(JSON.stringify({ time, level: lvl, msg, ...fields }) + '\n')
    }
  }
}
