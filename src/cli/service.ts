/**
 * `weft service install|uninstall`: a systemd user unit on Linux, a launchd
 * agent on macOS, each running `weft start` with this installation's node.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WeftError } from '../errors.js'
import type { Paths } from '../daemon/paths.js'

const LABEL = 'org.weft.daemon'

function unitPath (): string {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'LaunchAgents', `${LABEL}.plist`)
  if (process.platform === 'linux') return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'systemd', 'user', 'weft.service')
  throw new WeftError(`weft service supports Linux (systemd) and macOS (launchd), not ${process.platform}`, 'UNSUPPORTED')
}

export function serviceInstall (paths: Paths): { path: string, message: string } {
  const cli = resolve(dirname(fileURLToPath(import.meta.url)), 'main.js')
  const file = unitPath()
  const args = [process.execPath, cli, 'start', '--data-dir', paths.dataDir]
  let text: string
  if (process.platform === 'darwin') {
    text = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>${LABEL}</string>
  <key>ProgramArguments</key><array>${args.map(a => `<string>${a}</string>`).join('')}</array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>StandardErrorPath</key><string>${join(paths.dataDir, 'daemon.log')}</string>
</dict>
</plist>
`
  } else {
    text = `[Unit]
Description=weft sync node
After=network-online.target

[Service]
ExecStart=${args.map(a => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=default.target
`
  }
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text, { mode: 0o644 })
  const next = process.platform === 'darwin' ? `launchctl load ${file}` : 'systemctl --user daemon-reload && systemctl --user enable --now weft'
  return { path: file, message: `wrote ${file}\nto start it now: ${next}` }
}

export function serviceUninstall (): { path: string, message: string } {
  const file = unitPath()
  if (!existsSync(file)) return { path: file, message: `nothing to remove: ${file} does not exist` }
  rmSync(file)
  const next = process.platform === 'darwin' ? `launchctl unload ${file}` : 'systemctl --user disable --now weft'
  return { path: file, message: `removed ${file}\nif it is running, stop it with: ${next}` }
}
