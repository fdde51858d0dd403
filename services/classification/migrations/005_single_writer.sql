-- One writer among the replicas (see writer.h): the replica holding the advisory lock bumps
-- `epoch` when elected, and each of its write transactions first reads the row FOR SHARE and
-- checks the epoch, so a deposed writer's late transaction fails instead of racing its
-- successor. applied_rule_set_version is the active rule set the writer has applied (a standby
-- that activated one waits for it).
CREATE TABLE writer (
  id integer PRIMARY KEY CHECK (id = 1),
  epoch bigint NOT NULL DEFAULT 0,
  holder text NOT NULL DEFAULT '',
  elected_at timestamptz,
  applied_rule_set_version bigint NOT NULL DEFAULT 0
);
INSERT INTO writer (id) VALUES (1);

-- Changes of evaluation state asked of a standby (pin, unpin, reclassify, full run): committed
-- here, applied by the writer in id order, with the outcome for the replica that waits.
CREATE TABLE write_requests (
  id bigserial PRIMARY KEY,
  kind text NOT NULL,
  payload bytea NOT NULL,
  actor text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  done_at timestamptz,
  result bytea,
  error_code integer NOT NULL DEFAULT 0,
  error_message text NOT NULL DEFAULT ''
);
CREATE INDEX write_requests_pending ON write_requests (id) WHERE done_at IS NULL;
