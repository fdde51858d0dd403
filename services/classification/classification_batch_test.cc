// Ledger events applied in batches (one transaction per batch, as the ledger stream consumer
// does) end with the tiers and metrics of one-by-one delivery; a batch with a poison entry changes
// nothing; a redelivered batch changes nothing.

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "services/classification/classification_test_util.h"

namespace tierwise::classification {
namespace {

using testutil::ClassificationInstance;
using testutil::CustomerCreated;
using testutil::kTestNow;
using testutil::LedgerCancellation;
using testutil::LedgerOrder;
using testutil::LedgerPayment;

std::string CustomerId(uint64_t n) { return absl::StrFormat("00000000-0000-4000-8000-%012x", n); }

int64_t Rows(ClassificationInstance& run, const std::string& table) {
  return run.harness().CountRows(table);
}

struct Events {
  std::vector<redis::StreamEntry> profile;
  std::vector<redis::StreamEntry> ledger;
};

Events Scenario(int customers, int events, uint64_t seed) {
  Events out;
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::string>> orders(customers);
  for (int c = 0; c < customers; ++c) {
    out.profile.push_back(CustomerCreated(CustomerId(0x7000 + c), kTestNow - 900 * kDay));
  }
  for (int i = 0; i < events; ++i) {
    const int c = static_cast<int>(rng() % customers);
    const std::string id = CustomerId(0x7000 + c);
    const std::string event_id = absl::StrCat("b", seed, "-", i);
    const Micros at = kTestNow - static_cast<Micros>(rng() % 300) * kDay;
    const int kind = static_cast<int>(rng() % 10);
    if (kind == 0 && !orders[c].empty()) {
      out.ledger.push_back(
          LedgerCancellation(id, event_id, orders[c][rng() % orders[c].size()], 0, at));
    } else if (kind < 3) {
      out.ledger.push_back(LedgerPayment(id, event_id, 1000, at, rng() % 5 == 0 ? "C" : "AA"));
    } else {
      out.ledger.push_back(
          LedgerOrder(id, event_id, 10000 + static_cast<int64_t>(rng() % 5000000), at));
      orders[c].push_back(event_id);
    }
  }
  return out;
}

TEST(LedgerBatchTest, BatchesEndWhereOneByOneEnds) {
  const Events s = Scenario(30, 240, 5);
  ClassificationInstance single;
  for (const auto& e : s.profile) ASSERT_TRUE(single.Deliver(e).ok());
  for (const auto& e : s.ledger) ASSERT_TRUE(single.Deliver(e).ok());

  ClassificationInstance batched;
  for (const auto& e : s.profile) ASSERT_TRUE(batched.Deliver(e).ok());
  for (size_t start = 0; start < s.ledger.size(); start += 50) {
    const std::vector<redis::StreamEntry> batch(
        s.ledger.begin() + static_cast<std::ptrdiff_t>(start),
        s.ledger.begin() + static_cast<std::ptrdiff_t>(std::min(s.ledger.size(), start + 50)));
    ASSERT_TRUE(batched.engine().OnLedgerEvents(batch).ok());
  }
  EXPECT_EQ(batched.Outcomes(), single.Outcomes());
  EXPECT_EQ(batched.Metrics(), single.Metrics());
  // A customer is evaluated once per batch, so a tier it held only between two events of the
  // same batch is not recorded: fewer changes, each in the history and on the stream once.
  EXPECT_GT(Rows(batched, "tier_history"), 0);
  EXPECT_LT(Rows(batched, "tier_history"), Rows(single, "tier_history"));
  EXPECT_EQ(Rows(batched, "outbox"), Rows(batched, "tier_history"));
  EXPECT_EQ(Rows(single, "outbox"), Rows(single, "tier_history"));

  // Redelivered as one batch: nothing changes.
  const int64_t history = Rows(batched, "tier_history");
  ASSERT_TRUE(batched.engine().OnLedgerEvents(s.ledger).ok());
  EXPECT_EQ(batched.Outcomes(), single.Outcomes());
  EXPECT_EQ(Rows(batched, "tier_history"), history);
  for (const auto& [id, outcome] : single.Outcomes()) {
    EXPECT_EQ(batched.TierOf(id), outcome.tier) << "cache written through after the batch";
  }
}

TEST(LedgerBatchTest, APoisonEntryRollsTheWholeBatchBack) {
  ClassificationInstance run;
  const std::string id = CustomerId(0x7100);
  ASSERT_TRUE(run.Deliver(CustomerCreated(id, kTestNow - 900 * kDay)).ok());
  redis::StreamEntry poison = LedgerOrder(id, "p2", 5000, kTestNow - kDay);
  poison.fields[2].second = "\xff not a LedgerEvent";
  const absl::Status s =
      run.engine().OnLedgerEvents({LedgerOrder(id, "p1", 5000, kTestNow - kDay), poison,
                                   LedgerOrder(id, "p3", 7000, kTestNow - kDay)});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Rows(run, "ledger_entries"), 0);
  EXPECT_EQ(run.TierOf(id), "C");
}

}  // namespace
}  // namespace tierwise::classification
