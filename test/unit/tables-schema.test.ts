/**
 * The pure parts of declared tables: checking a schema and filling its
 * defaults, how one schema changes into another (what is back-filled, what
 * rebuilt), and the value rules between merged fields and columns.
 */
import { describe, expect, it } from 'vitest'
import { encodeValue } from '../../src/oplog/value.js'
import { resolveSchema, schemaChange, schemaFromJson, schemaToJson, toDeclaration, type CollectionSchema } from '../../src/store/tables/schema.js'
import { columnValue, decoderFor, jsonText, parseJsonText, resultValue } from '../../src/store/tables/values.js'

const notes: CollectionSchema = { version: 1, fields: { title: 'text', 'first-name': { type: 'text', column: 'first_name' }, n: 'counter' }, indexes: ['title', ['n', 'first-name']] }

describe('schemas', () => {
  it('fill in table, columns and index names, and survive the catalogue round trip', () => {
    const s = resolveSchema('notes', notes)
    expect(s).toEqual({
      collection: 'notes',
      version: 1,
      table: 'notes',
      fields: [{ name: 'title', column: 'title', type: 'text' }, { name: 'first-name', column: 'first_name', type: 'text' }, { name: 'n', column: 'n', type: 'counter' }],
      indexes: [{ name: 'notes__by__title', columns: ['title'] }, { name: 'notes__by__n__first_name', columns: ['n', 'first_name'] }]
    })
    expect(schemaFromJson('notes', schemaToJson(s))).toEqual(s)
    expect(toDeclaration(s)).toEqual({ version: 1, fields: { title: 'text', 'first-name': { type: 'text', column: 'first_name' }, n: 'counter' }, indexes: [['title'], ['n', 'first-name']] })
    expect(resolveSchema('my notes', { version: 2, table: 'my_notes', fields: { x: 'json' } }).table).toBe('my_notes')
  })

  it('refuse what SQL or weft cannot hold, every problem at once', () => {
    const problems = (c: string, s: unknown): string[] => { try { resolveSchema(c, s); return [] } catch (e) { return (e as { problems: string[] }).problems } }
    expect(problems('x', null)).toEqual(['must be an object: { version, fields, indexes? }'])
    expect(problems('x', { version: 1, fields: {} })).toEqual(['fields must declare at least one field'])
    expect(problems('sqlite_x', { version: 1, fields: { a: 'text' } })).toEqual([expect.stringMatching(/reserves/)])
    expect(problems('x', { version: 1, fields: { a: 'text' }, table: 'a'.repeat(65) })).toEqual([expect.stringMatching(/longer than 64/)])
    expect(problems('x', { version: 1, fields: { a: { type: 'text', columns: 'b' } } })).toEqual([expect.stringMatching(/unknown key "columns"/)])
    expect(problems('x', { version: 1, fields: { a: 'text' }, indexes: [['a'], 'a', []] })).toEqual([expect.stringMatching(/index 2 repeats/), expect.stringMatching(/index 3 must be/)])
    expect(problems('x', { version: 1, fields: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, 'text'])) })).toEqual([expect.stringMatching(/300 fields, over the limit of 256/)])
  })

  it('change by extension when fields are only added or indexes changed, else by a rebuild', () => {
    const from = resolveSchema('notes', notes)
    const to = (s: Partial<CollectionSchema>): ReturnType<typeof resolveSchema> => resolveSchema('notes', { ...notes, version: 2, ...s })
    expect(schemaChange(from, to({ fields: { n: 'counter', 'first-name': { type: 'text', column: 'first_name' }, title: 'text' } })).kind).toBe('same')
    expect(schemaChange(from, to({ fields: { ...notes.fields, views: 'integer' }, indexes: ['title', 'views'] }))).toEqual({
      kind: 'extend',
      addFields: [{ name: 'views', column: 'views', type: 'integer' }],
      addIndexes: [{ name: 'notes__by__views', columns: ['views'] }],
      dropIndexes: [{ name: 'notes__by__n__first_name', columns: ['n', 'first_name'] }]
    })
    expect(schemaChange(from, to({ fields: { title: 'text', n: 'counter' }, indexes: [] })).kind).toBe('rebuild')
    expect(schemaChange(from, to({ fields: { ...notes.fields, title: 'json' } })).kind).toBe('rebuild')
    expect(schemaChange(from, to({ fields: { ...notes.fields, 'first-name': { type: 'text', column: 'fname' } }, indexes: [] })).kind).toBe('rebuild')
    expect(schemaChange(from, to({ table: 'other' })).kind).toBe('rebuild')
  })
})

describe('values', () => {
  const reg = (v: Parameters<typeof encodeValue>[0]): { name: string, kind: 'register', values: Uint8Array[] } => ({ name: 'f', kind: 'register', values: [encodeValue(v)] })
  it('each type reads the kind it names; another kind or type is NULL', () => {
    expect(columnValue('text', reg('s'))).toBe('s')
    expect(columnValue('text', reg(1))).toBeNull()
    expect(columnValue('integer', reg(3))).toBe(3)
    expect(columnValue('integer', reg(2.5))).toBeNull()
    expect(columnValue('integer', reg(2 ** 60))).toBeNull()
    expect(columnValue('real', reg(2.5))).toBe(2.5)
    expect(columnValue('boolean', reg(true))).toBe(1)
    expect(columnValue('boolean', reg(0))).toBeNull()
    expect(columnValue('bytes', reg(new Uint8Array([1])))).toEqual(new Uint8Array([1]))
    expect(columnValue('json', reg({ b: [1], a: 'x' }))).toBe('{"a":"x","b":[1]}')
    expect(columnValue('json', reg(null))).toBeNull()
    expect(columnValue('counter', { name: 'f', kind: 'counter', values: [], total: 7 })).toBe(7)
    expect(columnValue('counter', reg(7))).toBeNull()
    expect(columnValue('set', { name: 'f', kind: 'set', values: [encodeValue('a'), encodeValue(new Uint8Array([2]))] })).toBe('["a",{"$bytes":"Ag=="}]')
    expect(columnValue('set', { name: 'f', kind: 'counter', values: [], total: 1 })).toBeNull()
    expect(columnValue('text', undefined)).toBeNull()
  })

  it('JSON keeps bytes, Buffers included (whose toJSON would otherwise win)', () => {
    const text = jsonText({ a: Buffer.from([1, 2]), b: [new Uint8Array([3])], n: 10n })
    expect(text).toBe('{"a":{"$bytes":"AQI="},"b":[{"$bytes":"Aw=="}],"n":"10"}')
    expect(parseJsonText(text)).toEqual({ a: new Uint8Array([1, 2]), b: [new Uint8Array([3])], n: '10' })
  })

  it('query results come back typed by the column they read', () => {
    expect(decoderFor('BOOLEAN INTEGER')).toBe('boolean')
    expect(decoderFor('JSON_SET TEXT')).toBe('json')
    expect(decoderFor('TEXT')).toBeUndefined()
    expect(resultValue(1n, 'boolean')).toBe(true)
    expect(resultValue(2n ** 60n, undefined)).toBe(2n ** 60n)
    expect(resultValue('[1,{"$bytes":"AQ=="}]', 'json')).toEqual([1, new Uint8Array([1])])
    expect(resultValue(null, 'json')).toBeNull()
  })
})
