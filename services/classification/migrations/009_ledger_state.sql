-- The ledger state an event updates instead of rereading the customer's ledger (see
-- ledger_state.h): one row per order number (the order that counts, what was cancelled of it,
-- also before the order arrived), and per customer the per-day sums of about the last 13
-- months in customer_metrics.ledger_state. NULL there: not built yet; the first event, window
-- slide or full run that needs it replays the customer's ledger once.
CREATE TABLE order_facts (
  customer_id uuid NOT NULL,
  document_no text NOT NULL,
  order_event_id text NOT NULL DEFAULT '',   -- '' while only cancellations have arrived
  occurred_at timestamptz,
  amount bigint NOT NULL DEFAULT 0,
  margin bigint NOT NULL DEFAULT 0,
  partial_cancelled bigint NOT NULL DEFAULT 0,
  whole_cancelled boolean NOT NULL DEFAULT false,
  PRIMARY KEY (customer_id, document_no)
);

ALTER TABLE customer_metrics
  ADD COLUMN ledger_state bytea,
  -- The newest ledger event (occurred_at, event id) whose credit figures are stored.
  ADD COLUMN credit_as_of_at timestamptz,
  ADD COLUMN credit_as_of_event text NOT NULL DEFAULT '';

-- The reads of the recent part of a ledger these served are gone.
DROP INDEX IF EXISTS ledger_entries_by_customer_time;
DROP INDEX IF EXISTS ledger_entries_by_document;
