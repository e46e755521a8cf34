/**
 * mDNS discovery: two nodes with no peer configuration find each other on
 * loopback and converge. mDNS multicasts on the default interface, so the
 * nodes run in a child process inside a fresh network namespace with only
 * `lo` up (needs root and `ip netns`); the namespace is always deleted.
 * The child runs the built code (`npm test` builds first).
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const SCRIPT = join(ROOT, 'dist', 'test', 'helpers', 'mdns-pair.js')

/** Why the test cannot run here, or undefined. */
function unavailable (): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'mDNS test skipped: needs root on Linux for ip netns'
  if (!existsSync(SCRIPT)) return 'mDNS test skipped: dist/ not built (npm test builds it first)'
  const built = statSync(SCRIPT).mtimeMs
  const sources = ['src/net', 'src/protocol', 'test/helpers'].flatMap(d => readdirSync(join(ROOT, d)).filter(f => f.endsWith('.ts')).map(f => join(ROOT, d, f)))
  if (sources.some(f => statSync(f).mtimeMs > built)) return 'mDNS test skipped: dist/ is older than the sources (npm test rebuilds it)'
  return undefined
}

async function run (ns: string): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile('ip', ['netns', 'exec', ns, process.execPath, SCRIPT], { cwd: ROOT, timeout: 60_000, env: { ...process.env, WEFT_MDNS_TIMEOUT_MS: '30000' } }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

describe('mDNS', () => {
  it('two nodes on loopback with no peer configuration find each other and converge', async (ctx) => {
    const reason = unavailable()
    if (reason !== undefined) { ctx.skip(reason); return }
    const ns = `weft-mdns-${process.pid}`
    try {
      execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' })
    } catch (err) {
      ctx.skip(`mDNS test skipped: ip netns add failed (${String((err as Error).message).split('\n')[0]})`)
      return
    }
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'pipe' })
      const { code, stdout, stderr } = await run(ns)
      const line = stdout.split('\n').find(l => l.startsWith('RESULT '))
      expect(line, `child output:\n${stdout}\n${stderr.slice(-2000)}`).toBeDefined()
      const result = JSON.parse(line!.slice('RESULT '.length)) as { ok: boolean, ops: number[], digests: string[], connected: boolean, error?: string }
      expect(result.error).toBeUndefined()
      expect(result.ok).toBe(true)
      expect(result.ops).toEqual([50, 50])
      expect(result.digests[0]).toBe(result.digests[1])
      expect(code).toBe(0)
    } finally {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' })
    }
  }, 90_000)
})
