/**
 * `weft query` and `weft schema`: SQL over the declared tables, and the
 * schemas that declare them. Presentation only: each command checks its
 * arguments, makes its control API call(s) and prints.
 */
import { readFileSync, statSync } from 'node:fs'
import type { ParseArgsConfig } from 'node:util'
import { InvalidArgumentError } from '../errors.js'
import type { DeclareSchemaResponse, ErrorResponse, QueryResponse, RebuildResponse, SchemaView } from '../daemon/api-types.js'
import type { Paths } from '../daemon/paths.js'
import { call } from './client.js'
import { parseValueArg, printTable } from './format.js'

type Options = NonNullable<ParseArgsConfig['options']>
interface Ctx { paths: Paths, json: boolean, values: Record<string, string | boolean | string[] | undefined>, args: string[] }
interface Command { usage: string, summary: string, options?: Options, min?: number, max?: number, run: (ctx: Ctx) => Promise<void | number> }

/** A schema file larger than this is not a schema file. */
const MAX_SCHEMA_FILE_BYTES = 1024 * 1024
/** The longest query (the daemon refuses longer ones too). */
const MAX_SQL_FILE_BYTES = 64 * 1024

type Result = QueryResponse

const enc = encodeURIComponent

/** A cell for people: NULL, bytes as x'…' (SQL's blob literal), JSON for arrays and objects. */
function cell (v: unknown): string {
  if (v === null) return 'NULL'
  if (typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === '$bytes') return `x'${Buffer.from((v as { $bytes: string }).$bytes, 'base64').toString('hex')}'`
    return JSON.stringify(v)
  }
  return String(v)
}

/** Rows as objects keyed by column, for --json (a repeated column name already carries a :1 suffix). */
const asObjects = (r: Result): unknown => ({ columns: r.columns, rows: r.rows.map(row => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))) })

