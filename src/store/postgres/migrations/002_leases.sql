-- Ownership: one lease row per session (created with the session: holder null, epoch 0)
-- and one row per live node. A lease is live while its holder's node row has not expired:
-- a node renews every lease it holds with one UPDATE of its own row, which no session
-- write ever waits for. Times are the database's clock, never a node's.

CREATE TABLE wa_vigil_leases (
  user_id text NOT NULL,
  session_id text NOT NULL,
  holder text,
  -- Grows on every acquire; a write carries the epoch it was granted and is refused once it changed.
  epoch bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, session_id),
  FOREIGN KEY (user_id, session_id) REFERENCES wa_vigil_sessions ON DELETE CASCADE
);

CREATE INDEX wa_vigil_leases_holder ON wa_vigil_leases (holder);

CREATE TABLE wa_vigil_nodes (
  holder text PRIMARY KEY,
  -- Where the node serves its API, for forwarding an operation to the session's owner.
  url text,
  started_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

-- Sessions made before this migration get their lease row too.
INSERT INTO wa_vigil_leases (user_id, session_id)
SELECT user_id, session_id FROM wa_vigil_sessions
ON CONFLICT DO NOTHING;
