/** Presentation helpers for the CLI: tables and argument values. */
import { InvalidArgumentError } from '../errors.js'

export function printTable (head: string[], rows: string[][], out: (s: string) => void): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  out(line(head))
  for (const r of rows) out(line(r))
}

/** A value on the command line: JSON when it parses (42, true, null, "x", [1], {"a":1}), else the literal string. */
export function parseValueArg (s: string): unknown {
  try { return JSON.parse(s) } catch { return s }
}

export function parseFieldArgs (args: string[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const a of args) {
    const i = a.indexOf('=')
    if (i <= 0) throw new InvalidArgumentError(`expected <field>=<value>, got ${JSON.stringify(a)}`)
    fields[a.slice(0, i)] = parseValueArg(a.slice(i + 1))
  }
  return fields
}
