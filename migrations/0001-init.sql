-- weft replica schema, version 1.
-- Stamps are 40-byte BLOBs: 8-byte big-endian HLC then the 32-byte origin key,
-- so SQLite's memcmp order on them is last-writer-wins order.

-- Small key/value facts about this replica: last issued HLC, device id.
CREATE TABLE meta (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

-- One row per origin device we hold ops of; its head is our version vector entry.
CREATE TABLE origins (
  id           INTEGER PRIMARY KEY,
  key          BLOB NOT NULL UNIQUE,          -- 32-byte Ed25519 public key
  head_seq     INTEGER NOT NULL DEFAULT 0,    -- highest contiguous seq held
  head_hash    BLOB,                          -- hash of op head_seq
  head_hlc     BLOB,                          -- HLC of op head_seq (8 bytes)
  equivocating INTEGER NOT NULL DEFAULT 0     -- 1 once it signed two ops with one seq
);

-- The oplog. id = origin id * 2^32 + seq: appends of one origin are sequential
-- in the table's own b-tree and (origin, seq) needs no second index.
-- Only what cannot be derived is stored: hash and HLC come from the body
-- (hashing it again on the rare equivocation check is cheaper than 40 more
-- bytes written per op).
CREATE TABLE oplog (
  id   INTEGER PRIMARY KEY,
  body BLOB NOT NULL,      -- canonical encoding, exactly as hashed and signed
  sig  BLOB                -- kept only where it was verified (ends of signed runs)
);

-- Row tombstones: the newest delete of each row.
CREATE TABLE tombstones (
  collection TEXT NOT NULL,
  key        TEXT NOT NULL,
  stamp      BLOB NOT NULL,
  PRIMARY KEY (collection, key)
) WITHOUT ROWID;

-- Last-writer-wins registers (set ops).
CREATE TABLE registers (
  collection TEXT NOT NULL,
  key        TEXT NOT NULL,
  field      TEXT NOT NULL,
  stamp      BLOB NOT NULL,
  value      BLOB NOT NULL,
  PRIMARY KEY (collection, key, field)
) WITHOUT ROWID;

-- PN-counter increments, kept so that a newer tombstone can recompute totals.
CREATE TABLE increments (
  collection TEXT NOT NULL,
  key        TEXT NOT NULL,
  field      TEXT NOT NULL,
  stamp      BLOB NOT NULL,
  amount     INTEGER NOT NULL,
  PRIMARY KEY (collection, key, field, stamp)
) WITHOUT ROWID;

-- Materialized counter totals: sum and count of increments after the tombstone.
CREATE TABLE counters (
  collection TEXT NOT NULL,
  key        TEXT NOT NULL,
  field      TEXT NOT NULL,
  total      INTEGER NOT NULL,
  live       INTEGER NOT NULL,
  PRIMARY KEY (collection, key, field)
) WITHOUT ROWID;

-- Observed-remove set: every add, tagged by its stamp.
CREATE TABLE set_adds (
  collection TEXT NOT NULL,
  key        TEXT NOT NULL,
  field      TEXT NOT NULL,
  element    BLOB NOT NULL,
  stamp      BLOB NOT NULL,
  PRIMARY KEY (collection, key, field, element, stamp)
) WITHOUT ROWID;

-- Tags (add stamps) cancelled by a remove. May arrive before the add itself.
CREATE TABLE set_removed (
  stamp BLOB PRIMARY KEY
) WITHOUT ROWID;

-- Rejected ops, most recent kept, for the CLI and doctor. Counts by reason in rejection_counts.
CREATE TABLE rejections (
  id       INTEGER PRIMARY KEY,
  at       INTEGER NOT NULL,   -- wall clock ms
  origin   BLOB,
  seq      INTEGER,
  reason   TEXT NOT NULL,
  message  TEXT NOT NULL
);

CREATE TABLE rejection_counts (
  reason TEXT PRIMARY KEY,
  count  INTEGER NOT NULL
) WITHOUT ROWID;
