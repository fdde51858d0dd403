-- Interaction facts from the interaction service (InteractionLogged), one row per interaction
-- version. A correction marks the version it replaces superseded; when the correction arrives
-- first, the replaced version gets a placeholder row (logged = false, already superseded) that
-- its own event fills in later, so both arrival orders end in the same state.
CREATE TABLE interaction_facts (
  interaction_id text PRIMARY KEY,
  customer_id uuid NOT NULL,
  occurred_at timestamptz,           -- NULL until the version itself has arrived
  satisfaction smallint NOT NULL DEFAULT 0 CHECK (satisfaction BETWEEN 0 AND 5),  -- 0 = not asked
  corrects text NOT NULL DEFAULT '',
  superseded boolean NOT NULL DEFAULT false,
  logged boolean NOT NULL DEFAULT false,
  event_id text NOT NULL DEFAULT ''
);
CREATE INDEX interaction_facts_by_customer ON interaction_facts (customer_id, occurred_at)
  WHERE logged AND NOT superseded AND satisfaction > 0;

-- Complaints (ComplaintChanged) as of their latest version; an older version changes nothing.
CREATE TABLE complaint_facts (
  complaint_id text PRIMARY KEY,
  customer_id uuid NOT NULL,
  version bigint NOT NULL,
  opened_at timestamptz NOT NULL,
  open boolean NOT NULL,
  response_breached boolean NOT NULL DEFAULT false,
  resolution_breached boolean NOT NULL DEFAULT false,
  changed_at timestamptz,
  event_id text NOT NULL DEFAULT ''
);
CREATE INDEX complaint_facts_by_customer ON complaint_facts (customer_id);

-- The interaction part of the metrics (satisfaction_x100 exists since 001).
ALTER TABLE customer_metrics
  ADD COLUMN satisfaction_count_12m integer NOT NULL DEFAULT 0,
  ADD COLUMN complaints_12m integer NOT NULL DEFAULT 0,
  ADD COLUMN open_complaints integer NOT NULL DEFAULT 0,
  ADD COLUMN sla_breaches_12m integer NOT NULL DEFAULT 0;
