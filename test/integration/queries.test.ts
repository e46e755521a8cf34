/**
 * SQL over declared tables, on real replicas: only reads of the declared
 * tables run (weft's internal tables cannot be named, whatever the SQL),
 * every refusal names its reason, rows/size/time are limited, values come
 * back typed, and live queries run again on local and remote writes to the
 * tables they read, and only then.
 */
import { describe, expect, it } from 'vitest'
import type { Replica } from '../../src/store/replica.js'
import type { QueryResult } from '../../src/store/tables/index.js'
import { FakeClock, newReplica } from '../helpers/fixtures.js'

const SCHEMAS = {
  notes: { version: 1, fields: { title: 'text' as const, pinned: 'boolean' as const, views: 'counter' as const, tags: 'set' as const, meta: 'json' as const, blob: 'bytes' as const }, indexes: [['pinned', 'title']] },
  hosts: { version: 1, fields: { name: 'text' as const } }
}

function replica (): Replica {
  const r = newReplica({ wallClock: new FakeClock().now, schemas: SCHEMAS })
  r.put('notes', 'n1', { title: 'hello', pinned: true, meta: { a: [1, 'x'] }, blob: new Uint8Array([1, 2]) })
  r.increment('notes', 'n1', 'views', 3)
  r.add('notes', 'n1', 'tags', 'work')
  r.add('notes', 'n1', 'tags', new Uint8Array([9]))
  r.put('notes', 'n2', { title: 'world', pinned: false })
  r.put('hosts', 'h1', { name: 'alpha' })
  return r
}

const refused = (code: string, message: RegExp): unknown => expect.objectContaining({ code, message: expect.stringMatching(message) })
function error (f: () => unknown): unknown { try { f() } catch (e) { return e } throw new Error('did not throw') }

