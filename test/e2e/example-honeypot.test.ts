/**
 * examples/honeypot-mesh, as its README runs it: three daemons paired into
 * one group, the example's schema applied on each, its recorder run on each
 * decoy for the attempts that decoy saw, and its query asked on one decoy:
 * the attackers seen on two or more decoys, with every decoy and credential
 * from the whole mesh.
 */
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../helpers/daemon.js'
import { runScript, startMesh } from '../helpers/mesh.js'

const EXAMPLE = resolve(import.meta.dirname, '../../examples/honeypot-mesh')
const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

describe('example: honeypot mesh', () => {
  it('three decoys record attackers; any decoy lists those seen on two or more', async () => {
    const decoys = await startMesh(['decoy-a', 'decoy-b', 'decoy-c'], cleanup)
    for (const d of decoys) {
      const r = await d.cli(['schema', 'apply', `${EXAMPLE}/schema.json`])
      expect(r.code, r.stderr).toBe(0)
    }
    const seen: Array<[number, string, string, string]> = [
      [0, '203.0.113.7', 'root', '123456'],
      [1, '203.0.113.7', 'admin', 'admin'],
      [2, '203.0.113.7', 'root', '123456'],
      [0, '198.51.100.23', 'pi', 'raspberry'],
      [1, '192.0.2.99', 'root', 'toor'],
      [2, '192.0.2.99', 'root', 'toor']
    ]
    // Each decoy records what it saw, all at once.
    await Promise.all(decoys.map(async (d, i) => {
      for (const [who, ip, user, password] of seen) {
        if (who !== i) continue
        const r = await runScript(`${EXAMPLE}/record.mjs`, ['--ip', ip, '--user', user, '--password', password, '--decoy', `decoy-${'abc'[i]}`, '--data-dir', d.dataDir])
        expect(r.code, r.stderr).toBe(0)
      }
    }))
    const sql = `${EXAMPLE}/attackers.sql`
    const result = await eventually('every decoy\'s records reach decoy-a', async () => JSON.parse((await decoys[0]!.cli(['query', '--json', '--file', sql])).stdout),
      r => r.rows.length === 2 && r.rows[0].decoys_hit === 3)
    expect(result.rows.map((r: any) => ({ ip: r.ip, decoys_hit: r.decoys_hit, attempts: r.attempts, decoys: r.decoys }))).toEqual([
      { ip: '203.0.113.7', decoys_hit: 3, attempts: 3, decoys: ['decoy-a', 'decoy-b', 'decoy-c'] },
      { ip: '192.0.2.99', decoys_hit: 2, attempts: 2, decoys: ['decoy-b', 'decoy-c'] }
    ])
    expect(result.rows[0].last_seen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    // Every credential once per attacker (a set): root:123456 came from two decoys, but from one attacker.
    await eventually('decoy-c has every credential', async () => JSON.parse((await decoys[2]!.cli(['query', '--json', '--file', `${EXAMPLE}/credentials.sql`])).stdout).rows,
      rows => JSON.stringify(rows) === JSON.stringify(['admin:admin', 'pi:raspberry', 'root:123456', 'root:toor'].map(credential => ({ credential, attackers: 1 }))))
    // A bad call of the recorder says what is missing.
    const bad = await runScript(`${EXAMPLE}/record.mjs`, ['--ip', '203.0.113.7', '--data-dir', decoys[0]!.dataDir])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/usage: node record.mjs --ip IP --user USER --password PASSWORD/)
  }, 180_000)
})
