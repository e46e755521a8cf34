/**
 * The relay's loopback HTTP server: `GET /metrics` (Prometheus text format)
 * and `GET /healthz` (200 "ok" while the libp2p node runs and listens, 503
 * otherwise). Nothing else; no request bodies are read. Bound to loopback
 * only (the config check refuses anything else): scrape it from the same
 * host, or through a reverse proxy that you secure.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface HttpHandlers {
  metrics(): string
  healthy(): { ok: boolean, detail: string }
}

export interface RelayHttp {
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

export async function startRelayHttp (host: string, port: number, h: HttpHandlers): Promise<RelayHttp> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    res.setHeader('Cache-Control', 'no-store')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n')
      return
    }
    try {
      if (path === '/metrics') {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(h.metrics())
      } else if (path === '/healthz') {
        const { ok, detail } = h.healthy()
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(`${ok ? 'ok' : 'unhealthy'}: ${detail}\n`)
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics or /healthz\n')
      }
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`error: ${(err as Error).message}\n`)
    }
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const actual = (server.address() as AddressInfo).port
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    port: actual,
    url: `http://${shown}:${actual}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
