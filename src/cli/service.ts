/**
 * `weft service install|uninstall`: a systemd user unit on Linux or a launchd
 * agent on macOS that runs `weft start` with this installation's node; with
 * `--system`, a system-wide systemd unit that runs weft as a dedicated user
 * (`weft`), sandboxed.
 *
 * A per-user service passes on only what the user chose: the `--data-dir` and
 * `--config` given to `weft service install`, and the environment variables
 * that choose paths (a service manager does not inherit the shell's). Every
 * other setting (device name, mDNS, listen addresses) comes from the config
 * file, exactly as for `weft start` run in that shell; passing `--data-dir`
 * always would move the config file to `<data dir>/config.json` and silently
 * drop the user's settings.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError, WeftError } from '../errors.js'

const LABEL = 'org.weft.daemon'

/** Environment variables that decide where weft's files are (src/daemon/paths.ts). */
export const PATH_ENV_VARS = ['WEFT_DATA_DIR', 'WEFT_CONFIG', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME'] as const

/** Where a system install keeps its data: systemd's StateDirectory. */
export const SYSTEM_DATA_DIR = '/var/lib/weft'
/** Where a system install reads its config: systemd's ConfigurationDirectory. */
export const SYSTEM_CONFIG_FILE = '/etc/weft/config.json'
export const SYSTEM_UNIT_DIR = '/etc/systemd/system'
/** The dedicated user a system install runs as. */
export const DEFAULT_SERVICE_USER = 'weft'

export interface ServiceOptions {
  /** `--data-dir` as given; undefined: not given. */
  dataDir?: string | undefined
  /** `--config` as given; undefined: not given. */
  configFile?: string | undefined
  /** A system-wide unit for a dedicated user instead of a per-user one. @default false */
  system?: boolean
  /** The user a system unit runs as. @default 'weft' */
  user?: string | undefined
  /** The environment the paths are resolved in. @default process.env */
  env?: NodeJS.ProcessEnv
}

export interface ServiceUnit {
  path: string
  text: string
  /** Things the person installing should know (the unit is written anyway). */
  warnings: string[]
  /** What to run next. */
  next: string
}

/**
 * The `weft` binary of this installation: the bundle dist/src/bin/weft.cjs
 * (scripts/build.mjs). This module runs inside that bundle (then
 * `import.meta.url` is the bundle's own path) or as tsc's dist/src/cli/
 * service.js (tests); bin/ and cli/ are siblings, so `../bin/` from either
 * is dist/src/bin/.
 */
function cliPath (): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../bin/weft.cjs')
}

function userUnitPath (env: NodeJS.ProcessEnv): string {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'LaunchAgents', `${LABEL}.plist`)
  if (process.platform === 'linux') return join(nonEmpty(env.XDG_CONFIG_HOME) ?? join(homedir(), '.config'), 'systemd', 'user', 'weft.service')
  throw new WeftError(`weft service supports Linux (systemd) and macOS (launchd), not ${process.platform}`, 'UNSUPPORTED')
}

const nonEmpty = (s: string | undefined): string | undefined => s === undefined || s === '' ? undefined : s

/**
 * The path variables that decide where the service's files are, given the
 * flags: the same precedence as resolvePaths (a flag beats WEFT_*, which
 * beats XDG_*; a data dir, however given, puts the config file in it).
 * Values are made absolute: the service runs in another directory.
 */
function pathVariables (o: ServiceOptions, env: NodeJS.ProcessEnv): Array<readonly [typeof PATH_ENV_VARS[number], string]> {
  const has = (k: typeof PATH_ENV_VARS[number]): boolean => nonEmpty(env[k]) !== undefined
  const dataDirGiven = o.dataDir !== undefined || has('WEFT_DATA_DIR')
  const needed = {
    WEFT_DATA_DIR: o.dataDir === undefined,
    XDG_DATA_HOME: !dataDirGiven,
    WEFT_CONFIG: o.configFile === undefined,
    XDG_CONFIG_HOME: o.configFile === undefined && !has('WEFT_CONFIG') && !dataDirGiven
  }
  return PATH_ENV_VARS.filter(k => needed[k] && has(k)).map(k => [k, resolve(env[k]!)] as const)
}

