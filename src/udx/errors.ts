/**
 * Errors of the UDX transport. Callers check `err.name`, as everywhere in
 * libp2p, so each failure mode has its own small class.
 */

/** No ACK to our HELLO within the handshake timeout: nothing listens there, or the path is blocked. */
export class UdxHandshakeTimeoutError extends Error {
  static override name = 'UdxHandshakeTimeoutError'
  override name = 'UdxHandshakeTimeoutError'
}

/** The peer answered in a way that contradicts what was agreed (e.g. a crossed dial paired twice). */
export class UdxHandshakeError extends Error {
  static override name = 'UdxHandshakeError'
  override name = 'UdxHandshakeError'
}

/** The shared socket was closed while the operation was under way. */
export class UdxSocketClosedError extends Error {
  static override name = 'UdxSocketClosedError'
  override name = 'UdxSocketClosedError'
}

/** A configured bound (connections, pending dials, pending requests) is reached. */
export class UdxLimitError extends Error {
  static override name = 'UdxLimitError'
  override name = 'UdxLimitError'
}

/** Listening is impossible: the socket is already bound elsewhere, or the address is not a UDX one. */
export class UdxListenError extends Error {
  static override name = 'UdxListenError'
  override name = 'UdxListenError'
}

/** The address is not `/ip4|ip6/<ip>/udp/<port>/udx[/p2p/<id>]`. */
export class InvalidUdxAddressError extends Error {
  static override name = 'InvalidUdxAddressError'
  override name = 'InvalidUdxAddressError'
}

/** The reflector gave no answer within the timeout. */
export class UdxObserveTimeoutError extends Error {
  static override name = 'UdxObserveTimeoutError'
  override name = 'UdxObserveTimeoutError'
}

/** The node was configured without the UDX transport. */
export class NoUdxTransportError extends Error {
  static override name = 'NoUdxTransportError'
  override name = 'NoUdxTransportError'
}

/** A dial to a public address refused because no hole punch towards it is under way (`publicDialsNeedPunch`). */
export class UdxNotPunchedError extends Error {
  static override name = 'UdxNotPunchedError'
  override name = 'UdxNotPunchedError'
}

/** No probe of the peer reached any of the birthday sockets in time. */
export class UdxBirthdayTimeoutError extends Error {
  static override name = 'UdxBirthdayTimeoutError'
  override name = 'UdxBirthdayTimeoutError'
}
