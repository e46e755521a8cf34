/**
 * A small mesh of real daemons on loopback for the examples' end-to-end
 * tests: started, paired into one group through the CLI (invite on the
 * first, join on each other), stopped and removed after the test.
 */
import { spawn } from 'node:child_process'
import { expect } from 'vitest'
import { childEnv, removeDir, startDaemon, tempDataDir, type CliResult, type DaemonProcess } from './daemon.js'

export async function startMesh (names: string[], cleanup: Array<() => Promise<void> | void>): Promise<DaemonProcess[]> {
  const nodes = await Promise.all(names.map(async name => {
    const dir = tempDataDir()
    const d = await startDaemon(dir, ['--device-name', name])
    cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
    return d
  }))
  for (const other of nodes.slice(1)) {
    const invite = await nodes[0]!.cli(['invite', '--json'])
    expect(invite.code, invite.stderr).toBe(0)
    const joined = await other.cli(['join', JSON.parse(invite.stdout).code, '--json'])
    expect(joined.code, joined.stderr).toBe(0)
  }
  return nodes
}

/** Runs a node script (an example's) to its end. */
export async function runScript (file: string, args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += String(d) })
    child.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} did not finish in time; stderr: ${stderr}`)) }, timeoutMs)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }) })
  })
}
