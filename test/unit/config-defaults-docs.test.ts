/**
 * Docs that show the defaults cannot import them, so this holds them to the
 * one table each binary has (CONFIG_DEFAULTS for the daemon,
 * RELAY_CONFIG_DEFAULTS for the relay): every key is documented, and the
 * value shown is the value the code uses. Change a default and this names
 * the page to update.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONFIG_DEFAULTS } from '../../src/daemon/config.js'
import { RELAY_CONFIG_DEFAULTS } from '../../relay/config.js'

const root = resolve(import.meta.dirname, '../..')
const read = (file: string): string => readFileSync(resolve(root, file), 'utf8')

/** Table rows `| keys | cells… |` whose first cell names config keys in backticks. */
function rows (markdown: string): Array<{ keys: string[], cells: string[] }> {
  return markdown.split('\n').filter(l => l.startsWith('| `')).map(l => {
    const cells = l.split(' | ').map(c => c.replace(/^\| |\s*\|$/g, ''))
    return { keys: [...cells[0]!.matchAll(/`(\w+)`/g)].map(m => m[1]!), cells: cells.slice(1) }
  })
}

/** The JSON values in backticks of a cell, in order (`30000`, `["/ip4/…"]`, `"info"`, `null`). */
const jsonValues = (cell: string): unknown[] => [...cell.matchAll(/`([^`]+)`/g)].flatMap(m => { try { return [JSON.parse(m[1]!)] } catch { return [] } })

describe('daemon config defaults in the docs', () => {
  const keys = Object.keys(CONFIG_DEFAULTS).filter(k => k !== 'deviceName') as Array<keyof typeof CONFIG_DEFAULTS>

  for (const file of ['docs/cli.md', 'README.md']) {
    it(`${file} shows each default as the code has it`, () => {
      const shown = new Map<string, unknown>()
      for (const { keys: rowKeys, cells } of rows(read(file))) {
        const values = jsonValues(cells[0] ?? '')
        if (values.length === rowKeys.length) rowKeys.forEach((k, i) => shown.set(k, values[i]))
        // `peers`, `relays`: one value for both keys.
        else if (values.length === 1) for (const k of rowKeys) shown.set(k, values[0])
      }
      for (const k of keys) expect(shown.has(k) ? shown.get(k) : `${k} not shown`, `${file}: ${k}`).toEqual(CONFIG_DEFAULTS[k])
    })
  }
})

describe('relay config defaults in relay/README.md', () => {
  it('shows each default as the code has it', () => {
    const shown = new Map(rows(read('relay/README.md')).filter(r => r.keys.length > 0 && r.cells.length >= 2).map(r => [r.keys[0]!, r.cells[1]!]))
    for (const [k, v] of Object.entries(RELAY_CONFIG_DEFAULTS) as Array<[string, unknown]>) {
      const cell = shown.get(k)
      expect(cell, `relay/README.md: ${k} not shown`).toBeDefined()
      const text = cell!.replaceAll('`', '')
      if (Array.isArray(v)) {
        if (v.length === 0) expect(text, k).toBe('none')
        else expect(text.split(', '), k).toEqual(v)
      } else {
        // The number (or word) first, an optional human unit in parentheses after it.
        expect(text.replace(/ \(.*\)$/, ''), k).toBe(String(v))
      }
    }
  })
})
