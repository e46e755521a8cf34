/**
 * Collection schemas: what an app declares about a collection so that weft
 * keeps a real SQL table of it (see `typed-tables.ts`). Pure: checking a
 * declaration, its canonical form, and how one schema changes into another.
 *
 * A schema is local to a device (each app declares its own); only its
 * version travels, in the sync Hello, so that `weft status` can show peers
 * whose app is on another schema. The data itself never depends on a schema:
 * ops merge as they always do, and a table is only a projection of the
 * merged state, so any schema change can be applied by rebuilding it.
 */
import { SchemaError } from './errors.js'

/** How a declared field's merged value appears in its column. Each type reads the kind of field it names. */
export const FIELD_TYPES = ['text', 'integer', 'real', 'boolean', 'bytes', 'json', 'counter', 'set'] as const
export type FieldType = typeof FIELD_TYPES[number]

export interface FieldSpec {
  type: FieldType
  /** Column name, when the field name is not an SQL identifier. @default the field name */
  column?: string
}

/** What an app declares for one collection. */
export interface CollectionSchema {
  /**
   * The app's version of this schema (1 to 2^31-1). Peers see it in their
   * `weft status`; a changed schema must carry a new version.
   */
  version: number
  /** The SQL table's name. @default the collection name, which must then be an SQL identifier */
  table?: string
  /** Field name to type (or `{ type, column }`). */
  fields: Record<string, FieldType | FieldSpec>
  /** Indexes, each a list of field names (or one field name). @default [] */
  indexes?: Array<string | string[]>
}

export interface ResolvedField { readonly name: string, readonly column: string, readonly type: FieldType }
export interface ResolvedIndex { readonly name: string, readonly columns: readonly string[] }

/** A checked schema, with every default filled in: what the catalogue stores. */
export interface ResolvedSchema {
  readonly collection: string
  readonly version: number
  readonly table: string
  /** In column order. */
  readonly fields: readonly ResolvedField[]
  readonly indexes: readonly ResolvedIndex[]
}

export const MAX_SCHEMA_FIELDS = 256
export const MAX_SCHEMA_INDEXES = 32
export const MAX_INDEX_COLUMNS = 8
export const MAX_IDENTIFIER_CHARS = 64
export const MAX_SCHEMA_VERSION = 2 ** 31 - 1
/** Declared collections per replica (each one's version rides in every Hello). */
export const MAX_DECLARED_COLLECTIONS = 256

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Why `name` cannot be an unquoted table or column name, or undefined when it can. */
function identifierProblem (name: string): string | undefined {
  if (name.length > MAX_IDENTIFIER_CHARS) return `is longer than ${MAX_IDENTIFIER_CHARS} characters`
  if (!IDENTIFIER.test(name)) return 'is not an SQL identifier (letters, digits and _, not starting with a digit)'
  if (name.toLowerCase().startsWith('sqlite_')) return 'starts with sqlite_, which SQLite reserves'
  return undefined
}

/** Quotes an identifier for SQL (all names are checked identifiers; quoting also covers keywords such as "order"). */
export const quoteId = (name: string): string => `"${name.replaceAll('"', '""')}"`

/**
 * Checks a declaration and fills in its defaults. Every problem is reported
 * at once, in one SchemaError.
 */
