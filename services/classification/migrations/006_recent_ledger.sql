-- An event refreshes a customer's metrics from the recent part of its ledger only (the
-- trailing window and the cancellations of its orders; see ComputeRecentMetrics), so that its
-- cost does not grow with the customer's history.
CREATE INDEX ledger_entries_by_customer_time ON ledger_entries (customer_id, occurred_at);
CREATE INDEX ledger_entries_by_document ON ledger_entries (customer_id, document_no);
