/**
 * Relay configuration: every problem in the file and on the command line is
 * reported together, unknown keys are rejected, and the binary exits with 2
 * without starting. Also the operator tools (group key, signed statement) and
 * `weft-relay id`.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { GroupStatement } from '../../src/net/relay-auth/pb/relay-auth.js'
import { loadRelayConfig, overridesFromFlags, RELAY_CONFIG_DEFAULTS, RelayConfigError } from '../../relay/config.js'

const RELAY_BIN = resolve(import.meta.dirname, '../../dist/relay/main.js')
const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'weft-relay-cfg-')); dirs.push(d); return d }

async function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((res, rej) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += String(d) })
    child.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`weft-relay ${args.join(' ')} hung; stderr: ${stderr}`)) }, 20_000)
    child.on('close', code => { clearTimeout(timer); res({ code, stdout, stderr }) })
  })
}

const problemsOf = (fn: () => unknown): string[] => {
  try { fn() } catch (err) { if (err instanceof RelayConfigError) return err.problems; throw err }
  throw new Error('no RelayConfigError')
}

describe('relay configuration', () => {
  it('defaults are valid, and a missing default config file means defaults', () => {
    expect(loadRelayConfig(join(tempDir(), 'relay.json'))).toEqual(RELAY_CONFIG_DEFAULTS)
  })

  it('reports every problem in the file and on the command line together', () => {
    const file = join(tempDir(), 'relay.json')
    writeFileSync(file, JSON.stringify({
      listen: ['/ip4/0.0.0.0/udp/4001/quic-v1'],
      announce: ['/ip4/0.0.0.0/tcp/4001'],
      maxReservations: 0,
      durationLimitMs: 'long',
      groups: [{ name: 'home', publicKey: 'not-a-key' }, { name: 'home', publicKey: 'x', extra: 1 }],
      others: 'maybe',
      metricsHost: '0.0.0.0',
      maxReservatons: 5
    }))
    const problems = problemsOf(() => loadRelayConfig(file, overridesFromFlags({ 'data-limit-bytes': 'lots', 'log-level': 'loud' })))
    const text = problems.join('\n')
    for (const needle of ['listen', 'announce', 'maxReservations must be', 'durationLimitMs', 'groups [0].publicKey', '[1].name "home" appears twice', '[1] unknown key "extra"', 'others', 'metricsHost must be a loopback host', 'unknown key "maxReservatons"', 'command line: dataLimitBytes', 'command line: logLevel']) {
      expect(text).toContain(needle)
    }
    expect(problems.length).toBe(10)
  })

  it('rejects an explicit config file that is missing or not JSON, and contradictory settings', () => {
    const dir = tempDir()
    expect(problemsOf(() => loadRelayConfig(join(dir, 'nope.json'), {}, true))[0]).toContain('cannot read')
    writeFileSync(join(dir, 'bad.json'), '{ listen: ')
    expect(problemsOf(() => loadRelayConfig(join(dir, 'bad.json')))[0]).toContain('not valid JSON')
    const combined = problemsOf(() => loadRelayConfig(undefined, { others: 'deny', groupDataLimitBytes: 2048, dataLimitBytes: 4096, strangerReservationTtlMs: 3 * 3600_000 }))
    expect(combined).toHaveLength(3)
    expect(combined.join('\n')).toContain('no one could use this relay')
    expect(combined.join('\n')).toContain('strangerReservationTtlMs is above reservationTtlMs')
  })

  it('checks the stranger bounds, and takes them from flags', () => {
    const problems = problemsOf(() => loadRelayConfig(undefined, overridesFromFlags({ 'stranger-share': '0', 'stranger-reservations-per-ip': '0', 'stranger-reservation-ttl-ms': '10' })))
    expect(problems.join('\n')).toContain('strangerShare must be a number above 0 and at most 1')
    expect(problems.join('\n')).toContain('strangerReservationsPerIp must be an integer from 1')
    expect(problems.join('\n')).toContain('strangerReservationTtlMs must be an integer from 60000')
    expect(problems).toHaveLength(3)
    const ok = loadRelayConfig(undefined, overridesFromFlags({ 'stranger-share': '0.25', 'stranger-reservations-per-ip': '2', 'stranger-reservation-ttl-ms': '300000' }))
    expect(ok).toMatchObject({ strangerShare: 0.25, strangerReservationsPerIp: 2, strangerReservationTtlMs: 300_000 })
  })

  it('the binary prints all problems and exits 2 without starting', async () => {
    const dir = tempDir()
    const res = await run(['--data-dir', dir, '--max-reservations', '3x', '--others', 'all', '--metrics-host', '192.0.2.1', '--group', 'nokey'])
    expect(res.code).toBe(2)
    expect(res.stdout).toBe('')
    for (const needle of ['maxReservations', 'others', 'metricsHost', 'groups [0].publicKey']) expect(res.stderr).toContain(needle)
    expect(() => statSync(join(dir, 'relay.key'))).toThrow()
    const usage = await run(['--no-such-flag'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('usage: weft-relay')
  })

  it('id prints a stable peer id; group-key and sign-statement make a credential for a peer', async () => {
    const dir = tempDir()
    const id = (await run(['id', '--data-dir', dir])).stdout.trim()
    expect(peerIdFromString(id).type).toBe('Ed25519')
    expect((await run(['id', '--data-dir', dir])).stdout.trim()).toBe(id)

    const keyFile = join(dir, 'group.key')
    const pub = (await run(['group-key', '--out', keyFile])).stdout.trim()
    expect(pub).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((statSync(keyFile).mode & 0o777).toString(8)).toBe('600')
    const signed = await run(['sign-statement', '--group-key', keyFile, '--peer', id, '--days', '7'])
    expect(signed.code).toBe(0)
    const statement = GroupStatement.decode(Buffer.from(signed.stdout.trim(), 'base64url'))
    expect(Buffer.from(statement.groupKey).toString('base64url')).toBe(pub)
    expect(statement.notAfterMs - statement.notBeforeMs).toBe(7 * 24 * 3600_000)
    // The config accepts the printed public key as is.
    expect(loadRelayConfig(undefined, { groups: [{ name: 'home', publicKey: pub }] }).groups).toHaveLength(1)
  })
})
