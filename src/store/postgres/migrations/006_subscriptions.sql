-- Webhook subscriptions for the whole cluster (src/webhooks/postgres/): one set, managed
-- through any node's /webhooks routes, each delivered by one node at a time.

-- One row per subscription: the subscription as the file store keeps it (JSON, secret
-- included: it signs), under its id. WEBHOOK_URL's id is made from the URL, so every node
-- configured with it shares one row.
CREATE TABLE wa_vigil_webhooks (
  id text PRIMARY KEY,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Who delivers a subscription now: a lease of its own, like a session's. `holder` is a
-- node's holder id (null: free), `epoch` grows at each acquisition and fences the cursor
-- writes (a writer whose epoch is not the row's is refused), `expires_at` is the database's
-- clock only. Gone with its subscription.
CREATE TABLE wa_vigil_webhook_leases (
  subscription_id text PRIMARY KEY REFERENCES wa_vigil_webhooks (id) ON DELETE CASCADE,
  holder text,
  epoch bigint NOT NULL DEFAULT 0,
  expires_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX wa_vigil_webhook_leases_by_holder ON wa_vigil_webhook_leases (holder);

-- wa_vigil_event_origins (005) is no longer written: it told which events a node's own
-- subscriptions received while subscriptions were per node. Kept for nodes of the previous
-- version during a rolling upgrade (they write it at start).
