/**
 * The shared way to check and load a JSON config file (the daemon's and the
 * relay's): a size limit applied before the file is read, every problem
 * reported together and each naming where it is (the file or the command
 * line) and the key, unknown keys rejected (a misspelt key must not silently
 * fall back to its default), and defaults from one table per binary.
 *
 * A check returns a problem (completing "<key> ...") or undefined. Options
 * passed in code are checked the same way: `createNode`'s are a `Checks`
 * table in src/net/config.ts, with that module's wording for unknown options.
 */
import { readFileSync, statSync } from 'node:fs'
import { LEVELS } from './log.js'

/** A config file larger than this is not a config file; refused before it is read. */
export const MAX_CONFIG_FILE_BYTES = 64 * 1024

/** Checks one value; returns what is wrong with it (completing "<key> …"), or undefined. */
export type Check = (v: unknown) => string | undefined

/** One check per key of `T`: the keys a config accepts. */
export type Checks<T> = { readonly [K in keyof T]-?: Check }

export const isBool: Check = v => typeof v === 'boolean' ? undefined : 'must be true or false'

export const isInt = (min: number, max: number): Check => v =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `must be an integer from ${min} to ${max}`

export const isStringList = (max: number): Check => v =>
  Array.isArray(v) && v.every(s => typeof s === 'string' && s.length > 0 && s.length <= 512) && v.length <= max ? undefined : `must be a list of at most ${max} non-empty strings`

export const isNonNegativeNumber: Check = v => typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : 'must be a non-negative number'

/** `null`, or what `check` accepts. */
export const orNull = (check: Check): Check => v => v === null ? undefined : check(v)

/**
 * Not given (`undefined`: the default applies), or what `check` accepts. For
 * options passed in code, where an absent option is often an explicit `undefined`.
 */
export const orUndefined = (check: Check): Check => v => v === undefined ? undefined : check(v)

export const isLogLevel: Check = v => typeof v === 'string' && (LEVELS as readonly string[]).includes(v) ? undefined : `must be one of ${LEVELS.join(', ')}`

/**
 * Checks a partial config object from `where` (a file name, or "command
 * line") against `checks`; returns every problem found.
 */
export function checkObject<T> (raw: unknown, where: string, checks: Checks<T>): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [`${where}: must be a JSON object`]
  const problems: string[] = []
  for (const [k, v] of Object.entries(raw)) {
    const check = Object.hasOwn(checks, k) ? (checks as Record<string, Check>)[k] : undefined
    if (check === undefined) {
      problems.push(`${where}: unknown key ${JSON.stringify(k)} (known: ${Object.keys(checks).join(', ')})`)
      continue
    }
    const p = check(v)
    if (p !== undefined) problems.push(`${where}: ${k} ${p}`)
  }
  return problems
}

export interface JsonFile {
  /** What the file holds (not yet checked); `{}` when it is missing or could not be read. */
  value: unknown
  /** Why it could not be read: too large, not JSON, unreadable, or missing when required. */
  problems: string[]
}

/**
 * Reads the JSON file `file`, refusing one over `maxBytes` before reading
 * it. A missing file is `{}` (the defaults) unless `required`.
 */
export function readJsonFile (file: string, maxBytes: number, required = false): JsonFile {
  const problems: string[] = []
  let value: unknown = {}
  try {
    const st = statSync(file)
    if (st.size > maxBytes) problems.push(`${file}: ${st.size} bytes, over the ${maxBytes}-byte limit`)
    else {
      try {
        value = JSON.parse(readFileSync(file, 'utf8'))
      } catch (err) {
        problems.push(`${file}: not valid JSON (${(err as Error).message})`)
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || required) problems.push(`${file}: cannot read (${(err as Error).message})`)
  }
  return { value, problems }
}

export interface LoadOptions<T> {
  /** The config file; undefined: none (defaults and overrides only). */
  file: string | undefined
  /** A missing `file` is a problem rather than the defaults. @default false */
  required?: boolean
  /** Files larger than this are refused unread. @default MAX_CONFIG_FILE_BYTES (64 KiB) */
  maxBytes?: number
  /** The defaults, one table. */
  defaults: Readonly<T>
  checks: Checks<T>
  /** Values from the command line, checked as "command line". @default {} */
  overrides?: Readonly<Record<string, unknown>>
}

/**
 * Defaults, then the file, then the overrides, every problem of the file and
 * the overrides collected together. Throws nothing: the caller turns
 * `problems` into its own error (the daemon's ConfigError, the relay's
 * RelayConfigError) and checks what only shows in the merged result.
 */
export function loadJsonConfig<T> (opts: LoadOptions<T>): { config: T, problems: string[] } {
  const problems: string[] = []
  let fromFile: unknown = {}
  if (opts.file !== undefined) {
    const read = readJsonFile(opts.file, opts.maxBytes ?? MAX_CONFIG_FILE_BYTES, opts.required)
    problems.push(...read.problems)
    fromFile = read.value
    if (problems.length === 0) problems.push(...checkObject(fromFile, opts.file, opts.checks))
  }
  const overrides = opts.overrides ?? {}
  problems.push(...checkObject(overrides, 'command line', opts.checks))
  const config = { ...opts.defaults, ...(fromFile as object), ...overrides } as T
  return { config, problems }
}
