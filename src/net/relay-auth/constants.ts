/**
 * The wire constants of `/weft/relay-auth/1.0.0`, shared by the client
 * (this folder) and the relay's server (relay/auth/service.ts).
 */
const KiB = 1024
const second = 1000

/** The relay-auth protocol: `/weft/relay-auth/1.0.0`. */
export const RELAY_AUTH_PROTOCOL_NAME = 'relay-auth'
export const RELAY_AUTH_PROTOCOL_VERSION = '1.0.0'
export const RELAY_AUTH_PROTOCOL = `/weft/${RELAY_AUTH_PROTOCOL_NAME}/${RELAY_AUTH_PROTOCOL_VERSION}`
/** One request and one response per stream; a credential is a few hundred bytes. */
export const RELAY_AUTH_MAX_MESSAGE_BYTES = 4 * KiB
/** The exchange must finish within this, or the stream is aborted. */
export const RELAY_AUTH_TIMEOUT_MS = 10 * second
/** Log namespace of the client service. */
export const LOG_RELAY_AUTH_CLIENT = 'weft:relay-auth-client'
