/**
 * The control API's request bodies over real HTTP: a real server on a Unix
 * socket in a temporary directory, real clients. A body over MAX_BODY_BYTES
 * is refused with 413 whether its size is declared or only seen while it
 * arrives, a body of exactly the limit is read whole, a client that leaves
 * halfway reaches no handler, and the server keeps serving after each,
 * with nothing in its log: none of this is a server error.
 */
import { request } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ControlApi, MAX_BODY_BYTES, type ApiRequest } from '../../src/daemon/control-api.js'
import { tempDir } from '../helpers/fixtures.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

/** A server whose handler records each request's body and answers it with its size. */
async function serve (): Promise<{ socket: string, bodies: unknown[], warnings: string[] }> {
  const dir = tempDir('weft-api-body-')
  const socket = join(dir, 'run', 'api.sock')
  const bodies: unknown[] = []
  const warnings: string[] = []
  const handle = (req: ApiRequest): unknown => {
    bodies.push(req.body)
    return { bytes: JSON.stringify(req.body ?? null).length }
  }
  const api = new ControlApi({ socket, runtimeDir: join(dir, 'run'), tokenFile: join(dir, 'api.token'), apiPort: null, handle, log: (level, msg) => { if (level === 'warn') warnings.push(msg) } })
  await api.start()
  cleanups.push(async () => { await api.stop() })
  return { socket, bodies, warnings }
}

interface Answer { status: number, body: { error?: { code: string, message: string } } & Record<string, unknown> }

/**
 * POSTs `chunks` one after another (chunked transfer unless `length` is
 * given), and resolves with the answer, or with the error that ended the
 * request when the server closed the connection first.
 */
async function post (socket: string, chunks: Buffer[], length?: number): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'POST', path: '/body', agent: false, headers: { 'content-type': 'application/json', ...(length === undefined ? {} : { 'content-length': length }) } }, res => {
      const got: Buffer[] = []
      res.on('data', (c: Buffer) => got.push(c))
      res.on('end', () => { resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(got).toString('utf8')) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    const write = (i: number): void => {
      if (i === chunks.length) { req.end(); return }
      if (req.destroyed) return
      req.write(chunks[i], () => write(i + 1))
    }
    write(0)
  })
}

/** A JSON body of exactly `size` bytes: {"s":"xxx…"}. */
function jsonOf (size: number): Buffer {
  const b = Buffer.alloc(size, 'x')
  b.write('{"s":"', 0)
  b.write('"}', size - 2)
  return b
}

const MiB = 1024 * 1024

describe('control API request bodies', () => {
  it('refuses a body whose declared length is over the limit with 413, before reading it', async () => {
    const { socket, bodies } = await serve()
    const a = await post(socket, [Buffer.from('{}')], MAX_BODY_BYTES + 1)
    expect(a.status).toBe(413)
    expect(a.body.error).toMatchObject({ code: 'TOO_LARGE' })
    expect(a.body.error!.message).toContain(`${MAX_BODY_BYTES}-byte limit`)
    expect(bodies).toEqual([])
    expect((await post(socket, [Buffer.from('{"ok":1}')])).status).toBe(200)
  })

  it('refuses a chunked body that grows past the limit with 413, and keeps serving', async () => {
    const { socket, bodies } = await serve()
    const big = jsonOf(MAX_BODY_BYTES + MiB)
    const chunks: Buffer[] = []
    for (let at = 0; at < big.length; at += 256 * 1024) chunks.push(big.subarray(at, at + 256 * 1024))
    const a: Answer | Error = await post(socket, chunks).catch((err: Error) => err)
    // The server answers and closes; a client still writing may see the close first.
    if (a instanceof Error) expect((a as NodeJS.ErrnoException).code).toMatch(/^(EPIPE|ECONNRESET)$/)
    else {
      expect(a.status).toBe(413)
      expect(a.body.error).toMatchObject({ code: 'TOO_LARGE' })
      expect(a.body.error!.message).toContain(`over the ${MAX_BODY_BYTES}-byte limit`)
    }
    expect(bodies).toEqual([])
    expect((await post(socket, [Buffer.from('{"ok":1}')])).status).toBe(200)
    expect(bodies).toEqual([{ ok: 1 }])
  })

  it('reads a body of exactly the limit, in chunks, whole', async () => {
    const { socket, bodies } = await serve()
    const body = jsonOf(MAX_BODY_BYTES)
    const chunks: Buffer[] = []
    for (let at = 0; at < body.length; at += 100_000) chunks.push(body.subarray(at, at + 100_000))
    const a = await post(socket, chunks)
    expect(a.status).toBe(200)
    expect(a.body).toEqual({ bytes: MAX_BODY_BYTES })
    expect((bodies[0] as { s: string }).s).toHaveLength(MAX_BODY_BYTES - 8)
  })

  it('reaches no handler when the client leaves halfway through the body, and keeps serving', async () => {
    const { socket, bodies, warnings } = await serve()
    await new Promise<void>((resolve, reject) => {
      const req = request({ socketPath: socket, method: 'POST', path: '/body', agent: false, headers: { 'content-type': 'application/json', 'content-length': 1000 } })
      req.on('error', () => {})
      req.write('{"s":"half', () => setTimeout(() => { req.destroy(); resolve() }, 100))
      req.on('response', () => reject(new Error('answered a request whose body never arrived')))
    })
    expect((await post(socket, [Buffer.from('{"ok":2}')])).status).toBe(200)
    expect(bodies).toEqual([{ ok: 2 }])
    expect(warnings).toEqual([])
  })

  it('answers a body that is not UTF-8, or not JSON, with 400 naming the problem', async () => {
    const { socket, bodies } = await serve()
    const notUtf8 = await post(socket, [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])])
    expect(notUtf8.status).toBe(400)
    expect(notUtf8.body.error!.message).toBe('request body is not valid UTF-8')
    const notJson = await post(socket, [Buffer.from('{"a":')])
    expect(notJson.status).toBe(400)
    expect(notJson.body.error!.message).toMatch(/^request body is not valid JSON/)
    expect(bodies).toEqual([])
  })
})
