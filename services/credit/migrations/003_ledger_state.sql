-- Each account's ledger kept incrementally (issue #11): the items (one per order number) and
-- the rest of the ledger state are stored and updated by each new fact, instead of replaying
-- ledger_facts on every call. ledger_facts stay the truth; a replay over them checks and
-- repairs this state (a fact older than the last applied one triggers it for that customer).
-- Instants are bigint microseconds since the epoch (exact round trips; _us columns).
CREATE TABLE ledger_items (
  customer_id uuid NOT NULL,
  order_no text NOT NULL,
  event_id text NOT NULL,           -- of the order fact; items sort by (occurred_us, event_id)
  product_line text NOT NULL,
  occurred_us bigint NOT NULL,
  invoiced_us bigint NOT NULL,
  due_us bigint NOT NULL,
  original bigint NOT NULL,
  margin bigint NOT NULL,
  cancelled bigint NOT NULL,
  paid bigint NOT NULL,
  settled_us bigint NOT NULL,       -- 0 while open
  payments text[] NOT NULL,         -- payment numbers applied, in order
  PRIMARY KEY (customer_id, order_no)
);
-- The open items, in order of occurrence: what a new fact may touch, what a position needs
-- (with the per-day figures on the account row) and ListOpenItems' pages. Listing settled items too scans the customer's
-- primary key range instead; one index fewer to maintain on every write.
CREATE INDEX ledger_items_open ON ledger_items (customer_id, occurred_us, event_id)
  WHERE original - cancelled - paid > 0;

-- The rest of the state, on the account row (locked by every writer of the customer's ledger).
-- ledger_ready is false for accounts from before this migration until their first rebuild
-- (the hold sweep backfills them; reads replay them meanwhile); new accounts start ready.
ALTER TABLE accounts
  ADD COLUMN ledger_ready boolean NOT NULL DEFAULT false,
  -- tierwise.credit.v1.StoredLedgerState: unapplied credit, facts waiting for their order, and
  -- per local day the net sales, items due and items settled on time (the DSO and on-time
  -- windows): a position needs this row and the open items, never the settled history.
  ADD COLUMN ledger_state bytea,
  ADD COLUMN last_fact_us bigint NOT NULL DEFAULT 0,    -- (occurred_at, event_id) of the latest
  ADD COLUMN last_fact_id text NOT NULL DEFAULT '',     -- fact applied
  ADD COLUMN first_order_us bigint NOT NULL DEFAULT 0,
  ADD COLUMN unapplied bigint NOT NULL DEFAULT 0;
ALTER TABLE accounts ALTER COLUMN ledger_ready SET DEFAULT true;
CREATE INDEX accounts_ledger_not_ready ON accounts (customer_id) WHERE NOT ledger_ready;

-- ListLimitApplications pages by (submitted_at, id).
CREATE INDEX limit_applications_by_time ON limit_applications (submitted_at DESC, id);
