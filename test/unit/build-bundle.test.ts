/**
 * scripts/build.mjs's bundling of the `weft` binary, on small project trees
 * in a temp dir standing in for tsc's output: what it writes runs as
 * CommonJS, loads the daemon's entry point from beside itself, and the build
 * refuses a bundle that would carry a package from node_modules or import
 * anything but Node's built-ins and that entry point.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { bundleCli, CLI_BUNDLE } from '../../scripts/build.mjs'

let root: string

function file (path: string, text: string): void {
  const p = join(root, path)
  mkdirSync(dirname(p), { recursive: true })
  writeFileSync(p, text)
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'weft-build-bundle-'))
  file('package.json', '{ "type": "module" }\n')
  file('dist/src/daemon/main.js', 'export const where = "the daemon entry beside the bundle"\n')
  file('dist/src/cli/main.js', [
    'import { dirname } from "node:path"',
    'import { fileURLToPath } from "node:url"',
    'export const here = () => dirname(fileURLToPath(import.meta.url))',
    'export async function main (load) { return (await load()).where }'
  ].join('\n'))
})
afterEach(() => { rmSync(root, { recursive: true, force: true }) })

describe('bundleCli', () => {
  it('writes one executable CommonJS file that finds its own path and imports the daemon entry from beside itself', async () => {
    file('dist/src/bin/weft.js', [
      '#!/usr/bin/env node',
      'import { here, main } from "../cli/main.js"',
      'void main(async () => await import("../daemon/main.js")).then(w => { process.stdout.write(here() + "|" + w) })'
    ].join('\n'))
    await bundleCli(root)
    const bundle = join(root, CLI_BUNDLE)
    expect(statSync(bundle).mode & 0o111).toBe(0o111)
    // The ES module sources stay where they are; run the bundle from elsewhere to be sure it loads as CommonJS on its own.
    const r = spawnSync(process.execPath, [bundle], { encoding: 'utf8', cwd: tmpdir() })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe(`${join(root, 'dist/src/bin')}|the daemon entry beside the bundle`)
  })

  it('refuses a package from node_modules in the bundle', async () => {
    file('node_modules/left-pad/package.json', '{ "name": "left-pad", "type": "module", "main": "index.js" }\n')
    file('node_modules/left-pad/index.js', 'export default s => s\n')
    file('dist/src/bin/weft.js', 'import pad from "left-pad"\nprocess.stdout.write(pad("x"))\n')
    await expect(bundleCli(root)).rejects.toThrow(/modules from outside dist\/src: .*node_modules\/left-pad/)
  })

  it('refuses an import it would leave to run time, other than node: built-ins and the daemon entry', async () => {
    // What rolldown cannot resolve it leaves as an import (with a warning), to fail at run time.
    file('dist/src/bin/weft.js', 'import("node:fs")\nimport("../daemon/main.js")\nimport("some-package-that-is-not-installed")\n')
    await expect(bundleCli(root)).rejects.toThrow(/would import some-package-that-is-not-installed: it may import only/)
  })
})
