-- Follow-up lists read contact_state for every customer of an owner on each call: keep its times
-- as bigint microseconds since the epoch (0 = never), converted once when written rather than
-- on every read.
ALTER TABLE contact_state
  ALTER COLUMN last_on_site TYPE bigint USING coalesce((extract(epoch from last_on_site) * 1000000)::bigint, 0),
  ALTER COLUMN last_customer_visit TYPE bigint USING coalesce((extract(epoch from last_customer_visit) * 1000000)::bigint, 0),
  ALTER COLUMN last_exhibition TYPE bigint USING coalesce((extract(epoch from last_exhibition) * 1000000)::bigint, 0),
  ALTER COLUMN last_phone TYPE bigint USING coalesce((extract(epoch from last_phone) * 1000000)::bigint, 0),
  ALTER COLUMN last_email_im TYPE bigint USING coalesce((extract(epoch from last_email_im) * 1000000)::bigint, 0),
  ALTER COLUMN last_mail TYPE bigint USING coalesce((extract(epoch from last_mail) * 1000000)::bigint, 0),
  ALTER COLUMN last_other TYPE bigint USING coalesce((extract(epoch from last_other) * 1000000)::bigint, 0),
  ALTER COLUMN last_executive TYPE bigint USING coalesce((extract(epoch from last_executive) * 1000000)::bigint, 0),
  ALTER COLUMN last_intent TYPE bigint USING coalesce((extract(epoch from last_intent) * 1000000)::bigint, 0);
ALTER TABLE contact_state
  ALTER COLUMN last_on_site SET DEFAULT 0, ALTER COLUMN last_on_site SET NOT NULL,
  ALTER COLUMN last_customer_visit SET DEFAULT 0, ALTER COLUMN last_customer_visit SET NOT NULL,
  ALTER COLUMN last_exhibition SET DEFAULT 0, ALTER COLUMN last_exhibition SET NOT NULL,
  ALTER COLUMN last_phone SET DEFAULT 0, ALTER COLUMN last_phone SET NOT NULL,
  ALTER COLUMN last_email_im SET DEFAULT 0, ALTER COLUMN last_email_im SET NOT NULL,
  ALTER COLUMN last_mail SET DEFAULT 0, ALTER COLUMN last_mail SET NOT NULL,
  ALTER COLUMN last_other SET DEFAULT 0, ALTER COLUMN last_other SET NOT NULL,
  ALTER COLUMN last_executive SET DEFAULT 0, ALTER COLUMN last_executive SET NOT NULL,
  ALTER COLUMN last_intent SET DEFAULT 0, ALTER COLUMN last_intent SET NOT NULL;
