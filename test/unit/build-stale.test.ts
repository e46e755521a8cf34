/**
 * scripts/build.mjs decides from file times whether tsc must run (`npm start`,
 * `npm run build`): a project tree in a temp dir, its times set by hand.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { staleReason } from '../../scripts/build.mjs'

let root: string
const T0 = new Date('2026-01-01T00:00:00Z')
const BEFORE = new Date(T0.getTime() - 60_000)
const AFTER = new Date(T0.getTime() + 60_000)

function file (path: string, at: Date): void {
  const p = join(root, path)
  mkdirSync(dirname(p), { recursive: true })
  writeFileSync(p, '')
  utimesSync(p, at, at)
}
/** Folder times too: creating a file touched them. */
function age (path: string, at: Date): void { utimesSync(join(root, path), at, at) }

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'weft-build-stale-'))
  for (const f of ['src/cli/main.ts', 'relay/main.ts', 'test/unit/a.test.ts', 'bench/main.ts', 'tsconfig.json', 'package.json', 'node_modules/.package-lock.json', 'scripts/build.mjs']) file(f, BEFORE)
  for (const d of ['src/cli', 'src', 'relay', 'test/unit', 'test', 'bench', 'node_modules', 'scripts']) age(d, BEFORE)
  file('dist/src/bin/weft.js', T0)
  file('dist/src/bin/weft.cjs', T0)
  file('dist/relay/main.js', T0)
  file('dist/.build-stamp', T0)
})
afterEach(() => { rmSync(root, { recursive: true, force: true }) })

describe('staleReason', () => {
  it('is null when every input is older than the last finished build', () => {
    expect(staleReason(root)).toBeNull()
  })

  it('names the changed file: a source, a test, the config, a reinstall, the build script (it decides the CLI bundle)', () => {
    for (const f of ['src/cli/main.ts', 'test/unit/a.test.ts', 'tsconfig.json', 'node_modules/.package-lock.json', 'scripts/build.mjs']) {
      utimesSync(join(root, f), AFTER, AFTER)
      expect(staleReason(root)).toBe(`${f} changed`)
      utimesSync(join(root, f), BEFORE, BEFORE)
    }
  })

  it('counts a file saved in the same tick as the stamp as changed', () => {
    age('relay/main.ts', T0)
    expect(staleReason(root)).toBe('relay/main.ts changed')
  })

  it('sees a deleted source through its folder', () => {
    unlinkSync(join(root, 'src/cli/main.ts'))
    expect(staleReason(root)).toBe('src/cli changed')
  })

  it('builds when there is no stamp (tsc never finished) or a binary is missing', () => {
    unlinkSync(join(root, 'dist/.build-stamp'))
    expect(staleReason(root)).toBe('no record of a finished build')
    file('dist/.build-stamp', T0)
    unlinkSync(join(root, 'dist/relay/main.js'))
    expect(staleReason(root)).toBe('dist/relay/main.js is missing')
    file('dist/relay/main.js', T0)
    // tsc's output is there but the bundle users run is not (deleted, or the bundling failed).
    unlinkSync(join(root, 'dist/src/bin/weft.cjs'))
    expect(staleReason(root)).toBe('dist/src/bin/weft.cjs is missing')
  })
})
