/**
 * The runtime kit's Prometheus text writer: the exposition format's lines,
 * label escaping and special values, and that the output parses line by line
 * as the format (0.0.4) defines it.
 */
import { describe, expect, it } from 'vitest'
import { formatLabels, formatValue, PrometheusText } from '../../src/runtime/prometheus.js'

describe('PrometheusText', () => {
  it('writes HELP and TYPE, then one line per sample, ending with a newline', () => {
    const text = new PrometheusText()
      .single('x_total', 'counter', 'Things done.', 3)
      .byLabel('y', 'gauge', 'Things by kind.', 'kind', { a: 1, b: 2 })
      .metric('z', 'gauge', 'Two labels.', [{ labels: { class: 'member', reason: 'expired' }, value: 4 }])
      .render()
    expect(text).toBe([
      '# HELP x_total Things done.', '# TYPE x_total counter', 'x_total 3',
      '# HELP y Things by kind.', '# TYPE y gauge', 'y{kind="a"} 1', 'y{kind="b"} 2',
      '# HELP z Two labels.', '# TYPE z gauge', 'z{class="member",reason="expired"} 4'
    ].join('\n') + '\n')
  })

  it('keeps HELP and TYPE for a metric with no samples yet', () => {
    expect(new PrometheusText().byLabel('r_total', 'counter', 'Refused.', 'reason', new Map()).render()).toBe('# HELP r_total Refused.\n# TYPE r_total counter\n')
  })

  it('takes label counts from a Map in insertion order', () => {
    const text = new PrometheusText().byLabel('a_total', 'counter', 'A.', 'result', new Map([['ok', 2], ['bad', 1]])).render()
    expect(text.split('\n').slice(2, 4)).toEqual(['a_total{result="ok"} 2', 'a_total{result="bad"} 1'])
  })

  it('escapes backslash, double quote and newline in label values, and backslash and newline in HELP', () => {
    expect(formatLabels({ reason: 'a"b\\c\nd' })).toBe('{reason="a\\"b\\\\c\\nd"}')
    const text = new PrometheusText().single('h', 'gauge', 'line one\nback\\slash "quoted"', 1).render()
    expect(text.split('\n')[0]).toBe('# HELP h line one\\nback\\\\slash "quoted"')
    // No sample or label breaks out of its line.
    expect(text.split('\n').filter(l => l !== '')).toHaveLength(3)
  })

  it('spells special values as the format does', () => {
    expect([NaN, Infinity, -Infinity, -1, 0.5, 1e21].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '-1', '0.5', '1e+21'])
    expect(formatLabels()).toBe('')
    expect(formatLabels({})).toBe('')
  })
})
