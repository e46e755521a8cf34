/** Errors of declared tables and queries; each names the problem, and its `code` travels through the control API. */
import { InvalidArgumentError, WeftError } from '../../errors.js'

/** A collection schema that cannot be declared; `problems` lists every reason at once. */
export class SchemaError extends InvalidArgumentError {
  static override name = 'SchemaError'
  readonly collection: string
  readonly problems: readonly string[]
  constructor (collection: string, problems: readonly string[]) {
    super(problems.length === 1 ? `schema of ${JSON.stringify(collection)}: ${problems[0]}` : `schema of ${JSON.stringify(collection)} has ${problems.length} problems:\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.collection = collection
    this.problems = problems
  }
}

/** A query that cannot run: bad SQL, not a read, a table that is not declared, bad parameters. */
export class QueryError extends WeftError {
  static override name = 'QueryError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'INVALID_QUERY', options) }
}

/** A query that ran into its row or result-size limit. */
export class QueryLimitError extends WeftError {
  static override name = 'QueryLimitError'
  constructor (message: string) { super(message, 'QUERY_LIMIT') }
}

/** A query that ran past its time limit. */
export class QueryTimeoutError extends WeftError {
  static override name = 'QueryTimeoutError'
  constructor (message: string) { super(message, 'QUERY_TIMEOUT') }
}
