-- Liveness by observation: every renew adds one to its node's `beat`. Another node
-- judges a holder dead only when it has itself seen that counter unchanged for the
-- holder's TTL, timed on its own monotonic clock, and takes a lease over only while
-- the counter still holds the value it watched. No timestamp written on one clock is
-- compared with another clock any more: renewed_at and expires_at stay as information
-- for people (GET /cluster) and for nodes of an older version during a rolling upgrade.

ALTER TABLE wa_vigil_nodes ADD COLUMN beat bigint NOT NULL DEFAULT 0;
-- How long this node may stay silent before it may be judged dead: a duration, not a time.
ALTER TABLE wa_vigil_nodes ADD COLUMN ttl_ms integer;
