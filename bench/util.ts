/** Small helpers shared by the benchmarks: timing, medians, temp dirs, output. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function tempDir (prefix: string): { dir: string, cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `weft-bench-${prefix}-`))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]!
}

export function seconds (start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

export function row (label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(58)} ${value}\n`)
}
