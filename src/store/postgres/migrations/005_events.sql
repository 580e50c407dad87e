-- The cluster's outbox (see src/events/postgres/pg-outbox.ts): every node's events in one
-- order. `seq` is that order and, encoded, the event's id (a Last-Event-ID any node resumes
-- from). Appends take a transaction-scoped advisory lock before drawing their numbers, so
-- transactions commit in seq order and a reader never finds a lower seq committed later.

CREATE TABLE wa_vigil_events (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL,
  user_id text NOT NULL,
  session_id text NOT NULL,
  -- The holder that emitted it (checked against the session's lease when it was written).
  node text NOT NULL,
  -- The emitting node's clock, as the event says; retention counts from it, as on files.
  time timestamptz NOT NULL,
  -- json, not jsonb: the payload comes back exactly as it was written (key order too).
  payload json NOT NULL,
  -- Length of the event as one JSON line: OUTBOX_MAX_BYTES counts these.
  bytes integer NOT NULL
);

-- Prune looks for the first event still inside the retention.
CREATE INDEX wa_vigil_events_by_time ON wa_vigil_events (time);

-- Webhook subscriptions' cursors. Subscriptions are kept per node (its SESSIONS_DIR), so each
-- cursor belongs to a scope (that folder's id): a node starts and drops only its own, while
-- prune respects every scope's.
CREATE TABLE wa_vigil_event_cursors (
  -- A subscription id is unique within its node only: WEBHOOK_URL's id is made from the URL,
  -- so every node configured with it has one of that id, each with its own cursor.
  scope text NOT NULL,
  subscription_id text NOT NULL,
  -- The last seq it is done with; null: none yet.
  cursor bigint,
  -- Let go at OUTBOX_MAX_BYTES: prune no longer waits for it.
  released boolean NOT NULL DEFAULT false,
  PRIMARY KEY (scope, subscription_id)
);

-- Which scope each process start (holder) belongs to. Until subscriptions are the cluster's,
-- a node's subscriptions receive the events its own SESSIONS_DIR's processes emitted (this
-- start's and earlier ones'), as each node's file outbox did: a URL configured on every node
-- then gets each event once, not once per node.
CREATE TABLE wa_vigil_event_origins (
  holder text PRIMARY KEY,
  scope text NOT NULL
);

CREATE INDEX wa_vigil_event_origins_by_scope ON wa_vigil_event_origins (scope);

-- One row: the highest seq ever pruned (a resume from below it has a gap).
CREATE TABLE wa_vigil_event_state (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  pruned_through bigint
);

INSERT INTO wa_vigil_event_state DEFAULT VALUES;
