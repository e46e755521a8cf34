/**
 * Declared tables on real replicas: the table of a declared collection always
 * equals the pure merge model's rows put through the documented type rules
 * (written again here, independently of src/store/tables/values.ts), after
 * local writes and after remote pages applied in any order; an incremental
 * table equals one rebuilt from scratch; schema changes keep every value;
 * a lost, stale or corrupt tables.db is rebuilt at open.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MergeModel } from '../../src/merge/index.js'
import { decodeOp, type EncodedOp, type Op } from '../../src/oplog/op.js'
import { decodeValue, type Value } from '../../src/oplog/value.js'
import { openReplica, type Replica, type Writer } from '../../src/store/replica.js'
import type { CollectionSchema, FieldType } from '../../src/store/tables/index.js'
import { FakeClock, newReplica, tempDir, track } from '../helpers/fixtures.js'

const FIELDS = ['f', 'g', 'n']
const KEYS = ['a', '😀']
const ELEMENTS: Value[] = ['x', 1, { o: 1 }, new Uint8Array([1]), true]

/** Every type, each on every kind of field across the three collections (the field names are shared between kinds). */
const SCHEMAS: Record<string, CollectionSchema> = {
  c1: { version: 1, fields: { f: 'text', g: 'json', n: 'counter' }, indexes: [['f'], ['g', 'n']] },
  c2: { version: 1, fields: { f: 'set', g: 'integer', n: 'boolean' }, indexes: ['n'] },
  c3: { version: 1, table: 'third', fields: { f: 'bytes', g: 'real', n: 'set' } }
}
const TABLES: Record<string, string> = { c1: 'c1', c2: 'c2', c3: 'third' }

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, 1e300, 2 ** 60),
  // Strings and bytes around the length varint's 1-, 2- and 3-byte forms, and a NUL inside a string.
  fc.constantFrom('', 's', 'é😀', 'a\u0000b', 'x'.repeat(127), 'é'.repeat(64), 'y'.repeat(20_000)),
  fc.constantFrom(new Uint8Array([]), new Uint8Array([0, 255]), new Uint8Array(128).fill(4), new Uint8Array(16_384).fill(2)),
  fc.constantFrom<Value[]>([1, 'a'], { a: [null] })
)

type Write =
  | { kind: 'put', c: string, k: string, fields: Record<string, Value> }
  | { kind: 'delete', c: string, k: string }
  | { kind: 'increment', c: string, k: string, f: string, by: number }
  | { kind: 'add' | 'remove', c: string, k: string, f: string, el: Value }

const c = fc.constantFrom('c1', 'c2', 'c3', 'c1', 'c2', 'c3', 'plain')
const k = fc.constantFrom(...KEYS)
const f = fc.constantFrom(...FIELDS)
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), c, k, fields: fc.dictionary(fc.constantFrom(...FIELDS, 'other'), valueArb, { minKeys: 1, maxKeys: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), c, k }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('increment' as const), c, k, f, by: fc.integer({ min: -3, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), c, k, f, el: fc.constantFrom(...ELEMENTS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), c, k, f, el: fc.constantFrom(...ELEMENTS) }) }
)

