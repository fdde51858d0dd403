-- The profile version each known customer was last stored at: CustomerChanged events may be
-- redelivered or arrive out of order, and an older one must not bring back an old owner or
-- ERP code. 0 = stored before versions were kept (any announced version replaces it).
ALTER TABLE known_customers ADD COLUMN version bigint NOT NULL DEFAULT 0;

-- A sales rep's lists (collections, limit applications) are of the customers they own.
CREATE INDEX known_customers_by_owner ON known_customers (owner);
