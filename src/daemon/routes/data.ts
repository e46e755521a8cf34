/**
 * Rows: read, write, delete, counters and sets, and the list of collections.
 *
 *   GET    /v1/collections
 *   GET    /v1/data/:collection               ?limit=&after=
 *   GET    /v1/data/:collection/:key
 *   PUT    /v1/data/:collection/:key          { fields: { name: value } }
 *   DELETE /v1/data/:collection/:key
 *   POST   /v1/data/:collection/:key/increment { field, by? }
 *   POST   /v1/data/:collection/:key/add       { field, element }
 *   POST   /v1/data/:collection/:key/remove    { field, element }
 *
 * Values are checked by the store as it writes them (oplog/value.ts), which
 * names the field in its errors; here only the shape of the body is checked.
 */
import { InvalidArgumentError } from '../../errors.js'
import type { CollectionsResponse, OkResponse, RowListItem, RowResponse } from '../api-types.js'
import { HttpError, type Route } from '../control-api.js'
import { fieldsFromJson, toJson, valueFromJson } from '../json-values.js'
import { bodyObject, type DaemonContext } from './context.js'

const OK: OkResponse = { ok: true }

/** The field a counter or set op names. */
function fieldOf (b: Record<string, unknown>): string {
  if (typeof b.field !== 'string') throw new InvalidArgumentError('body needs "field": the field name')
  return b.field
}

export function dataRoutes (d: DaemonContext): Route[] {
  const at = (p: Readonly<Record<string, string>>): [string, string] => [p.collection!, p.key!]
  return [
    { path: 'v1/collections', methods: { GET: (): CollectionsResponse => d.replica.collections() } },
    {
      path: 'v1/data/:collection',
      methods: {
        GET: (req, p): RowListItem[] => {
          const q = req.query
          const limit = q.has('limit') ? Number(q.get('limit')) : 100
          const after = q.get('after')
          return d.replica.list(p.collection!, { limit, ...(after === null ? {} : { after }) }).map(row => ({ key: row.key, fields: toJson(row.fields) }))
        }
      }
    },
    {
      path: 'v1/data/:collection/:key',
      methods: {
        GET: (_req, p): RowResponse => {
          const [collection, key] = at(p)
          const row = d.replica.get(collection, key)
          if (row === undefined) throw new HttpError('NOT_FOUND', `no row ${JSON.stringify(key)} in ${JSON.stringify(collection)}`)
          return toJson(row)
        },
        PUT: (req, p): OkResponse => {
          const fields = fieldsFromJson(bodyObject(req.body).fields, 'fields')
          // The store's own message for fields that are not an object.
          if (fields === undefined) throw new InvalidArgumentError('put needs an object of fields, e.g. { title: "hello" }')
          d.replica.put(...at(p), fields)
          return OK
        },
        DELETE: (_req, p): OkResponse => { d.replica.delete(...at(p)); return OK }
      }
    },
    {
      path: 'v1/data/:collection/:key/increment',
      methods: {
        POST: (req, p): OkResponse => {
          const b = bodyObject(req.body)
          const field = fieldOf(b)
          const by = b.by ?? 1
          if (typeof by !== 'number') throw new InvalidArgumentError('"by" must be an integer')
          d.replica.increment(...at(p), field, by)
          return OK
        }
      }
    },
    ...(['add', 'remove'] as const).map((action): Route => ({
      path: `v1/data/:collection/:key/${action}`,
      methods: {
        POST: (req, p): OkResponse => {
          const b = bodyObject(req.body)
          const field = fieldOf(b)
          if (!('element' in b)) throw new InvalidArgumentError('body needs "element": the set element')
          const element = valueFromJson(b.element, 'element')
          if (action === 'add') d.replica.add(...at(p), field, element)
          else d.replica.remove(...at(p), field, element)
          return OK
        }
      }
    }))
  ]
}