type Action = { t: 'write', r: number, writes: Write[] } | { t: 'exchange', from: number, to: number, limit: number, reverse: boolean } | { t: 'rebuild', r: number }
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('write' as const), r: fc.nat(2), writes: fc.array(writeArb, { minLength: 1, maxLength: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('exchange' as const), from: fc.nat(2), to: fc.nat(2), limit: fc.integer({ min: 1, max: 6 }), reverse: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rebuild' as const), r: fc.nat(2) }) }
)

function perform (w: Writer, x: Write): void {
  switch (x.kind) {
    case 'put': w.put(x.c, x.k, x.fields); break
    case 'delete': w.delete(x.c, x.k); break
    case 'increment': w.increment(x.c, x.k, x.f, x.by); break
    case 'add': w.add(x.c, x.k, x.f, x.el); break
    case 'remove': w.remove(x.c, x.k, x.f, x.el); break
  }
}

/** The documented rules, from the model's materialized fields: each type reads the kind it names. */
function expectedCell (type: FieldType, field: { kind: string, values: readonly Uint8Array[], total?: number } | undefined): unknown {
  if (field === undefined) return null
  if (type === 'counter') return field.kind === 'counter' ? field.total : null
  if (type === 'set') return field.kind === 'set' ? field.values.map(v => decodeValue(v)) : null
  if (field.kind !== 'register') return null
  const v = decodeValue(field.values[0]!)
  switch (type) {
    case 'text': return typeof v === 'string' ? v : null
    case 'integer': return typeof v === 'number' && Number.isSafeInteger(v) ? v : null
    case 'real': return typeof v === 'number' ? v : null
    case 'boolean': return typeof v === 'boolean' ? v : null
    case 'bytes': return v instanceof Uint8Array ? v : null
    case 'json': return v
  }
}

/** Bytes compare by content whatever their class (SQLite hands back Buffers). */
function norm (v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: [...v] }
  if (Array.isArray(v)) return v.map(norm)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([x, y]) => [x, norm(y)]))
  return v
}

function expectedTables (ops: Iterable<Op>): Record<string, Record<string, Record<string, unknown>>> {
  const m = new MergeModel()
  for (const op of ops) m.apply(op)
  const out: Record<string, Record<string, Record<string, unknown>>> = { c1: {}, c2: {}, third: {} }
  for (const row of m.rows()) {
    const schema = SCHEMAS[row.collection]
    if (schema === undefined) continue
    const byName = new Map(row.fields.map(x => [x.name, x]))
    const cells: Record<string, unknown> = {}
    for (const [name, type] of Object.entries(schema.fields)) cells[name] = expectedCell(type as FieldType, byName.get(name))
    out[TABLES[row.collection]!]![row.key] = norm(cells) as Record<string, unknown>
  }
  return out
}

function actualTables (r: Replica): Record<string, Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, Record<string, unknown>>> = {}
  for (const t of ['c1', 'c2', 'third']) {
    out[t] = {}
    for (const row of r.query(`SELECT * FROM ${t}`).rows) {
      const { key, ...cells } = row
      out[t][key as string] = norm(cells) as Record<string, unknown>
    }
  }
  return out
}

function heldOps (r: Replica): Op[] {
  return r.opsSince(new Map(), { limit: 1_000_000, maxBytes: 1024 ** 3 }).ops.map(e => decodeOp(e))
}

function pages (from: Replica, to: Replica, limit: number): EncodedOp[][] {
  const out: EncodedOp[][] = []
  const v = new Map(to.versionVector())
  for (let i = 0; i < 1000; i++) {
    const page = from.opsSince(v, { limit })
    if (page.ops.length === 0) break
    out.push([...page.ops])
    for (const e of page.ops) {
      const op = decodeOp(e)
      const id = from.oplog.origin(op.origin)!.deviceId
      v.set(id, Math.max(v.get(id) ?? 0, op.seq))
    }
    if (!page.more) break
  }
  return out
}

