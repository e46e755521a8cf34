/**
 * Birthday hole punching, for when one side's NAT maps every destination to a
 * new random port ("symmetric", Linux `--random-fully`): the address a
 * reflector saw is then useless to the peer, and ordinary punching cannot
 * guess the port the NAT will use towards it.
 *
 * The randomizing ("hard") side opens many sockets and lets each send a few
 * low-TTL punches to the peer's public address: its NAT now holds that many
 * random ports, each forwarding what comes from the peer's address to one of
 * the sockets. The other ("easy") side, whose NAT keeps one port for all
 * destinations, sends probes from its one socket to random ports of the hard
 * side's IP. A probe that lands on one of the open ports reaches a socket; the
 * hard side then dials from exactly that socket, whose path is open both ways
 * (the probe opened the easy side's NAT towards that port). With 256 sockets
 * and 2,048 probes this succeeds 99.97 % of the time (see constants.ts).
 *
 * Why the punches are low-TTL: a packet that reaches the easy side's NAT
 * before that side sent anything to its source leaves a conntrack entry that
 * makes a Linux NAT give the easy side's later packets to that source another
 * port; the probe then arrives from the wrong port (see PunchOptions.ttl).
 *
 * This module only moves datagrams; who is hard and who is easy, and when to
 * start, is decided by the caller over some other channel (weft does it over
 * the relayed connection, see src/net/nat/udx-birthday.ts).
 */
import { randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  BIRTHDAY_PROBE_BATCH, BIRTHDAY_PROBE_INTERVAL, BIRTHDAY_PUNCHES_PER_SOCKET, BIRTHDAY_PUNCH_SPACING, BIRTHDAY_SPARE_DESCRIPTORS,
  MIN_BIRTHDAY_SOCKETS, NAT_PORT_MAX, NAT_PORT_MIN
} from './constants.js'
import { UdxBirthdayTimeoutError } from './errors.js'
import type { UdxEndpoint } from './endpoint.js'
import type { UdpAddress } from './multiaddr.js'

export interface BirthdayOptions {
  /** Sockets to open. @default DEFAULT_BIRTHDAY_SOCKETS (256), at most MAX_BIRTHDAY_SOCKETS */
  sockets?: number
  /** IP TTL of their punches: low enough to expire before the peer's NAT. @default the socket's default */
  ttl?: number
  /** Milliseconds to wait for a probe once the sockets are open. @default DEFAULT_BIRTHDAY_TIMEOUT (5 s) */
  timeout?: number
  signal?: AbortSignal
}

export interface ProbeOptions {
  /** Probes to send. @default DEFAULT_BIRTHDAY_PROBES (2048), at most MAX_BIRTHDAY_PROBES */
  count?: number
  /** Ports to probe instead of random ones from 1024–65535 (tests use it to stay off other sockets). */
  ports?: number[]
  signal?: AbortSignal
}

/** `count` distinct random ports from [min, max]. */
export function randomPorts (count: number, min = NAT_PORT_MIN, max = NAT_PORT_MAX, random: (min: number, max: number) => number = randomInt): number[] {
  const span = max - min + 1
  const n = Math.max(0, Math.min(Math.floor(count), span))
  const picked = new Set<number>()
  while (picked.size < n) picked.add(random(min, max + 1))
  return [...picked]
}

/**
 * The hard side's sockets for one attempt. `hit` resolves with the socket a
 * probe from `remote` reached (the others are closed then) and rejects on
 * timeout, abort or `close()`.
 */
export class BirthdaySockets {
  readonly remote: UdpAddress
  readonly hit: Promise<UdxEndpoint>
  private readonly endpoints: UdxEndpoint[]
  private readonly punching: Promise<void>
  private settle!: { resolve: (e: UdxEndpoint) => void, reject: (err: Error) => void }
  private winner: UdxEndpoint | undefined
  private done = false
  private readonly stop = new AbortController()

