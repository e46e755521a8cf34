/**
 * The layering in eslint.config.js refuses what it should and allows what it
 * should: each boundary is probed with an import that crosses it (static,
 * re-export and dynamic) and one that does not, through the real ESLint and
 * the repo's own config. The known exceptions are allowed only for the file
 * and specifier they name, and each must still be in its file, so the list
 * shrinks as the code moves.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ESLint } from 'eslint'
import { beforeAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const BOUNDARY_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax'])

interface KnownException { layer: string, file: string, imports: string[], todo: string }

let eslint: ESLint

/** The boundary findings for `code` linted as if it were `file`. */
async function crossings (file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, file) })
  if (result === undefined) throw new Error(`no lint result for ${file}`)
  const fatal = result.messages.find(m => m.fatal === true)
  if (fatal !== undefined) throw new Error(`${file}: ${fatal.message}`)
  return result.messages.filter(m => BOUNDARY_RULES.has(m.ruleId ?? '')).map(m => m.message)
}

const importOf = (specifier: string): string => `import { x } from '${specifier}'\nexport const y = x\n`

beforeAll(() => { eslint = new ESLint({ cwd: root }) })

describe('import boundaries', () => {
  const refused: Array<[string, string]> = [
    ['src/hlc/probe.ts', '../oplog/op.js'],
    ['src/hlc/probe.ts', '../store/replica.js'],
    ['src/oplog/probe.ts', '../merge/index.js'],
    ['src/merge/probe.ts', '../protocol/index.js'],
    ['src/protocol/probe.ts', '../store/replica.js'],
    ['src/protocol/probe.ts', '../net/index.js'],
    ['src/protocol/probe.ts', '../auth/index.js'],
    ['src/protocol/probe.ts', 'node:fs'],
    ['src/protocol/probe.ts', 'node:net'],
    ['src/protocol/probe.ts', 'child_process'],
    ['src/protocol/probe.ts', '@libp2p/interface'],
    ['src/protocol/probe.ts', 'better-sqlite3'],
    ['src/store/probe.ts', '../net/index.js'],
    ['src/store/tables/probe.ts', '../../daemon/daemon.js'],
    ['src/net/probe.ts', '../store/replica.js'],
    ['src/net/probe.ts', '../../relay/auth/client.js'],
    ['src/auth/probe.ts', '../store/replica.js'],
    ['src/udx/probe.ts', '../net/index.js'],
    ['src/daemon/probe.ts', '../../relay/auth/client.js'],
    ['src/daemon/probe.ts', '../cli/main.js'],
    ['src/daemon/probe.ts', '../bin/weft.js'],
    ['src/bin/probe.ts', '../store/replica.js'],
    ['src/bin/probe.ts', '../daemon/daemon.js'],
    ['src/bin/probe.ts', '../cli/client.js'],
    ['src/cli/probe.ts', '../store/replica.js'],
    ['src/cli/probe.ts', '../daemon/daemon.js'],
    ['src/cli/probe.ts', '../net/index.js'],
    ['src/cli/probe.ts', 'libp2p'],
    ['src/index.ts', './daemon/daemon.js'],
    ['relay/probe.ts', '../src/store/replica.js'],
    ['relay/auth/probe.ts', '../../src/daemon/daemon.js'],
    ['relay/probe.ts', '../src/protocol/index.js'],
    ['bench/probe.ts', '../test/lab/lab.js'],
    // The runtime kit is a leaf: node built-ins and errors.ts, nothing else of weft.
    ['src/runtime/probe.ts', '../store/replica.js'],
    ['src/runtime/probe.ts', '../daemon/config.js'],
    ['src/runtime/probe.ts', '../net/constants.js'],
    ['src/runtime/probe.ts', '../hlc/index.js'],
    ['src/runtime/probe.ts', '../../relay/config.js'],
    ['src/runtime/probe.ts', 'libp2p'],
    // The pure core uses only its pure deadline helper; the rest does I/O.
    ['src/protocol/probe.ts', '../runtime/log.js'],
    ['src/protocol/probe.ts', '../runtime/key-file.js'],
    ['src/hlc/probe.ts', '../runtime/deadline.js'],
    ['src/oplog/probe.ts', '../runtime/config.js'],
    ['src/merge/probe.ts', '../runtime/process.js'],
    // The CLI takes only the process shell, not the daemon's config or logger.
    ['src/cli/probe.ts', '../runtime/config.js']
  ]
  it.each(refused)('refuses %s importing %s', async (file, specifier) => {
    expect(await crossings(file, importOf(specifier))).toHaveLength(1)
  })

  const allowed: Array<[string, string]> = [
    ['src/hlc/probe.ts', '../errors.js'],
    ['src/oplog/probe.ts', '../hlc/index.js'],
    ['src/merge/probe.ts', '../oplog/op.js'],
    ['src/protocol/probe.ts', '../oplog/op.js'],
    ['src/protocol/probe.ts', './port.js'],
    ['src/protocol/probe.ts', 'node:zlib'],
    ['src/protocol/probe.ts', 'protons-runtime'],
    ['src/store/tables/probe.ts', '../sqlite.js'],
    ['src/store/probe.ts', '../protocol/port.js'],
    ['src/net/probe.ts', '../protocol/index.js'],
    ['src/daemon/probe.ts', '../store/replica.js'],
    ['src/daemon/probe.ts', '../net/index.js'],
    ['src/cli/probe.ts', './client.js'],
    ['src/cli/probe.ts', '../errors.js'],
    ['src/cli/probe.ts', '../daemon/paths.js'],
    ['src/cli/probe.ts', '../daemon/api-types.js'],
    ['src/bin/probe.ts', '../cli/main.js'],
    ['src/bin/probe.ts', '../daemon/main.js'],
    ['src/cli/probe.ts', 'node:http'],
    ['relay/probe.ts', '../src/auth/chain.js'],
    ['relay/probe.ts', '../src/udx/index.js'],
    ['src/index.ts', './store/replica.js'],
    ['test/e2e/probe.test.ts', '../../src/store/replica.js'],
    ['test/e2e/probe.test.ts', '../../relay/config.js'],
    ['src/runtime/probe.ts', '../errors.js'],
    ['src/runtime/probe.ts', './log.js'],
    ['src/runtime/probe.ts', 'node:fs'],
    ['src/protocol/probe.ts', '../runtime/deadline.js'],
    ['src/cli/probe.ts', '../runtime/process.js'],
    ['src/daemon/probe.ts', '../runtime/config.js'],
    ['src/net/sync/probe.ts', '../../runtime/deadline.js'],
    ['src/store/probe.ts', '../runtime/key-file.js'],
    ['src/auth/probe.ts', '../runtime/deadline.js'],
    ['relay/probe.ts', '../src/runtime/log.js'],
    ['relay/auth/probe.ts', '../../src/runtime/prometheus.js']
  ]
  it.each(allowed)('allows %s importing %s', async (file, specifier) => {
    expect(await crossings(file, importOf(specifier))).toEqual([])
  })

  it('checks re-exports, type-only imports and dynamic import() too, with a message that names the rule', async () => {
    expect(await crossings('src/protocol/probe.ts', "export { x } from '../store/replica.js'\n")).toHaveLength(1)
    expect(await crossings('src/protocol/probe.ts', "import type { X } from '../store/replica.js'\nexport type Y = X\n")).toHaveLength(1)
    const [message] = await crossings('src/cli/probe.ts', "export const m = await import('../daemon/daemon.js')\n")
    expect(message).toMatch(/the CLI parses, calls the control API and prints/)
    expect(await crossings('src/cli/probe.ts', "export const m = await import('./start.js')\n")).toEqual([])
  })
})

