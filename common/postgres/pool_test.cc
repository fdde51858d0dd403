#include "common/postgres/pool.h"

#include <thread>

#include "common/postgres/migrations.h"
#include "common/postgres/text_array.h"
#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::postgres {
namespace {

TEST(PgPoolTest, TransactCommitsOnOkAndRollsBackOnError) {
  testing::TestSchema schema("pool");
  ASSERT_TRUE(
      ApplyMigrations(schema.pool(), {{1, "t", "CREATE TABLE t (v int PRIMARY KEY)"}}).ok());
  PgPool& pool = schema.pool();
  ASSERT_TRUE(pool.Transact([](pqxx::work& tx) {
                    tx.exec("INSERT INTO t VALUES (1)");
                    return absl::OkStatus();
                  })
                  .ok());
  absl::Status failed = pool.Transact([](pqxx::work& tx) {
    tx.exec("INSERT INTO t VALUES (2)");
    return absl::FailedPreconditionError("changed my mind");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kFailedPrecondition);
  auto count = pool.Transact<int>([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec("SELECT count(*) FROM t")[0][0].as<int>();
  });
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

TEST(PgPoolTest, ReadRunsEachStatementOnItsOwnWithoutATransactionBlock) {
  testing::TestSchema schema("pool");
  PgPool& pool = schema.pool();
  // Inside a transaction block both statements share one transaction id; outside, each
  // statement is a transaction of its own.
  auto ids = [](pqxx::transaction_base& tx) {
    const auto a = tx.exec("SELECT pg_current_xact_id()::text")[0][0].as<std::string>();
    const auto b = tx.exec("SELECT pg_current_xact_id()::text")[0][0].as<std::string>();
    return std::make_pair(a, b);
  };
  std::pair<std::string, std::string> in_read, in_transaction;
  ASSERT_TRUE(pool.Read([&](pqxx::nontransaction& tx) {
                    in_read = ids(tx);
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(pool.Transact([&](pqxx::work& tx) {
                    in_transaction = ids(tx);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_NE(in_read.first, in_read.second);
  EXPECT_EQ(in_transaction.first, in_transaction.second);
  // A prepared statement is prepared once per connection and runs in both.
  auto sum = pool.Read<int>([](pqxx::nontransaction& tx) -> absl::StatusOr<int> {
    return Prepared(tx, "pool_test_add", "SELECT $1::int + $2::int", 40, 2)[0][0].as<int>();
  });
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(*sum, 42);
  auto again = pool.Transact<int>([](pqxx::work& tx) -> absl::StatusOr<int> {
    return Prepared(tx, "pool_test_add", "SELECT $1::int + $2::int", 1, 2)[0][0].as<int>();
  });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 3);
  // Errors map like Transact's.
  absl::Status bad = pool.Read([](pqxx::nontransaction& tx) {
    tx.exec("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  EXPECT_FALSE(bad.ok());
}

TEST(PgPoolTest, SqlErrorsMapToStatusCodes) {
  testing::TestSchema schema("pool");
  ASSERT_TRUE(
      ApplyMigrations(schema.pool(), {{1, "t", "CREATE TABLE t (v int PRIMARY KEY CHECK (v > 0))"}})
          .ok());
  auto insert = [&](int v) {
    return schema.pool().Transact([v](pqxx::work& tx) {
      tx.exec_params("INSERT INTO t VALUES ($1)", v);
      return absl::OkStatus();
    });
  };
  ASSERT_TRUE(insert(1).ok());
  EXPECT_EQ(insert(1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(insert(-1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(schema.pool()
                .Transact([](pqxx::work& tx) {
                  tx.exec("SELECT * FROM no_such_table");
                  return absl::OkStatus();
                })
                .code(),
            absl::StatusCode::kInternal);
}

TEST(PgPoolTest, ReconnectsAfterConnectionsAreKilled) {
  testing::TestSchema schema("pool");
  PgPool& pool = schema.pool();
  ASSERT_TRUE(pool.Ping().ok());
  auto pid = pool.Transact<int>([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  });
  ASSERT_TRUE(pid.ok());
  // Kill the pooled backend from another session, as a server restart would.
  PgPool killer({.uri = testing::PgUri(), .schema = "public", .size = 1});
  ASSERT_TRUE(killer
                  .Transact([&](pqxx::work& tx) {
                    tx.exec_params("SELECT pg_terminate_backend($1)", *pid);
                    return absl::OkStatus();
                  })
                  .ok());
  auto new_pid = pool.Transact<int>([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  });
  ASSERT_TRUE(new_pid.ok()) << new_pid.status();
  EXPECT_NE(*new_pid, *pid);
}

TEST(PgPoolTest, UnreachableDatabaseIsUnavailable) {
  PgPool pool({.uri = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2",
               .schema = "x",
               .size = 1});
  EXPECT_EQ(pool.Ping().code(), absl::StatusCode::kUnavailable);
}

TEST(PgPoolTest, ExhaustedPoolTimesOutAsUnavailable) {
  PgPool pool({.uri = testing::PgUri(),
               .schema = "public",
               .size = 1,
               .acquire_timeout = std::chrono::milliseconds(100)});
  absl::Status inner;
  absl::Status outer = pool.Transact([&](pqxx::work&) {
    inner = pool.Ping();  // needs a second connection
    return absl::OkStatus();
  });
  EXPECT_TRUE(outer.ok());
  EXPECT_EQ(inner.code(), absl::StatusCode::kUnavailable);
}

TEST(TextArrayTest, RoundTripsAwkwardText) {
  testing::TestSchema schema("arr");
  const std::vector<std::string> values = {"plain", "with \"quotes\"", "back\\slash", "逗号,", ""};
  auto back = schema.pool().Transact<std::vector<std::string>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
        return FromTextArray(tx.exec_params1("SELECT $1::text[]", ToTextArray(values))[0]);
      });
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, values);
}

TEST(TextArrayTest, IntegerAndBooleanLiteralsKeepValuesAndNulls) {
  testing::TestSchema schema("arr");
  auto back =
      schema.pool().Transact<std::string>([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
        return tx
            .exec_params1(
                "SELECT concat_ws('|', array_to_string($1::bigint[], ',', 'null'),"
                " array_to_string($2::integer[], ','), array_to_string($3::boolean[], ','),"
                " cardinality($4::bigint[]))",
                ToIntArray(std::vector<std::optional<int64_t>>{-9007199254740993, std::nullopt, 0}),
                ToIntArray(std::vector<int64_t>{7, -1}), ToBoolArray({true, false, true}),
                ToIntArray(std::vector<int64_t>{}))[0]
            .as<std::string>();
      });
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "-9007199254740993,null,0|7,-1|t,f,t|0");
}

}  // namespace
}  // namespace tierwise::postgres
