/**
 * The daemon's entry point: the commands that host the daemon or work on its
 * data dir directly (`weft start`, `weft init` with no daemon running,
 * `weft recover`). The CLI declares their options and prints their results;
 * the `weft` binary (src/bin/weft.ts) hands them here, loading this module
 * (and with it libp2p and better-sqlite3) only when one of them runs.
 *
 * `start` runs the daemon in the foreground: SIGINT/SIGTERM stop it
 * gracefully; a second signal, or a stop still running after
 * STOP_DEADLINE_MS, forces the exit.
 */
import { hostname } from 'node:os'
import { InvalidArgumentError } from '../errors.js'
import { openReplica } from '../store/replica.js'
import type { CommandValues, InitResult, RecoverResult } from './api-types.js'
import { loadConfig, type DaemonConfig } from './config.js'
import { Daemon } from './daemon.js'
import { acquireLock } from './lock.js'
import { createLogger } from '../runtime/log.js'
import { gracefulStop, onStopSignals } from '../runtime/process.js'
import { networkFactory } from './network.js'
import type { Paths } from './paths.js'
import { recoverDevice } from './recover.js'

/**
 * A graceful stop still running after this is cut short with exit code 1:
 * below the service units' TimeoutStopSec (30 s, src/cli/service.ts), so the
 * daemon says why it stopped before the service manager kills it silently.
 */
export const STOP_DEADLINE_MS = 25_000

/** The network overrides that `start` and `recover` share: --listen, --relay, --peer, --no-mdns, --no-upnp. */
function networkOverrides (v: CommandValues): Partial<DaemonConfig> {
  const overrides: Partial<DaemonConfig> = {}
  if (Array.isArray(v.listen)) overrides.listen = v.listen
  if (Array.isArray(v.relay)) overrides.relays = v.relay
  if (Array.isArray(v.peer)) overrides.peers = v.peer
  if (v['no-mdns'] === true) overrides.mdns = false
  if (v['no-upnp'] === true) overrides.upnp = false
  return overrides
}

/** `weft start`: runs the daemon until SIGINT or SIGTERM. */
export async function start (paths: Paths, v: CommandValues): Promise<void> {
  const overrides = networkOverrides(v)
  // loadConfig checks the level (a bad one is reported with the config's other problems).
  if (typeof v['log-level'] === 'string') overrides.logLevel = v['log-level'] as DaemonConfig['logLevel']
  if (typeof v['device-name'] === 'string') overrides.deviceName = v['device-name']
  if (typeof v['api-port'] === 'string') {
    const port = Number(v['api-port'])
    if (!Number.isSafeInteger(port)) throw new InvalidArgumentError(`--api-port must be a port number, got ${JSON.stringify(v['api-port'])}`)
    overrides.apiPort = port
  }
  const config = loadConfig(paths.configFile, overrides)
  const log = createLogger(config.logLevel)
  const daemon = new Daemon(paths, config, log, networkFactory)
  // Handlers first: a signal that arrives while the node is still starting
  // must stop it cleanly too, not kill the process half-way.
  const signals = onStopSignals(log)

  const starting = daemon.start()
  const first = await Promise.race([starting.then(() => 'started' as const), signals.requested.then(() => 'signal' as const)])
  if (first === 'started') {
    log('info', 'weft daemon running', { device: daemon.replica.deviceId, group: daemon.replica.group?.id, socket: paths.socket, dataDir: paths.dataDir })
    process.stdout.write(`weft: running as ${daemon.replica.deviceId}; control socket ${paths.socket}\n`)
    await signals.requested
  } else {
    await starting.catch(() => {})
  }
  await gracefulStop(log, async () => { await daemon.stop() }, STOP_DEADLINE_MS)
}

/**
 * `weft init` with no daemon running: makes a group of this device on the
 * data dir, under the same lock the daemon takes (a daemon that starts
 * meanwhile waits for nothing: it finds the lock held and says so).
 */
export async function init (paths: Paths, name?: string): Promise<InitResult> {
  const release = acquireLock(paths.lockFile, paths.dataDir)
  try {
    const r = openReplica({ dir: paths.dataDir })
    try {
      const existing = r.group
      if (existing !== undefined) return { created: false, group: existing.id, device: r.deviceId }
      const { groupId } = r.createGroup(name ?? hostname())
      return { created: true, group: groupId, device: r.deviceId }
    } finally {
      r.close()
    }
  } finally {
    release()
  }
}

/** `weft recover`: runs the recovery (./recover.ts) in this process, with the daemon stopped. */
export async function recover (paths: Paths, v: CommandValues, code: string | undefined, progress: (line: string) => void): Promise<RecoverResult> {
  const overrides = networkOverrides(v)
  overrides.logLevel = typeof v['log-level'] === 'string' ? v['log-level'] as DaemonConfig['logLevel'] : 'warn'
  if (v.fresh === true && code !== undefined) throw new InvalidArgumentError('give an invite code or --fresh, not both')
  const config = loadConfig(paths.configFile, overrides)
  return await recoverDevice(paths, config, createLogger(config.logLevel), networkFactory, {
    ...(code === undefined ? {} : { code }),
    ...(v.fresh === true ? { fresh: true } : {}),
    ...(v.force === true ? { force: true } : {}),
    ...(typeof v.name === 'string' ? { name: v.name } : {}),
    ...(typeof v.replaces === 'string' ? { replaces: v.replaces } : {}),
    progress
  })
}
