/**
 * The `/udx` multiaddr protocol: registration, parsing and formatting.
 *
 * `/udx` is not in the multiaddr table, so its code comes from the private-use
 * range and every process must add it to `@multiformats/multiaddr`'s registry
 * before it parses or receives such an address. A node that does not know the
 * code drops the address from identify and throws on signed peer records that
 * contain it, so the relay must register it too even though it never dials
 * UDX. Registration is idempotent; the transport factory does it as well.
 */
import { isIP } from 'node:net'
import { multiaddr, registry, type Multiaddr } from '@multiformats/multiaddr'
import { UDX_PROTOCOL_CODE, UDX_PROTOCOL_NAME } from './constants.js'
import { InvalidUdxAddressError } from './errors.js'

/** An IP endpoint as UDP sees it. */
export interface UdpAddress {
  host: string
  port: number
  family: 4 | 6
}

/**
 * Adds `/udx` to the process-wide multiaddr registry. Safe to call many times.
 * Throws if another protocol already uses the name or the code.
 */
export function registerUdxProtocol (): void {
  const byName = lookup(UDX_PROTOCOL_NAME)
  const byCode = lookup(UDX_PROTOCOL_CODE)
  if (byName?.code === UDX_PROTOCOL_CODE && byCode?.name === UDX_PROTOCOL_NAME) return
  if (byName != null || byCode != null) {
    throw new Error(`multiaddr protocol ${UDX_PROTOCOL_NAME} (0x${UDX_PROTOCOL_CODE.toString(16)}) clashes with a registered protocol`)
  }
  registry.addProtocol({ code: UDX_PROTOCOL_CODE, name: UDX_PROTOCOL_NAME, size: 0 })
}

function lookup (key: string | number): { code: number, name: string } | undefined {
  try {
    return registry.getProtocol(key)
  } catch {
    return undefined
  }
}

/**
 * Host, port and family of `/ip4|ip6/<ip>/udp/<port>/udx`, optionally followed
 * by `/p2p/<id>` when `allowPeerId` is set; undefined for anything else
 * (relayed addresses included).
 */
export function parseUdxMultiaddr (ma: Multiaddr, allowPeerId = false): UdpAddress | undefined {
  const parts = ma.getComponents()
  const [ip, udp, udx, ...rest] = parts
  if (ip == null || udp == null || udx == null) return undefined
  if (ip.name !== 'ip4' && ip.name !== 'ip6') return undefined
  if (udp.name !== 'udp' || udx.code !== UDX_PROTOCOL_CODE) return undefined
  if (rest.length > 1 || (rest.length === 1 && (!allowPeerId || rest[0]?.name !== 'p2p'))) return undefined
  const port = Number(udp.value)
  if (ip.value == null || !Number.isInteger(port) || port < 0 || port > 65535) return undefined
  return { host: ip.value, port, family: ip.name === 'ip4' ? 4 : 6 }
}

/** Like `parseUdxMultiaddr` but throws `InvalidUdxAddressError`. */
export function toUdpAddress (ma: Multiaddr, allowPeerId = false): UdpAddress {
  const address = parseUdxMultiaddr(ma, allowPeerId)
  if (address == null) throw new InvalidUdxAddressError(`not a UDX address: ${ma.toString()}`)
  return address
}

/** `/ip4/<host>/udp/<port>/udx` (or ip6). */
export function toUdxMultiaddr (address: { host: string, port: number, family?: number }): Multiaddr {
  const family = address.family ?? (address.host.includes(':') ? 6 : 4)
  return multiaddr(`/ip${family}/${address.host}/udp/${address.port}/${UDX_PROTOCOL_NAME}`)
}

/** The address of a remote given as a multiaddr or as host and port. */
export function toRemote (remote: Multiaddr | { host: string, port: number }): UdpAddress {
  if ('getComponents' in remote) return toUdpAddress(remote, true)
  const family = isIP(remote.host)
  if (family !== 4 && family !== 6) throw new InvalidUdxAddressError(`not an IP address: ${remote.host}`)
  if (!Number.isInteger(remote.port) || remote.port < 1 || remote.port > 65535) {
    throw new InvalidUdxAddressError(`invalid port ${remote.port}`)
  }
  return { host: remote.host, port: remote.port, family }
}

export function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::'
}
