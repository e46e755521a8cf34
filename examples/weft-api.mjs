// A dependency-free client for the local weft daemon's control API, shared
// by the examples: HTTP+JSON over the daemon's Unix socket. It finds the
// socket the way `weft` does: $XDG_RUNTIME_DIR/weft-<id>/control.sock, or
// <data dir>/run/control.sock when there is no runtime dir, where the data
// dir is --data-dir, $WEFT_DATA_DIR or ~/.local/share/weft.
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export function socketOf (dataDir) {
  const dir = resolve(dataDir ?? process.env.WEFT_DATA_DIR ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'weft'))
  const runtime = process.env.XDG_RUNTIME_DIR
  if (runtime === undefined || runtime === '') return join(dir, 'run', 'control.sock')
  return join(runtime, `weft-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`, 'control.sock')
}

/** One request; resolves with the parsed JSON answer, rejects with the daemon's error message. */
export function api (socket, method, path, body) {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const req = request({ socketPath: socket, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length } }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed
        try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = text }
        if (res.statusCode !== 200) reject(new Error(`${method} ${path}: ${parsed?.error?.message ?? `HTTP ${res.statusCode}`}`))
        else resolvePromise(parsed)
      })
    })
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: the daemon did not answer in 30 s`)))
    req.on('error', err => reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new Error(`the weft daemon is not running (no socket at ${socket}); start it with: weft start`) : err))
    req.end(payload)
  })
}
