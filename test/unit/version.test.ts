/** The version peers see in identify is the package's. */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { WEFT_RELAY_USER_AGENT, WEFT_USER_AGENT, WEFT_VERSION } from '../../src/version.js'

describe('WEFT_VERSION', () => {
  it('is package.json\'s version, and names the daemon and the relay apart', () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }
    expect(WEFT_VERSION).toBe(pkg.version)
    expect(WEFT_USER_AGENT).toBe(`weft/${pkg.version}`)
    expect(WEFT_RELAY_USER_AGENT).toBe(`weft-relay/${pkg.version}`)
  })
})
