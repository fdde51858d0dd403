#include "common/postgres/leader_lease.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "common/postgres/pool.h"
#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::postgres {
namespace {

using std::chrono::milliseconds;

bool WaitFor(const std::function<bool()>& done, milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

struct Candidate {
  explicit Candidate(PgPool& pool, int64_t key)
      : lease([&pool] { return pool.OpenDedicated(); },
              {.name = "test",
               .key = key,
               .retry_interval = milliseconds(100),
               .check_interval = milliseconds(100)},
              [this] {
                ++elected;
                return absl::OkStatus();
              },
              [this] { ++lost; }) {}
  std::atomic<int> elected{0};
  std::atomic<int> lost{0};
  LeaderLease lease;
};

TEST(LeaderLeaseTest, ExactlyOneLeaderAndAStandbyTakesOverWhenItStops) {
  testing::TestSchema schema("lease");
  const int64_t key = LeaderLease::KeyOf("test.writer", schema.name());
  Candidate a(schema.pool(), key), b(schema.pool(), key), c(schema.pool(), key);
  a.lease.Start();
  b.lease.Start();
  c.lease.Start();
  const auto leaders = [&] {
    return int{a.lease.leader()} + int{b.lease.leader()} + int{c.lease.leader()};
  };
  ASSERT_TRUE(WaitFor([&] { return leaders() == 1; }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(leaders(), 1) << "a second leader while the first holds the lock";
  Candidate* first = a.lease.leader() ? &a : b.lease.leader() ? &b : &c;
  const auto stopped_at = std::chrono::steady_clock::now();
  first->lease.Stop();
  EXPECT_EQ(first->lost.load(), 1);
  ASSERT_TRUE(WaitFor([&] { return leaders() == 1; }, milliseconds(5000)));
  const auto takeover =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - stopped_at);
  EXPECT_LT(takeover.count(), 2000);
  EXPECT_EQ(a.elected + b.elected + c.elected, 2);
}

TEST(LeaderLeaseTest, ALeaderWhoseSessionIsKilledStepsDown) {
  testing::TestSchema schema("lease");
  const int64_t key = LeaderLease::KeyOf("test.writer", schema.name());
  Candidate a(schema.pool(), key);
  a.lease.Start();
  ASSERT_TRUE(WaitFor([&] { return a.lease.leader(); }, milliseconds(5000)));
  // Another session ends the leader's (an administrator, a failover): it must notice.
  ASSERT_TRUE(schema.pool()
                  .Transact([&](pqxx::work& tx) {
                    tx.exec_params(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype ="
                        " 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) ="
                        " $1",
                        key);
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return a.lost.load() >= 1; }, milliseconds(3000)));
  // ... and win the lock again on a fresh session.
  ASSERT_TRUE(
      WaitFor([&] { return a.lease.leader() && a.elected.load() == 2; }, milliseconds(5000)));
}

TEST(LeaderLeaseTest, KeysDependOnPurposeAndScope) {
  EXPECT_EQ(LeaderLease::KeyOf("a", "s"), LeaderLease::KeyOf("a", "s"));
  EXPECT_NE(LeaderLease::KeyOf("a", "s1"), LeaderLease::KeyOf("a", "s2"));
  EXPECT_NE(LeaderLease::KeyOf("ab", "c"), LeaderLease::KeyOf("a", "bc"));
}

}  // namespace
}  // namespace tierwise::postgres
