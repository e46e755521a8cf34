-- The peer book: the addresses this device has for each device of its group,
-- which of them worked and when, and which failed and why. The network layer
-- dials members from it at start (relay circuits included) and orders its
-- redials by it; libp2p's own address book lives in memory only.

CREATE TABLE peer_addresses (
  peer      TEXT NOT NULL,               -- device id (its libp2p peer id)
  addr      TEXT NOT NULL,               -- multiaddr without the trailing /p2p/<peer>
  kind      TEXT NOT NULL,               -- 'lan', 'direct' or 'relay'
  relay     TEXT,                        -- the relay's peer id, for a circuit
  seen_at   INTEGER NOT NULL,            -- first learnt, ms since the epoch
  ok_at     INTEGER,                     -- last connection over it
  fail_at   INTEGER,                     -- last failed dial
  failures  INTEGER NOT NULL DEFAULT 0,  -- failed dials since it last worked
  error     TEXT,                        -- why the last dial failed
  PRIMARY KEY (peer, addr)
) WITHOUT ROWID;
