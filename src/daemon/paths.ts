/**
 * Where weft keeps things, following the XDG base directory spec:
 * data in $XDG_DATA_HOME/weft (~/.local/share/weft), config in
 * $XDG_CONFIG_HOME/weft/config.json, the control socket in
 * $XDG_RUNTIME_DIR/weft-<id> (or <data dir>/run when there is no runtime dir).
 * The socket directory is derived from the data dir, so several daemons with
 * different data dirs never share a socket, and the CLI finds the socket of
 * the daemon it means from the same `--data-dir`.
 */
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
  const id = pathId(dataDir)
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

const FNV_OFFSET = 0xcbf29ce484222325n
const FNV_PRIME = 0x100000001b3n
const MASK_64 = 0xffffffffffffffffn

/**
 * 12 hex digits naming a data dir's socket directory: FNV-1a (64-bit) of its
 * path. Not a cryptographic hash, and it need not be one: it only keeps two
 * data dirs of one user apart inside that user's own runtime dir. Not
 * node:crypto, whose loading alone costs every CLI call about 10 ms
 * (`npm run bench:cli`).
 */
export function pathId (path: string): string {
  let h = FNV_OFFSET
  for (const byte of Buffer.from(path, 'utf8')) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK_64
  return h.toString(16).padStart(16, '0').slice(0, 12)
}
