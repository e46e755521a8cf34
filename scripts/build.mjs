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
 * After tsc, the `weft` binary users run is bundled from tsc's output (see
 * bundleCli); the stamp waits for the bundle too.
 *
 *   node scripts/build.mjs [--force]
 */
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const STAMP = 'dist/.build-stamp'
/** The `weft` binary as tsc builds it (an ES module), which the bundle starts from. */
const CLI_ENTRY = 'dist/src/bin/weft.js'
/** The `weft` binary users run (package.json `bin`): the CLI bundled into one CommonJS file. */
export const CLI_BUNDLE = 'dist/src/bin/weft.cjs'
/**
 * What the build reads: what tsc reads (tsconfig.json's `include`, the
 * config, the installed dependencies) and this script, which decides how the
 * CLI is bundled.
 */
const INPUTS = ['src', 'relay', 'bench', 'test', 'lab', 'tsconfig.json', 'package.json', 'node_modules/.package-lock.json', 'scripts/build.mjs']
/** What must exist after a build: the binaries, and tsc's form of weft's that the bundle is made from. */
const OUTPUTS = [CLI_ENTRY, CLI_BUNDLE, 'dist/relay/main.js']

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
 * Bundles the `weft` binary from tsc's output into CLI_BUNDLE: the binary,
 * the CLI and the control API client, the light path of every command, in
 * one CommonJS file. A `weft get` is mostly Node's own start plus loading
 * the CLI, and Node 20 loads one CommonJS file faster than a tree of a dozen
 * ES modules, which go through its ES module loader (`npm run bench:cli`).
 *
 * The daemon's entry point (src/daemon/main.ts, with libp2p and
 * better-sqlite3 behind it) stays out: the bundle loads tsc's ES module of it
 * with `import()`, relative to its own path, only for the commands that host
 * the daemon or open its data dir. The modules the CLI loads lazily
 * (`weft init`, `weft service`) go in the bundle, still evaluated only when
 * those commands run. The bundle may import nothing but Node's built-ins and
 * that entry point, and contain nothing from node_modules: the build fails
 * otherwise, so a package the CLI starts to import cannot slow every call
 * unnoticed.
 */
export async function bundleCli (root = ROOT) {
  let rolldown
  try {
    ({ rolldown } = await import('rolldown'))
  } catch (err) {
    throw new Error(`cannot bundle the CLI: rolldown does not load (${err.message}); run npm install first`)
  }
  const daemonEntry = /(?:^|\/)daemon\/main\.js$/
  const bundle = await rolldown({ input: join(root, CLI_ENTRY), platform: 'node', external: [daemonEntry, /^node:/] })
  try {
    const { output } = await bundle.generate({ format: 'cjs', codeSplitting: false })
    const [chunk, ...more] = output
    if (chunk?.type !== 'chunk' || more.length > 0) throw new Error(`bundling the CLI gave ${output.length} files, expected one`)
    const foreign = chunk.moduleIds.filter(id => !id.startsWith('\0') && (!id.startsWith(join(root, 'dist/src') + '/') || id.includes('/node_modules/')))
    if (foreign.length > 0) throw new Error(`the CLI bundle would contain modules from outside dist/src: ${foreign.join(', ')}`)
    // The modules imported lazily are in the chunk itself, which lists itself among its dynamic imports.
    const imports = [...chunk.imports, ...chunk.dynamicImports].filter(i => i !== chunk.fileName && !i.startsWith('node:') && !daemonEntry.test(i))
    if (imports.length > 0) throw new Error(`the CLI bundle would import ${imports.join(', ')}: it may import only node: built-ins and the daemon's entry point`)
    // Written aside and renamed: a `weft` running meanwhile never reads half a file.
    const file = join(root, CLI_BUNDLE)
    writeFileSync(`${file}.next`, chunk.code)
    chmodSync(`${file}.next`, 0o755)
    renameSync(`${file}.next`, file)
  } finally {
    await bundle.close()
  }
}

/**
 * Starts tsc over the whole project, then bundles the CLI; `done` resolves
 * with tsc's exit code (null when a signal ended it), or 1 when the bundle
 * failed. The stamp moves into place only when both succeeded.
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
      if (code !== 0) { resolve(code); return }
      bundleCli().then(() => {
        renameSync(`${stamp}.next`, stamp)
        resolve(0)
      }, err => {
        process.stderr.write(`build: ${err.message}\n`)
        resolve(1)
      })
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
