/**
 * `weft recover`: runs the recovery (src/daemon/recover.ts) in this process,
 * with the daemon stopped; prints what it did.
 */
import { InvalidArgumentError } from '../errors.js'
import { loadConfig, type DaemonConfig } from '../daemon/config.js'
import { createLogger } from '../daemon/log.js'
import { networkFactory } from '../daemon/network.js'
import type { Paths } from '../daemon/paths.js'
import { recoverDevice, type RecoverResult } from '../daemon/recover.js'

export async function runRecover (paths: Paths, v: Record<string, string | boolean | string[] | undefined>, code: string | undefined, progress: (line: string) => void): Promise<RecoverResult> {
  const overrides: Partial<DaemonConfig> = {}
  if (Array.isArray(v.listen)) overrides.listen = v.listen
  if (Array.isArray(v.relay)) overrides.relays = v.relay
  if (Array.isArray(v.peer)) overrides.peers = v.peer
  if (v['no-mdns'] === true) overrides.mdns = false
  if (v['no-upnp'] === true) overrides.upnp = false
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
