-- Customers the credit service knows (from the profile service's CustomerChanged stream).
CREATE TABLE known_customers (
  customer_id uuid PRIMARY KEY,
  external_ref text UNIQUE,
  owner text NOT NULL DEFAULT '',
  known_at timestamptz NOT NULL DEFAULT now()
);

-- Every ERP fact ever accepted, keyed by the ERP's event_id. customer_id is NULL while the
-- event is parked (its customer unknown); the ledger is rebuilt from these rows.
CREATE TABLE ledger_facts (
  event_id text PRIMARY KEY,
  customer_key text NOT NULL,       -- the external_ref or customer_id the event named
  customer_id uuid,
  kind smallint NOT NULL,           -- 1 order, 2 cancellation, 3 payment
  document_no text NOT NULL,
  amount bigint NOT NULL,
  currency text NOT NULL,
  occurred_at timestamptz NOT NULL,
  payload bytea NOT NULL,           -- tierwise.credit.v1.LedgerEventInput
  received_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz,
  first_outcome smallint NOT NULL   -- what the first response said: 1 applied, 2 parked
);
CREATE INDEX ledger_facts_by_customer ON ledger_facts (customer_id, occurred_at);
CREATE INDEX ledger_facts_parked ON ledger_facts (customer_key) WHERE customer_id IS NULL;

-- One credit account per customer: limits and terms set by finance, holds, and the rating
-- computed at the last ledger change (with its factors).
CREATE TABLE accounts (
  customer_id uuid PRIMARY KEY,
  currency text NOT NULL,
  credit_limit bigint NOT NULL,
  terms_type smallint NOT NULL,
  net_days integer NOT NULL,
  on_hold boolean NOT NULL DEFAULT false,
  hold_reason text NOT NULL DEFAULT '',
  hold_automatic boolean NOT NULL DEFAULT false,
  rating text NOT NULL DEFAULT '',
  score integer NOT NULL DEFAULT 0,
  factors bytea,                    -- repeated tierwise.credit.v1.RatingFactor as a CreditAccount
  rated_at timestamptz,
  oldest_open_due timestamptz,
  overdue_amount bigint NOT NULL DEFAULT 0,
  max_days_overdue integer NOT NULL DEFAULT 0,
  events_applied bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_overdue ON accounts (oldest_open_due) WHERE oldest_open_due IS NOT NULL;

CREATE TABLE policy (
  id integer PRIMARY KEY CHECK (id = 1),
  payload bytea NOT NULL,           -- tierwise.credit.v1.CreditPolicy
  version integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL
);

CREATE TABLE limit_applications (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  payload bytea NOT NULL,           -- tierwise.credit.v1.LimitApplication
  state smallint NOT NULL,
  applicant text NOT NULL,
  submitted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX limit_applications_by_customer ON limit_applications (customer_id, submitted_at DESC);
CREATE INDEX limit_applications_by_state ON limit_applications (state, submitted_at DESC);

-- Changes to terms, holds, policy and limit decisions: who, what, when, why.
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  customer_id uuid,
  action text NOT NULL,
  actor text NOT NULL,
  actor_role text NOT NULL,
  request_id text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_audit_by_customer ON audit_log (customer_id, id DESC);
