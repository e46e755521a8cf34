-- Trust: the group this replica belongs to (meta 'group'), the signed
-- membership records it knows, and the invites it issued.

-- Admissions and revocations, by record id (hex SHA-256 of the encoding).
-- Self-certifying: each is checked against the group key chain when loaded.
CREATE TABLE membership_records (
  id   TEXT PRIMARY KEY,
  body BLOB NOT NULL
) WITHOUT ROWID;

-- Invites this device issued. Only the proof key (derived from the secret)
-- is kept, never the secret itself.
CREATE TABLE invites (
  id         TEXT PRIMARY KEY,
  grp        BLOB NOT NULL,
  proof_key  BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  failures   INTEGER NOT NULL DEFAULT 0,
  used_by    BLOB,
  used_at    INTEGER
) WITHOUT ROWID;
