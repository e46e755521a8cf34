/**
 * Limits, domain tags and defaults of the trust core, with units in the
 * names. Every option with a default takes it from here.
 *
 * Domain tags are part of every signed or MACed message, so a signature made
 * for one purpose (an admission, an op, a pairing proof) can never be replayed
 * as another.
 */
const second = 1000
const minute = 60 * second

/** Format version byte of admissions and revocations. */
export const CERTIFICATE_VERSION = 1
export const ADMISSION_DOMAIN = 'weft/admission/v1'
export const REVOCATION_DOMAIN = 'weft/revocation/v1'
export const SUCCESSION_DOMAIN = 'weft/succession/v1'

/** A device name is 1 to this many bytes of UTF-8. */
export const MAX_DEVICE_NAME_BYTES = 64
/** Largest encoded admission or revocation a decoder accepts (an admission is at most ~250 bytes). */
export const MAX_CERTIFICATE_BYTES = 512
/** Most admissions a chain presented by a peer may hold; checked before any signature is verified. */
export const MAX_CHAIN_LENGTH = 64
/**
 * Most records a membership holds. A safety valve against a member spamming
 * admissions; past it, new records are rejected (and order independence no
 * longer holds for the records over the limit).
 */
export const MAX_MEMBERSHIP_RECORDS = 10_000

/** Group ids are `wg` + base58btc of the 32-byte group public key. */
export const GROUP_ID_PREFIX = 'wg'

/** Invite codes: `weft1:` + base58btc(payload || checksum). */
export const INVITE_CODE_PREFIX = 'weft1:'
export const INVITE_CODE_VERSION = 1
export const INVITE_CHECKSUM_DOMAIN = 'weft/invite-code/v1'
export const INVITE_ID_DOMAIN = 'weft/invite-id/v1'
export const INVITE_PROOF_KEY_DOMAIN = 'weft/invite-proof-key/v1'
export const PAIRING_PROOF_DOMAIN = 'weft/pairing-proof/v1'
export const INVITE_SECRET_BYTES = 32
/** Invite ids are the first bytes of SHA-256(domain || secret): enough to look an invite up, useless to prove it. */
export const INVITE_ID_BYTES = 16
export const INVITE_CHECKSUM_BYTES = 4
/** Addresses an invite code may carry (LAN addresses plus relay circuits). */
export const MAX_INVITE_ADDRESSES = 8
/** Largest binary multiaddr in an invite code. */
export const MAX_MULTIADDR_BYTES = 256
/** Longest invite code text a parser looks at (checked before base58 decoding, which is quadratic). */
export const MAX_INVITE_CODE_CHARS = 4096
/** How long an invite is valid. */
export const DEFAULT_INVITE_TTL_MS = 10 * minute
/** Longest TTL `createInvite` accepts: an invite is a short-lived, one-time capability. */
export const MAX_INVITE_TTL_MS = 7 * 24 * 60 * minute
/** A joiner still tries an invite this long past its expiry by its own clock: the inviter's clock decides. */
export const DEFAULT_JOINER_EXPIRY_GRACE_MS = 1 * minute
/** Wrong proofs after which an invite is burned. */
export const MAX_PROOF_FAILURES = 5

/** Pairing protocol id, built from parts as js-libp2p does. */
export const PAIRING_PROTOCOL_NAME = 'pair'
export const PAIRING_PROTOCOL_VERSION = '1.0.0'
export const PAIRING_PROTOCOL_ID = `/weft/${PAIRING_PROTOCOL_NAME}/${PAIRING_PROTOCOL_VERSION}`
/** Version number in the joiner's hello. */
export const PAIRING_WIRE_VERSION = 1
export const PAIRING_NONCE_BYTES = 32
/** Largest pairing message (a welcome with a full chain is ~16 KiB). */
export const MAX_PAIRING_MESSAGE_BYTES = 64 * 1024
/** Error texts on the wire are cut to this many characters. */
export const MAX_PAIRING_ERROR_CHARS = 300
/** Wait at most this long for any one pairing message. */
export const DEFAULT_PAIRING_STEP_TIMEOUT_MS = 10 * second
/** Wait at most this long for a whole pairing exchange. */
export const DEFAULT_PAIRING_TIMEOUT_MS = 30 * second
/** Best-effort wait for an error message to leave before giving up on it. */
export const PAIRING_ERROR_SEND_TIMEOUT_MS = 2 * second
