-- Sessions, their Baileys credentials and signal keys.
-- Values are BufferJSON-encoded text, exactly as the files under sessions/ hold them,
-- so a session moves between the two stores byte for byte (npm run migrate-sessions).

CREATE TABLE wa_vigil_sessions (
  user_id text NOT NULL,
  session_id text NOT NULL,
  created_at timestamptz NOT NULL,
  should_run boolean NOT NULL,
  terminated_reason text,
  -- Every other field of the session's metadata (last disconnect…), kept as written.
  meta jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (user_id, session_id)
);

CREATE TABLE wa_vigil_creds (
  user_id text NOT NULL,
  session_id text NOT NULL,
  creds text NOT NULL,
  PRIMARY KEY (user_id, session_id),
  FOREIGN KEY (user_id, session_id) REFERENCES wa_vigil_sessions ON DELETE CASCADE
);

CREATE TABLE wa_vigil_keys (
  user_id text NOT NULL,
  session_id text NOT NULL,
  type text NOT NULL,
  id text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (user_id, session_id, type, id),
  FOREIGN KEY (user_id, session_id) REFERENCES wa_vigil_sessions ON DELETE CASCADE
);
