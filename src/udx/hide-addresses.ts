/**
 * Keeps `/udx` addresses out of what stock libp2p services show other peers.
 *
 * Why: `/udx` has a private-use multiaddr code. A peer that has not
 * registered it cannot parse any address that contains it: identify of the
 * advertising node fails as a whole (the signed peer record throws), and a
 * relay's reservation answer that lists it fails the client's reservation.
 * So identify, identify-push, the signed peer record (identify builds it),
 * the circuit relay server's reservation answer and mDNS answers must list
 * only addresses every libp2p implementation understands. UDX addresses go to
 * the peers that can use them over `/weft/udx-addrs/1.0.0` instead
 * (`addrs-service.ts`).
 *
 * How: each of those services reads the node's addresses from
 * `components.addressManager.getAddresses()` when it answers. Wrapping the
 * service factory so that its components hand it an address manager whose
 * address lists leave out `/udx` changes what it advertises and nothing else:
 * the node itself (transports, DCUtR, UPnP, `node.getMultiaddrs()`) keeps the
 * full list. libp2p's `addresses.announceFilter` would not do: it filters for
 * the whole node, DCUtR's CONNECT message and our own udx-addrs answers
 * included.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { UDX_PROTOCOL_CODE } from './constants.js'

/** True when any part of `ma` is `/udx` (relayed addresses through a UDX hop included). */
export function hasUdxPart (ma: Multiaddr): boolean {
  return ma.getComponents().some(c => c.code === UDX_PROTOCOL_CODE)
}

/** The parts of libp2p's address manager whose lists are filtered; everything else passes through. */
interface AddressLists {
  getAddresses(): Multiaddr[]
  getAddressesWithMetadata?(): Array<{ multiaddr: Multiaddr }>
}

const hidden = new WeakMap<object, object>()

/** An address manager that delegates to `manager` but lists no `/udx` address. */
export function withoutUdx<T extends AddressLists> (manager: T): T {
  const known = hidden.get(manager)
  if (known !== undefined) return known as T
  const view = new Proxy(manager, {
    get (target, prop) {
      if (prop === 'getAddresses') return () => target.getAddresses().filter(ma => !hasUdxPart(ma))
      if (prop === 'getAddressesWithMetadata' && typeof target.getAddressesWithMetadata === 'function') {
        return () => target.getAddressesWithMetadata!().filter(a => !hasUdxPart(a.multiaddr))
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  hidden.set(manager, view)
  return view
}

/**
 * Wraps a libp2p service (or peer discovery) factory so that the service sees
 * an address manager without `/udx` addresses, e.g.
 * `services: { identify: hideUdxAddresses(identify()) }`.
 */
export function hideUdxAddresses<C extends { addressManager: AddressLists }, S> (factory: (components: C) => S): (components: C) => S {
  return (components) => {
    // libp2p's components object is a Proxy that resolves services lazily; keep it that way.
    const view = new Proxy(components, {
      get (target, prop) {
        if (prop === 'addressManager') return withoutUdx(target.addressManager)
        return Reflect.get(target, prop, target)
      }
    })
    return factory(view)
  }
}
