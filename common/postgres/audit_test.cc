#include "common/postgres/audit.h"

#include "common/postgres/text_array.h"
#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::postgres {
namespace {

constexpr char kCustomer[] = "0b6f3c1e-8a41-4c5e-9a0f-3d2b7c9e1a55";

std::vector<std::string> Columns(PgPool& pool) {
  std::vector<std::string> columns;
  absl::Status s = pool.Transact([&](pqxx::work& tx) -> absl::Status {
    for (const auto& row :
         tx.exec("SELECT column_name FROM information_schema.columns WHERE table_schema ="
                 " current_schema() AND table_name = 'audit_log' ORDER BY column_name")) {
      columns.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return columns;
}

TEST(AuditTest, CreatesTheTableAndWritesRowsNamingFieldsNotValues) {
  testing::TestSchema schema("audit");
  ASSERT_TRUE(ApplyMigrations(schema.pool(), {AuditMigration()}).ok());
  ASSERT_TRUE(ApplyMigrations(schema.pool(), {AuditMigration()}).ok()) << "applied once";
  absl::Status s = schema.pool().Transact([&](pqxx::work& tx) -> absl::Status {
    WriteAudit(tx, {.customer_id = kCustomer,
                    .action = "customer.update",
                    .actor = "rep.zhang",
                    .actor_role = "sales_rep",
                    .request_id = "req-1",
                    .fields = {"contact.phone", "address"}});
    WriteAudit(tx, {.action = "policy.update", .actor = "admin", .actor_role = "admin"});
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  s = schema.pool().Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec(
        "SELECT coalesce(customer_id::text, ''), action, actor, actor_role, request_id, fields"
        " FROM audit_log ORDER BY id");
    EXPECT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0][0].as<std::string>(), kCustomer);
    EXPECT_EQ(r[0][1].as<std::string>(), "customer.update");
    EXPECT_EQ(r[0][4].as<std::string>(), "req-1");
    EXPECT_EQ(FromTextArray(r[0][5]), (std::vector<std::string>{"contact.phone", "address"}));
    EXPECT_EQ(r[1][0].as<std::string>(), "") << "no customer";
    EXPECT_TRUE(FromTextArray(r[1][5]).empty());
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(AuditTest, BringsAnOlderServiceTableToTheSharedShapeKeepingItsRows) {
  testing::TestSchema schema("audit");
  // interaction's first shape: role and detail, no fields.
  ASSERT_TRUE(ApplyMigrations(schema.pool(),
                              {{1, "old",
                                "CREATE TABLE audit_log (id bigserial PRIMARY KEY, at timestamptz"
                                " NOT NULL DEFAULT now(), actor text NOT NULL, role text NOT NULL,"
                                " action text NOT NULL, entity text NOT NULL, entity_id text NOT"
                                " NULL, customer_id uuid, request_id text NOT NULL DEFAULT '',"
                                " detail text NOT NULL DEFAULT '');"
                                "INSERT INTO audit_log (actor, role, action, entity, entity_id,"
                                " detail) VALUES ('a', 'admin', 'log', 'interaction', 'i1',"
                                " 'fields: summary')"}})
                  .ok());
  ASSERT_TRUE(ApplyMigrations(schema.pool(), {AuditMigration()}).ok());
  EXPECT_EQ(
      Columns(schema.pool()),
      (std::vector<std::string>{"action", "actor", "actor_role", "at", "customer_id", "entity",
                                "entity_id", "fields", "id", "note", "request_id"}));
  absl::Status s = schema.pool().Transact([&](pqxx::work& tx) -> absl::Status {
    WriteAudit(tx, {.customer_id = kCustomer, .action = "read", .actor = "b"});
    const pqxx::result r = tx.exec("SELECT actor_role, note, entity FROM audit_log ORDER BY id");
    EXPECT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0][0].as<std::string>(), "admin");
    EXPECT_EQ(r[0][1].as<std::string>(), "fields: summary");
    EXPECT_EQ(r[1][2].as<std::string>(), "") << "defaults for what the writer leaves out";
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace tierwise::postgres
