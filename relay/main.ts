#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * `weft-relay`: the standalone weft relay.
 *
 *   weft-relay [start] [--data-dir DIR] [--config FILE] [flags]   run in the foreground
 *   weft-relay id [--data-dir DIR]                                print the peer id (creating the key)
 *   weft-relay check-config [--data-dir DIR] [--config FILE] [flags]
 *   weft-relay group-key --out FILE                               new group key; prints its public key
 *   weft-relay sign-statement --group-key FILE --peer ID [--days N]
 *   weft-relay --version                                          print the version
 *
 * Each command checks its options up front and calls one function. SIGINT and
 * SIGTERM stop the relay gracefully (a second signal exits at once, a stop
 * that hangs past STOP_DEADLINE_MS too). Exit codes (src/runtime/process.ts):
 * 0 ok, 1 runtime error, 2 usage or configuration error.
 *
 * `--max-semi-space-size=4` (in the shebang, and in the Dockerfile's
 * ENTRYPOINT): V8's young generation may otherwise grow to 16 MiB semi-spaces
 * under the churn of many short handshakes, and the relay's resident memory
 * with it. Measured with 200 stranger connections held open: about 147 MB
 * with the default, 107 MB with 4 MiB (idle: 86 and 78 MB); relayed
 * throughput on loopback showed no loss within its noise. A relay is meant
 * for a small server.
 */
import '../src/polyfill.js'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { InvalidArgumentError, WeftError } from '../src/errors.js'
import { FLAG_KEYS, loadRelayConfig, overridesFromFlags, RelayConfigError } from './config.js'
import { loadOrCreateRelayKey } from './identity.js'
import { DEFAULT_STATEMENT_DAYS, STOP_DEADLINE_MS } from './constants.js'
import { startRelay } from './relay-node.js'
import { newGroupKeyFile, signStatementFromFile } from './tools.js'
import { registerUdxProtocol } from '../src/udx/index.js'
import { WEFT_VERSION } from '../src/version.js'
import { createLogger } from '../src/runtime/log.js'
import { EXIT, gracefulStop, onStopSignals, writeLine } from '../src/runtime/process.js'

// `/udx` addresses (ours and clients') must parse before the config is read.
registerUdxProtocol()

export { EXIT }
type Options = NonNullable<ParseArgsConfig['options']>
type Values = Record<string, string | boolean | string[] | undefined>

const PATH_OPTIONS: Options = { 'data-dir': { type: 'string' }, config: { type: 'string' } }
const CONFIG_OPTIONS: Options = {
  ...PATH_OPTIONS,
  listen: { type: 'string', multiple: true },
  announce: { type: 'string', multiple: true },
  group: { type: 'string', multiple: true },
  'no-metrics': { type: 'boolean' },
  ...Object.fromEntries(Object.keys(FLAG_KEYS).map(f => [f, { type: 'string' as const }]))
}

const USAGE = `usage: weft-relay [start] [options]
  --data-dir DIR            key and default config (default: $WEFT_RELAY_DATA_DIR or ~/.local/share/weft-relay)
  --config FILE             JSON config (default: <data dir>/relay.json if it exists)
  --listen ADDR...          e.g. /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/tcp/4002/ws
  --announce ADDR...        public addresses to advertise, e.g. /ip4/203.0.113.7/tcp/4001
  --group NAME=PUBKEY...    allowed weft groups (base64url Ed25519 public keys)
  --others limited|deny     what peers outside the groups get
  --max-reservations N  --reservation-ttl-ms N  --max-connections N
  --stranger-share X (0-1)  --stranger-reservations-per-ip N  --stranger-reservation-ttl-ms N
  --duration-limit-ms N  --data-limit-bytes N  --group-duration-limit-ms N  --group-data-limit-bytes N
  --metrics-host H  --metrics-port N | --no-metrics  --log-level error|warn|info|debug
other commands: --version, id, check-config, group-key --out FILE, sign-statement --group-key FILE --peer ID [--days N]`

const out = writeLine

function dataDirOf (v: Values): string {
  const env = process.env
  return resolve(typeof v['data-dir'] === 'string' ? v['data-dir'] : env.WEFT_RELAY_DATA_DIR ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'weft-relay'))
}

