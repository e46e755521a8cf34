/**
 * `weft service install`: the unit it writes, run the way the service manager
 * would run it. No systemd runs here, so the per-user unit's ExecStart is
 * started by hand in the environment a systemd user manager gives a service
 * (HOME and PATH, plus the unit's Environment= lines, nothing from the shell),
 * and the system unit is checked as text and with `systemd-analyze verify`
 * when the machine has it.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI, removeDir, runCli, tempDataDir } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

/** Splits a systemd command line (the quoting systemdWord produces: "…" with \\ and \" escapes, %% and $$). */
function systemdArgs (line: string): string[] {
  const words = line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []
  return words.map(w => (w.startsWith('"') ? w.slice(1, -1).replace(/\\(.)/g, '$1') : w).replaceAll('%%', '%').replaceAll('$$', '$'))
}

function unitValues (text: string, key: string): string[] {
  return text.split('\n').filter(l => l.startsWith(`${key}=`)).map(l => l.slice(key.length + 1))
}

describe('weft service install', () => {
  it('writes a user unit that runs with the user\'s config file (device name, mDNS), not a fresh default one', async () => {
    const home = tempDataDir('weft-home')
    cleanup.push(() => removeDir(home))
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, 'cfg'), XDG_DATA_HOME: join(home, 'data') }
    mkdirSync(join(home, 'cfg', 'weft'), { recursive: true })
    // mDNS and UPnP off, loopback only: the config is what keeps this test on this machine.
    writeFileSync(join(home, 'cfg', 'weft', 'config.json'), JSON.stringify({ deviceName: 'desk-from-config', mdns: false, upnp: false, listen: ['/ip4/127.0.0.1/tcp/0'] }))

    const installed = await runCli(['service', 'install', '--json'], { env })
    expect(installed.code, installed.stderr).toBe(0)
    const unitFile = join(home, 'cfg', 'systemd', 'user', 'weft.service')
    expect(JSON.parse(installed.stdout).path).toBe(unitFile)
    const text = readFileSync(unitFile, 'utf8')
    const [execStart] = unitValues(text, 'ExecStart')
    const args = systemdArgs(execStart!)
    // The binary users run, found from inside the bundle (its import.meta.url is the bundle's path).
    expect(args.slice(0, 2)).toEqual([process.execPath, CLI])
    // Before: --data-dir was always passed, which moves the config file to
    // <data dir>/config.json; the user's settings were silently dropped.
    expect(args.slice(2)).toEqual(['start'])
    const unitEnv = Object.fromEntries(unitValues(text, 'Environment').map(systemdArgs).map(([kv]) => [kv!.slice(0, kv!.indexOf('=')), kv!.slice(kv!.indexOf('=') + 1)]))
    expect(unitEnv).toEqual({ XDG_CONFIG_HOME: env.XDG_CONFIG_HOME, XDG_DATA_HOME: env.XDG_DATA_HOME })

    // Run it as systemd --user would: HOME and PATH, the unit's Environment=, nothing else.
    const serviceEnv = { HOME: home, PATH: process.env.PATH ?? '/usr/bin', ...unitEnv }
    const child = spawn(args[0]!, args.slice(1), { env: serviceEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<void>(resolve => child.on('exit', () => resolve()))
    cleanup.push(async () => { child.kill('SIGKILL'); await exited })
    let stderr = ''
    child.stderr.on('data', c => { stderr += String(c) })
    await new Promise<void>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', c => { out += String(c); if (out.includes('running as')) resolve() })
      void exited.then(() => reject(new Error(`the service exited: ${stderr}`)))
    })
    const status = await runCli(['status', '--json'], { env })
    expect(status.code, status.stderr).toBe(0)
    const s = JSON.parse(status.stdout)
    expect(s.deviceName).toBe('desk-from-config')
    expect(s.dataDir).toBe(join(home, 'data', 'weft'))
    expect(s.network.addresses.every((a: string) => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)
  })

  it('passes on the flags and path variables the user gave, and quotes them for systemd', async () => {
    const home = tempDataDir('weft-home')
    cleanup.push(() => removeDir(home))
    const dataDir = join(home, 'my data 100%')
    const r = await runCli(['service', 'install', '--print', '--data-dir', dataDir, '--config', join(home, 'c.json')], { env: { HOME: home, XDG_CONFIG_HOME: join(home, 'cfg'), WEFT_CONFIG: 'ignored-by-the-flag.json' } })
    expect(r.code, r.stderr).toBe(0)
    const [execStart] = unitValues(r.stdout, 'ExecStart')
    expect(execStart).toContain('"' + dataDir.replace('%', '%%') + '"')
    expect(systemdArgs(execStart!).slice(2)).toEqual(['start', '--data-dir', dataDir, '--config', join(home, 'c.json')])
    // The flags decide both paths, so no path variable matters.
    expect(unitValues(r.stdout, 'Environment')).toEqual([])
    const viaEnv = await runCli(['service', 'install', '--print'], { env: { HOME: home, XDG_CONFIG_HOME: join(home, 'cfg'), XDG_DATA_HOME: join(home, 'd'), WEFT_DATA_DIR: 'rel/data' } })
    expect(unitValues(viaEnv.stdout, 'Environment')).toEqual([`WEFT_DATA_DIR=${join(process.cwd(), 'rel/data')}`])
    // --print writes nothing.
    expect(() => readFileSync(join(home, 'cfg', 'systemd', 'user', 'weft.service'))).toThrow(/ENOENT/)
  })

  it('--system prints a hardened system unit for a dedicated user that systemd accepts', async () => {
    const r = await runCli(['service', 'install', '--system', '--print'])
    expect(r.code, r.stderr).toBe(0)
    const text = r.stdout
    expect(unitValues(text, 'User')).toEqual(['weft'])
    expect(unitValues(text, 'Group')).toEqual(['weft'])
    expect(systemdArgs(unitValues(text, 'ExecStart')[0]!).slice(2)).toEqual(['start', '--data-dir', '/var/lib/weft', '--config', '/etc/weft/config.json'])
    expect(unitValues(text, 'StateDirectory')).toEqual(['weft'])
    expect(unitValues(text, 'StateDirectoryMode')).toEqual(['0700'])
    expect(unitValues(text, 'UMask')).toEqual(['0077'])
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'], ['CapabilityBoundingSet', ''], ['RestrictSUIDSGID', 'yes'], ['SystemCallFilter', '@system-service']]) {
      expect(unitValues(text, k!), k).toEqual([v])
    }
    // V8 needs writable code pages.
    expect(text).not.toContain('MemoryDenyWriteExecute=yes')
    expect(unitValues(text, 'WantedBy')).toEqual(['multi-user.target'])

    const other = await runCli(['service', 'install', '--system', '--print', '--user', 'sync', '--data-dir', '/srv/weft'])
    expect(unitValues(other.stdout, 'User')).toEqual(['sync'])
    expect(unitValues(other.stdout, 'ReadWritePaths')).toEqual(['/srv/weft'])
    expect(unitValues(other.stdout, 'StateDirectory')).toEqual([])
    const badUser = await runCli(['service', 'install', '--system', '--print', '--user', 'Root;rm'])
    expect(badUser.code).toBe(2)
    expect(badUser.stderr).toContain('not a valid system user name')
    const userWithoutSystem = await runCli(['service', 'install', '--user', 'weft'])
    expect(userWithoutSystem.code).toBe(2)

    const analyze = spawnSync('systemd-analyze', ['--version'])
    if (analyze.error !== undefined) {
      console.log('systemd-analyze verify: skipped (systemd-analyze is not installed)')
      return
    }
    const dir = tempDataDir('weft-unit')
    cleanup.push(() => removeDir(dir))
    const file = join(dir, 'weft.service')
    writeFileSync(file, text)
    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' })
    expect(verify.status, verify.stderr).toBe(0)
    // verify exits 0 on unknown keys and bad values; it says so on stderr.
    expect(verify.stderr.split('\n').filter(l => l.includes(file))).toEqual([])
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', file], { encoding: 'utf8' })
    const exposure = /Overall exposure level for weft\.service: ([\d.]+)/.exec(security.stdout)
    if (exposure !== null) {
      console.log(`systemd-analyze security: exposure ${exposure[1]} of 10`)
      expect(Number(exposure[1])).toBeLessThanOrEqual(2.5)
    }
  })

  it('--system refuses to write without root and says how', async () => {
    if (process.getuid?.() === 0) {
      // As root this would write /etc/systemd/system: check the message with a user that cannot.
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, 'service', 'install', '--system'], { encoding: 'utf8', cwd: '/' })
      if (r.error !== undefined || /cannot (open|access)|Permission denied.*main\.js|Cannot find module/.test(r.stderr)) {
        console.log('service install --system as nobody: skipped (runuser unavailable, or nobody cannot read this checkout)')
        return
      }
      expect(r.status).toBe(1)
      expect(r.stderr).toContain('cannot write /etc/systemd/system/weft.service')
      expect(r.stderr).toContain('--print')
      return
    }
    const r = await runCli(['service', 'install', '--system'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('--print')
  })
})
