/**
 * `weft --version` and `weft-relay --version` print the package's version and
 * exit 0 (what `npm run check:install` runs from a global install, and what a
 * user runs to see which weft is on the PATH).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI } from '../helpers/daemon.js'
import { RELAY_BIN } from '../helpers/relay-process.js'

const VERSION = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version
const run = (bin: string, args: string[]): { status: number | null, stdout: string } => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stdout: r.stdout }
}

describe('--version', () => {
  it('weft prints the package version, in JSON with --json', () => {
    for (const flag of ['--version', '-V', 'version']) expect(run(CLI, [flag])).toEqual({ status: 0, stdout: `${VERSION}\n` })
    expect(JSON.parse(run(CLI, ['--version', '--json']).stdout)).toEqual({ version: VERSION })
  })

  it('weft-relay prints the package version', () => {
    for (const flag of ['--version', '-V', 'version']) expect(run(RELAY_BIN, [flag])).toEqual({ status: 0, stdout: `${VERSION}\n` })
  })
})
