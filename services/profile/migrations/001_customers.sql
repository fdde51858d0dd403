-- The customer archive. legal_name sorts bytewise (COLLATE "C") so that list order and
-- keyset pagination agree with the server's comparisons whatever the database locale.
CREATE TABLE customers (
  id uuid PRIMARY KEY,
  external_ref text UNIQUE,
  legal_name text COLLATE "C" NOT NULL,
  short_name text NOT NULL DEFAULT '',
  aliases text[] NOT NULL DEFAULT '{}',
  nature smallint NOT NULL DEFAULT 0,
  business_mode text NOT NULL DEFAULT '',
  industry text NOT NULL DEFAULT '',
  province text NOT NULL DEFAULT '',
  city text NOT NULL DEFAULT '',
  owner text NOT NULL DEFAULT '',
  registration jsonb,
  first_transaction_date date,
  lifecycle_stage smallint NOT NULL DEFAULT 0,
  tags text[] NOT NULL DEFAULT '{}',
  potential_notes text NOT NULL DEFAULT '',
  data_consent boolean NOT NULL DEFAULT false,
  consent_time timestamptz,
  state smallint NOT NULL DEFAULT 1,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz,
  erased_at timestamptz,
  erased_by text,
  created_by text NOT NULL,
  updated_by text NOT NULL
);

-- List order and the common filters, each ending in the list order for keyset pagination.
CREATE INDEX customers_by_name ON customers (legal_name, id);
CREATE INDEX customers_by_owner ON customers (owner, legal_name, id);
CREATE INDEX customers_by_province ON customers (province, legal_name, id);
CREATE INDEX customers_by_industry ON customers (industry, legal_name, id);
CREATE INDEX customers_by_tags ON customers USING gin (tags);

-- The decision chain.
CREATE TABLE contacts (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  name text NOT NULL,
  title text NOT NULL DEFAULT '',
  role smallint NOT NULL DEFAULT 0,
  key_man boolean NOT NULL DEFAULT false,
  phone text NOT NULL DEFAULT '',
  email text NOT NULL DEFAULT '',
  birthday date,
  preferences text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  seq bigserial
);
CREATE INDEX contacts_by_customer ON contacts (customer_id, seq);

-- Who did what to which fields, and who read sensitive data. Never holds field values.
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  customer_id uuid NOT NULL,
  action smallint NOT NULL,
  fields text[] NOT NULL DEFAULT '{}',
  actor text NOT NULL,
  actor_role text NOT NULL,
  request_id text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_customer ON audit_log (customer_id, id DESC);
