/**
 * examples/ha-config, as its README runs it: three daemons paired into one
 * group, the example's schema applied on each, keys set on different nodes
 * with its set.mjs, and its "changed since" query asked on another node: only
 * the keys changed after the time, and every node agrees on a key two nodes
 * set at once.
 */
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../helpers/daemon.js'
import { runScript, startMesh } from '../helpers/mesh.js'

const EXAMPLE = resolve(import.meta.dirname, '../../examples/ha-config')
const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

describe('example: shared HA config', () => {
  it('keys set on any node; a query of what changed since a time, the same on every node', async () => {
    const nodes = await startMesh(['lb1', 'lb2', 'db1'], cleanup)
    for (const n of nodes) expect((await n.cli(['schema', 'apply', `${EXAMPLE}/schema.json`])).code).toBe(0)
    const set = async (i: number, key: string, value: string): Promise<void> => {
      const r = await runScript(`${EXAMPLE}/set.mjs`, [key, value, '--by', ['lb1', 'lb2', 'db1'][i]!, '--data-dir', nodes[i]!.dataDir])
      expect(r.code, r.stderr).toBe(0)
    }
    await set(0, 'haproxy.maxconn', '2048')
    await set(2, 'postgres.max_connections', '100')
    await new Promise(resolve => setTimeout(resolve, 50))
    const since = Date.now()
    await new Promise(resolve => setTimeout(resolve, 50))
    await set(1, 'haproxy.maxconn', '4096')
    await set(2, 'backends', '["10.0.0.11","10.0.0.12"]')
    // Two nodes set one key at once.
    await Promise.all([set(0, 'vip', '"10.0.0.100"'), set(1, 'vip', '"10.0.0.200"')])

    const sql = `${EXAMPLE}/changed-since.sql`
    const views = await Promise.all(nodes.map(async (n, i) => await eventually(`node ${i} holds every change`, async () => JSON.parse((await n.cli(['query', '--json', '--file', sql, '--param', String(since)])).stdout),
      r => r.rows.length === 3 && r.rows.some((x: any) => x.key === 'haproxy.maxconn' && x.value === 4096))))
    for (const v of views) expect(v.rows).toEqual(views[0].rows) // every node agrees, on the contested key too
    const rows = views[0].rows as Array<Record<string, unknown>>
    expect(rows.map(r => r.key).sort()).toEqual(['backends', 'haproxy.maxconn', 'vip'])
    expect(rows.find(r => r.key === 'haproxy.maxconn')).toMatchObject({ value: 4096, updated_by: 'lb2' })
    expect(rows.find(r => r.key === 'backends')).toMatchObject({ value: ['10.0.0.11', '10.0.0.12'], updated_by: 'db1' })
    expect(['10.0.0.100', '10.0.0.200']).toContain(rows.find(r => r.key === 'vip')!.value)
    expect(rows.map(r => r.updated as string)).toEqual([...rows.map(r => r.updated as string)].sort())
    // Before the time, the older key shows up too.
    const all = JSON.parse((await nodes[1]!.cli(['query', '--json', '--file', sql, '--param', '0'])).stdout)
    expect(all.rows.map((r: any) => r.key).sort()).toEqual(['backends', 'haproxy.maxconn', 'postgres.max_connections', 'vip'])
  }, 180_000)
})
