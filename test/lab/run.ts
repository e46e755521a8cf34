/**
 * The NAT lab runner: `node dist/test/lab/run.js [scenario...]` (as root).
 *
 * Prints one line and exits 0 when it cannot run here (not root, or
 * `ip netns` does not work). Otherwise it installs what it lacks with apt-get
 * (iptables, nftables, miniupnpd), clears namespaces left by crashed runs,
 * runs each scenario in a fresh topology, and ends with the line
 * "lab: N passed, N failed, N skipped" (counting checks). Exit code 1 when
 * any check failed. Cleanup always runs: on success, failure, an exception,
 * SIGINT/SIGTERM, and (synchronously, as a last resort) on process exit.
 */
import '../../src/polyfill.js'
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { SkipError } from '../../lab/convergence.js'
import { BIN, Lab } from '../../lab/lab.js'
import { killAllProcessesNow, run, stopAllProcesses } from '../../lab/procs.js'
import { RECONNECT_SCENARIOS } from './reconnect.js'
import { SCENARIOS, type Check } from './scenarios.js'
import { netnsUnavailable, removeStale } from '../../lab/topology.js'

const out = (s: string): void => { process.stdout.write(s + '\n') }

const why = netnsUnavailable()
if (why !== undefined) {
  out(`NAT lab: skipped (${why})`)
  process.exit(0)
}

for (const [what, file] of Object.entries(BIN)) {
  if (!existsSync(file)) { out(`NAT lab: ${what} is not built (${file}); run npx tsc -p . first`); process.exit(1) }
}

/** Debian packages the lab needs, by the command that shows each is there. */
const NEEDS: Array<[string, string]> = [['iptables', 'iptables'], ['nft', 'nftables'], ['miniupnpd', 'miniupnpd']]
function have (cmd: string): boolean {
  try { run('sh', ['-c', `command -v ${cmd}`]); return true } catch { return false }
}
const missing = NEEDS.filter(([cmd]) => !have(cmd)).map(([, pkg]) => pkg)
if (missing.length > 0) {
  out(`lab: installing ${missing.join(' ')} with apt-get`)
  try {
    run('sh', ['-c', `export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq ${missing.join(' ')}`], { timeoutMs: 600_000 })
  } catch (err) {
    out(`NAT lab: cannot install ${missing.join(' ')}: ${(err as Error).message.slice(0, 500)}`)
    process.exit(1)
  }
}

const stale = removeStale()
if (stale.length > 0) out(`lab: removed ${stale.length} namespaces left by an earlier run`)

let current: Lab | undefined
process.on('exit', () => {
  killAllProcessesNow()
  current?.topo.destroy()
})
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    out(`lab: ${sig}, cleaning up`)
    void stopAllProcesses().finally(() => { current?.topo.destroy(); process.exit(130) })
  })
}

const wanted = process.argv.slice(2)
const ALL = [...SCENARIOS, ...RECONNECT_SCENARIOS]
const scenarios = wanted.length === 0 ? ALL : ALL.filter(s => wanted.includes(s.name))
if (scenarios.length === 0) { out(`lab: no scenario named ${wanted.join(', ')} (have: ${ALL.map(s => s.name).join(', ')})`); process.exit(2) }

/** How long a scenario may run unless it names its own deadline (normal runs take 0.5 to 3 min). */
const DEFAULT_DEADLINE_S = 300

const totals = { passed: 0, failed: 0, skipped: 0 }
const started = Date.now()
for (const [i, s] of scenarios.entries()) {
  out(`\n[${i + 1}/${scenarios.length}] ${s.name}: ${s.summary}`)
  const t0 = Date.now()
  const check: Check = async (name, fn) => {
    const c0 = Date.now()
    try {
      const detail = await fn()
      totals.passed++
      out(`  PASS ${name}${detail === undefined ? '' : ` - ${detail}`} (${Date.now() - c0} ms)`)
      return true
    } catch (err) {
      if (err instanceof SkipError) { totals.skipped++; out(`  SKIP ${name} - ${err.message}`); return false }
      totals.failed++
      out(`  FAIL ${name} - ${(err as Error).message}`)
      return false
    }
  }
  // A scenario that hangs must not hold the whole lab: past its deadline it
  // fails, its processes are stopped, and it gets a short while to unwind.
  const deadlineMs = (s.deadlineS ?? DEFAULT_DEADLINE_S) * 1000
  let timer: NodeJS.Timeout | undefined
  const overdue = new Promise<'overdue'>(resolve => { timer = setTimeout(() => resolve('overdue'), deadlineMs) })
  try {
    const running = 'ownTopology' in s
      ? s.run(check)
      : s.run(current = new Lab(s.nat1, s.nat2), check)
    if (await Promise.race([running, overdue]) === 'overdue') {
      totals.failed++
      out(`  FAIL ${s.name} did not finish within its deadline of ${deadlineMs / 1000} s; stopping its processes`)
      await stopAllProcesses()
      await Promise.race([running.catch(() => {}), sleep(30_000)])
    }
  } catch (err) {
    totals.failed++
    out(`  FAIL ${s.name} aborted - ${(err as Error).stack ?? String(err)}`)
  } finally {
    clearTimeout(timer)
    await current?.close().catch(err => { out(`  cleanup error: ${String(err)}`) })
    current = undefined
  }
  out(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
}

out(`\nNAT lab done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
out(`lab: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exitCode = totals.failed > 0 ? 1 : 0
