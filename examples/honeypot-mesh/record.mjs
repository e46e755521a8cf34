#!/usr/bin/env node
// Records one login attempt a decoy saw, in the local weft daemon; weft
// syncs it to the other decoys. Hook it into the honeypot's login handler:
//
//   node record.mjs --ip 203.0.113.7 --user root --password 123456 [--decoy NAME] [--data-dir DIR]
//
// The row of an attacker is keyed by its IP: the decoys that saw it and the
// credentials it tried are sets (every decoy adds to them, nothing is lost
// when two decoys record at once), its attempts a counter, and when and
// where it was last seen are registers (the latest write wins).
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { api, socketOf } from '../weft-api.mjs'

const { values } = parseArgs({ options: { ip: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, decoy: { type: 'string' }, 'data-dir': { type: 'string' } } })
if (values.ip === undefined || values.user === undefined || values.password === undefined) {
  process.stderr.write('usage: node record.mjs --ip IP --user USER --password PASSWORD [--decoy NAME] [--data-dir DIR]\n')
  process.exit(2)
}
const socket = socketOf(values['data-dir'])
const decoy = values.decoy ?? hostname()
const row = `/v1/data/attackers/${encodeURIComponent(values.ip)}`
try {
  await api(socket, 'POST', `${row}/add`, { field: 'decoys', element: decoy })
  await api(socket, 'POST', `${row}/add`, { field: 'credentials', element: `${values.user}:${values.password}` })
  await api(socket, 'POST', `${row}/increment`, { field: 'attempts', by: 1 })
  await api(socket, 'PUT', row, { fields: { last_seen: Date.now(), last_decoy: decoy } })
} catch (err) {
  process.stderr.write(`record.mjs: ${err.message}\n`)
  process.exit(1)
}