describe('known exceptions', async () => {
  const { KNOWN_EXCEPTIONS } = await import(pathToFileURL(resolve(root, 'eslint.config.js')).href) as { KNOWN_EXCEPTIONS: KnownException[] }

  it('each names the issue that removes it (none are left today)', () => {
    for (const e of KNOWN_EXCEPTIONS) expect(e.todo).toMatch(/^issue \d+: /)
  })

  describe.skipIf(KNOWN_EXCEPTIONS.length === 0).each(KNOWN_EXCEPTIONS.map(e => [e.file, e] as const))('%s', (_file, e) => {
    it('still makes each listed import (drop it from the list once it is gone)', () => {
      const source = readFileSync(resolve(root, e.file), 'utf8')
      for (const specifier of e.imports) expect(source, specifier).toContain(`'${specifier}'`)
    })

    it('is allowed those imports and nothing else across the boundary', async () => {
      for (const specifier of e.imports) expect(await crossings(e.file, importOf(specifier)), specifier).toEqual([])
      // The same imports from a sibling file are refused: the exception is the file's alone.
      const sibling = e.file.replace(/[^/]+\.ts$/, 'probe-sibling.ts')
      for (const specifier of e.imports) expect(await crossings(sibling, importOf(specifier)), specifier).toHaveLength(1)
      // And another crossing from the excepted file itself is refused.
      const other = e.imports[0]!.replace(/[^/]+\.js$/, 'not-listed.js')
      expect(await crossings(e.file, importOf(other))).toHaveLength(1)
    })
  })
})