/**
 * One word of a systemd command line or assignment: `%` starts a specifier
 * and `$` a variable, so both are doubled; anything but plain characters is
 * double-quoted with C escapes (systemd.service(5), "Command lines").
 */
export function systemdWord (s: string, { command = true } = {}): string {
  if (/[\n\r\0]/.test(s)) throw new InvalidArgumentError(`${JSON.stringify(s)} holds a line break or NUL, which a systemd unit cannot carry`)
  let w = s.replaceAll('%', '%%')
  if (command) w = w.replaceAll('$', '$$$$')
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `"${w.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

const xml = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** The per-user unit (systemd) or agent (launchd). */
export function userUnit (o: ServiceOptions = {}): ServiceUnit {
  const env = o.env ?? process.env
  const args = [process.execPath, cliPath(), 'start']
  if (o.dataDir !== undefined) args.push('--data-dir', resolve(o.dataDir))
  if (o.configFile !== undefined) args.push('--config', resolve(o.configFile))
  const vars = pathVariables(o, env)
  const path = userUnitPath(env)
  if (process.platform === 'darwin') {
    const logDir = o.dataDir ?? nonEmpty(env.WEFT_DATA_DIR) ?? join(nonEmpty(env.XDG_DATA_HOME) ?? join(homedir(), '.local', 'share'), 'weft')
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>${LABEL}</string>
  <key>ProgramArguments</key><array>${args.map(a => `<string>${xml(a)}</string>`).join('')}</array>
${vars.length === 0 ? '' : `  <key>EnvironmentVariables</key><dict>${vars.map(([k, v]) => `<key>${k}</key><string>${xml(v)}</string>`).join('')}</dict>\n`}  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>StandardErrorPath</key><string>${xml(join(resolve(logDir), 'daemon.log'))}</string>
</dict>
</plist>
`
    return { path, text, warnings: [], next: `launchctl load ${path}` }
  }
  const text = `[Unit]
Description=weft sync node
After=network-online.target

[Service]
${vars.map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`, { command: false })}\n`).join('')}ExecStart=${args.map(a => systemdWord(a)).join(' ')}
UMask=0077
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=default.target
`
  return { path, text, warnings: [], next: 'systemctl --user daemon-reload && systemctl --user enable --now weft' }
}

/** Directories and files on the way to `file` that other users cannot pass or read. */
function unreachableByOthers (file: string, bit: number): string[] {
  const out: string[] = []
  try {
    if ((statSync(file).mode & bit) === 0) out.push(file)
    for (let d = dirname(file); ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) out.push(d)
      if (d === dirname(d)) break
    }
  } catch {
    out.push(file)
  }
  return out
}

/**
 * The system-wide unit: weft runs as a dedicated unprivileged user, its data
 * in /var/lib/weft (0700, made by systemd), its config in
 * /etc/weft/config.json, inside systemd's sandbox. Not
 * `MemoryDenyWriteExecute`: V8's JIT needs writable code pages.
 */
