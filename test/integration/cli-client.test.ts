/**
 * The CLI's control API client against servers that are not the daemon: a
 * stock node:http server (what the daemon runs, answering in every shape it
 * can: Content-Length, close-delimited, streamed lines, error bodies) and raw
 * sockets that answer wrongly (garbage, a huge header, chunked to HTTP/1.0,
 * nothing at all). Every wrong answer ends in an error that names it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiError, call, DaemonUnavailableError } from '../../src/cli/client.js'

const dirs: string[] = []
const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    await new Promise(resolve => { s.close(resolve); (s as unknown as { closeAllConnections?: () => void }).closeAllConnections?.() })
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function socketPath (): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-client-'))
  dirs.push(dir)
  return join(dir, 's.sock')
}

async function listen (server: Server): Promise<string> {
  const path = socketPath()
  servers.push(server)
  await new Promise<void>(resolve => server.listen(path, resolve))
  return path
}

async function httpServer (handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  return await listen(createHttpServer((req, res) => {
    let body = ''
    req.on('data', c => { body += String(c) })
    req.on('end', () => handler(req, res, body))
  }))
}

async function rawServer (onData: (socket: Socket, request: string) => void): Promise<string> {
  return await listen(createNetServer(socket => {
    let got = ''
    socket.on('data', c => {
      got += String(c)
      if (got.includes('\r\n\r\n')) onData(socket, got)
    })
    socket.on('error', () => {})
  }))
}

describe('control API client', () => {
  it('reads JSON with a Content-Length, close-delimited text, and sends a JSON body', async () => {
    const seen: Array<{ method: string | undefined, url: string | undefined, type: string | undefined, body: string }> = []
    const path = await httpServer((req, res, body) => {
      seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], body })
      if (req.url === '/json') { const text = JSON.stringify({ a: 1, big: 'x'.repeat(200_000) }); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text); return }
      if (req.url === '/text') { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('one\n'); setTimeout(() => res.end('two\n'), 20); return }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: JSON.parse(body) as unknown }))
    })
    const json = await call<{ a: number, big: string }>(path, 'GET', '/json')
    expect(json.a).toBe(1)
    expect(json.big.length).toBe(200_000)
    expect(await call(path, 'GET', '/text')).toBe('one\ntwo\n')
    expect(await call(path, 'POST', '/echo', { body: { k: 'ü', n: [1, 2] } })).toEqual({ echo: { k: 'ü', n: [1, 2] } })
    expect(seen.map(s => [s.method, s.url])).toEqual([['GET', '/json'], ['GET', '/text'], ['POST', '/echo']])
    expect(seen[2]!.type).toBe('application/json')
  })

  it('streams lines as they come and resolves when the stream ends', async () => {
    const path = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      let i = 0
      const t = setInterval(() => { res.write(`{"n":${i}}\n`.slice(0, 3)); res.write(`{"n":${i}}\n`.slice(3)); if (++i === 5) { clearInterval(t); res.end() } }, 5)
    })
    const lines: string[] = []
    expect(await call(path, 'GET', '/follow', { onLine: l => lines.push(l) })).toBeUndefined()
    expect(lines.map(l => (JSON.parse(l) as { n: number }).n)).toEqual([0, 1, 2, 3, 4])
  })

  it('ends a stream quietly when its signal aborts', async () => {
    const path = await httpServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/x-ndjson' }); res.write('{"n":0}\n') })
    const ac = new AbortController()
    const lines: string[] = []
    await call(path, 'GET', '/follow', { onLine: l => { lines.push(l); ac.abort() }, signal: ac.signal })
    expect(lines).toEqual(['{"n":0}'])
  })

  it('turns an error body into an ApiError with its status and code', async () => {
    const path = await httpServer((_req, res) => { res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no row "k" in "notes"' } })) })
    const err = await call(path, 'GET', '/v1/data/notes/k').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 404, code: 'NOT_FOUND', message: 'no row "k" in "notes"' })
    const bare = await httpServer((_req, res) => { res.writeHead(500).end('<html>') })
    expect(await call(bare, 'GET', '/x').catch((e: unknown) => e)).toMatchObject({ status: 500, message: 'daemon answered 500' })
  })

  it('names a missing daemon', async () => {
    const err = await call(socketPath(), 'GET', '/v1/status').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DaemonUnavailableError)
    expect((err as Error).message).toContain('weft start')
  })

  it('refuses wrong answers by name: garbage, a huge header, chunked, an early close, invalid JSON', async () => {
    const cases: Array<[string, (s: Socket) => void, RegExp]> = [
      ['garbage', s => s.end('SSH-2.0-OpenSSH\r\n\r\n'), /unreadable status line "SSH-2\.0-OpenSSH"/],
      ['huge header', s => { s.write('HTTP/1.1 200 OK\r\n'); s.write('x-pad: ' + 'a'.repeat(70_000)) }, /too large a header/],
      ['chunked', s => s.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'), /transfer-encoding chunked/],
      ['early close', s => s.end('HTTP/1.1 200 OK\r\ncontent-'), /closed the connection before it answered/],
      ['invalid JSON', s => s.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"a":'), /invalid JSON/],
      ['bad length', s => s.end('HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n'), /invalid content-length/]
    ]
    for (const [name, answer, message] of cases) {
      const path = await rawServer(s => answer(s))
      const err = await call(path, 'GET', '/v1/status').catch((e: unknown) => e)
      expect(err, name).toBeInstanceOf(Error)
      expect((err as Error).message, name).toMatch(message)
    }
  })

  it('gives up on a daemon that never answers, after its timeout', async () => {
    const path = await rawServer(() => {})
    const err = await call(path, 'GET', '/v1/status', { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TIMEOUT' })
    expect((err as Error).message).toContain('did not answer within 0.3 s')
  })

  it('stops reading an answer past its size limit', async () => {
    const path = await rawServer(s => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n')
      const chunk = Buffer.alloc(1 << 20, 97)
      let sent = 0
      const more = (): void => { while (sent < 80 && s.write(chunk)) sent++; if (sent < 80) s.once('drain', more); else s.end() }
      more()
    })
    const err = await call(path, 'GET', '/big').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'RESPONSE_TOO_LARGE' })
  })
})
