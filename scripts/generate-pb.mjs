#!/usr/bin/env node
/**
 * Generates the TypeScript codec of every .proto in src/ and relay/ with
 * protons, next to its .proto (pb/foo.proto -> pb/foo.ts), as js-libp2p's
 * packages do; the output is committed.
 *
 *   node scripts/generate-pb.mjs           regenerate in place (npm run generate)
 *   node scripts/generate-pb.mjs --check   regenerate into a temporary folder and fail, naming
 *                                          each file, if a committed codec differs
 *                                          (npm run check:generated)
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generate } from 'protons'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SOURCE_DIRS = ['src', 'relay']
// protons emits optional fields as `x?: T`, which exactOptionalPropertyTypes rejects in its own code.
const HEADER = '// @ts-nocheck: protons output does not satisfy exactOptionalPropertyTypes\n'

async function protoFiles () {
  const found = []
  for (const dir of SOURCE_DIRS) {
    for (const entry of await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.proto')) found.push(join(entry.parentPath ?? entry.path, entry.name))
    }
  }
  return found.sort()
}

/** Generates `proto` into `outDir` and returns the codec's text, header included. */
async function codec (proto, outDir) {
  await generate(proto, { output: outDir })
  const out = join(outDir, basename(proto, '.proto') + '.ts')
  return HEADER + await readFile(out, 'utf8')
}

const check = process.argv.includes('--check')
const protos = await protoFiles()
if (protos.length === 0) throw new Error(`no .proto files under ${SOURCE_DIRS.join(', ')}`)
const scratch = await mkdtemp(join(tmpdir(), 'weft-pb-'))
const stale = []
try {
  for (const proto of protos) {
    const target = join(dirname(proto), basename(proto, '.proto') + '.ts')
    const text = await codec(proto, await mkdtemp(join(scratch, 'out-')))
    if (check) {
      const committed = await readFile(target, 'utf8').catch(err => { if (err.code === 'ENOENT') return undefined; throw err })
      if (committed !== text) stale.push(`${relative(ROOT, target)} ${committed === undefined ? 'is missing' : 'differs from'} what protons generates from ${relative(ROOT, proto)}`)
    } else {
      await writeFile(target, text)
      console.log(`${relative(ROOT, proto)} -> ${relative(ROOT, target)}`)
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true })
}
if (stale.length > 0) {
  console.error(`generated protobuf code is out of date:\n${stale.map(s => `  ${s}`).join('\n')}\nrun \`npm run generate\` and commit the result`)
  process.exit(1)
}
if (check) console.log(`generated protobuf code is up to date (${protos.length} .proto files)`)
