#!/usr/bin/env node
/**
 * `npm run build` (also `prepare`, `npm test`, the benches and `npm start`):
 * compile with tsc only when something tsc reads changed since the last
 * successful build. A full tsc run takes 25 to 50 s on two shared cores and
 * `tsc --incremental` still takes about 10 s to find that nothing changed,
 * while comparing modification times takes milliseconds.
 *
 * The stamp `dist/.build-stamp` is created just before tsc starts and kept
 * only when tsc succeeds, so its modification time is the moment the sources
 * were read: a file saved during a build is newer than the stamp and triggers
 * the next build. Both sides are file times set by the same kernel clock.
 * The inputs are what tsconfig.json includes, the config itself, and npm's
 * record of node_modules (rewritten on every install, so a dependency upgrade
 * rebuilds too). A deleted file changes its folder's time, so it counts.
 *
 *   node scripts/build.mjs [--force]
 */
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const STAMP = 'dist/.build-stamp'
/** What tsc reads (tsconfig.json's `include`, the config, the installed dependencies). */
const INPUTS = ['src', 'relay', 'bench', 'test', 'lab', 'tsconfig.json', 'package.json', 'node_modules/.package-lock.json']
/** What must exist after a build: the two binaries. */
const OUTPUTS = ['dist/src/bin/weft.js', 'dist/relay/main.js']

/** The newest modification under `path` (the path itself included), or null when it does not exist. */
function newest (path) {
  let st
  try { st = lstatSync(path) } catch (err) { if (err.code === 'ENOENT') return null; throw err }
  let best = { path, mtimeMs: st.mtimeMs }
  if (st.isDirectory()) {
    for (const name of readdirSync(path)) {
      const n = newest(join(path, name))
      if (n !== null && n.mtimeMs > best.mtimeMs) best = n
    }
  }
  return best
}

/** Why a build of the project at `root` is needed, or null when its dist/ is up to date. */
export function staleReason (root = ROOT) {
  const missing = OUTPUTS.find(o => !existsSync(join(root, o)))
  if (missing !== undefined) return `${missing} is missing`
  let stampMs
  try { stampMs = statSync(join(root, STAMP)).mtimeMs } catch { return 'no record of a finished build' }
  for (const input of INPUTS) {
    const n = newest(join(root, input))
    // Equal times count as changed: the kernel's file clock is coarse, and a
    // file saved in the same tick as the stamp may have been saved after it.
    if (n !== null && n.mtimeMs >= stampMs) return `${relative(root, n.path)} changed`
  }
  return null
}

/**
 * Starts tsc over the whole project; `done` resolves with its exit code
 * (null when a signal ended it). The stamp moves into place only on success.
 */
export function startBuild () {
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    throw new Error('cannot build: TypeScript is not installed (run npm install first)')
  }
  const stamp = join(ROOT, STAMP)
  mkdirSync(dirname(stamp), { recursive: true })
  writeFileSync(`${stamp}.next`, 'the modification time of this file is when the last successful build read the sources\n')
  const child = spawn(process.execPath, [tsc, '-p', ROOT], { stdio: 'inherit' })
  const done = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', code => {
      if (code === 0) renameSync(`${stamp}.next`, stamp)
      resolve(code)
    })
  })
  return { child, done }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--force') || staleReason() !== null) {
    const code = await startBuild().done
    process.exitCode = code ?? 1
  }
}
