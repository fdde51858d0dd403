-- Customers as the profile service announces them (CustomerChanged).
CREATE TABLE customers (
  customer_id uuid PRIMARY KEY,
  external_ref text NOT NULL DEFAULT '',
  owner text NOT NULL DEFAULT '',
  since timestamptz,                 -- tenure start: first transaction date, else creation
  removed boolean NOT NULL DEFAULT false,
  profile_version bigint NOT NULL DEFAULT 0
);

-- Ledger events from the credit service (LedgerEvent), once each.
CREATE TABLE ledger_entries (
  event_id text PRIMARY KEY,
  customer_id uuid NOT NULL,
  kind smallint NOT NULL,
  document_no text NOT NULL,
  amount bigint NOT NULL,
  margin bigint NOT NULL DEFAULT 0,
  occurred_at timestamptz NOT NULL
);
CREATE INDEX ledger_entries_by_customer ON ledger_entries (customer_id);

-- Derived per-customer metrics over the trailing 12 months.
CREATE TABLE customer_metrics (
  customer_id uuid PRIMARY KEY,
  revenue_12m bigint NOT NULL DEFAULT 0,
  margin_12m bigint NOT NULL DEFAULT 0,
  orders_12m integer NOT NULL DEFAULT 0,
  revenue_prev_6m bigint NOT NULL DEFAULT 0,
  revenue_last_6m bigint NOT NULL DEFAULT 0,
  renewal_permille integer NOT NULL DEFAULT 0,
  first_order_at timestamptz,
  last_order_at timestamptz,
  next_window_exit timestamptz,
  credit_rating text NOT NULL DEFAULT '',
  on_time_permille integer,
  satisfaction_x100 integer,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_metrics_window ON customer_metrics (next_window_exit);

CREATE TABLE rule_sets (
  version bigserial PRIMARY KEY,
  payload bytea NOT NULL,            -- tierwise.classification.v1.RuleSet
  active boolean NOT NULL DEFAULT false,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz
);
CREATE UNIQUE INDEX rule_sets_one_active ON rule_sets (active) WHERE active;

-- The current tier of each customer (the Redis cache is written through from here).
CREATE TABLE tiers (
  customer_id uuid PRIMARY KEY,
  tier text NOT NULL,
  score integer NOT NULL,
  gate text NOT NULL DEFAULT '',
  payload bytea NOT NULL,            -- tierwise.classification.v1.Tier
  rule_set_version bigint NOT NULL,
  evaluated_at timestamptz NOT NULL,
  pin_tier text,
  pin_reason text,
  pin_by text,
  pin_expires timestamptz
);
CREATE INDEX tiers_by_tier ON tiers (tier, customer_id);
CREATE INDEX tiers_pins ON tiers (pin_expires) WHERE pin_tier IS NOT NULL;

CREATE TABLE tier_history (
  id bigserial PRIMARY KEY,
  customer_id uuid NOT NULL,
  previous_tier text NOT NULL,
  tier text NOT NULL,
  reason_code text NOT NULL,
  trigger_event_id text NOT NULL DEFAULT '',
  payload bytea NOT NULL,            -- tierwise.classification.v1.TierChange
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tier_history_by_customer ON tier_history (customer_id, id DESC);

CREATE TABLE service_policy (
  id integer PRIMARY KEY CHECK (id = 1),
  payload bytea NOT NULL,            -- tierwise.classification.v1.ServicePolicy
  version integer NOT NULL,
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  state text NOT NULL,
  total bigint NOT NULL DEFAULT 0,
  processed bigint NOT NULL DEFAULT 0,
  changed bigint NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  error text NOT NULL DEFAULT ''
);
