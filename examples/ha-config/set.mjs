#!/usr/bin/env node
// Sets one key of the cluster's shared config on this node; weft syncs it
// to the others. The value is JSON (else a string); when and where it was
// set go with it, in the same write (one batch, one signature):
//
//   node set.mjs <key> <value> [--by NAME] [--data-dir DIR]
//   node set.mjs haproxy.maxconn 4096
//
// Two nodes setting one key at once: the later write (by HLC) wins on every node.
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { api, socketOf } from '../weft-api.mjs'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { by: { type: 'string' }, 'data-dir': { type: 'string' } } })
if (positionals.length !== 2) {
  process.stderr.write('usage: node set.mjs <key> <value> [--by NAME] [--data-dir DIR]\n')
  process.exit(2)
}
const [key, raw] = positionals
let value
try { value = JSON.parse(raw) } catch { value = raw }
try {
  await api(socketOf(values['data-dir']), 'PUT', `/v1/data/config/${encodeURIComponent(key)}`, { fields: { value, updated_at: Date.now(), updated_by: values.by ?? hostname() } })
} catch (err) {
  process.stderr.write(`set.mjs: ${err.message}\n`)
  process.exit(1)
}
