/**
 * Command-line parsing around node:util's parseArgs, which reads every token
 * that starts with "-" as an option: `weft inc c k n -1` failed with
 * "Unknown option '-1'". weft has no option named by a digit, so a token that
 * reads as a negative number is a value (a positional, or an option's value).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { WeftError } from '../errors.js'

export type Options = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | string[] | undefined>

const NEGATIVE_NUMBER = /^-(\d|\.\d)/
// No argv string can hold NUL, so this prefix cannot clash with a real argument.
const HIDDEN = '\0'

const reveal = (s: string): string => s.startsWith(HIDDEN) ? s.slice(HIDDEN.length) : s

/** parseArgs in strict mode, with negative numbers read as values; a parse error is a USAGE error carrying `usage`. */
export function parseCommandLine (args: string[], options: Options, usage: string): { values: Values, positionals: string[] } {
  let parsed
  try {
    parsed = parseArgs({ args: args.map(a => NEGATIVE_NUMBER.test(a) ? HIDDEN + a : a), options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new WeftError(`${(err as Error).message.replaceAll(HIDDEN, '')}\nusage: ${usage}`, 'USAGE')
  }
  const values: Values = {}
  for (const [k, v] of Object.entries(parsed.values)) {
    values[k] = typeof v === 'string' ? reveal(v) : Array.isArray(v) ? v.map(x => typeof x === 'string' ? reveal(x) : String(x)) : v as boolean | undefined
  }
  return { values, positionals: parsed.positionals.map(reveal) }
}
