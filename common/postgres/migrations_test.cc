#include "common/postgres/migrations.h"

#include <thread>
#include <vector>

#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::postgres {
namespace {

const std::vector<Migration> kMigrations = {
    {1, "items", "CREATE TABLE items (id int PRIMARY KEY)"},
    {2, "seed", "INSERT INTO items VALUES (1), (2)"},
};

int CountItems(PgPool& pool) {
  return *pool.Transact<int>([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec("SELECT count(*) FROM items")[0][0].as<int>();
  });
}

TEST(MigrationsTest, AppliesOnceAndIsIdempotent) {
  testing::TestSchema schema("mig");
  int applied = -1;
  ASSERT_TRUE(ApplyMigrations(schema.pool(), kMigrations, &applied).ok());
  EXPECT_EQ(applied, 2);
  ASSERT_TRUE(ApplyMigrations(schema.pool(), kMigrations, &applied).ok());
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(CountItems(schema.pool()), 2);
}

TEST(MigrationsTest, ConcurrentRunnersApplyEachMigrationOnce) {
  testing::TestSchema schema("mig");
  std::vector<std::thread> runners;
  std::vector<absl::Status> results(6);
  std::vector<int> applied(6, 0);
  for (int i = 0; i < 6; ++i) {
    runners.emplace_back([&, i] {
      // Each runner has its own pool, as separate replicas would.
      PgPool pool({.uri = testing::PgUri(), .schema = schema.name(), .size = 1});
      results[i] = ApplyMigrations(pool, kMigrations, &applied[i]);
    });
  }
  for (auto& t : runners) t.join();
  int total = 0;
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i];
    total += applied[i];
  }
  EXPECT_EQ(total, 2) << "every migration applied by exactly one runner";
  EXPECT_EQ(CountItems(schema.pool()), 2) << "the seed migration ran once";
}

TEST(MigrationsTest, FailedMigrationLeavesNothingBehind) {
  testing::TestSchema schema("mig");
  std::vector<Migration> broken = kMigrations;
  broken.push_back({3, "broken", "CREATE TABLE other (id int); SELECT * FROM missing_table"});
  EXPECT_FALSE(ApplyMigrations(schema.pool(), broken).ok());
  auto tables = schema.pool().Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx
        .exec_params1("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                      schema.name())[0]
        .as<int>();
  });
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, 0);
}

TEST(MigrationsTest, ChangedMigrationIsRefused) {
  testing::TestSchema schema("mig");
  ASSERT_TRUE(ApplyMigrations(schema.pool(), kMigrations).ok());
  std::vector<Migration> edited = kMigrations;
  edited[1].sql = "INSERT INTO items VALUES (3)";
  EXPECT_EQ(ApplyMigrations(schema.pool(), edited).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tierwise::postgres
