/**
 * The runtime kit's logger: JSON lines off a TTY (journald, docker logs),
 * one readable line on a TTY, filtered by a level that can change at run
 * time. Written to a real stream.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger, isLevel, LEVELS } from '../../src/runtime/log.js'

/** A stream the logger writes to, and what it received, line by line. */
function sink (tty: boolean): { out: NodeJS.WriteStream, lines: () => string[] } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', c => { text += String(c) })
  Object.assign(stream, { isTTY: tty })
  return { out: stream as unknown as NodeJS.WriteStream, lines: () => text.split('\n').filter(l => l !== '') }
}

describe('runtime log', () => {
  it('writes one JSON object per line off a TTY, fields after time, level and msg', () => {
    const { out, lines } = sink(false)
    const log = createLogger('info', out)
    log('info', 'relay running', { peerId: 'p1', addresses: ['/ip4/127.0.0.1/tcp/1'] })
    const [line] = lines()
    const parsed = JSON.parse(line!) as Record<string, unknown>
    expect(Object.keys(parsed)).toEqual(['time', 'level', 'msg', 'peerId', 'addresses'])
    expect(parsed).toMatchObject({ level: 'info', msg: 'relay running', peerId: 'p1', addresses: ['/ip4/127.0.0.1/tcp/1'] })
    expect(new Date(parsed.time as string).toISOString()).toBe(parsed.time)
  })

  it('writes a readable line on a TTY: time of day, padded level, message, key=value fields', () => {
    const { out, lines } = sink(true)
    createLogger('debug', out)('warn', 'no announce addresses', { n: 2, name: 'a b', list: [1] })
    expect(lines()[0]).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} WARN {2}no announce addresses n=2 name=a b list=\[1\]$/)
  })

  it('drops events less severe than its level, which can change at run time', () => {
    const { out, lines } = sink(false)
    const log = createLogger('warn', out)
    for (const level of LEVELS) log(level, level)
    expect(lines().map(l => (JSON.parse(l) as { msg: string }).msg)).toEqual(['error', 'warn'])
    log.level = 'debug'
    log('debug', 'now shown')
    expect(lines()).toHaveLength(3)
  })

  it('knows its levels', () => {
    expect(LEVELS.map(isLevel)).toEqual([true, true, true, true])
    expect(['trace', 'INFO', '', 'toString', 3].map(isLevel)).toEqual([false, false, false, false, false])
  })
})