function configOf (v: Values): ReturnType<typeof loadRelayConfig> {
  const explicit = typeof v.config === 'string' ? v.config : process.env.WEFT_RELAY_CONFIG
  const file = explicit ?? join(dataDirOf(v), 'relay.json')
  return loadRelayConfig(file, overridesFromFlags(v), explicit !== undefined)
}

async function runStart (v: Values): Promise<void> {
  const config = configOf(v)
  const dataDir = dataDirOf(v)
  const log = createLogger(config.logLevel)
  // Signal handlers go in before anything starts (see onStopSignals).
  const signals = onStopSignals(log)

  const { key, created, file } = await loadOrCreateRelayKey(dataDir)
  if (created) log('info', 'created a new relay key', { file })
  const relay = await startRelay(config, { privateKey: key })
  log('info', 'relay running', { peerId: relay.peerId, addresses: relay.addresses(), groups: config.groups.map(g => g.name), others: config.others })
  if (config.announce.length === 0) log('warn', 'no announce addresses: clients learn only the address they dialed; set --announce to the public address on a server')
  out(`weft-relay: peer id ${relay.peerId}`)
  for (const a of relay.addresses()) out(`weft-relay: address ${a}`)
  if (relay.http !== undefined) out(`weft-relay: metrics ${relay.http.url}/metrics`)

  await signals.requested
  await gracefulStop(log, async () => { await relay.stop() }, STOP_DEADLINE_MS)
}

interface Command { options: Options, run: (v: Values) => Promise<void> }

const COMMANDS: Record<string, Command> = {
  start: { options: CONFIG_OPTIONS, run: runStart },
  id: {
    options: { 'data-dir': { type: 'string' } },
    run: async v => { out((await loadOrCreateRelayKey(dataDirOf(v))).key.publicKey.toString()) }
  },
  'check-config': {
    options: CONFIG_OPTIONS,
    run: async v => { out(JSON.stringify(configOf(v), null, 2)) }
  },
  'group-key': {
    options: { out: { type: 'string' } },
    run: async v => {
      if (typeof v.out !== 'string') throw new InvalidArgumentError('group-key needs --out FILE (a new file; keep it secret)')
      const pub = await newGroupKeyFile(v.out)
      out(pub)
    }
  },
  'sign-statement': {
    options: { 'group-key': { type: 'string' }, peer: { type: 'string' }, days: { type: 'string' } },
    run: async v => {
      if (typeof v['group-key'] !== 'string' || typeof v.peer !== 'string') throw new InvalidArgumentError('sign-statement needs --group-key FILE and --peer PEER_ID')
      out(await signStatementFromFile(v['group-key'], v.peer, v.days === undefined ? DEFAULT_STATEMENT_DAYS : Number(v.days)))
    }
  }
}

export async function main (argv: string[]): Promise<number> {
  const first = argv[0]
  if (first === '--help' || first === '-h' || first === 'help') { out(USAGE); return EXIT.ok }
  if (first === '--version' || first === '-V' || first === 'version') { out(WEFT_VERSION); return EXIT.ok }
  const name = first !== undefined && !first.startsWith('-') ? first : 'start'
  const args = name === first ? argv.slice(1) : argv
  try {
    const cmd = COMMANDS[name]
    if (cmd === undefined) throw new WeftError(`unknown command ${JSON.stringify(name)}\n${USAGE}`, 'USAGE')
    let values: Values
    try {
      values = parseArgs({ args, options: cmd.options, allowPositionals: false, strict: true }).values as Values
    } catch (err) {
      throw new WeftError(`${(err as Error).message}\n${USAGE}`, 'USAGE')
    }
    await cmd.run(values)
    return EXIT.ok
  } catch (err) {
    process.stderr.write(`weft-relay: ${(err as Error).message}\n`)
    if (err instanceof RelayConfigError || err instanceof InvalidArgumentError || (err instanceof WeftError && err.code === 'USAGE')) return EXIT.usage
    return EXIT.error
  }
}

process.exitCode = await main(process.argv.slice(2))
