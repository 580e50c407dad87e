-- Each session's outgoing messages (see src/store/message-queue.ts): the queue, and what was
-- sent, kept so a retry receipt can be answered with it. The id is WhatsApp's message id.

CREATE TABLE wa_vigil_messages (
  user_id text NOT NULL,
  session_id text NOT NULL,
  id text NOT NULL,
  to_jid text NOT NULL,
  text text NOT NULL,
  status text NOT NULL,
  error text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  content text,
  PRIMARY KEY (user_id, session_id, id),
  FOREIGN KEY (user_id, session_id) REFERENCES wa_vigil_sessions ON DELETE CASCADE
);

-- The queue's depth and its order are read by status.
CREATE INDEX wa_vigil_messages_by_status ON wa_vigil_messages (user_id, session_id, status, created_at);