describe('declared tables follow the merge', () => {
  const runs = Number(process.env.WEFT_PROP_RUNS ?? 40)
  it('equal the reference model after local writes and remote pages in any order, and after a rebuild', async () => {
    await fc.assert(fc.asyncProperty(fc.array(actionArb, { minLength: 3, maxLength: 30 }), async actions => {
      const clock = new FakeClock()
      const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'weft-typed-')))
      const replicas = dirs.map(dir => openReplica({ dir, wallClock: clock.now, schemas: SCHEMAS }))
      try {
        for (const a of actions) {
          clock.advance(1)
          if (a.t === 'write') {
            const r = replicas[a.r]!
            if (a.writes.length === 1) perform(r, a.writes[0]!)
            else r.batch(w => { for (const x of a.writes) perform(w, x) })
          } else if (a.t === 'exchange') {
            if (a.from === a.to) continue
            const ps = pages(replicas[a.from]!, replicas[a.to]!, a.limit)
            for (const p of a.reverse ? ps.reverse() : ps) replicas[a.to]!.applyRemote(p)
          } else {
            const before = actualTables(replicas[a.r]!)
            replicas[a.r]!.rebuildTables()
            expect(actualTables(replicas[a.r]!)).toEqual(before)
          }
          for (const r of replicas) expect(actualTables(r)).toEqual(expectedTables(heldOps(r)))
        }
      } finally {
        for (const r of replicas) r.close()
        for (const d of dirs) rmSync(d, { recursive: true, force: true })
      }
    }), {
      numRuns: runs,
      // Hand-picked: a register shadowing a counter and a set of the same name, then a delete and a revival.
      examples: [[[
        { t: 'write', r: 0, writes: [{ kind: 'increment', c: 'c1', k: 'a', f: 'n', by: 2 }, { kind: 'add', c: 'c2', k: 'a', f: 'f', el: 'x' }, { kind: 'add', c: 'c3', k: 'a', f: 'n', el: 1 }] },
        { t: 'write', r: 1, writes: [{ kind: 'put', c: 'c1', k: 'a', fields: { n: 'reg' } }, { kind: 'increment', c: 'c2', k: 'a', f: 'f', by: 1 }, { kind: 'put', c: 'c3', k: 'a', fields: { n: 1 } }] },
        { t: 'exchange', from: 1, to: 0, limit: 2, reverse: true },
        { t: 'exchange', from: 0, to: 1, limit: 1, reverse: false },
        { t: 'write', r: 0, writes: [{ kind: 'delete', c: 'c1', k: 'a' }, { kind: 'add', c: 'c1', k: 'a', f: 'n', el: 'late' }] },
        { t: 'exchange', from: 0, to: 2, limit: 3, reverse: false },
        { t: 'rebuild', r: 2 }
      ]]]
    })
  }, 120_000 + runs * 2000)
})

