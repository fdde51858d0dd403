-- When a customer's evaluation next changes with time alone (probation ending, a tenure or
-- recency threshold of the dimensions): the periodic maintenance re-evaluates it then, without
-- waiting for an event or the full reclassification. NULL: no such moment ahead.
ALTER TABLE tiers ADD COLUMN next_review_at timestamptz;
CREATE INDEX tiers_next_review ON tiers (next_review_at) WHERE next_review_at IS NOT NULL;
