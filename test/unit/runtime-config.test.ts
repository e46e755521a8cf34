/**
 * The runtime kit's config loading, on real files in a temp dir: defaults,
 * then the file, then the command line; every problem reported together,
 * each naming where it is and the key; unknown keys named; a size limit
 * applied before the file is read; a missing file is the defaults unless
 * required.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  checkObject, isBool, isInt, isLogLevel, isNonNegativeNumber, isStringList, loadJsonConfig, orNull, orUndefined, readJsonFile, type Checks
} from '../../src/runtime/config.js'

interface Example { port: number | null, verbose: boolean, names: string[], logLevel: string }
const DEFAULTS: Readonly<Example> = Object.freeze({ port: null, verbose: false, names: [], logLevel: 'info' })
const CHECKS: Checks<Example> = { port: orNull(isInt(1, 65535)), verbose: isBool, names: isStringList(2), logLevel: isLogLevel }

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'weft-runtime-config-')) })
afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

const load = (file: string | undefined, overrides: Record<string, unknown> = {}, required = false): ReturnType<typeof loadJsonConfig<Example>> =>
  loadJsonConfig({ file, required, maxBytes: 1024, defaults: DEFAULTS, checks: CHECKS, overrides })

describe('runtime config', () => {
  it('merges defaults, then the file, then the command line', () => {
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ port: 8080, verbose: true }))
    expect(load(file, { verbose: false, names: ['a'] })).toEqual({ config: { port: 8080, verbose: false, names: ['a'], logLevel: 'info' }, problems: [] })
  })

  it('treats a missing file as the defaults, unless required', () => {
    const file = join(dir, 'none.json')
    expect(load(file)).toEqual({ config: DEFAULTS, problems: [] })
    expect(load(undefined).problems).toEqual([])
    const { problems } = load(file, {}, true)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(new RegExp(`^${file}: cannot read \\(ENOENT`))
  })

  it('reports every problem of the file and the command line together, each naming where and which key', () => {
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ port: 0, verbose: 'yes', colour: 'red' }))
    expect(load(file, { names: ['a', 'b', 'c'], logLevel: 'loud' }).problems).toEqual([
      `${file}: port must be an integer from 1 to 65535`,
      `${file}: verbose must be true or false`,
      `${file}: unknown key "colour" (known: port, verbose, names, logLevel)`,
      'command line: names must be a list of at most 2 non-empty strings',
      'command line: logLevel must be one of error, warn, info, debug'
    ])
  })

  it('does not take keys from Object.prototype for checks', () => {
    expect(checkObject({ toString: 1, constructor: 2 }, 'here', CHECKS)).toEqual([
      'here: unknown key "toString" (known: port, verbose, names, logLevel)',
      'here: unknown key "constructor" (known: port, verbose, names, logLevel)'
    ])
  })

  it('refuses a file over the size limit without parsing it', () => {
    const file = join(dir, 'big.json')
    writeFileSync(file, `{"names": ["${'x'.repeat(2000)}"]}`)
    expect(readJsonFile(file, 1024)).toEqual({ value: {}, problems: [`${file}: ${2000 + 15} bytes, over the 1024-byte limit`] })
  })

  it('names a file that is not JSON, or not an object', () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{ port: 1 }')
    expect(load(bad).problems[0]).toMatch(new RegExp(`^${bad}: not valid JSON \\(`))
    const list = join(dir, 'list.json')
    writeFileSync(list, '[1, 2]')
    expect(load(list).problems).toEqual([`${list}: must be a JSON object`])
  })

  it('checks each kind of value', () => {
    expect([1, 65535, null].map(orNull(isInt(1, 65535)))).toEqual([undefined, undefined, undefined])
    expect([0, 1.5, '80', 65536].map(isInt(1, 65535)).every(p => p === 'must be an integer from 1 to 65535')).toBe(true)
    expect(isStringList(3)(['a', ''])).toBe('must be a list of at most 3 non-empty strings')
    expect(isStringList(3)(['x'.repeat(513)])).toBeDefined()
    expect(['error', 'warn', 'info', 'debug'].map(isLogLevel)).toEqual([undefined, undefined, undefined, undefined])
    expect([0, 1.5, 1e9].map(isNonNegativeNumber)).toEqual([undefined, undefined, undefined])
    expect([-1, Number.NaN, Infinity, '5', null].map(isNonNegativeNumber).every(p => p === 'must be a non-negative number')).toBe(true)
    expect([undefined, true].map(orUndefined(isBool))).toEqual([undefined, undefined])
    expect([null, 'yes'].map(orUndefined(isBool))).toEqual(['must be true or false', 'must be true or false'])
  })
})
