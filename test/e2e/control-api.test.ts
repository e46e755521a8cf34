/**
 * The control API as an app meets it: a real daemon process, real HTTP
 * requests over its Unix socket and its token-guarded TCP port. Malformed
 * requests get a 400 that names the problem (never a 500), nothing of them is
 * stored, routes answer 404 or 405 with Allow, the documented timeouts hold,
 * and the TCP port holds a bounded number of connections.
 */
import { connect, type Socket } from 'node:net'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { removeDir, startDaemon, tempDataDir, type DaemonProcess } from '../helpers/daemon.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function daemon (extra: string[] = []): Promise<DaemonProcess> {
  const dir = tempDataDir()
  const d = await startDaemon(dir, extra)
  cleanup.push(async () => { await d.stop('SIGKILL'); removeDir(dir) })
  return d
}

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string, json: any }

/** One request with the path sent exactly as given (no client-side encoding). */
async function http (target: { socket: string } | { port: number, token?: string }, method: string, path: string, body?: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    if ('token' in target && target.token !== undefined) headers.authorization = `Bearer ${target.token}`
    const where = 'socket' in target ? { socketPath: target.socket } : { host: '127.0.0.1', port: target.port }
    const req = request({ ...where, method, path, headers }, res => {
      let text = ''
      res.on('data', c => { text += String(c) })
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const sock = (d: DaemonProcess): { socket: string } => ({ socket: join(d.dataDir, 'run', 'control.sock') })
/** The app's collections (weft keeps its own membership in `_weft.*`). */
const userCollections = async (d: DaemonProcess): Promise<string[]> => ((await http(sock(d), 'GET', '/v1/collections')).json as string[]).filter(c => !c.startsWith('_weft.'))

describe('control API input', () => {
  it('answers malformed paths with 400 naming the problem, and the daemon keeps serving', async () => {
    const d = await daemon()
    const lone = await http(sock(d), 'GET', '/v1/data/%/k')
    expect(lone.status).toBe(400)
    expect(lone.json.error).toEqual({ code: 'BAD_REQUEST', message: expect.stringContaining('path segment "%" has a "%" that is not followed by two hex digits') })
    const surrogate = await http(sock(d), 'PUT', '/v1/data/%ED%A0%80/k', JSON.stringify({ fields: { a: 1 } }))
    expect(surrogate.status).toBe(400)
    expect(surrogate.json.error.message).toContain('"%ED%A0%80" does not decode to UTF-8 text')
    const query = await http(sock(d), 'GET', '/v1/oplog?collection=%')
    expect(query.status).toBe(400)
    expect(query.json.error.message).toContain('query parameter "collection"')
    expect(await userCollections(d)).toEqual([])
    expect(d.stderr()).not.toContain('URIError')
  })

  it('refuses empty collection and key names instead of reading another collection', async () => {
    const d = await daemon()
    expect((await http(sock(d), 'PUT', '/v1/data/k/row', JSON.stringify({ fields: { in: 'k' } }))).status).toBe(200)
    // Before: the empty segment was dropped and this listed collection "k".
    const listed = await http(sock(d), 'GET', '/v1/data//k')
    expect(listed.status).toBe(400)
    expect(listed.json.error).toEqual({ code: 'INVALID_ARGUMENT', message: '/v1/data//k: the collection is empty (collection names must be non-empty)' })
    const put = await http(sock(d), 'PUT', '/v1/data//k', JSON.stringify({ fields: { a: 1 } }))
    expect(put.status).toBe(400)
    const emptyKey = await http(sock(d), 'PUT', '/v1/data/notes/', JSON.stringify({ fields: { a: 1 } }))
    expect(emptyKey.status).toBe(400)
    expect(emptyKey.json.error.message).toContain('the key is empty')
    expect((await http(sock(d), 'GET', '/v1/data/')).status).toBe(400)
    expect(await userCollections(d)).toEqual(['k'])
  })

  it('refuses a 200k-deep JSON body with 400, not a stack overflow', async () => {
    const d = await daemon()
    const deep = JSON.stringify({ fields: { a: 0 } }).replace('0', '['.repeat(200_000) + ']'.repeat(200_000))
    const r = await http(sock(d), 'PUT', '/v1/data/c/k', deep)
    expect(r.status).toBe(400)
    expect(r.json.error).toEqual({ code: 'BAD_REQUEST', message: 'request body nests arrays and objects deeper than 100 levels' })
    // Within the body bound but deeper than a value may nest: the store names the field.
    const value = JSON.stringify({ fields: { a: 0 } }).replace('0', '['.repeat(80) + ']'.repeat(80))
    const r2 = await http(sock(d), 'PUT', '/v1/data/c/k', value)
    expect(r2.status).toBe(400)
    expect(r2.json.error.message).toMatch(/nests deeper than 64 levels/)
    expect((await http(sock(d), 'GET', '/v1/data/c/k')).status).toBe(404)
    expect(d.stderr()).not.toContain('Maximum call stack')
  })

  it('refuses invalid base64 in $bytes and stores nothing; valid bytes round-trip', async () => {
    const d = await daemon()
    const bad = await http(sock(d), 'PUT', '/v1/data/c/k', JSON.stringify({ fields: { photo: { $bytes: '!!!notbase64' } } }))
    expect(bad.status).toBe(400)
    expect(bad.json.error.message).toContain('fields.photo.$bytes is not valid base64')
    const badElement = await http(sock(d), 'POST', '/v1/data/c/k/add', JSON.stringify({ field: 's', element: { $bytes: 'AQI' } }))
    expect(badElement.status).toBe(400)
    expect(badElement.json.error.message).toContain('element.$bytes is not valid base64')
    expect((await http(sock(d), 'GET', '/v1/data/c/k')).status).toBe(404)
    const oplog = await http(sock(d), 'GET', '/v1/oplog?collection=c')
    expect(oplog.json).toEqual([])
    expect((await http(sock(d), 'PUT', '/v1/data/c/k', JSON.stringify({ fields: { photo: { $bytes: 'AAEC/w==' } } }))).status).toBe(200)
    expect((await http(sock(d), 'GET', '/v1/data/c/k')).json).toEqual({ photo: { $bytes: 'AAEC/w==' } })
  })

  it('answers a bad invite code with 400 and the reason', async () => {
    const d = await daemon()
    const cut = await http(sock(d), 'POST', '/v1/join', JSON.stringify({ code: 'weft1:abc' }))
    expect(cut.status).toBe(400)
    expect(cut.json.error).toEqual({ code: 'INVALID_INVITE_CODE', message: 'invite code is too short: it was cut off' })
    const prefix = await http(sock(d), 'POST', '/v1/join', JSON.stringify({ code: 'hello' }))
    expect(prefix.status).toBe(400)
    expect(prefix.json.error.message).toContain('not a weft invite code')
    const name = await http(sock(d), 'POST', '/v1/join', JSON.stringify({ code: 'weft1:abc', name: 7 }))
    expect(name.status).toBe(400)
    expect(name.json.error.message).toContain('"name" must be a string')
    expect(d.stderr()).not.toContain('InviteCodeError')
  })

  it('answers unknown routes 404, and a known path with another method 405 with Allow', async () => {
    const d = await daemon()
    for (const path of ['/v1/nope', '/nope', '/', '/v1/status/extra', '/v1/data/c/k/frobnicate', '/v1/data']) {
      const r = await http(sock(d), 'GET', path)
      expect(r.status, path).toBe(404)
      expect(r.json.error.code).toBe('NOT_FOUND')
      expect(r.json.error.message).toContain(path)
    }
    const wrong = await http(sock(d), 'DELETE', '/v1/status')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.allow).toBe('GET')
    expect(wrong.json.error).toEqual({ code: 'METHOD_NOT_ALLOWED', message: 'DELETE is not allowed on /v1/status (allowed: GET)' })
    const row = await http(sock(d), 'POST', '/v1/data/c/k', '{}')
    expect(row.status).toBe(405)
    expect(row.headers.allow).toBe('GET, PUT, DELETE')
    const list = await http(sock(d), 'PUT', '/v1/data/c', '{}')
    expect(list.headers.allow).toBe('GET')
    expect((await http(sock(d), 'GET', '/v1/data/c/k/increment')).headers.allow).toBe('POST')
  })
})

describe('control API limits', () => {
  it('times out slow headers at 10 s and slow bodies at 30 s, and leaves follow streams open', async () => {
    const d = await daemon()
    // Started right after the daemon: with Node's 30 s check interval these
    // lived until about 30 s and 60 s.
    const slow = (head: string): Promise<{ ms: number, answer: string }> => new Promise((resolve, reject) => {
      const started = Date.now()
      const s = connect(sock(d).socket)
      let answer = ''
      s.on('connect', () => s.write(head))
      s.on('data', c => { answer += String(c) })
      s.on('error', reject)
      s.on('close', () => resolve({ ms: Date.now() - started, answer }))
    })
    const headers = slow('GET /v1/status HTTP/1.1\r\nHost: weft\r\n')
    const body = slow('PUT /v1/data/c/k HTTP/1.1\r\nHost: weft\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
    const follow = new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: sock(d).socket, path: '/v1/oplog/follow' }, res => {
        let text = ''
        res.on('data', c => {
          text += String(c)
          if (text.includes('"late"')) { resolve(text); req.destroy() }
        })
      })
      req.on('error', reject)
      req.end()
    })
    const h = await headers
    expect(h.answer).toContain('408')
    expect(h.ms).toBeGreaterThanOrEqual(9_500)
    expect(h.ms).toBeLessThan(20_000)
    const b = await body
    expect(b.answer).toContain('408')
    expect(b.ms).toBeGreaterThanOrEqual(29_500)
    expect(b.ms).toBeLessThan(40_000)
    // Past the request timeout, the follow stream still delivers.
    expect((await d.cli(['put', 'late', 'k', 'v=1'])).code).toBe(0)
    expect(await follow).toContain('"collection":"late"')
  }, 90_000)

  it('holds a bounded number of TCP connections and closes unauthenticated ones quickly', async () => {
    const port = await freePort()
    const d = await daemon(['--api-port', String(port)])
    const token = readFileSync(join(d.dataDir, 'api.token'), 'utf8').trim()
    // A wrong token: 401, and the connection is closed with the answer.
    const denied = await http({ port, token: 'wrong' }, 'GET', '/v1/status')
    expect(denied.status).toBe(401)
    expect(denied.headers.connection).toBe('close')

    // 40 idle connections: at most 32 are held, and those are closed well
    // before the 10 s headers timeout.
    const started = Date.now()
    const sockets: Socket[] = []
    const closedAt = await Promise.all(Array.from({ length: 40 }, async () => await new Promise<number>(resolve => {
      const s = connect(port, '127.0.0.1')
      sockets.push(s)
      s.on('error', () => {})
      s.on('close', () => resolve(Date.now() - started))
    })))
    cleanup.push(() => { for (const s of sockets) s.destroy() })
    closedAt.sort((a, b) => a - b)
    const refused = closedAt.filter(ms => ms < 2_000).length
    expect(refused).toBeGreaterThanOrEqual(8)
    expect(closedAt.at(-1)).toBeLessThan(9_000)
    expect(closedAt.at(-1)).toBeGreaterThanOrEqual(4_500)

    // The port serves again once they are gone, and an authenticated
    // connection is not cut at the unauthenticated deadline.
    const ok = await http({ port, token }, 'GET', '/v1/status')
    expect(ok.status).toBe(200)
  }, 60_000)
})

async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(res => srv.listen(0, '127.0.0.1', () => res()))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>(res => srv.close(() => res()))
  return port
}
