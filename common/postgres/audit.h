#ifndef TIERWISE_COMMON_POSTGRES_AUDIT_H_
#define TIERWISE_COMMON_POSTGRES_AUDIT_H_

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/postgres/migrations.h"

// The audit trail every service keeps in its own schema: one row per change and per sensitive
// read, written in the transaction of what it records (so an audited change and its audit row
// commit or roll back together). Rows name what changed (`fields`, `note`), never personal
// values: an erasure must not have to hunt for copies in the audit trail.
//
//   postgres::WriteAudit(tx, {.customer_id = id, .action = "hold.place", .actor = actor.name,
//                             .actor_role = actor.role, .request_id = actor.request_id,
//                             .note = "manual"});
namespace tierwise::postgres {

struct AuditRow {
  std::string customer_id;  // uuid, "" when the row concerns no customer
  std::string action;       // "customer.update", "hold.place", "ruleset.activate", ...
  std::string actor;        // principal name
  std::string actor_role;
  std::string request_id;
  std::string entity;     // what was touched when it is not the customer itself ("" otherwise)
  std::string entity_id;  // e.g. "interaction" / its id
  std::vector<std::string> fields;  // names of the changed fields
  std::string note;                 // free text without personal data
};

void WriteAudit(pqxx::transaction_base& tx, const AuditRow& row);

// For statements that write the audit row together with other work (a CTE, one round trip):
// the INSERT taking the row's values from parameters $first .. $first+8, in AuditParams' order.
std::string AuditInsertSql(int first);
// customer_id, action, actor, actor_role, request_id, entity, entity_id, fields, note.
std::vector<std::string> AuditParams(const AuditRow& row);

// Version 901 of every service's migrations (added by RunServiceMain and the test harness, next
// to the outbox's 900): creates audit_log in the shape above, or brings an older service table to
// it (adds the missing columns, renames role → actor_role and detail → note).
Migration AuditMigration();

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_AUDIT_H_
