#include "common/postgres/audit.h"

#include "absl/strings/str_cat.h"
#include "common/postgres/text_array.h"

namespace tierwise::postgres {

std::string AuditInsertSql(int first) {
  auto p = [first](int i) { return absl::StrCat("$", first + i); };
  return absl::StrCat(
      "INSERT INTO audit_log (customer_id, action, actor, actor_role, request_id, entity,"
      " entity_id, fields, note) VALUES (NULLIF(",
      p(0), ", '')::uuid, ", p(1), ", ", p(2), ", ", p(3), ", ", p(4), ", ", p(5), ", ", p(6), ", ",
      p(7), "::text[], ", p(8), ")");
}

std::vector<std::string> AuditParams(const AuditRow& row) {
  return {row.customer_id, row.action, row.actor,     row.actor_role,
          row.request_id,  row.entity, row.entity_id, ToTextArray(row.fields),
          row.note};
}

void WriteAudit(pqxx::transaction_base& tx, const AuditRow& row) {
  static const std::string kSql = AuditInsertSql(1);
  tx.exec_params(kSql, pqxx::prepare::make_dynamic_params(AuditParams(row)));
}

Migration AuditMigration() {
  return {901, "audit_log",
          R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  customer_id uuid,
  action text NOT NULL,
  actor text NOT NULL,
  actor_role text NOT NULL DEFAULT '',
  request_id text NOT NULL DEFAULT '',
  entity text NOT NULL DEFAULT '',
  entity_id text NOT NULL DEFAULT '',
  fields text[] NOT NULL DEFAULT '{}',
  note text NOT NULL DEFAULT ''
);
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('audit_log')
             AND attname = 'role' AND NOT attisdropped) THEN
    ALTER TABLE audit_log RENAME COLUMN role TO actor_role;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('audit_log')
             AND attname = 'detail' AND NOT attisdropped) THEN
    ALTER TABLE audit_log RENAME COLUMN detail TO note;
  END IF;
END $$;
ALTER TABLE audit_log ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS actor_role text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS request_id text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS entity text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS entity_id text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS fields text[] NOT NULL DEFAULT '{}';
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS note text NOT NULL DEFAULT '';
ALTER TABLE audit_log ALTER COLUMN actor_role SET DEFAULT '';
ALTER TABLE audit_log ALTER COLUMN entity SET DEFAULT '';
ALTER TABLE audit_log ALTER COLUMN entity_id SET DEFAULT '';
ALTER TABLE audit_log ALTER COLUMN note SET DEFAULT '';
DO $$
BEGIN
  -- The catalogs, not pg_indexes: its definitions would be computed for every index of the
  -- database, also of schemas other services are dropping at this moment.
  IF NOT EXISTS (SELECT 1 FROM pg_index i
                 JOIN pg_class t ON t.oid = i.indrelid
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
                 WHERE t.relnamespace = current_schema()::regnamespace
                   AND t.relname = 'audit_log' AND a.attname = 'customer_id') THEN
    CREATE INDEX audit_log_by_customer ON audit_log (customer_id, id DESC);
  END IF;
END $$;
)sql"};
}

}  // namespace tierwise::postgres
