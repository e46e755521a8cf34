/**
 * The structured logger both binaries use (the daemon and `weft-relay`): one
 * line per event on stderr, human-readable on a TTY and JSON lines otherwise
 * (journald, docker logs, log shippers), filtered by level. libp2p's own
 * debug logs stay behind `DEBUG=libp2p:*,weft:*`.
 */

/** Log levels, most severe first. */
export type Level = 'error' | 'warn' | 'info' | 'debug'

/** Every level, most severe first (config checks list them in this order). */
export const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug']

const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export interface Logger {
  (level: Level, msg: string, fields?: Record<string, unknown>): void
  /** Events less severe than this are dropped; may be changed at run time. */
  level: Level
}

/** True when `v` names a level. */
export function isLevel (v: unknown): v is Level {
  return typeof v === 'string' && Object.hasOwn(ORDER, v)
}

export function createLogger (level: Level, out: NodeJS.WriteStream = process.stderr): Logger {
  const tty = out.isTTY === true
  const log = ((lvl: Level, msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] > ORDER[log.level]) return
    const time = new Date().toISOString()
    if (tty) {
      const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
      out.write(`${time.slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra === '' ? '' : ' ' + extra}\n`)
    } else {
      out.write(JSON.stringify({ time, level: lvl, msg, ...fields }) + '\n')
    }
  }) as Logger
  log.level = level
  return log
}
