/** The client side of `/weft/relay-auth/1.0.0` (a node proving its group to its relays). */
export { authenticateToRelay, relayAuthClient, type RelayAuthClient, type RelayAuthClientInit, type RelayAuthClientComponents, type RelayAuthClientEvents, type RelayAuthOutcome, type RelayAuthResult, type RelayCredential } from './client.js'
export { ADMISSION_CHAIN_SCHEME, MAX_CHAIN_CREDENTIAL_BYTES, encodeAdmissionChain, decodeAdmissionChain } from './admission-chain.js'
export * from './constants.js'
