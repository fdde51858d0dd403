-- The role and request id of whoever asked a standby for a change: the writer that applies it
-- writes the audit row with them (see writer.h).
ALTER TABLE write_requests ADD COLUMN actor_role text NOT NULL DEFAULT '';
ALTER TABLE write_requests ADD COLUMN request_id text NOT NULL DEFAULT '';
