/**
 * Prometheus text exposition, format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format):
 * the writer both binaries' /metrics use. Each metric is a HELP and a TYPE
 * line, then one line per sample; HELP text escapes `\` and newlines, label
 * values escape `\`, `"` and newlines, as the format requires.
 */

export type MetricType = 'gauge' | 'counter'

/** Label name to value; `{}` (or none) for a sample without labels. */
export type Labels = Readonly<Record<string, string>>

export interface Sample {
  readonly labels?: Labels
  readonly value: number
}

const escapeHelp = (s: string): string => s.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
const escapeLabel = (s: string): string => s.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')

/** `{a="x",b="y"}`, or '' without labels. */
export function formatLabels (labels: Labels = {}): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Prometheus' spelling of a sample value (`+Inf`, `-Inf`, `NaN` for the special ones). */
export function formatValue (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/** Collects metrics in order and renders them as one exposition. */
export class PrometheusText {
  readonly #lines: string[] = []

  /** Adds one metric with its samples (a metric without samples keeps its HELP and TYPE lines). */
  metric (name: string, type: MetricType, help: string, samples: readonly Sample[]): this {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
    for (const s of samples) this.#lines.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`)
    return this
  }

  /** One sample without labels. */
  single (name: string, type: MetricType, help: string, value: number): this {
    return this.metric(name, type, help, [{ value }])
  }

  /** One sample per entry of `counts`, labelled `label="<key>"`. */
  byLabel (name: string, type: MetricType, help: string, label: string, counts: Iterable<readonly [string, number]> | Readonly<Record<string, number>>): this {
    const entries = Symbol.iterator in counts ? [...counts as Iterable<readonly [string, number]>] : Object.entries(counts)
    return this.metric(name, type, help, entries.map(([k, value]) => ({ labels: { [label]: k }, value })))
  }

  /** The exposition text, ending with a newline. */
  render (): string {
    return this.#lines.join('\n') + '\n'
  }
}
