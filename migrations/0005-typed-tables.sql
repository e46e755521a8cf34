-- Declared tables: the collection schemas apps declared on this device. The
-- tables themselves live in tables.db (attached as weft_typed), derived from
-- the merged state; meta 'typed_id' and 'typed_epoch' tie the two files
-- together (see src/store/tables/typed-tables.ts).
CREATE TABLE typed_schemas (
  collection TEXT PRIMARY KEY,
  tbl        TEXT NOT NULL UNIQUE,
  version    INTEGER NOT NULL,
  spec       TEXT NOT NULL      -- canonical JSON of the resolved schema
) WITHOUT ROWID;