describe('queries', () => {
  it('read the declared tables with typed values, in the order asked, with named or positional parameters', () => {
    const r = replica()
    expect(r.query('SELECT * FROM notes ORDER BY key DESC').rows).toEqual([
      { key: 'n2', title: 'world', pinned: false, views: null, tags: null, meta: null, blob: null },
      // Set elements in the byte order of their encoding (as the digest orders them): strings before bytes.
      { key: 'n1', title: 'hello', pinned: true, views: 3, tags: ['work', new Uint8Array([9])], meta: { a: [1, 'x'] }, blob: expect.any(Uint8Array) }
    ])
    expect([...(r.query("SELECT blob FROM notes WHERE key = 'n1'").rows[0]!.blob as Uint8Array)]).toEqual([1, 2])
    expect(r.query('SELECT key FROM notes WHERE pinned = ? AND title LIKE ?', [true, 'he%']).rows).toEqual([{ key: 'n1' }])
    expect(r.query('SELECT key FROM notes WHERE title = :t', { t: 'world' }).rows).toEqual([{ key: 'n2' }])
    expect(r.query("SELECT n.key, json_array_length(n.tags) AS tags FROM notes n, json_each(n.tags) j WHERE j.value = 'work'").rows).toEqual([{ key: 'n1', tags: 2 }])
    expect(r.query('SELECT n.key, h.key FROM notes n JOIN hosts h ORDER BY n.key').columns).toEqual(['key', 'key:1'])
    expect(r.query('SELECT key, title FROM notes ORDER BY key', [], { rowMode: 'array' })).toEqual({ columns: ['key', 'title'], rows: [['n1', 'hello'], ['n2', 'world']] })
    expect(r.query('SELECT 9007199254740993 AS big, 5 AS small').rows).toEqual([{ big: 9007199254740993n, small: 5 }])
    expect(r.query('WITH x AS (SELECT count(*) AS n FROM notes) SELECT n FROM x').rows).toEqual([{ n: 2 }])
    expect(r.query('VALUES (1, 2)').rows).toEqual([{ column1: 1, column2: 2 }])
  })

  it('cannot reach weft\'s internal tables, whatever the SQL', () => {
    const r = replica()
    for (const sql of ['SELECT * FROM registers', 'SELECT * FROM main.oplog', 'SELECT * FROM meta', 'SELECT * FROM typed_schemas', 'SELECT * FROM weft_typed.notes', 'SELECT * FROM temp.sqlite_schema WHERE 0 UNION SELECT * FROM origins']) {
      expect(error(() => r.query(sql))).toEqual(refused('INVALID_QUERY', /no such table: .*queries read only the declared tables \(hosts, notes\)|no such table/))
    }
    // sqlite_schema is this file's: the declared tables and their indexes, nothing else.
    expect(r.query('SELECT type, name FROM sqlite_schema ORDER BY name').rows).toEqual([
      { type: 'table', name: 'hosts' }, { type: 'table', name: 'notes' }, { type: 'index', name: 'notes__by__pinned__title' }
    ])
    expect(error(() => r.query("ATTACH DATABASE 'replica.db' AS r"))).toEqual(refused('INVALID_QUERY', /returns no rows/))
    expect(error(() => r.query("SELECT * FROM (SELECT load_extension('x'))"))).toEqual(refused('INVALID_QUERY', /not authorized/))
    expect(r.query("SELECT name FROM pragma_table_list WHERE name = 'registers'").rows).toEqual([])
  })

  it('refuses writes, pragmas, several statements and bad input, each with its reason', () => {
    const r = replica()
    expect(error(() => r.query("INSERT INTO notes (key) VALUES ('x')"))).toEqual(refused('INVALID_QUERY', /read-only/))
    expect(error(() => r.query("WITH x AS (SELECT 1) UPDATE notes SET title = 'x'"))).toEqual(refused('INVALID_QUERY', /read-only/))
    expect(error(() => r.query('DELETE FROM notes'))).toEqual(refused('INVALID_QUERY', /read-only/))
    expect(error(() => r.query('DROP TABLE notes'))).toEqual(refused('INVALID_QUERY', /read-only/))
    expect(error(() => r.query('CREATE TEMP TABLE t (x)'))).toEqual(refused('INVALID_QUERY', /read-only|returns no rows/))
    expect(error(() => r.query('PRAGMA table_info(notes)'))).toEqual(refused('INVALID_QUERY', /only a SELECT/))
    expect(error(() => r.query('EXPLAIN SELECT 1'))).toEqual(refused('INVALID_QUERY', /only a SELECT/))
    expect(error(() => r.query('BEGIN'))).toEqual(refused('INVALID_QUERY', /returns no rows/))
    expect(error(() => r.query('SELECT 1; SELECT 2'))).toEqual(refused('INVALID_QUERY', /more than one statement/))
    expect(r.query('SELECT 1 AS x -- a comment').rows).toEqual([{ x: 1 }])
    expect(error(() => r.query('SELECT 1 /* unterminated'))).toEqual(refused('INVALID_QUERY', /only a SELECT/))
    expect(error(() => r.query('SELECT 1) UNION SELECT * FROM (SELECT 2'))).toEqual(refused('INVALID_QUERY', /does not prepare/))
    expect(error(() => r.query('SELEC 1'))).toEqual(refused('INVALID_QUERY', /does not prepare: near "SELEC"/))
    expect(error(() => r.query('SELECT nope FROM notes'))).toEqual(refused('INVALID_QUERY', /no such column: nope/))
    expect(error(() => r.query(''))).toEqual(refused('INVALID_QUERY', /empty/))
    expect(error(() => r.query('SELECT ' + 'x'.repeat(70_000)))).toEqual(refused('INVALID_QUERY', /over the 65536-byte limit/))
    expect(error(() => r.query('SELECT ?', []))).toEqual(refused('INVALID_QUERY', /parameters do not fit/))
    expect(error(() => r.query('SELECT ?', [{} as never]))).toEqual(refused('INVALID_QUERY', /parameter 1 is a object/))
    expect(error(() => r.query('SELECT ?', [Infinity]))).toEqual(refused('INVALID_QUERY', /finite/))
    expect(error(() => r.query('SELECT :a', { 'a b': 1 }))).toEqual(refused('INVALID_QUERY', /not an identifier/))
    expect(error(() => r.query('SELECT 1', [], { maxRows: 0 }))).toEqual(refused('INVALID_QUERY', /maxRows must be an integer from 1/))
    expect(error(() => r.query('SELECT 1', [], { timeoutMs: 10 ** 9 }))).toEqual(refused('INVALID_QUERY', /timeoutMs must be an integer/))
  })

  it('stops a query at its row, size and time limits', () => {
    const r = replica()
    const count = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ?) SELECT x FROM c'
    expect(r.query(count, [100], { maxRows: 100 }).rows).toHaveLength(100)
    expect(error(() => r.query(count, [101], { maxRows: 100 }))).toEqual(refused('QUERY_LIMIT', /more than 100 rows \(its row limit\)/))
    expect(error(() => r.query(count, [10_001]))).toEqual(refused('QUERY_LIMIT', /more than 10000 rows/))
    expect(error(() => r.query('SELECT randomblob(4096) FROM (' + count + ')', [1000], { maxBytes: 1 << 20 }))).toEqual(refused('QUERY_LIMIT', /past 1048576 bytes/))
    // Each row costs about 2,000 steps: the limit is checked between rows.
    const slow = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
      SELECT x, (WITH RECURSIVE d(y) AS (SELECT 1 UNION ALL SELECT y + 1 FROM d WHERE y < 2000) SELECT count(*) FROM d) FROM c`
    const started = performance.now()
    expect(error(() => r.query(slow, [], { timeoutMs: 100, maxRows: 1_000_000 }))).toEqual(refused('QUERY_TIMEOUT', /past its 100 ms time limit/))
    expect(performance.now() - started).toBeLessThan(5_000)
    // The connection is fine afterwards.
    expect(r.query('SELECT count(*) AS n FROM notes').rows).toEqual([{ n: 2 }])
  })
})

describe('live queries', () => {
  const flush = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)); await new Promise(resolve => setImmediate(resolve)) }

  it('run again after local writes to the tables they read, and only when the result changes', async () => {
    const r = replica()
    const results: QueryResult[] = []
    const live = r.watch('SELECT key, views FROM notes WHERE views > 0 ORDER BY key', [], res => results.push(res))
    expect(live.result.rows).toEqual([{ key: 'n1', views: 3 }])
    expect(live.tables).toEqual(['notes'])
    r.increment('notes', 'n2', 'views', 2)
    r.increment('notes', 'n2', 'views', 1) // same turn: one run for both
    await flush()
    expect(results.map(x => x.rows)).toEqual([[{ key: 'n1', views: 3 }, { key: 'n2', views: 3 }]])
    r.put('hosts', 'h2', { name: 'beta' }) // another table
    r.put('notes', 'n1', { title: 'renamed' }) // this table, same result
    await flush()
    expect(results).toHaveLength(1)
    r.delete('notes', 'n1')
    await flush()
    expect(results.at(-1)!.rows).toEqual([{ key: 'n2', views: 3 }])
    live.close()
    r.increment('notes', 'n2', 'views', 1)
    await flush()
    expect(results).toHaveLength(2)
  })

  it('run again after remote pages, and after a schema change; report failures to onError', async () => {
    const clock = new FakeClock()
    const a = newReplica({ wallClock: clock.now, schemas: SCHEMAS })
    const b = newReplica({ wallClock: clock.now })
    const results: QueryResult[] = []
    const errors: Error[] = []
    const live = a.watch('SELECT * FROM hosts ORDER BY key', undefined, res => results.push(res), { onError: e => errors.push(e) })
    expect(live.result.rows).toEqual([])
    b.put('hosts', 'h1', { name: 'from b', rack: 4 })
    a.applyRemote(b.opsSince(new Map()).ops)
    await flush()
    expect(results.at(-1)!.rows).toEqual([{ key: 'h1', name: 'from b' }])
    a.declareSchema('hosts', { version: 2, fields: { name: 'text', rack: 'integer' } })
    await flush()
    expect(results.at(-1)!.rows).toEqual([{ key: 'h1', name: 'from b', rack: 4 }])
    a.dropSchema('hosts')
    await flush()
    expect(errors.at(-1)).toEqual(refused('INVALID_QUERY', /no such table: hosts/))
    live.close()
  })

  it('refuse a bad query up front', () => {
    const r = replica()
    expect(error(() => r.watch('SELECT * FROM registers', [], () => {}))).toEqual(refused('INVALID_QUERY', /no such table/))
    expect(error(() => r.watch('SELECT 1', [], 'x' as never))).toEqual(refused('INVALID_QUERY', /needs a function/))
  })
})
