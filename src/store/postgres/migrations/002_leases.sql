-- Ownership: one lease row per session (created with the session: holder null, epoch 0)
-- and one row per live node. Times are the database's clock, never a node's.

CREATE TABLE wa_vigil_leases (
  user_id text NOT NULL,
  session_id text NOT NULL,
  holder text,
  -- Grows on every acquire; a write carries the epoch it was granted and is refused once it changed.
  epoch bigint NOT NULL DEFAULT 0,
  expires_at timestamptz,
  PRIMARY KEY (user_id, session_id),
  FOREIGN KEY (user_id, session_id) REFERENCES wa_vigil_sessions ON DELETE CASCADE
);

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
