/**
 * `weft start`: the daemon in the foreground. SIGINT/SIGTERM stop it
 * gracefully; a second signal forces the exit.
 */
import { InvalidArgumentError } from '../errors.js'
import { loadConfig, type DaemonConfig } from '../daemon/config.js'
import { Daemon } from '../daemon/daemon.js'
import { createLogger } from '../daemon/log.js'
import type { Paths } from '../daemon/paths.js'
import { networkFactory } from '../daemon/network.js'

export async function runStart (paths: Paths, v: Record<string, string | boolean | string[] | undefined>): Promise<void> {
  const overrides: Partial<DaemonConfig> = {}
  if (typeof v['log-level'] === 'string') overrides.logLevel = v['log-level'] as DaemonConfig['logLevel']
  if (Array.isArray(v.listen)) overrides.listen = v.listen
  if (Array.isArray(v.relay)) overrides.relays = v.relay
  if (Array.isArray(v.peer)) overrides.peers = v.peer
  if (v['no-mdns'] === true) overrides.mdns = false
  if (v['no-upnp'] === true) overrides.upnp = false
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
  let signals = 0
  let stopRequested: (() => void) | undefined
  const stopped = new Promise<void>(resolve => { stopRequested = resolve })
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      log('warn', `second ${sig}: exiting now`)
      process.exit(130)
    }
    log('info', `${sig}: stopping`)
    stopRequested?.()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const starting = daemon.start()
  const first = await Promise.race([starting.then(() => 'started' as const), stopped.then(() => 'signal' as const)])
  if (first === 'started') {
    log('info', 'weft daemon running', { device: daemon.replica.deviceId, group: daemon.replica.group?.id, socket: paths.socket, dataDir: paths.dataDir })
    process.stdout.write(`weft: running as ${daemon.replica.deviceId}; control socket ${paths.socket}\n`)
    await stopped
  } else {
    await starting.catch(() => {})
  }
  try {
    await daemon.stop()
    log('info', 'stopped')
  } catch (err) {
    log('error', `stop failed: ${String(err)}`)
    process.exitCode = 1
  }
}