export function resolveSchema (collection: string, schema: unknown): ResolvedSchema {
  const problems: string[] = []
  const s = schema as Partial<CollectionSchema> | null
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new SchemaError(collection, ['must be an object: { version, fields, indexes? }'])
  for (const k of Object.keys(s)) {
    if (!['version', 'table', 'fields', 'indexes'].includes(k)) problems.push(`unknown key ${JSON.stringify(k)} (known: version, table, fields, indexes)`)
  }
  const version = s.version
  if (!Number.isSafeInteger(version) || (version as number) < 1 || (version as number) > MAX_SCHEMA_VERSION) {
    problems.push(`version must be an integer from 1 to ${MAX_SCHEMA_VERSION}, got ${JSON.stringify(version)}`)
  }

  let table = collection
  if (s.table !== undefined) {
    if (typeof s.table !== 'string') problems.push('table must be a string')
    else {
      table = s.table
      const p = identifierProblem(table)
      if (p !== undefined) problems.push(`table name ${JSON.stringify(table)} ${p}`)
    }
  } else {
    const p = identifierProblem(collection)
    if (p !== undefined) problems.push(`the collection name ${p}; name the SQL table with "table"`)
  }

  const fields: ResolvedField[] = []
  const columns = new Map<string, string>() // lower-case column -> field
  if (typeof s.fields !== 'object' || s.fields === null || Array.isArray(s.fields)) {
    problems.push('fields must be an object of field name to type, e.g. { "title": "text" }')
  } else {
    const entries = Object.entries(s.fields)
    if (entries.length === 0) problems.push('fields must declare at least one field')
    if (entries.length > MAX_SCHEMA_FIELDS) problems.push(`fields declares ${entries.length} fields, over the limit of ${MAX_SCHEMA_FIELDS}`)
    for (const [name, spec] of entries.slice(0, MAX_SCHEMA_FIELDS)) {
      const where = `field ${JSON.stringify(name)}`
      const { type, column } = typeof spec === 'string' ? { type: spec, column: undefined } : (typeof spec === 'object' && spec !== null && !Array.isArray(spec) ? spec as Partial<FieldSpec> : { type: undefined, column: undefined })
      if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
        for (const k of Object.keys(spec)) if (k !== 'type' && k !== 'column') problems.push(`${where}: unknown key ${JSON.stringify(k)} (known: type, column)`)
      }
      if (!FIELD_TYPES.includes(type as FieldType)) {
        problems.push(`${where}: type must be one of ${FIELD_TYPES.join(', ')}, got ${JSON.stringify(type ?? spec)}`)
        continue
      }
      if (column !== undefined && typeof column !== 'string') { problems.push(`${where}: column must be a string`); continue }
      const col = column ?? name
      const p = identifierProblem(col)
      if (p !== undefined) {
        problems.push(column === undefined ? `${where}: the name ${p}; give it a column name: { "type": "${type}", "column": "…" }` : `${where}: column ${JSON.stringify(col)} ${p}`)
        continue
      }
      if (col.toLowerCase() === 'key') { problems.push(`${where}: column "key" holds the row key; give the field another column name`); continue }
      const clash = columns.get(col.toLowerCase())
      if (clash !== undefined) { problems.push(`${where}: column ${JSON.stringify(col)} is also used by field ${JSON.stringify(clash)} (SQL names ignore case)`); continue }
      columns.set(col.toLowerCase(), name)
      fields.push({ name, column: col, type: type as FieldType })
    }
  }

  const indexes: ResolvedIndex[] = []
  if (s.indexes !== undefined) {
    if (!Array.isArray(s.indexes)) problems.push('indexes must be a list, e.g. [["host"], ["seen", "host"]]')
    else {
      if (s.indexes.length > MAX_SCHEMA_INDEXES) problems.push(`indexes lists ${s.indexes.length} indexes, over the limit of ${MAX_SCHEMA_INDEXES}`)
      const byName = new Map(fields.map(f => [f.name, f]))
      const seen = new Set<string>()
      s.indexes.slice(0, MAX_SCHEMA_INDEXES).forEach((ix, i) => {
        const list = typeof ix === 'string' ? [ix] : ix
        if (!Array.isArray(list) || list.length === 0 || !list.every(x => typeof x === 'string')) { problems.push(`index ${i + 1} must be a field name or a non-empty list of field names`); return }
        if (list.length > MAX_INDEX_COLUMNS) { problems.push(`index ${i + 1} covers ${list.length} fields, over the limit of ${MAX_INDEX_COLUMNS}`); return }
        const cols: string[] = []
        for (const f of list) {
          const field = byName.get(f)
          if (field === undefined) { problems.push(`index ${i + 1} names field ${JSON.stringify(f)}, which is not declared`); return }
          cols.push(field.column)
        }
        if (new Set(cols).size !== cols.length) { problems.push(`index ${i + 1} names a field twice`); return }
        const name = `${table}__by__${cols.join('__')}`
        if (seen.has(name.toLowerCase())) { problems.push(`index ${i + 1} repeats an earlier index (${list.join(', ')})`); return }
        seen.add(name.toLowerCase())
        indexes.push({ name, columns: cols })
      })
    }
  }
  if (problems.length > 0) throw new SchemaError(collection, problems)
  return { collection, version: version as number, table, fields, indexes }
}

