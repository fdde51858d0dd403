-- Stored follow-up plans (issue #12): each customer's next due contacts, kept up to date by
-- every change that moves them (a record logged or corrected, a tier change, an owner move or
-- a customer leaving, a new service policy), so that a follow-up list reads one index page
-- instead of planning every customer of an owner on every call.
--
-- One row per planned contact. The regular contact of a customer that can drop into the
-- potential pool has two rows, one valid before the drop and one after ([valid_from,
-- valid_until) in µs since the epoch): lists pick the row valid at the moment they run, and
-- the stored state never has to change with the clock. due_day counts local days of the
-- business calendar from 1970-01-01.
CREATE TABLE follow_ups (
  customer_id uuid NOT NULL,
  kind smallint NOT NULL,             -- tierwise.interaction.v1.FollowUpKind
  pool boolean NOT NULL,              -- the potential pool's cadence
  owner text NOT NULL,
  external_ref text NOT NULL,
  tier text NOT NULL,                 -- as planned (the policy's fallback tier if none yet)
  due_day integer NOT NULL,
  valid_from bigint NOT NULL,
  valid_until bigint NOT NULL,
  channel smallint NOT NULL,          -- tierwise.interaction.v1.Channel the policy asks for
  last_contact bigint NOT NULL,       -- µs, 0 = none
  reason text NOT NULL,
  PRIMARY KEY (customer_id, kind, pool)
);
-- One owner's page, and everyone's page, in list order.
CREATE INDEX follow_ups_by_owner ON follow_ups (owner, due_day, customer_id, kind);
CREATE INDEX follow_ups_by_day ON follow_ups (due_day, customer_id, kind);

-- The service policy a customer's stored plan was computed under (a fingerprint of it); ''
-- when it has to be planned again (no policy was at hand, or the rows predate this table).
-- A background pass replans every customer whose fingerprint is not the current policy's.
ALTER TABLE customers ADD COLUMN plan_policy text NOT NULL DEFAULT '';
CREATE INDEX customers_plan_stale ON customers (customer_id) WHERE plan_policy = '';

-- Lists flag customers with an open complaint (needs_attention) row by row of their page.
CREATE INDEX complaints_open_by_customer ON complaints (customer_id) WHERE resolved_at IS NULL;