describe('schemas', () => {
  it('a field added later shows the values merged before it was declared, local and remote', () => {
    const clock = new FakeClock()
    const a = newReplica({ wallClock: clock.now, schemas: { notes: { version: 1, fields: { title: 'text' } } } })
    const b = newReplica({ wallClock: clock.now })
    b.put('notes', 'n1', { title: 'from b', pinned: true })
    b.increment('notes', 'n1', 'views', 5)
    a.put('notes', 'n2', { title: 'here', pinned: false })
    a.applyRemote(b.opsSince(new Map()).ops)
    expect(a.query('SELECT * FROM notes ORDER BY key').rows).toEqual([{ key: 'n1', title: 'from b' }, { key: 'n2', title: 'here' }])
    const res = a.declareSchema('notes', { version: 2, fields: { title: 'text', pinned: 'boolean', views: 'counter' }, indexes: ['pinned'] })
    expect(res).toMatchObject({ change: 'extended', rows: 2, version: 2 })
    expect(a.query('SELECT key, title, pinned, views FROM notes ORDER BY key').rows).toEqual([
      { key: 'n1', title: 'from b', pinned: true, views: 5 },
      { key: 'n2', title: 'here', pinned: false, views: null }
    ])
    expect(a.schemaVersions()).toEqual(new Map([['notes', 2]]))
  })

  it('removing or retyping a field rebuilds the table; an unchanged schema is a no-op; a changed one needs a new version', () => {
    const r = newReplica({ wallClock: new FakeClock().now })
    expect(r.declareSchema('notes', { version: 1, fields: { n: 'integer', s: 'text' } }).change).toBe('created')
    r.put('notes', 'k', { n: 3, s: 'x' })
    expect(r.declareSchema('notes', { version: 1, fields: { s: 'text', n: 'integer' } }).change).toBe('unchanged')
    expect(() => r.declareSchema('notes', { version: 1, fields: { n: 'real' } })).toThrow(expect.objectContaining({ name: 'SchemaError', message: expect.stringMatching(/version is still 1/) }))
    expect(r.declareSchema('notes', { version: 2, fields: { n: 'real' } })).toMatchObject({ change: 'rebuilt', rows: 1 })
    expect(r.query('SELECT * FROM notes').rows).toEqual([{ key: 'k', n: 3 }])
    expect(r.declareSchema('notes', { version: 3, table: 'renamed', fields: { n: 'real' } }).change).toBe('rebuilt')
    expect(() => r.query('SELECT * FROM notes')).toThrow(/no such table: notes.*renamed/)
    expect(r.declareSchema('notes', { version: 4, table: 'renamed', fields: { n: 'real' } }).change).toBe('unchanged')
    expect(r.schemas()).toEqual([{ collection: 'notes', table: 'renamed', version: 4, schema: { version: 4, table: 'renamed', fields: { n: 'real' }, indexes: [] }, rows: 1 }])
    expect(r.dropSchema('notes')).toBe(true)
    expect(r.dropSchema('notes')).toBe(false)
    expect(r.schemas()).toEqual([])
    expect(r.get('notes', 'k')).toEqual({ n: 3, s: 'x' }) // the data stays
  })

  it('refuses bad schemas with every problem named, and writes nothing', () => {
    const r = newReplica()
    const err = (() => { try { r.declareSchema('bad name', { version: 1.5, fields: { 'a-b': 'text', key: 'integer', x: 'float' as FieldType }, indexes: [['nope']] } as unknown as CollectionSchema) } catch (e) { return e as { name: string, problems: string[] } } })()!
    expect(err.name).toBe('SchemaError')
    expect(err.problems).toEqual([
      expect.stringMatching(/^version must be an integer/),
      expect.stringMatching(/collection name is not an SQL identifier.*"table"/),
      expect.stringMatching(/field "a-b".*column name/),
      expect.stringMatching(/field "key".*holds the row key/),
      expect.stringMatching(/field "x": type must be one of text, integer/),
      expect.stringMatching(/index 1 names field "nope"/)
    ])
    expect(() => r.declareSchema('_weft.members', { version: 1, fields: { record: 'bytes' } })).toThrow(/weft's own/)
    r.declareSchema('a', { version: 1, fields: { x: 'text' } })
    expect(() => r.declareSchema('b', { version: 1, table: 'A', fields: { x: 'text' } })).toThrow(/already the table of collection "a"/)
    expect(() => r.declareSchema('c', { version: 1, fields: { X: 'text', x: 'integer' } })).toThrow(/ignore case/)
    expect(r.schemas().map(s => s.collection)).toEqual(['a'])
  })

  it('keeps its tables across a reopen, and rebuilds a tables.db that is missing, stale or corrupt', () => {
    const dir = tempDir()
    const schemas = { notes: { version: 1, fields: { t: 'text' as const }, indexes: ['t'] } }
    let r = openReplica({ dir, schemas })
    for (let i = 0; i < 50; i++) r.put('notes', `k${i}`, { t: `v${i}` })
    const all = r.query('SELECT * FROM notes ORDER BY key').rows
    r.close()
    r = track(openReplica({ dir }))
    expect(r.query('SELECT * FROM notes ORDER BY key').rows).toEqual(all)
    r.close()

    // Missing.
    for (const s of ['', '-wal', '-shm']) rmSync(join(dir, 'tables.db' + s), { force: true })
    r = track(openReplica({ dir }))
    expect(r.query('SELECT * FROM notes ORDER BY key').rows).toEqual(all)
    r.close()

    // Stale: the tables file missed a commit the replica kept (a power cut between the two files' WAL commits).
    const t = new Database(join(dir, 'tables.db'))
    t.exec("DELETE FROM notes WHERE key = 'k1'; PRAGMA user_version = 1")
    t.close()
    r = track(openReplica({ dir }))
    expect(r.query('SELECT * FROM notes ORDER BY key').rows).toEqual(all)
    r.close()

    // Corrupt.
    for (const s of ['-wal', '-shm']) rmSync(join(dir, 'tables.db' + s), { force: true })
    writeFileSync(join(dir, 'tables.db'), Buffer.alloc(8192, 7))
    r = track(openReplica({ dir }))
    expect(r.query('SELECT * FROM notes ORDER BY key').rows).toEqual(all)
    r.put('notes', 'k1', { t: 'changed' })
    expect(r.query("SELECT t FROM notes WHERE key = 'k1'").rows).toEqual([{ t: 'changed' }])
  })
})
