-- Logging a record updates contact_state from the record alone (greatest per channel) instead
-- of aggregating the customer's whole history (issue #12: a call's cost does not grow with the
-- history). next_follow_up belongs to the latest current record, in the order (occurred_at,
-- recorded_at, id); these columns remember which one that is. µs since the epoch.
ALTER TABLE contact_state
  ADD COLUMN latest_occurred bigint NOT NULL DEFAULT 0,
  ADD COLUMN latest_recorded bigint NOT NULL DEFAULT 0,
  ADD COLUMN latest_id uuid;
UPDATE contact_state s SET
  latest_occurred = (extract(epoch from l.occurred_at) * 1000000)::bigint,
  latest_recorded = (extract(epoch from l.recorded_at) * 1000000)::bigint,
  latest_id = l.id
FROM (SELECT DISTINCT ON (customer_id) customer_id, occurred_at, recorded_at, id
      FROM interactions WHERE superseded_by IS NULL
      ORDER BY customer_id, occurred_at DESC, recorded_at DESC, id DESC) l
WHERE l.customer_id = s.customer_id;
