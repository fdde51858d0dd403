-- Customers the interaction service knows, from the profile service's CustomerChanged stream:
-- who owns them (sales reps work on their own customers) and whether they still exist.
CREATE TABLE customers (
  customer_id uuid PRIMARY KEY,
  external_ref text NOT NULL DEFAULT '',
  owner text NOT NULL DEFAULT '',
  deleted boolean NOT NULL DEFAULT false,
  version bigint NOT NULL,
  known_at timestamptz NOT NULL
);
CREATE INDEX customers_by_owner ON customers (owner) WHERE NOT deleted;

-- The last tier seen on the classification service's TierChanged stream (newer changed_at
-- wins). Follow-up plans read it; it is also the stamp used when GetTier does not answer.
CREATE TABLE customer_tiers (
  customer_id uuid PRIMARY KEY,
  tier text NOT NULL,
  changed_at timestamptz NOT NULL
);

-- Every version of every communication record. A correction inserts a new row and sets
-- superseded_by on the replaced one; nothing else is ever updated. payload holds the whole
-- tierwise.interaction.v1.Interaction as written; the columns are what queries filter on.
CREATE TABLE interactions (
  id uuid PRIMARY KEY,
  root_id uuid NOT NULL,
  version integer NOT NULL,
  customer_id uuid NOT NULL,
  owner text NOT NULL,
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL,
  channel smallint NOT NULL,
  satisfaction smallint NOT NULL,
  executive_contact boolean NOT NULL,
  purchase_intent boolean NOT NULL,
  next_follow_up date,
  superseded_by uuid REFERENCES interactions (id),
  recorded_by text NOT NULL,
  request_key text UNIQUE,          -- principal + client request id, for idempotent retries
  payload bytea NOT NULL,
  UNIQUE (root_id, version)
);
CREATE INDEX interactions_by_customer ON interactions (customer_id, occurred_at DESC, id DESC);
CREATE INDEX interactions_by_owner ON interactions (owner, occurred_at DESC, id DESC);

-- Per customer, the last contact of each kind that follow-up plans count, recomputed from the
-- current (not superseded) interactions in the same transaction as every log or correction.
CREATE TABLE contact_state (
  customer_id uuid PRIMARY KEY,
  last_on_site timestamptz,
  last_customer_visit timestamptz,
  last_exhibition timestamptz,
  last_phone timestamptz,
  last_email_im timestamptz,
  last_mail timestamptz,
  last_other timestamptz,
  last_executive timestamptz,
  last_intent timestamptz,
  next_follow_up date               -- from the latest interaction, if it set one
);

CREATE TABLE complaints (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  owner text NOT NULL,
  status smallint NOT NULL,         -- tierwise.interaction.v1.ComplaintStatus
  opened_at timestamptz NOT NULL,
  response_due_at timestamptz NOT NULL,
  resolution_due_at timestamptz NOT NULL,
  responded_at timestamptz,
  resolved_at timestamptz,
  response_breached_at timestamptz,
  resolution_breached_at timestamptz,
  version bigint NOT NULL,
  request_key text UNIQUE,
  payload bytea NOT NULL            -- tierwise.interaction.v1.Complaint, kept in step
);
CREATE INDEX complaints_by_customer ON complaints (customer_id, opened_at DESC);
CREATE INDEX complaints_by_owner ON complaints (owner, opened_at DESC);
CREATE INDEX complaints_open ON complaints (response_due_at) WHERE resolved_at IS NULL;

-- Who changed what, and who read which records.
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  role text NOT NULL,
  action text NOT NULL,
  entity text NOT NULL,
  entity_id text NOT NULL,
  customer_id uuid,
  request_id text NOT NULL DEFAULT '',
  detail text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_entity ON audit_log (entity, entity_id);
