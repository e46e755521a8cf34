/**
 * Where weft keeps things, following the XDG base directory spec:
 * data in $XDG_DATA_HOME/weft (~/.local/share/weft), config in
 * $XDG_CONFIG_HOME/weft/config.json, the control socket in
 * $XDG_RUNTIME_DIR/weft-<id> (or <data dir>/run when there is no runtime dir).
 * The socket directory is derived from the data dir, so several daemons with
 * different data dirs never share a socket, and the CLI finds the socket of
 * the daemon it means from the same `--data-dir`.
 */
import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export interface Paths {
  readonly dataDir: string
  readonly configFile: string
  readonly runtimeDir: string
  readonly socket: string
  readonly lockFile: string
  readonly tokenFile: string
}

export interface PathOverrides {
  dataDir?: string | undefined
  configFile?: string | undefined
}

export function resolvePaths (o: PathOverrides = {}, env: NodeJS.ProcessEnv = process.env): Paths {
  const home = homedir()
  const dataDir = resolve(o.dataDir ?? env.WEFT_DATA_DIR ?? join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'weft'))
  const configFile = resolve(o.configFile ?? env.WEFT_CONFIG ?? (o.dataDir !== undefined || env.WEFT_DATA_DIR !== undefined
    ? join(dataDir, 'config.json')
    : join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'weft', 'config.json')))
  const id = createHash('sha256').update(dataDir).digest('hex').slice(0, 12)
  const runtimeDir = env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== ''
    ? join(env.XDG_RUNTIME_DIR, `weft-${id}`)
    : join(dataDir, 'run')
  return {
    dataDir,
    configFile,
    runtimeDir,
    socket: join(runtimeDir, 'control.sock'),
    lockFile: join(dataDir, 'daemon.lock'),
    tokenFile: join(dataDir, 'api.token')
  }
}
