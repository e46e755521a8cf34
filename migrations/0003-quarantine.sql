-- Ops from the future: authentic ops of members stamped further ahead of this
-- device's clock than the drift bound. They wait here, not applied and not
-- in the version vector, until the clock reaches them, then they are applied
-- like any remote op (see src/store/quarantine.ts). Per origin the held ops
-- are one contiguous run right after the origin's head: later ops of that
-- origin wait behind them, in chain order.
CREATE TABLE quarantine (
  id          INTEGER PRIMARY KEY,
  origin      BLOB NOT NULL,     -- 32-byte origin key
  seq         INTEGER NOT NULL,
  hlc_ms      INTEGER NOT NULL,  -- physical part of the op's HLC
  hash        BLOB NOT NULL,     -- SHA-256 of body (the chain link the next op names)
  body        BLOB NOT NULL,     -- canonical encoding, as received
  sig         BLOB,              -- as received; verified again when applied
  received_at INTEGER NOT NULL,  -- wall clock ms
  UNIQUE (origin, seq)
);
