/** The fault suite's results: one row per fault, with its figures, printed as a table. */

export interface RowResult {
  readonly ok: boolean
  /** The figures, in one line. */
  readonly figures: string
  /** What went wrong, or worth knowing. */
  readonly notes: readonly string[]
}

export function median (xs: readonly number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2)
}

export interface Printed { name: string, result: RowResult | undefined, error?: string, seconds: number }

/** A Markdown table (it reads as well in a terminal as in docs/faults.md). */
export function renderTable (rows: readonly Printed[]): string {
  const lines = ['| fault | result | figures | time |', '| --- | --- | --- | --- |']
  for (const r of rows) {
    const status = r.result === undefined ? 'ERROR' : r.result.ok ? 'pass' : 'FAIL'
    const figures = r.result?.figures ?? r.error ?? ''
    lines.push(`| ${r.name} | ${status} | ${figures.replace(/\|/g, '/')} | ${r.seconds.toFixed(0)} s |`)
  }
  return lines.join('\n')
}
