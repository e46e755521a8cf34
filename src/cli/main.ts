/**
 * `weft`: the command-line interface. Each command declares its options,
 * checks them up front, calls one function (usually one control API request)
 * and prints the result, as a table for people or as JSON with `--json`.
 * Errors map to exit codes in one place (`exitCodeFor`).
 *
 * Only the control API client is imported up front. The commands that host
 * the daemon or open the store (start, init with no daemon, recover) run in
 * the daemon's entry point, which the binary (src/bin/weft.ts) passes in and
 * loads only when one of them runs, and `service` imports its module when it
 * runs: loading libp2p and better-sqlite3 costs about a second, too much for
 * a `weft get` that a hook runs per event (`npm run bench:cli`).
 */
import '../polyfill.js'
import { InvalidArgumentError, WeftError } from '../errors.js'
import type { Check, DiffResponse, DeviceView, InviteResponse, JoinResponse, OpView, PeerBookResponse, PeerView, RelayView, RevokeResponse, RowListItem, StatusResponse, SyncResult } from '../daemon/api-types.js'
import { EXIT, outcomeFor } from '../daemon/error-codes.js'
import { resolvePaths, type Paths } from '../daemon/paths.js'
import { stdoutGone, writeLine } from '../runtime/process.js'
import { parseCommandLine, type Options, type Values } from './args.js'
import { ApiError, call, DaemonUnavailableError } from './client.js'
import { adoptErrors, type LoadDaemonEntry } from './daemon-entry.js'
import { printTable, parseFieldArgs, parseValueArg } from './format.js'
import { waitForInitialSync, withProgress } from './progress.js'
import { queryCommands } from './query.js'
import { WEFT_VERSION } from '../version.js'

export { EXIT }

interface Ctx { paths: Paths, json: boolean, values: Values, args: string[], daemonEntry: LoadDaemonEntry }
interface Command {
  usage: string
  summary: string
  options?: Options
  min?: number
  max?: number
  /** What the leading positionals name (collection, key, field): each must be non-empty. */
  names?: string[]
  run: (ctx: Ctx) => Promise<void | number>
}

const GLOBAL: Options = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false }
}

const out = writeLine
const api = async <T = unknown>(ctx: Ctx, method: string, path: string, body?: unknown): Promise<T> =>
  await call<T>(ctx.paths.socket, method, path, body === undefined ? {} : { body })
const enc = encodeURIComponent
const printJsonOr = (ctx: Ctx, value: unknown, human: () => void): void => { if (ctx.json) out(JSON.stringify(value, null, 2)); else human() }

