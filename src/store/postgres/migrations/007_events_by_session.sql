-- The console's log from before a restart reads one session's newest events
-- (PgOutbox.sessionEvents): without this it would scan every session's events.
CREATE INDEX wa_vigil_events_by_session ON wa_vigil_events (user_id, session_id, seq);