function positiveInt (v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`)
  return n
}

export function queryCommands (out: (s: string) => void): Record<string, Command> {
  const api = async <T = unknown>(ctx: Ctx, method: string, path: string, body?: unknown): Promise<T> =>
    await call<T>(ctx.paths.socket, method, path, body === undefined ? {} : { body })
  const print = (ctx: Ctx, r: Result): void => {
    if (ctx.json) { out(JSON.stringify(asObjects(r))); return }
    printTable(r.columns, r.rows.map(row => row.map(cell)), out)
    out(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'}${r.ms === undefined ? '' : `, ${r.ms} ms`})`)
  }
  return {
    query: {
      usage: 'weft query "<sql>" | --file F.sql [--param V]... [--watch] [--max-rows N] [--timeout MS]',
      summary: 'read-only SQL over the declared tables; --watch prints each new result as writes arrive',
      options: { file: { type: 'string', short: 'f' }, param: { type: 'string', short: 'p', multiple: true }, watch: { type: 'boolean', short: 'w' }, 'max-rows': { type: 'string' }, timeout: { type: 'string' } },
      max: 1,
      run: async ctx => {
        const file = ctx.values.file as string | undefined
        if ((file === undefined) === (ctx.args[0] === undefined)) throw new InvalidArgumentError('give the SQL as one argument or with --file, e.g. weft query "SELECT * FROM notes"')
        const params = ((ctx.values.param ?? []) as string[]).map(parseValueArg)
        const body: Record<string, unknown> = { sql: file === undefined ? ctx.args[0] : readSqlFile(file), params }
        const maxRows = positiveInt(ctx.values['max-rows'], '--max-rows')
        const timeoutMs = positiveInt(ctx.values.timeout, '--timeout')
        if (maxRows !== undefined) body.maxRows = maxRows
        if (timeoutMs !== undefined) body.timeoutMs = timeoutMs
        if (ctx.values.watch !== true) { print(ctx, await api<QueryResponse>(ctx, 'POST', '/v1/query', body)); return }
        let first = true
        await call(ctx.paths.socket, 'POST', '/v1/query/watch', {
          body,
          onLine: line => {
            const msg = JSON.parse(line) as QueryResponse | ErrorResponse
            if ('error' in msg) {
              if (ctx.json) out(line)
              else process.stderr.write(`weft: the live query failed this time (${msg.error.code}): ${msg.error.message}\n`)
              return
            }
            if (!ctx.json && !first) out(`\n-- ${new Date().toISOString()}`)
            first = false
            print(ctx, msg)
          }
        })
      }
    },
    schema: {
      usage: 'weft schema ls | apply <file.json> | rm <collection> | rebuild <collection>',
      summary: 'the collection schemas that make declared tables: list, declare from a file ({ "<collection>": schema }), drop, rebuild',
      min: 1,
      max: 2,
      run: async ctx => {
        const [sub, arg] = ctx.args
        if (sub === 'ls' || sub === 'list') {
          if (arg !== undefined) throw new InvalidArgumentError('usage: weft schema ls')
          const list = await api<SchemaView[]>(ctx, 'GET', '/v1/schemas')
          if (ctx.json) { out(JSON.stringify(list, null, 2)); return }
          if (list.length === 0) { out('no collection schema is declared (weft schema apply <file.json>)'); return }
          printTable(['COLLECTION', 'TABLE', 'VERSION', 'ROWS', 'FIELDS', 'INDEXES'], list.map(s => [
            s.collection, s.table, String(s.version), String(s.rows),
            Object.entries(s.schema.fields).map(([f, t]) => `${f}:${typeof t === 'string' ? t : (t as { type: string }).type}`).join(' '),
            s.schema.indexes.map(i => `(${i.join(', ')})`).join(' ')
          ]), out)
          return
        }
        if (arg === undefined) throw new InvalidArgumentError(`usage: weft schema ${sub === undefined ? 'ls|apply|rm|rebuild' : sub} <${sub === 'apply' ? 'file.json' : 'collection'}>`)
        if (sub === 'apply') {
          const schemas = readSchemaFile(arg)
          const results: unknown[] = []
          for (const [collection, schema] of Object.entries(schemas)) {
            const r = await api<DeclareSchemaResponse>(ctx, 'PUT', `/v1/schemas/${enc(collection)}`, schema)
            results.push(r)
            if (!ctx.json) out(`${r.collection}: ${r.change} (table ${r.table}, version ${r.version}${r.rows > 0 ? `, ${r.rows} rows written` : ''})`)
          }
          if (ctx.json) out(JSON.stringify(results, null, 2))
          return
        }
        if (sub === 'rm') {
          await api(ctx, 'DELETE', `/v1/schemas/${enc(arg)}`)
          out(ctx.json ? '{"ok":true}' : `dropped the table of ${arg}; its data stays`)
          return
        }
        if (sub === 'rebuild') {
          const r = await api<RebuildResponse>(ctx, 'POST', `/v1/schemas/${enc(arg)}/rebuild`)
          out(ctx.json ? JSON.stringify(r) : `rebuilt the table of ${arg} from the merged state: ${r.rows} rows`)
          return
        }
        throw new InvalidArgumentError(`unknown schema subcommand ${JSON.stringify(sub)}; use: weft schema ls | apply <file> | rm <collection> | rebuild <collection>`)
      }
    }
  }
}

/** A file of SQL (which may start with a -- comment, which would read as an option on the command line). */
function readSqlFile (file: string): string {
  let size: number
  try { size = statSync(file).size } catch (err) { throw new InvalidArgumentError(`cannot read ${file}: ${(err as Error).message}`) }
  if (size > MAX_SQL_FILE_BYTES) throw new InvalidArgumentError(`${file} is ${size} bytes, over the ${MAX_SQL_FILE_BYTES}-byte limit of a query`)
  return readFileSync(file, 'utf8')
}

/** Reads `{ "<collection>": schema, … }` from a JSON file; the daemon checks each schema. */
function readSchemaFile (file: string): Record<string, unknown> {
  let size: number
  try { size = statSync(file).size } catch (err) { throw new InvalidArgumentError(`cannot read ${file}: ${(err as Error).message}`) }
  if (size > MAX_SCHEMA_FILE_BYTES) throw new InvalidArgumentError(`${file} is ${size} bytes, over the ${MAX_SCHEMA_FILE_BYTES}-byte limit for a schema file`)
  let parsed: unknown
  try { parsed = JSON.parse(readFileSync(file, 'utf8')) } catch (err) { throw new InvalidArgumentError(`${file} is not valid JSON: ${(err as Error).message}`) }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
    throw new InvalidArgumentError(`${file} must hold a JSON object of collection name to schema, e.g. { "notes": { "version": 1, "fields": { "title": "text" } } }`)
  }
  return parsed as Record<string, unknown>
}