/** The canonical JSON a resolved schema is stored and compared as. */
export function schemaToJson (s: ResolvedSchema): string {
  return JSON.stringify({
    version: s.version,
    table: s.table,
    fields: s.fields.map(f => [f.name, f.column, f.type]),
    indexes: s.indexes.map(i => [i.name, i.columns])
  })
}

export function schemaFromJson (collection: string, json: string): ResolvedSchema {
  const o = JSON.parse(json) as { version: number, table: string, fields: Array<[string, string, FieldType]>, indexes: Array<[string, string[]]> }
  return {
    collection,
    version: o.version,
    table: o.table,
    fields: o.fields.map(([name, column, type]) => ({ name, column, type })),
    indexes: o.indexes.map(([name, columns]) => ({ name, columns }))
  }
}

/** The declaration form of a resolved schema (what `schemas()` returns and a file holds). */
export function toDeclaration (s: ResolvedSchema): CollectionSchema {
  const fields: Record<string, FieldType | FieldSpec> = {}
  const columnOf = new Map<string, string>()
  for (const f of s.fields) {
    fields[f.name] = f.column === f.name ? f.type : { type: f.type, column: f.column }
    columnOf.set(f.column, f.name)
  }
  return {
    version: s.version,
    ...(s.table === s.collection ? {} : { table: s.table }),
    fields,
    indexes: s.indexes.map(i => i.columns.map(c => columnOf.get(c)!))
  }
}

/**
 * How the table of `from` becomes the table of `to`:
 * - `same`: nothing to do (perhaps a new version number);
 * - `extend`: only new fields and index changes: columns are added and
 *   back-filled from the merged state, indexes created or dropped;
 * - `rebuild`: a field was removed, retyped or renamed, or the table renamed:
 *   the table is dropped and rebuilt from the merged state.
 */
export type SchemaChange =
  | { readonly kind: 'same' }
  | { readonly kind: 'extend', readonly addFields: readonly ResolvedField[], readonly addIndexes: readonly ResolvedIndex[], readonly dropIndexes: readonly ResolvedIndex[] }
  | { readonly kind: 'rebuild' }

export function schemaChange (from: ResolvedSchema, to: ResolvedSchema): SchemaChange {
  if (from.table !== to.table) return { kind: 'rebuild' }
  const next = new Map(to.fields.map(f => [f.name, f]))
  for (const f of from.fields) {
    const g = next.get(f.name)
    if (g === undefined || g.column !== f.column || g.type !== f.type) return { kind: 'rebuild' }
  }
  const had = new Set(from.fields.map(f => f.name))
  const addFields = to.fields.filter(f => !had.has(f.name))
  const oldIx = new Map(from.indexes.map(i => [i.name, i]))
  const newIx = new Map(to.indexes.map(i => [i.name, i]))
  const addIndexes = to.indexes.filter(i => !oldIx.has(i.name))
  const dropIndexes = from.indexes.filter(i => !newIx.has(i.name))
  if (addFields.length === 0 && addIndexes.length === 0 && dropIndexes.length === 0) return { kind: 'same' }
  return { kind: 'extend', addFields, addIndexes, dropIndexes }
}

/** The SQL type a column is declared with: its affinity, and a first word that says what weft stores there (read back by queries). */
export const COLUMN_TYPES: Readonly<Record<FieldType, string>> = {
  text: 'TEXT',
  integer: 'INTEGER',
  real: 'REAL',
  boolean: 'BOOLEAN INTEGER',
  bytes: 'BLOB',
  json: 'JSON TEXT',
  counter: 'COUNTER INTEGER',
  set: 'JSON_SET TEXT'
}

export function createTableSql (s: ResolvedSchema, schemaName: string): string {
  const cols = s.fields.map(f => `${quoteId(f.column)} ${COLUMN_TYPES[f.type]}`)
  return `CREATE TABLE ${quoteId(schemaName)}.${quoteId(s.table)} (key TEXT PRIMARY KEY NOT NULL, ${cols.join(', ')}) WITHOUT ROWID`
}

export function createIndexSql (s: ResolvedSchema, ix: ResolvedIndex, schemaName: string): string {
  return `CREATE INDEX ${quoteId(schemaName)}.${quoteId(ix.name)} ON ${quoteId(s.table)} (${ix.columns.map(quoteId).join(', ')})`
}
