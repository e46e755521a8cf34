/**
 * The query process's entry point: opens tables.db read-only and answers
 * queries from its parent over IPC, one at a time. It exits when the parent
 * goes away; the parent kills it when a query runs past its deadline.
 */
import { QueryEngine } from './query.js'

export interface ChildRequest {
  readonly id: number
  readonly op: 'query' | 'tables'
  readonly sql: string
  readonly params: unknown
  readonly options: { maxRows?: number, timeoutMs?: number, maxBytes?: number }
}

export type ChildReply =
  | { readonly id: number, readonly ok: true, readonly columns?: string[], readonly rows?: unknown[][], readonly tables?: string[] }
  | { readonly id: number, readonly ok: false, readonly error: { readonly name: string, readonly message: string } }

const file = process.argv[2]
if (file === undefined || process.send === undefined) {
  process.stderr.write('query-child: run by QueryProcess, with the tables file as argument\n')
  process.exit(2)
}
const engine = new QueryEngine(file)
process.on('disconnect', () => { engine.close(); process.exit(0) })
process.on('message', (m: ChildRequest) => {
  let reply: ChildReply
  try {
    if (m.op === 'tables') reply = { id: m.id, ok: true, tables: engine.tablesRead(m.sql, m.params) }
    else {
      const r = engine.run(m.sql, m.params, { ...m.options, rowMode: 'array' })
      reply = { id: m.id, ok: true, columns: r.columns, rows: r.rows }
    }
  } catch (err) {
    reply = { id: m.id, ok: false, error: { name: (err as Error).name, message: (err as Error).message } }
  }
  process.send!(reply)
})
process.send({ id: -1, ok: true })