export function systemUnit (o: ServiceOptions = {}): ServiceUnit {
  if (process.platform !== 'linux') throw new WeftError('--system writes a systemd unit, so it is for Linux only', 'UNSUPPORTED')
  const user = o.user ?? DEFAULT_SERVICE_USER
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new InvalidArgumentError(`--user ${JSON.stringify(user)} is not a valid system user name (lower case letters, digits, _ and -, at most 32)`)
  const dataDir = resolve(o.dataDir ?? SYSTEM_DATA_DIR)
  const configFile = resolve(o.configFile ?? SYSTEM_CONFIG_FILE)
  const cli = cliPath()
  const warnings: string[] = []
  // Everything under /home, /root and /run/user is hidden by ProtectHome=yes.
  const inHome = [process.execPath, cli].some(p => /^\/(home|root|run\/user)(\/|$)/.test(p))
  const blocked = [...unreachableByOthers(process.execPath, 0o001), ...unreachableByOthers(cli, 0o004)]
  if (blocked.length > 0) warnings.push(`the ${user} user may not be able to reach ${[...new Set(blocked)].join(', ')}: install weft where every user can read it (for example under /opt or /usr/local)`)
  if (inHome) warnings.push('weft is installed under a home directory, so the unit uses ProtectHome=read-only instead of ProtectHome=yes; an install under /opt or /usr/local keeps homes hidden from the service')
  const stateDir = dataDir.startsWith('/var/lib/') && !dataDir.slice('/var/lib/'.length).includes('/') ? dataDir.slice('/var/lib/'.length) : undefined
  const confDir = dirname(configFile).startsWith('/etc/') ? dirname(configFile).slice('/etc/'.length) : undefined
  const args = [process.execPath, cli, 'start', '--data-dir', dataDir, '--config', configFile]
  const text = `[Unit]
Description=weft sync node (system-wide, as user ${user})
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
User=${user}
Group=${user}
ExecStart=${args.map(a => systemdWord(a)).join(' ')}
${stateDir !== undefined ? `StateDirectory=${systemdWord(stateDir)}\nStateDirectoryMode=0700` : `ReadWritePaths=${systemdWord(dataDir)}`}
${confDir !== undefined ? `ConfigurationDirectory=${systemdWord(confDir)}\n` : ''}UMask=0077
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30

# Sandbox: weft needs its data dir, the network (TCP, UDP, netlink for the
# interface list) and nothing else.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=${inHome ? 'read-only' : 'yes'}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`
  const prepare = [
    `id ${user} >/dev/null 2>&1 || useradd --system --user-group --home-dir ${dataDir} --shell /usr/sbin/nologin ${user}`,
    ...(stateDir === undefined ? [`install -d -o ${user} -g ${user} -m 0700 ${dataDir}`] : [])
  ]
  return {
    path: join(SYSTEM_UNIT_DIR, 'weft.service'),
    text,
    warnings,
    next: `${prepare.join('\n  ')}\n  systemctl daemon-reload && systemctl enable --now weft\nthen, for the CLI: sudo -u ${user} weft status --data-dir ${dataDir}`
  }
}

export function serviceInstall (o: ServiceOptions = {}): { path: string, message: string, warnings: string[] } {
  const unit = o.system === true ? systemUnit(o) : userUnit(o)
  try {
    mkdirSync(dirname(unit.path), { recursive: true })
    writeFileSync(unit.path, unit.text, { mode: 0o644 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM') throw new WeftError(`cannot write ${unit.path} (${code}): ${o.system === true ? 'a system unit is installed as root (sudo weft service install --system), or printed with --print' : 'check the permissions of that directory'}`, 'PERMISSION_DENIED')
    throw err
  }
  const warnings = unit.warnings.map(w => `warning: ${w}`)
  return { path: unit.path, warnings: unit.warnings, message: [`wrote ${unit.path}`, ...warnings, `to start it now:\n  ${unit.next}`].join('\n') }
}

export function serviceUninstall (o: Pick<ServiceOptions, 'system' | 'env'> = {}): { path: string, message: string } {
  const system = o.system === true
  const file = system ? join(SYSTEM_UNIT_DIR, 'weft.service') : userUnitPath(o.env ?? process.env)
  if (!existsSync(file)) return { path: file, message: `nothing to remove: ${file} does not exist` }
  rmSync(file)
  const next = process.platform === 'darwin' ? `launchctl unload ${file}` : system ? 'systemctl disable --now weft' : 'systemctl --user disable --now weft'
  return { path: file, message: `removed ${file}\nif it is running, stop it with: ${next}` }
}