  /**
   * Binds `count` sockets with `open`. When `open` throws (out of file
   * descriptors: macOS gives a process 256 by default) the attempt goes on
   * with the sockets it has if there are at least `MIN_BIRTHDAY_SOCKETS`
   * (fewer sockets only lower the odds), else they are closed and it throws.
   */
  constructor (remote: UdpAddress, count: number, open: () => UdxEndpoint, options: { ttl?: number, timeout: number, signal?: AbortSignal }) {
    this.remote = remote
    this.hit = new Promise<UdxEndpoint>((resolve, reject) => { this.settle = { resolve, reject } })
    this.hit.catch(() => {})
    this.endpoints = []
    try {
      for (let i = 0; i < count; i++) this.endpoints.push(open())
    } catch (err) {
      if (this.endpoints.length < Math.min(count, MIN_BIRTHDAY_SOCKETS)) {
        for (const e of this.endpoints) void e.close()
        throw err
      }
      // leave the process some descriptors for everything else
      for (const e of this.endpoints.splice(-Math.min(BIRTHDAY_SPARE_DESCRIPTORS, this.endpoints.length - MIN_BIRTHDAY_SOCKETS))) void e.close()
    }
    for (const endpoint of this.endpoints) {
      endpoint.onPunch = (from) => {
        if (from.host === remote.host && from.port === remote.port) this.win(endpoint)
      }
    }
    const timer = setTimeout(() => {
      this.fail(new UdxBirthdayTimeoutError(`no probe from ${remote.host}:${remote.port} reached any of ${count} sockets within ${options.timeout} ms`))
    }, options.timeout)
    const onAbort = (): void => { this.fail(options.signal?.reason instanceof Error ? options.signal.reason : new Error('birthday punch aborted')) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    this.hit.finally(() => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }).catch(() => {})
    if (options.signal?.aborted === true) onAbort()
    this.punching = this.punch(options.ttl)
  }

  /** Local ports of the sockets (each maps to its own random port on a randomizing NAT). */
  get ports (): number[] { return this.endpoints.map(e => e.address.port) }

  /** Ends the attempt: closes every socket but a winner that was already handed out. */
  close (): void {
    this.fail(new Error('birthday punch closed'))
  }

  private async punch (ttl: number | undefined): Promise<void> {
    // Spread the first round over a few milliseconds: 256 datagrams at once can overflow a small NAT's queue.
    for (let round = 0; round < BIRTHDAY_PUNCHES_PER_SOCKET && !this.done; round++) {
      for (let i = 0; i < this.endpoints.length && !this.done; i++) {
        const endpoint = this.endpoints[i]!
        if (!endpoint.closed) endpoint.sendPunch(this.remote, ttl)
        if (i % BIRTHDAY_PROBE_BATCH === BIRTHDAY_PROBE_BATCH - 1) await sleep(1)
      }
      if (round < BIRTHDAY_PUNCHES_PER_SOCKET - 1) await sleep(BIRTHDAY_PUNCH_SPACING, undefined, { signal: this.stop.signal }).catch(() => {})
    }
  }

  /** Resolves once every socket has sent its punches (the peer may start probing then). */
  async punched (): Promise<void> {
    await this.punching
  }

  private win (endpoint: UdxEndpoint): void {
    if (this.done) return
    this.done = true
    this.winner = endpoint
    this.stop.abort()
    for (const e of this.endpoints) {
      e.onPunch = undefined
      if (e !== endpoint) void e.close()
    }
    this.settle.resolve(endpoint)
  }

  private fail (err: Error): void {
    if (this.done) return
    this.done = true
    this.stop.abort()
    for (const e of this.endpoints) {
      e.onPunch = undefined
      if (e !== this.winner) void e.close()
    }
    this.settle.reject(err)
  }
}

/**
 * The easy side: sends PUNCH probes from `endpoint` (the node's one socket,
 * whose public port the hard side punched towards) to `count` random ports of
 * `host`, in paced batches. Resolves with the number sent; stops early on abort.
 */
export async function probePorts (endpoint: UdxEndpoint, host: string, count: number, options: ProbeOptions = {}): Promise<number> {
  const ports = options.ports ?? randomPorts(count)
  let sent = 0
  for (const port of ports) {
    if (options.signal?.aborted === true || endpoint.closed) break
    endpoint.sendPunch({ host, port })
    sent++
    if (sent % BIRTHDAY_PROBE_BATCH === 0 && sent < ports.length) {
      try {
        await sleep(BIRTHDAY_PROBE_INTERVAL, undefined, options.signal == null ? {} : { signal: options.signal })
      } catch {
        break
      }
    }
  }
  return sent
}
