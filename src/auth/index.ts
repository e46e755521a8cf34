/**
 * The trust core: who belongs to a group, and how a new device gets in.
 *
 * Only a user's own devices may sync that user's data. A group is rooted in
 * its own Ed25519 key (group.ts); membership is a set of signed admissions
 * and revocations (certificate.ts) from which a pure, order-independent state
 * is computed (membership.ts); a new device joins with a one-time invite code
 * (invite.ts, qr.ts) through a challenge/response that never sends the code's
 * secret (pairing.ts, pairing-messages.ts).
 *
 * Like `hlc`, `oplog` and `merge`, this folder does no I/O besides crypto and
 * holds no libp2p or SQLite: the clock, randomness, the invite store and the
 * message channel are handed in, and `net`, `store` and `daemon` supply them.
 */
export * from './certificate.js'
export * from './chain.js'
export * from './constants.js'
export * from './errors.js'
export * from './group.js'
export * from './invite.js'
export * from './invite-store.js'
export * from './membership.js'
export * from './pairing.js'
export * from './pairing-messages.js'
export * from './qr.js'
export * from './succession.js'
