/**
 * The CLI process against a daemon that answers with error codes, as a user
 * or a script sees it: the exit status and the `--json` error line. The
 * "daemon" is a plain node:http server on the control socket standing in for
 * a newer weft daemon, the one case a real daemon of this build cannot
 * produce: a code this CLI does not know.
 */
import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { resolvePaths } from '../../src/daemon/paths.js'
import { removeDir, runCli, tempDataDir } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

/** A data dir whose control socket answers every request with `status` and `body`. */
async function daemonAnswering (status: number, body: string): Promise<string> {
  const dir = tempDataDir('weft-e2e-codes')
  const { socket, runtimeDir } = resolvePaths({ dataDir: dir }, {})
  mkdirSync(runtimeDir, { recursive: true })
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => { res.writeHead(status, { 'content-type': 'application/json' }).end(body) })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socket, resolve) })
  cleanup.push(async () => { await new Promise(resolve => server.close(resolve)); removeDir(dir) })
  return dir
}

const errorLine = (stderr: string): unknown => JSON.parse(stderr.trim().split('\n').at(-1)!)

describe('weft and the daemon\'s error codes', () => {
  it('passes a code it does not know on as the daemon sent it, and exits 1', async () => {
    const dir = await daemonAnswering(418, JSON.stringify({ error: { code: 'SOMETHING_NEW', message: 'a newer daemon said no' } }))
    const json = await runCli(['get', 'notes', 'n1', '--json', '--data-dir', dir])
    expect(json.code).toBe(1)
    expect(errorLine(json.stderr)).toEqual({ error: { code: 'SOMETHING_NEW', message: 'a newer daemon said no' } })
    const text = await runCli(['get', 'notes', 'n1', '--data-dir', dir])
    expect(text).toMatchObject({ code: 1, stderr: 'weft: a newer daemon said no\n' })
  })

  it('exits with a known code\'s exit status', async () => {
    const dir = await daemonAnswering(400, JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'bad field' } }))
    const r = await runCli(['get', 'notes', 'n1', '--json', '--data-dir', dir])
    expect(r.code).toBe(2)
    expect(errorLine(r.stderr)).toEqual({ error: { code: 'INVALID_ARGUMENT', message: 'bad field' } })
  })

  it('reads an answer that is not an error body as INTERNAL with the status, and exits 1', async () => {
    const dir = await daemonAnswering(502, 'not json')
    const r = await runCli(['get', 'notes', 'n1', '--json', '--data-dir', dir])
    expect(r.code).toBe(1)
    expect(errorLine(r.stderr)).toEqual({ error: { code: 'INTERNAL', message: 'daemon answered 502' } })
  })
})