const COMMANDS: Record<string, Command> = {
  start: {
    usage: 'weft start [--log-level L] [--listen ADDR]... [--relay ADDR]... [--peer ADDR]... [--no-mdns] [--no-upnp] [--api-port N]',
    summary: 'run the node in the foreground (what a service manager runs)',
    options: { 'log-level': { type: 'string' }, listen: { type: 'string', multiple: true }, relay: { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'no-mdns': { type: 'boolean' }, 'no-upnp': { type: 'boolean' }, 'api-port': { type: 'string' }, 'device-name': { type: 'string' } },
    max: 0,
    run: async ctx => { await (await ctx.daemonEntry()).start(ctx.paths, ctx.values) }
  },
  status: {
    usage: 'weft status', summary: 'device, group, store, and the sync state with each known peer', max: 0,
    run: async ctx => {
      const s = await api<StatusResponse>(ctx, 'GET', '/v1/status')
      printJsonOr(ctx, s, () => {
        out(`device   ${s.device}${s.deviceName === undefined ? '' : ` (${s.deviceName})`}`)
        out(`group    ${s.group}`)
        out(`store    ${s.store.ops} ops from ${s.store.origins} devices, ${(s.store.bytes / 1024 / 1024).toFixed(1)} MiB, ${s.dataDir}`)
        out(`clock    ${s.hlc}`)
        if (s.network !== null) out(`listen   ${s.network.addresses.join(' ') || '(none)'}`)
        else out('network  not running')
        for (const r of s.network?.incoming ?? []) out(`incoming ops ${r.seqs} of ${String(r.origin)}: ${Math.floor(r.heldBytes / 1024)} of ${Math.ceil(r.totalBytes / 1024)} KiB received (a large value, in fragments)`)
        const rejected = Object.entries(s.rejected)
        if (rejected.length > 0) out(`rejected ${rejected.map(([r, n]) => `${r}=${n}`).join(' ')}`)
        if (s.clock?.ok === false) out(`WARNING  ${s.clock.detail}`)
        for (const p of s.clock?.peersHolding ?? []) out(`WARNING  ${p.name ?? p.peer} holds this device's ops from seq ${p.fromSeq}: stamped ${Math.round(p.aheadMs / 1000)} s ahead, beyond the drift bound`)
        for (const h of s.held ?? []) out(`held     ${h.ops} ops from ${h.name ?? h.device} stamped ${Math.round(h.aheadMs / 1000)} s ahead of this clock; they apply in about ${Math.round(h.appliesInMs / 1000)} s`)
        for (const e of s.equivocating ?? []) out(`WARNING  ${e.name === null ? e.device : `${e.name} (${e.device})`} is equivocating (signed two different ops with one seq): see weft doctor`)
        const peers = s.peers
        out(`peers    ${peers.filter(p => p.connected === true).length} connected, ${peers.length} known`)
        if (peers.length > 0) printTable(['PEER', 'LOCAL', 'PEER VERSION', 'STATUS'], peers.map(p => [p.peerId, String(p.localOps), String(p.peerOps), p.status]), out)
        for (const p of peers) {
          const differs = p.schemaDiffers ?? []
          if (differs.length > 0) out(`schemas  ${String(p.peerId)} is on other schema versions: ${differs.map(d => `${d.collection} ${d.peer === null ? 'not declared' : `v${d.peer}`} there, ${d.local === null ? 'not declared' : `v${d.local}`} here`).join('; ')}`)
        }
      })
    }
  },
  peers: {
    usage: 'weft peers [--verbose]', summary: 'connected and known peers, their path, RTT, last sync', options: { verbose: { type: 'boolean', short: 'v' } }, max: 0,
    run: async ctx => {
      const peers = await api<PeerView[]>(ctx, 'GET', '/v1/peers')
      const verbose = ctx.values.verbose === true
      const relays = verbose ? await api<RelayView[]>(ctx, 'GET', '/v1/relays') : []
      const book: PeerBookResponse = verbose ? await api<PeerBookResponse>(ctx, 'GET', '/v1/peer-book') : { entries: [], dialer: [] }
      printJsonOr(ctx, verbose ? { peers, relays, book } : peers, () => {
        if (peers.length === 0) out('no peers known yet')
        else {
          const head = ['PEER', 'NAME', 'PATH', 'ADDRESS', 'RTT', 'LAST SYNC', 'BEHIND']
          if (verbose) head.push('SENT', 'RECEIVED', 'LAST REJECTED', 'LAST ERROR')
          printTable(head, peers.map(p => {
            const row = [String(p.peerId), String(p.deviceName ?? ''), String(p.path ?? ''), String(p.address ?? ''), p.rttMs === undefined || p.rttMs === null ? '' : `${p.rttMs} ms`, String(p.lastSync ?? 'never'), String(p.behind ?? '')]
            if (verbose) row.push(String(p.opsSent ?? 0), String(p.opsReceived ?? 0), p.rejected == null ? '' : `${p.rejected.reason}: ${p.rejected.message}`, p.lastError == null ? '' : `${p.lastError.code}: ${p.lastError.message}`)
            return row
          }), out)
        }
        if (verbose) {
          out('')
          if (relays.length === 0) out('no relays configured')
          else printTable(['RELAY', 'CONNECTED', 'RESERVATION', 'FAILURES'], relays.map(r => [String(r.relay), r.connected === true ? 'yes' : 'no', r.reserved === true ? 'held' : 'none', String(r.failures ?? 0)]), out)
          out('')
          if (book.entries.length === 0) out('peer book: empty (no member reached yet)')
          else {
            const when = (ms: unknown): string => typeof ms === 'number' ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : ''
            printTable(['PEER BOOK', 'KIND', 'ADDRESS', 'LAST WORKED', 'LAST FAILED', 'FAILS', 'LAST ERROR'], book.entries.map(e => [
              `${String(e.peer).slice(0, 16)}…`, e.kind === 'relay' ? `relay ${String(e.relay).slice(0, 12)}…` : String(e.kind), String(e.addr), when(e.okAt), when(e.failAt), String(e.failures ?? 0), String(e.error ?? '')
            ]), out)
          }
          const waiting = book.dialer.filter(d => d.connected !== true)
          if (waiting.length > 0) {
            out('')
            printTable(['REDIALLING', 'FAILED ATTEMPTS', 'NEXT ATTEMPT'], waiting.map(d => [String(d.peer), String(d.failures ?? 0), typeof d.nextAttemptAt === 'number' ? `in ${Math.max(0, Math.round((d.nextAttemptAt - Date.now()) / 1000))} s` : 'now']), out)
          }
        }
      })
    }
  },
  oplog: {
    usage: 'weft oplog [--origin ID] [--collection C] [--key K] [--since TIME] [--limit N] [--follow]', summary: 'the oplog, newest first, with decoded values',
    options: { origin: { type: 'string' }, collection: { type: 'string' }, key: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, follow: { type: 'boolean', short: 'f' } }, max: 0,
    run: async ctx => {
      const q = new URLSearchParams()
      for (const k of ['origin', 'collection', 'key', 'since', 'limit']) if (typeof ctx.values[k] === 'string') q.set(k, ctx.values[k] as string)
      const show = (op: OpView): void => {
        if (ctx.json) { out(JSON.stringify(op)); return }
        out(`${op.hlc}  ${String(op.origin).slice(0, 16)}…#${op.seq}  ${op.kind.padEnd(9)} ${op.collection}/${op.key}${op.field === undefined ? '' : '.' + op.field}${op.value === undefined ? '' : ' = ' + JSON.stringify(op.value)}`)
      }
      const ops = await api<OpView[]>(ctx, 'GET', `/v1/oplog?${q.toString()}`)
      if (ctx.json && ctx.values.follow !== true) out(JSON.stringify(ops, null, 2))
      else for (const op of ops) show(op)
      if (ctx.values.follow === true) {
        await call(ctx.paths.socket, 'GET', '/v1/oplog/follow', { onLine: line => show(JSON.parse(line) as OpView), signal: stdoutGone() })
      }
    }
  },
  get: {
    usage: 'weft get <collection> <key>', summary: 'read one row', min: 2, max: 2, names: ['collection', 'key'],
    run: async ctx => { const row = await api(ctx, 'GET', `/v1/data/${enc(ctx.args[0]!)}/${enc(ctx.args[1]!)}`); out(JSON.stringify(row, null, ctx.json ? 2 : undefined)) }
  },
  put: {
    usage: 'weft put <collection> <key> <field>=<value>...', summary: 'write fields (values are JSON, or else strings)', min: 3, names: ['collection', 'key'],
    run: async ctx => { await api(ctx, 'PUT', `/v1/data/${enc(ctx.args[0]!)}/${enc(ctx.args[1]!)}`, { fields: parseFieldArgs(ctx.args.slice(2)) }); if (ctx.json) out('{"ok":true}') }
  },
  del: {
    usage: 'weft del <collection> <key>', summary: 'delete a row', min: 2, max: 2, names: ['collection', 'key'],
    run: async ctx => { await api(ctx, 'DELETE', `/v1/data/${enc(ctx.args[0]!)}/${enc(ctx.args[1]!)}`); if (ctx.json) out('{"ok":true}') }
  },
  inc: {
    usage: 'weft inc <collection> <key> <field> [by]', summary: 'add to a counter (default 1, may be negative)', min: 3, max: 4, names: ['collection', 'key', 'field'],
    run: async ctx => {
      const by = ctx.args[3] === undefined ? 1 : Number(ctx.args[3])
      if (!Number.isSafeInteger(by)) throw new InvalidArgumentError(`the amount must be an integer, got ${JSON.stringify(ctx.args[3])}`)
      await api(ctx, 'POST', `/v1/data/${enc(ctx.args[0]!)}/${enc(ctx.args[1]!)}/increment`, { field: ctx.args[2], by }); if (ctx.json) out('{"ok":true}')
    }
  },
  add: {
    usage: 'weft add <collection> <key> <field> <element>', summary: 'add an element to a set', min: 4, max: 4, names: ['collection', 'key', 'field'],
    run: async ctx => { await api(ctx, 'POST', `/v1/data/${enc(ctx.args[0]!)}/${enc(ctx.args[1]!)}/add`, { field: ctx.args[2], element: parseValueArg(ctx.args[3]!) }); if (ctx.json) out('{"ok":true}') }
  },
  rm: {
    usage: 'weft rm <collection> <key> <field> <element>', summary: 'remove an element from a set', min: 4, max: 4, names: ['collection', 'key', 'field'],
    run: async ctx => { await api(ctx, 'POST', `/v1/data/${enc(ctx.args[0]!)}/${enc(ctx.args[1]!)}/remove`, { field: ctx.args[2], element: parseValueArg(ctx.args[3]!) }); if (ctx.json) out('{"ok":true}') }
  },
  ls: {
    usage: 'weft ls [collection] [--after KEY] [--limit N]', summary: 'list collections, or the rows of one', options: { after: { type: 'string' }, limit: { type: 'string' } }, max: 1, names: ['collection'],
    run: async ctx => {
      if (ctx.args[0] === undefined) { const cs = await api<string[]>(ctx, 'GET', '/v1/collections'); printJsonOr(ctx, cs, () => cs.forEach(c => out(c))); return }
      const q = new URLSearchParams()
      if (typeof ctx.values.after === 'string') q.set('after', ctx.values.after)
      if (typeof ctx.values.limit === 'string') q.set('limit', ctx.values.limit)
      const rows = await api<RowListItem[]>(ctx, 'GET', `/v1/data/${enc(ctx.args[0])}?${q.toString()}`)
      printJsonOr(ctx, rows, () => rows.forEach(r => out(`${r.key}\t${JSON.stringify(r.fields)}`)))
    }
  },
  sync: {
    usage: 'weft sync [peer]', summary: 'sync now (with one peer, or every connected peer) and report what moved; exits 1 unless every sync succeeded', max: 1, names: ['peer'],
    run: async ctx => {
      const res = await withProgress(ctx.paths.socket, api<SyncResult | SyncResult[]>(ctx, 'POST', '/v1/sync', ctx.args[0] === undefined ? {} : { peer: ctx.args[0] }))
      const list = Array.isArray(res) ? res : [res]
      printJsonOr(ctx, res, () => {
        if (list.length === 0) { out('no connected peers to sync with'); return }
        printTable(['PEER', 'SENT', 'RECEIVED', 'RESULT'], list.map(r => [r.peer, String(r.opsSent), String(r.opsReceived), syncResult(r)]), out)
      })
      // Nothing synced is a failure too: a script that runs `weft sync && …` relies on the data having moved.
      return list.length > 0 && list.every(r => r.ok) ? EXIT.ok : EXIT.error
    }
  },
  diff: {
    usage: 'weft diff <peer>', summary: 'what this device and a peer each hold that the other lacks, per origin and per collection', min: 1, max: 1, names: ['peer'],
    run: async ctx => {
      const d = await api<DiffResponse>(ctx, 'GET', `/v1/diff/${enc(ctx.args[0]!)}`)
      printJsonOr(ctx, d, () => {
        out(`peer ${d.peer} (its version as of ${d.asOf ?? 'never synced'})`)
        const lo = Object.entries(d.localOnly.perOrigin)
        const po = Object.entries(d.peerOnly.perOrigin)
        if (lo.length === 0 && po.length === 0) { out('no difference: both hold the same ops'); return }
        if (lo.length > 0) {
          out('\nonly here (ops the peer lacks):')
          printTable(['ORIGIN', 'OPS'], lo.map(([o, n]) => [o, String(n)]), out)
          printTable(['COLLECTION', 'OPS'], Object.entries(d.localOnly.perCollection).map(([c, n]) => [c, String(n)]), out)
        }
        if (po.length > 0) {
          out('\nonly on the peer (ops this device lacks):')
          printTable(['ORIGIN', 'OPS'], po.map(([o, n]) => [o, String(n)]), out)
        }
      })
    }
  },
  doctor: {
    usage: 'weft doctor', summary: 'check the database, network, mDNS, relays, UPnP and clocks, and say what is wrong', max: 0,
    run: async ctx => {
      const checks = await api<Check[]>(ctx, 'GET', '/v1/doctor')
      printJsonOr(ctx, checks, () => { for (const c of checks) out(`${c.ok === true ? 'ok  ' : c.ok === false ? 'FAIL' : '--  '}  ${c.check.padEnd(16)} ${c.detail}`) })
      return checks.some(c => c.ok === false) ? EXIT.error : EXIT.ok
    }
  },
  init: {
    usage: 'weft init [--name NAME]', summary: 'create a sync group with this device as its first member (weft start does it on first run)', options: { name: { type: 'string' } }, max: 0,
    run: async ctx => {
      const { initGroup } = await import('./init.js')
      const res = await initGroup(ctx.paths, typeof ctx.values.name === 'string' ? ctx.values.name : undefined, ctx.daemonEntry)
      printJsonOr(ctx, res, () => out(res.created ? `created group ${res.group}; this device (${res.device}) is its first member` : `this device is already in group ${res.group}`))
    }
  },
  invite: {
    usage: 'weft invite [--ttl MINUTES]', summary: 'print a one-time code (and QR code) that lets another device join this group', options: { ttl: { type: 'string' } }, max: 0,
    run: async ctx => {
      let ttlMs: number | undefined
      if (typeof ctx.values.ttl === 'string') {
        const minutes = Number(ctx.values.ttl)
        if (!Number.isFinite(minutes) || minutes <= 0) throw new InvalidArgumentError(`--ttl must be a positive number of minutes, got ${JSON.stringify(ctx.values.ttl)}`)
        ttlMs = Math.round(minutes * 60_000)
      }
      const res = await api<InviteResponse>(ctx, 'POST', '/v1/invite', ttlMs === undefined ? {} : { ttlMs })
      printJsonOr(ctx, res, () => {
        if (res.qr !== null) out(res.qr)
        out(res.code)
        out(`\nOn the new device run:  weft join ${res.code.slice(0, 12)}…  (the whole code above)\nValid once, until ${res.expiresAt}.`)
      })
    }
  },
  join: {
    usage: 'weft join <code> [--name NAME]', summary: 'join the group of the device that printed the invite code', options: { name: { type: 'string' } }, min: 1, max: 1,
    run: async ctx => {
      const body: Record<string, string> = { code: ctx.args[0]! }
      if (typeof ctx.values.name === 'string') body.name = ctx.values.name
      const res = await api<JoinResponse>(ctx, 'POST', '/v1/join', body)
      if (!ctx.json && process.stderr.isTTY === true) await waitForInitialSync(ctx.paths.socket)
      printJsonOr(ctx, res, () => out(`joined group ${res.group} (invited by ${res.inviter}); syncing now${res.previousGroup === null ? '' : `\nthis device's own data is kept and syncs into the new group; data from group ${res.previousGroup}'s other devices stays on this device only`}`))
    }
  },
  recover: {
    usage: 'weft recover <invite code> | --fresh  [--name N] [--replaces ID] [--force] [--no-mdns] [--no-upnp] [--listen A]... [--relay A]...',
    summary: 'bring back a device whose store is lost or damaged, as a new identity that succeeds the old one (daemon stopped)',
    options: { fresh: { type: 'boolean' }, force: { type: 'boolean' }, name: { type: 'string' }, replaces: { type: 'string' }, listen: { type: 'string', multiple: true }, relay: { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'no-mdns': { type: 'boolean' }, 'no-upnp': { type: 'boolean' }, 'log-level': { type: 'string' } },
    max: 1,
    run: async ctx => {
      const res = await (await ctx.daemonEntry()).recover(ctx.paths, ctx.values, ctx.args[0], line => { if (!ctx.json) process.stderr.write(`weft: ${line}\n`) })
      printJsonOr(ctx, res, () => {
        if (res.mode === 'fresh') out(`started over as ${res.device} in a new group ${res.group}; the old files are in ${res.kept}`)
        else if (res.mode === 'finished') out(`finished an interrupted recovery: this device is ${res.device} in group ${res.group}`)
        else out(`recovered: this device is now ${res.device} in group ${res.group}${res.previous === null ? '' : `, succeeding ${res.previous}`}; ${res.ops} ops pulled, ${res.previousOps} of them the old identity's; old files in ${res.kept}. Start the daemon again (weft start).`)
      })
    }
  },
  devices: {
    usage: 'weft devices [revoke <device id>]', summary: 'list the devices of this group, or revoke one', max: 2,
    run: async ctx => {
      if (ctx.args[0] === 'revoke') {
        if (ctx.args[1] === undefined) throw new InvalidArgumentError('usage: weft devices revoke <device id>')
        const res = await api<RevokeResponse>(ctx, 'POST', '/v1/devices/revoke', { device: ctx.args[1] })
        printJsonOr(ctx, res, () => out(`revoked ${res.device} as of ${res.at}; every member refuses it once this syncs`))
        return
      }
      if (ctx.args[0] !== undefined) throw new InvalidArgumentError(`unknown devices subcommand ${JSON.stringify(ctx.args[0])}; use: weft devices [revoke <id>]`)
      const list = await api<DeviceView[]>(ctx, 'GET', '/v1/devices')
      printJsonOr(ctx, list, () => printTable(['DEVICE', 'NAME', 'ADDED BY', 'ADDED', 'STATE'], list.map(d => [d.device + (d.self ? ' (this device)' : ''), d.name, d.addedBy, d.addedAt, d.revoked === null ? 'member' : `revoked ${d.revoked.at}${d.replacedBy == null ? '' : `, replaced by ${d.replacedBy}`}`]), out))
    }
  },
  ...queryCommands(out),
  service: {
    usage: 'weft service install|uninstall [--system [--user NAME]] [--print]',
    summary: 'write (or remove) a systemd user unit / launchd agent that runs weft start; --system: a system-wide unit run by a dedicated user; --print: show the unit, write nothing',
    options: { system: { type: 'boolean' }, user: { type: 'string' }, print: { type: 'boolean' } },
    min: 1,
    max: 1,
    run: async ctx => {
      const action = ctx.args[0]
      if (action !== 'install' && action !== 'uninstall') throw new InvalidArgumentError(`service takes install or uninstall, not ${JSON.stringify(action)}`)
      const system = ctx.values.system === true
      if (ctx.values.user !== undefined && !system) throw new InvalidArgumentError('--user names the user of a system unit: use it with --system')
      // Only what the user gave: the service resolves the rest as `weft start` in this shell would.
      const { serviceInstall, serviceUninstall, systemUnit, userUnit } = await import('./service.js')
      const o = { dataDir: ctx.values['data-dir'] as string | undefined, configFile: ctx.values.config as string | undefined, system, user: ctx.values.user as string | undefined }
      if (ctx.values.print === true) {
        if (action !== 'install') throw new InvalidArgumentError('--print goes with install: it shows the unit that install would write')
        const unit = system ? systemUnit(o) : userUnit(o)
        printJsonOr(ctx, unit, () => { process.stdout.write(unit.text); for (const w of unit.warnings) process.stderr.write(`weft: warning: ${w}\n`) })
        return
      }
      const res = action === 'install' ? serviceInstall(o) : serviceUninstall({ system })
      printJsonOr(ctx, res, () => out(res.message))
    }
  }
}

function usage (): string {
  const lines = ['usage: weft <command> [options]   (global: --data-dir DIR, --config FILE, --json, --debug)', '       weft --version', '']
  for (const [, c] of Object.entries(COMMANDS)) lines.push(`  ${c.usage.padEnd(70)} ${c.summary}`)
  return lines.join('\n')
}

/** The one place errors become exit codes: by error code, through the table the control API uses for HTTP statuses. */
export function exitCodeFor (err: unknown): number {
  if (err instanceof DaemonUnavailableError) return EXIT.daemonDown
  if (err instanceof WeftError) return outcomeFor(err.code).exit
  return EXIT.error
}

function syncResult (r: SyncResult): string {
  if (!r.ok) return `FAILED: ${r.error?.message ?? 'unknown error'}`
  return r.rejected > 0 ? `ok, ${r.rejected} ops refused (see weft peers --verbose)` : 'ok'
}

/** Runs one command line and returns its exit code; `daemonEntry` loads the daemon's entry point for start, init and recover. */
export async function main (argv: string[], daemonEntry: LoadDaemonEntry): Promise<number> {
  const name = argv[0]
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') { out(usage()); return name === undefined ? EXIT.usage : EXIT.ok }
  if (name === '--version' || name === '-V' || name === 'version') { out(argv.includes('--json') ? JSON.stringify({ version: WEFT_VERSION }) : WEFT_VERSION); return EXIT.ok }
  const cmd = COMMANDS[name]
  const debug = argv.includes('--debug')
  const json = argv.includes('--json')
  try {
    if (cmd === undefined) throw new WeftError(`unknown command ${JSON.stringify(name)}; run weft --help for the list`, 'USAGE')
    const parsed = parseCommandLine(argv.slice(1), { ...GLOBAL, ...cmd.options }, cmd.usage)
    if (parsed.values.help === true) { out(`usage: ${cmd.usage}\n${cmd.summary}`); return EXIT.ok }
    const n = parsed.positionals.length
    if (n < (cmd.min ?? 0) || n > (cmd.max ?? Infinity)) throw new WeftError(`wrong number of arguments\nusage: ${cmd.usage}`, 'USAGE')
    // An empty name must not vanish from the request path and address another collection.
    cmd.names?.forEach((what, i) => {
      if (parsed.positionals[i] === '') throw new InvalidArgumentError(`the ${what} is empty (${what} names must be non-empty)\nusage: ${cmd.usage}`)
    })
    const paths = resolvePaths({ dataDir: parsed.values['data-dir'] as string | undefined, configFile: parsed.values.config as string | undefined })
    const code = await cmd.run({ paths, json: parsed.values.json === true, values: parsed.values as Ctx['values'], args: parsed.positionals, daemonEntry: adoptErrors(daemonEntry) })
    return typeof code === 'number' ? code : EXIT.ok
  } catch (err) {
    const code = exitCodeFor(err)
    if (json) process.stderr.write(JSON.stringify({ error: { code: err instanceof ApiError ? err.remoteCode : err instanceof WeftError ? err.code : 'INTERNAL', message: (err as Error).message } }) + '\n')
    else process.stderr.write(`weft: ${(err as Error).message}\n`)
    if (debug && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
    return code
  }
}
