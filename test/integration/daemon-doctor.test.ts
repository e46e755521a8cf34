/**
 * weft doctor never fails as a whole: damage found while the daemon runs is
 * a failed check that says what to do, and a check that cannot run at all is
 * a failed check too, never an HTTP 500. And the daemon keeps its data dir
 * private: 0700, every file in it 0600, whatever it was given.
 */
import Database from 'better-sqlite3'
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CONFIG_DEFAULTS } from '../../src/daemon/config.js'
import { Daemon } from '../../src/daemon/daemon.js'
import type { Logger } from '../../src/runtime/log.js'
import { resolvePaths } from '../../src/daemon/paths.js'
import { doctor } from '../../src/daemon/routes/inspect.js'
import { openReplica } from '../../src/store/replica.js'
import { scribbleMiddlePage } from '../helpers/damage.js'
import { tempDir } from '../helpers/fixtures.js'

const silent = Object.assign(() => {}, { level: 'error' }) as unknown as Logger
const daemons: Daemon[] = []
afterEach(async () => { for (const d of daemons.splice(0)) await d.stop() })

async function daemonOn (dir: string): Promise<Daemon> {
  const d = new Daemon(resolvePaths({ dataDir: dir }, { HOME: dir }), { ...CONFIG_DEFAULTS, mdns: false, upnp: false }, silent)
  daemons.push(d)
  await d.start()
  return d
}

describe('weft doctor', () => {
  it('reports a page damaged while the daemon runs as a failed integrity check naming weft recover', async () => {
    const dir = tempDir()
    const r = openReplica({ dir })
    r.batch(w => { for (let i = 0; i < 400; i++) w.put('notes', `n${i}`, { body: 'x'.repeat(200) }) })
    r.close()
    const d = await daemonOn(dir)
    expect((await doctor(d)).find(c => c.check === 'database integrity')).toMatchObject({ ok: true })
    scribbleMiddlePage(join(dir, 'replica.db'))
    // Another connection's write makes the daemon's connection drop its page cache and read the file again.
    const other = new Database(join(dir, 'replica.db'))
    other.prepare("INSERT INTO meta (name, value) VALUES ('touch', x'00')").run()
    other.close()
    const checks = await doctor(d)
    expect(checks.find(c => c.check === 'database integrity')).toMatchObject({ ok: false, detail: expect.stringMatching(/quick_check: .*weft recover/) })
  })

  it('reports a check that cannot run as failed instead of failing as a whole', async () => {
    const d = await daemonOn(tempDir())
    d.replica.close()
    const checks = await doctor(d)
    expect(checks.find(c => c.check === 'database integrity')).toMatchObject({ ok: false, detail: expect.stringMatching(/could not check: the replica is closed/) })
    expect(checks.length).toBeGreaterThan(2)
  })

  it('narrows a data dir given with --data-dir (0755) and its files (0644) at start, and leaves an exposed key refused', async () => {
    const dir = tempDir()
    openReplica({ dir }).close()
    chmodSync(dir, 0o755)
    writeFileSync(join(dir, 'config.json'), '{}', { mode: 0o644 })
    chmodSync(join(dir, 'replica.db'), 0o644)
    await daemonOn(dir)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      expect(statSync(join(dir, f.name)).mode & 0o777, f.name).toBe(f.isDirectory() ? 0o700 : 0o600)
    }
    await daemons.pop()!.stop()
    chmodSync(join(dir, 'device.key'), 0o644)
    await expect(daemonOn(dir)).rejects.toThrow(/device key .* is readable by other users/)
  })
})
