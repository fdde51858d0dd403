// Scenarios of the classification service against the real PostgreSQL and Redis: the ABC
// cut-offs on small, tied and zero-revenue data sets; an order dated ahead of our clock and
// orders of tens of millions; at-least-once delivery (redelivered, shuffled, a consumer killed
// mid-batch) compared with a clean run; a full reclassification after long random event
// sequences compared with the incremental result; and the tier cache with a Redis of the test's
// own stopped and restarted (empty, or with its old data).
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/redis/stream_consumer.h"
#include "common/redis/stream_names.h"
#include "common/status/macros.h"
#include "common/testing/test_env.h"
#include "gtest/gtest.h"
#include "services/classification/classification_test_util.h"

extern char** environ;

namespace tierwise::classification {
namespace {

using testutil::ClassificationInstance;
using testutil::CustomerCreated;
using testutil::CustomerImported;
using testutil::kTestNow;
using testutil::LedgerCancellation;
using testutil::LedgerOrder;
using testutil::LedgerPayment;
using H = ::tierwise::testing::ServiceHarness;

// A valid, deterministic customer id; ids sort in the order of `n`.
std::string CustomerId(uint64_t n) {
  return absl::StrFormat("%08x-0000-4000-8000-%012x", static_cast<uint32_t>(n >> 32),
                         n & 0xffffffffffffULL);
}

// A customer for two and a half years (no probation), announced by the profile service.
redis::StreamEntry Veteran(const std::string& id) {
  return CustomerCreated(id, kTestNow - 900 * kDay);
}

void DeliverAll(ClassificationInstance& instance, const std::vector<redis::StreamEntry>& entries) {
  for (const redis::StreamEntry& e : entries) {
    absl::Status s = instance.Deliver(e);
    ASSERT_TRUE(s.ok()) << e.Field("event_id") << ": " << s;
  }
}

// The tiers the ABC-by-count rule (5 % / 20 %, ceilings) gives to `revenues` when no
// hysteresis band applies: rank by revenue (descending, then id), zero revenue is C.
std::map<std::string, std::string> ExpectedByCount(const std::map<std::string, int64_t>& revenues) {
  std::vector<std::pair<int64_t, std::string>> order;
  for (const auto& [id, revenue] : revenues) order.emplace_back(-revenue, id);
  std::sort(order.begin(), order.end());
  const size_t n = order.size();
  const size_t a = (n * 5 + 99) / 100;
  const size_t b = std::max(a, (n * 20 + 99) / 100);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; ++i) {
    const bool earns = order[i].first < 0;
    out[order[i].second] = !earns ? "C" : i < a ? "A" : i < b ? "B" : "C";
  }
  return out;
}

std::map<std::string, std::string> Tiers(ClassificationInstance& instance) {
  std::map<std::string, std::string> out;
  for (const auto& [id, outcome] : instance.Outcomes()) out[id] = outcome.tier;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cut-offs on small, tied and zero-revenue data sets
// ---------------------------------------------------------------------------------------------

TEST(ParetoBoundaryTest, TiesAtTheFiveAndTwentyPercentCutOffsDoNotDependOnArrivalOrder) {
  // 40 customers by count: A = the top 2 (5 %), B = ranks 3..8 (up to 20 %). Ranks 2 and 3
  // earn the same, and so do ranks 8 and 9: each tie straddles a cut-off. Equal revenue is
  // ranked by customer id, so the lower id of each pair is the one inside the better tier.
  std::map<std::string, int64_t> revenue;
  for (int i = 0; i < 40; ++i) revenue[CustomerId(100 + i)] = (1000 - i * 10) * 1000;
  const std::string a_low = CustomerId(101), a_high = CustomerId(102);
  const std::string b_low = CustomerId(107), b_high = CustomerId(108);
  revenue[a_low] = revenue[a_high] = 995000;  // ranks 2 and 3: after 1,000,000, before 970,000
  revenue[b_low] = revenue[b_high] = 935000;  // ranks 8 and 9: after 940,000, before 910,000

  std::vector<redis::StreamEntry> events;
  for (const auto& [id, amount] : revenue) events.push_back(Veteran(id));
  int n = 0;
  for (const auto& [id, amount] : revenue) {
    events.push_back(LedgerOrder(id, absl::StrCat("tie-", n++), amount, kTestNow - 20 * kDay));
  }
  // The same events forwards and backwards: the higher id of each pair arrives first in one
  // run and last in the other.
  ClassificationInstance forwards, backwards;
  DeliverAll(forwards, events);
  std::vector<redis::StreamEntry> reversed(events.rbegin(), events.rend());
  DeliverAll(backwards, reversed);

  for (ClassificationInstance* run : {&forwards, &backwards}) {
    EXPECT_EQ(run->TierOf(a_low), "A");
    EXPECT_EQ(run->TierOf(a_high), "B");
    EXPECT_EQ(run->TierOf(b_low), "B");
    EXPECT_EQ(run->TierOf(b_high), "C");
    EXPECT_EQ(run->Counts(), (std::map<std::string, int>{{"A", 2}, {"B", 6}, {"C", 32}}));
    EXPECT_EQ(Tiers(*run), ExpectedByCount(revenue));
  }
  EXPECT_EQ(forwards.Outcomes(), backwards.Outcomes());
}

TEST(ParetoBoundaryTest, EqualRevenueForEveryoneStillFillsTheCutOffsByCount) {
  ClassificationInstance run;
  std::map<std::string, int64_t> revenue;
  for (int i = 0; i < 20; ++i) revenue[CustomerId(200 + i)] = 500000;
  for (const auto& [id, amount] : revenue) {
    ASSERT_TRUE(run.Deliver(Veteran(id)).ok());
    ASSERT_TRUE(run.Deliver(LedgerOrder(id, "eq-" + id, amount, kTestNow - 5 * kDay)).ok());
  }
  // 20 customers: 1 A, 3 B, 16 C, however alike they are; the lowest ids rank first.
  EXPECT_EQ(run.Counts(), (std::map<std::string, int>{{"A", 1}, {"B", 3}, {"C", 16}}));
  EXPECT_EQ(run.TierOf(CustomerId(200)), "A");
  EXPECT_EQ(run.TierOf(CustomerId(203)), "B");
  EXPECT_EQ(run.TierOf(CustomerId(204)), "C");
  auto changed = run.engine().ReclassifyAll("RECLASSIFY", nullptr);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
}

TEST(ParetoBoundaryTest, FewerThanTwentyCustomersRoundTheCutOffsUp) {
  // Customers arrive one by one, each earning more than all before it, so every arrival
  // takes A and pushes the others down. By count with ceilings: one customer is A on its own;
  // B (up to 20 %) first holds someone beyond A at 6 customers; A grows to 2 at 21.
  ClassificationInstance run;
  std::map<std::string, int64_t> revenue;
  const std::map<int, std::map<std::string, int>> expected_counts = {
      {1, {{"A", 1}}},
      {2, {{"A", 1}, {"C", 1}}},
      {5, {{"A", 1}, {"C", 4}}},
      {6, {{"A", 1}, {"B", 1}, {"C", 4}}},
      {10, {{"A", 1}, {"B", 1}, {"C", 8}}},
      {11, {{"A", 1}, {"B", 2}, {"C", 8}}},
      {19, {{"A", 1}, {"B", 3}, {"C", 15}}},
      {21, {{"A", 2}, {"B", 3}, {"C", 16}}},
  };
  for (int n = 1; n <= 21; ++n) {
    const std::string id = CustomerId(300 + n);
    revenue[id] = n * 100000;
    ASSERT_TRUE(run.Deliver(Veteran(id)).ok());
    ASSERT_TRUE(
        run.Deliver(LedgerOrder(id, absl::StrCat("few-", n), revenue[id], kTestNow - kDay)).ok());
    EXPECT_EQ(Tiers(run), ExpectedByCount(revenue)) << n << " customers";
    if (auto it = expected_counts.find(n); it != expected_counts.end()) {
      EXPECT_EQ(run.Counts(), it->second) << n << " customers";
    }
  }
  EXPECT_EQ(run.TierOf(CustomerId(321)), "A");
  EXPECT_EQ(run.TierOf(CustomerId(320)), "A");
  EXPECT_EQ(run.TierOf(CustomerId(317)), "B");
  EXPECT_EQ(run.TierOf(CustomerId(316)), "C");
}

TEST(ParetoBoundaryTest, ZeroRevenueCustomersAreCAndTakeNoCutOffPlace) {
  ClassificationInstance run;
  // Three customers known only from the profile: nobody earns, nobody is A.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run.Deliver(Veteran(CustomerId(400 + i))).ok());
  EXPECT_EQ(run.Counts(), (std::map<std::string, int>{{"C", 3}}));

  // 20 customers, two of them earning: by count A = 1 and B = 3 places, but only the two
  // earners fill them; the 18 others stay C although B has room.
  for (int i = 3; i < 20; ++i) ASSERT_TRUE(run.Deliver(Veteran(CustomerId(400 + i))).ok());
  const std::string big = CustomerId(410), small = CustomerId(415);
  ASSERT_TRUE(run.Deliver(LedgerOrder(big, "z-big", 800000, kTestNow - 3 * kDay)).ok());
  ASSERT_TRUE(run.Deliver(LedgerOrder(small, "z-small", 1000, kTestNow - 3 * kDay)).ok());
  // A payment is no revenue: it moves nobody.
  ASSERT_TRUE(run.Deliver(LedgerPayment(CustomerId(401), "z-pay", 9000000, kTestNow)).ok());
  EXPECT_EQ(run.Counts(), (std::map<std::string, int>{{"A", 1}, {"B", 1}, {"C", 18}}));
  EXPECT_EQ(run.TierOf(big), "A");
  EXPECT_EQ(run.TierOf(small), "B");
  EXPECT_EQ(run.TierOf(CustomerId(401)), "C");

  v1::GetTierDistributionResponse dist;
  ASSERT_TRUE(run.reports().GetTierDistribution(H::Context(H::kViewer).get(), {}, &dist).ok());
  EXPECT_EQ(dist.customers(), 20);
  EXPECT_EQ(dist.revenue().minor_units(), 801000);

  // The big order is cancelled in full: its customer earns nothing and drops to C, and the
  // small earner moves up to A across the cut-off.
  ASSERT_TRUE(
      run.Deliver(LedgerCancellation(big, "z-cancel", "z-big", 0, kTestNow - 2 * kDay)).ok());
  EXPECT_EQ(run.TierOf(big), "C");
  EXPECT_EQ(run.TierOf(small), "A");
  EXPECT_EQ(run.Counts(), (std::map<std::string, int>{{"A", 1}, {"C", 19}}));
  v1::GetTierHistoryRequest req;
  req.set_customer_id(small);
  v1::GetTierHistoryResponse history;
  ASSERT_TRUE(run.tiers().GetTierHistory(H::Context(H::kViewer).get(), req, &history).ok());
  ASSERT_GE(history.changes_size(), 1);
  EXPECT_EQ(history.changes(0).tier(), "A");
  EXPECT_EQ(history.changes(0).reason_code(), "BOUNDARY_SHIFT");
  EXPECT_EQ(history.changes(0).trigger_event_id(), "z-cancel");
}

TEST(ParetoBoundaryTest, ADeletedCustomerLeavesTheRankingAndThoseItsDepartureMovesAreReTiered) {
  ClassificationInstance run;
  // 21 earners: by count A = ceil(21 × 5 %) = 2 places, A and B together 5.
  for (int i = 0; i < 21; ++i) {
    const std::string id = CustomerId(500 + i);
    ASSERT_TRUE(run.Deliver(Veteran(id)).ok());
    ASSERT_TRUE(
        run.Deliver(LedgerOrder(id, absl::StrCat("d-", i), (i + 1) * 10000, kTestNow - kDay)).ok());
  }
  const std::string second = CustomerId(519), fifth = CustomerId(516);
  EXPECT_EQ(run.TierOf(second), "A");
  EXPECT_EQ(run.TierOf(fifth), "B");
  EXPECT_EQ(run.Counts(), (std::map<std::string, int>{{"A", 2}, {"B", 3}, {"C", 16}}));

  // The smallest earner is deleted in the archive: 20 remain, A = 1 and A + B = 4 places.
  events::v1::CustomerChanged deleted;
  deleted.set_event_id("d-deleted");
  deleted.set_customer_id(CustomerId(500));
  deleted.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_DELETED);
  deleted.set_version(2);
  ASSERT_TRUE(run.Deliver(testutil::EntryOf(deleted, deleted.event_id())).ok());
  EXPECT_EQ(run.TierOf(second), "B");
  EXPECT_EQ(run.TierOf(fifth), "C");
  v1::GetTierHistoryRequest req;
  req.set_customer_id(second);
  v1::GetTierHistoryResponse history;
  ASSERT_TRUE(run.tiers().GetTierHistory(H::Context(H::kViewer).get(), req, &history).ok());
  ASSERT_GE(history.changes_size(), 1);
  EXPECT_EQ(history.changes(0).previous_tier(), "A");
  EXPECT_EQ(history.changes(0).reason_code(), "BOUNDARY_SHIFT");
  EXPECT_EQ(history.changes(0).trigger_event_id(), "d-deleted");
  // Delivered again, it changes nothing; a full run agrees with the incremental result.
  const int64_t changes = run.harness().CountRows("tier_history");
  ASSERT_TRUE(run.Deliver(testutil::EntryOf(deleted, deleted.event_id())).ok());
  EXPECT_EQ(run.harness().CountRows("tier_history"), changes);
  auto full = run.engine().ReclassifyAll("RECLASSIFY", nullptr);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(*full, 0);
}

TEST(WindowTest, AnOrderDatedAheadOfTheClockCountsOnceItIsDue) {
  // An ERP whose clock runs ahead, or one sending date-only values from UTC+8, dates an order a
  // few hours after our now. It counts from its date on: the periodic maintenance picks it up
  // without waiting for the customer's next event or a full reclassification.
  ClassificationInstance run;
  for (int i = 0; i < 20; ++i) {
    const std::string id = CustomerId(0x600 + i);
    ASSERT_TRUE(run.Deliver(Veteran(id)).ok());
    ASSERT_TRUE(
        run.Deliver(LedgerOrder(id, absl::StrCat("w", i), (i + 1) * 100000, kTestNow - 10 * kDay))
            .ok());
  }
  const std::string top = CustomerId(0x600 + 19), challenger = CustomerId(0x600 + 3);
  ASSERT_TRUE(
      run.Deliver(LedgerOrder(challenger, "ahead", 90000000, kTestNow + 6 * 3600 * 1000000LL))
          .ok());
  run.set_now(kTestNow + 7 * 3600 * 1000000LL);
  auto changed = run.engine().Maintain();
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(run.TierOf(challenger), "A");
  EXPECT_EQ(run.TierOf(top), "B");
  auto full = run.engine().ReclassifyAll("RECLASSIFY", nullptr);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(*full, 0);
}

TEST(MetricsScaleTest, OrdersOfTensOfMillionsKeepTheirMargin) {
  // 100,000,000.00 with a margin of 20,000,000.00, a quarter returned: margin × net is about
  // 10^19 minor units², beyond 64 bits.
  ClassificationInstance run;
  const std::string id = CustomerId(0x650);
  ASSERT_TRUE(run.Deliver(Veteran(id)).ok());
  ASSERT_TRUE(run.Deliver(LedgerOrder(id, "huge", 10000000000LL, kTestNow - 2 * kDay)).ok());
  ASSERT_TRUE(
      run.Deliver(LedgerCancellation(id, "huge-r", "huge", 2500000000LL, kTestNow - kDay)).ok());
  v1::GetTierRequest request;
  request.set_customer_id(id);
  v1::Tier tier;
  // The manager: viewers do not see revenue and margin factors.
  ASSERT_TRUE(run.tiers().GetTier(H::Context(H::kManager).get(), request, &tier).ok());
  std::map<std::string, std::string> values;
  for (const auto& f : tier.factors()) values[f.factor()] = f.value();
  EXPECT_EQ(values["REVENUE_12M"], "75000000.00");
  EXPECT_EQ(values["MARGIN_12M"], "15000000.00");
}

// ---------------------------------------------------------------------------------------------
// At-least-once delivery
// ---------------------------------------------------------------------------------------------

// Customers with orders, partial and full cancellations and payments over the last 13 months,
// in the order the credit service would publish them; each event carries the customer's
// credit rating after it, and some ratings fall to C (capping the tier) or recover later.
struct Scenario {
  std::vector<std::string> customers;
  std::vector<redis::StreamEntry> profile;
  std::vector<redis::StreamEntry> ledger;
};

Scenario RandomScenario(int customers, int events, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Scenario s;
  std::vector<std::string> rating(customers, "AA");
  std::vector<std::vector<std::string>> orders(customers);
  for (int c = 0; c < customers; ++c) {
    s.customers.push_back(CustomerId((seed << 16) + c));
    s.profile.push_back(Veteran(s.customers.back()));
  }
  const Micros start = kTestNow - 395 * kDay;
  for (int i = 0; i < events; ++i) {
    const int c = static_cast<int>(rng() % customers);
    const std::string& id = s.customers[c];
    const Micros at = start + (394 * kDay) * i / events;
    const std::string event_id = absl::StrCat("s", seed, "-", i);
    if (rng() % 4 == 0) {
      static const char* const kRatings[] = {"AA", "A", "BBB", "C"};
      rating[c] = kRatings[rng() % 4];
    }
    const int roll = static_cast<int>(rng() % 100);
    if (roll < 70 || orders[c].empty()) {
      const int64_t amount = 1000 * static_cast<int64_t>(1 + rng() % 2000);
      s.ledger.push_back(LedgerOrder(id, event_id, amount, at, rating[c]));
      orders[c].push_back(event_id);
    } else if (roll < 80) {
      const std::string& order = orders[c][rng() % orders[c].size()];
      const int64_t amount = roll < 75 ? 0 : 1000 * static_cast<int64_t>(1 + rng() % 500);
      s.ledger.push_back(LedgerCancellation(id, event_id, order, amount, at, rating[c]));
    } else {
      s.ledger.push_back(LedgerPayment(id, event_id, 100000, at, rating[c]));
    }
  }
  return s;
}

int64_t Rows(ClassificationInstance& run, const std::string& table) {
  return run.harness().CountRows(table);
}

TEST(DeliveryTest, RedeliveredAndShuffledEventsGiveTheTiersOfACleanRun) {
  // 24 customers: A = 2, B = 3 places; no hysteresis band by count at this size, so the
  // outcome depends on the events alone, not on the order they came in.
  const Scenario s = RandomScenario(24, 120, 7);
  ClassificationInstance clean;
  DeliverAll(clean, s.profile);
  DeliverAll(clean, s.ledger);
  const auto expected = clean.Outcomes();
  ASSERT_EQ(expected.size(), 24u);
  auto counts = clean.Counts();
  ASSERT_GE(counts["A"], 1);
  ASSERT_GE(counts["B"], 1);
  ASSERT_GE(counts["C"], 15);

  // Every entry twice in a row (a consumer that died between its commit and XACK each time):
  // nothing more happens than in the clean run, not even one more history row.
  ClassificationInstance twice;
  DeliverAll(twice, s.profile);
  for (const redis::StreamEntry& e : s.ledger) {
    ASSERT_TRUE(twice.Deliver(e).ok());
    ASSERT_TRUE(twice.Deliver(e).ok());
  }
  EXPECT_EQ(twice.Outcomes(), expected);
  EXPECT_EQ(twice.Metrics(), clean.Metrics());
  EXPECT_EQ(Rows(twice, "ledger_entries"), Rows(clean, "ledger_entries"));
  EXPECT_EQ(Rows(twice, "tier_history"), Rows(clean, "tier_history"));

  // Profile and ledger entries shuffled together, most of them delivered again later on.
  std::vector<redis::StreamEntry> all = s.profile;
  all.insert(all.end(), s.ledger.begin(), s.ledger.end());
  std::mt19937_64 rng(11);
  std::vector<redis::StreamEntry> shuffled = all;
  for (const redis::StreamEntry& e : all) {
    if (rng() % 4 != 0) shuffled.push_back(e);
  }
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  ClassificationInstance disordered;
  DeliverAll(disordered, shuffled);
  EXPECT_EQ(disordered.Outcomes(), expected);
  EXPECT_EQ(disordered.Metrics(), clean.Metrics()) << "credit figures of the newest event win";
  EXPECT_EQ(Rows(disordered, "ledger_entries"), Rows(clean, "ledger_entries"));
}

TEST(DeliveryTest, AConsumerKilledMidBatchLeavesTheTiersOfACleanRun) {
  const Scenario s = RandomScenario(24, 120, 13);
  ClassificationInstance clean;
  DeliverAll(clean, s.profile);
  DeliverAll(clean, s.ledger);

  ClassificationInstance run;
  DeliverAll(run, s.profile);
  redis::RedisClient& redis = run.harness().redis();
  const std::string stream = run.LedgerStream();
  for (const redis::StreamEntry& e : s.ledger) ASSERT_TRUE(redis.XAdd(stream, "*", e.fields).ok());
  auto address = redis::ParseRedisAddress(::tierwise::testing::RedisAddr());
  ASSERT_TRUE(address.ok());
  const std::string dead_letter = streams::DeadLetter(run.harness().prefix(), "classification");

  // Consumer "a" reads a batch of 50, commits 20 entries (the 20th without its XACK) and dies
  // with the other 30 read but not handled: 31 entries stay pending under its name.
  int seen = 0;
  {
    redis::StreamConsumer a(*address,
                            {.stream = stream,
                             .group = "classification",
                             .consumer = "classification-a",
                             .dead_letter_stream = dead_letter,
                             .batch_size = 50},
                            [&](const redis::StreamEntry& e) -> absl::Status {
                              ++seen;
                              if (seen < 20) return run.engine().OnLedgerEvent(e);
                              if (seen == 20) {
                                TW_RETURN_IF_ERROR(run.engine().OnLedgerEvent(e));
                              }
                              return absl::UnavailableError("killed");
                            });
    ASSERT_TRUE(a.EnsureGroup().ok());
    // UNAVAILABLE is transient: the round stops there and PollOnce reports it, acking nothing.
    auto handled = a.PollOnce();
    ASSERT_EQ(handled.status().code(), absl::StatusCode::kUnavailable) << handled.status();
    ASSERT_EQ(seen, 20);
  }
  auto pending = redis.Command({"XPENDING", stream, "classification"});
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->elements.at(0).integer, 31);

  // Consumer "b" starts at once: it reads the rest of the stream first and reclaims a's
  // entries only once they have been idle for a second, i.e. after newer ones.
  std::vector<std::string> order;
  redis::StreamConsumer b(*address,
                          {.stream = stream,
                           .group = "classification",
                           .consumer = "classification-b",
                           .dead_letter_stream = dead_letter,
                           .batch_size = 100,
                           .block = std::chrono::milliseconds(50),
                           .reclaim_idle = std::chrono::milliseconds(1000)},
                          [&](const redis::StreamEntry& e) {
                            order.push_back(e.Field("event_id"));
                            return run.engine().OnLedgerEvent(e);
                          });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < give_up) {
    auto handled = b.PollOnce();
    ASSERT_TRUE(handled.ok()) << handled.status();
    auto left = redis.Command({"XPENDING", stream, "classification"});
    ASSERT_TRUE(left.ok());
    if (order.size() >= s.ledger.size() - 19 && left->elements.at(0).integer == 0) break;
  }
  ASSERT_EQ(order.size(), s.ledger.size() - 19) << "b did not finish the stream";
  // b handled newer entries before it reclaimed a's: the stream was applied out of order.
  EXPECT_EQ(order.front(), s.ledger[50].Field("event_id"));
  const auto position = [&](const std::string& id) {
    return std::find(order.begin(), order.end(), id) - order.begin();
  };
  EXPECT_GT(position(s.ledger[19].Field("event_id")), position(s.ledger[50].Field("event_id")));
  EXPECT_LT(position(s.ledger[49].Field("event_id")), static_cast<int64_t>(order.size()));
  EXPECT_EQ(b.dead_lettered(), 0);

  EXPECT_EQ(run.Outcomes(), clean.Outcomes());
  EXPECT_EQ(run.Metrics(), clean.Metrics());
  EXPECT_EQ(Rows(run, "ledger_entries"), static_cast<int64_t>(s.ledger.size()));
}

// ---------------------------------------------------------------------------------------------
// Full reclassification = incremental result
// ---------------------------------------------------------------------------------------------

// 100 customers over 13 months of events, the clock moving with them and the periodic
// maintenance (window slides) running as it would; revenues cluster so that many customers
// sit inside the hysteresis band. Then a full reclassification must change no tier and no gate.
// (Scores and dimensions that move with time alone, such as the renewal rate, potential and
// behaviour, are refreshed by the customer's next event or by the periodic full run, so they
// are not compared here.)
void ExpectFullReclassificationChangesNothing(v1::CutoffBasis basis) {
  ClassificationInstance run(kTestNow - 400 * kDay);
  if (basis != v1::CUTOFF_BASIS_CUSTOMER_COUNT) {
    v1::CreateRuleSetRequest create;
    *create.mutable_rule_set() = DefaultRuleSet();
    create.mutable_rule_set()->set_name("ABC by revenue share (50 % / 80 %)");
    create.mutable_rule_set()->mutable_pareto()->set_basis(basis);
    create.mutable_rule_set()->mutable_pareto()->set_a_percent(50);
    create.mutable_rule_set()->mutable_pareto()->set_b_percent(80);
    v1::RuleSet created;
    ASSERT_TRUE(run.rules().CreateRuleSet(H::Context(H::kManager).get(), create, &created).ok());
    testutil::ActivateAndWait(
        run.rules(), run.tiers(), [] { return H::Context(H::kManager); }, created.version());
  }
  constexpr int kCustomers = 100;
  std::mt19937_64 rng(basis);
  std::vector<std::string> ids;
  std::vector<std::vector<std::string>> orders(kCustomers);
  for (int c = 0; c < kCustomers; ++c) {
    ids.push_back(CustomerId(0x5000 + c));
    ASSERT_TRUE(run.Deliver(CustomerCreated(ids[c], kTestNow - 1000 * kDay)).ok());
  }
  const int kEvents = 450;
  Micros last_maintenance = run.now();
  std::set<std::string> moved;
  for (int i = 0; i < kEvents; ++i) {
    const Micros at = kTestNow - 395 * kDay + 395 * kDay * i / kEvents;
    // The clock follows the events; the periodic maintenance runs every three days of it.
    if (at > last_maintenance + 3 * kDay) {
      run.set_now(at);
      auto slid = run.engine().Maintain();
      ASSERT_TRUE(slid.ok()) << slid.status();
      last_maintenance = at;
    }
    run.set_now(std::max(run.now(), at));
    // A few big customers, many in a narrow band of similar revenue.
    const int c = static_cast<int>(rng() % kCustomers);
    const std::string event_id = absl::StrCat("r", static_cast<int>(basis), "-", i);
    absl::Status s;
    if (rng() % 10 == 0 && !orders[c].empty()) {
      s = run.Deliver(
          LedgerCancellation(ids[c], event_id, orders[c][rng() % orders[c].size()], 0, at));
    } else {
      const int64_t amount = c < 8 ? 5000000 + static_cast<int64_t>(rng() % 5000000)
                                   : 100000 + static_cast<int64_t>(rng() % 20000);
      s = run.Deliver(LedgerOrder(ids[c], event_id, amount, at, rng() % 40 == 0 ? "C" : "AA"));
      orders[c].push_back(event_id);
    }
    ASSERT_TRUE(s.ok()) << s;
  }
  run.set_now(kTestNow);
  ASSERT_TRUE(run.engine().Maintain().ok());
  const auto incremental = run.Outcomes();
  ASSERT_EQ(incremental.size(), static_cast<size_t>(kCustomers));
  std::map<std::string, int> counts;
  for (const auto& [id, o] : incremental) ++counts[o.tier];
  ASSERT_GT(counts["A"], 0);
  ASSERT_GT(counts["B"], 0);
  ASSERT_GT(counts["C"], 0);
  // Tiers moved along the way (so the incremental path did real work).
  ASSERT_GT(Rows(run, "tier_history"), kCustomers);

  auto changed = run.engine().ReclassifyAll("RECLASSIFY", nullptr);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
  const auto full = run.Outcomes();
  for (const auto& [id, o] : incremental) {
    EXPECT_EQ(full.at(id).tier, o.tier) << id << ": full reclassification disagrees";
    EXPECT_EQ(full.at(id).gate, o.gate) << id << ": full reclassification disagrees";
  }
}

TEST(IncrementalEqualsFullTest, ByCustomerCountWithTheHysteresisBand) {
  ExpectFullReclassificationChangesNothing(v1::CUTOFF_BASIS_CUSTOMER_COUNT);
}

TEST(IncrementalEqualsFullTest, ByRevenueShareWithTheHysteresisBand) {
  ExpectFullReclassificationChangesNothing(v1::CUTOFF_BASIS_REVENUE_SHARE);
}

// ---------------------------------------------------------------------------------------------
// The tier cache with its Redis stopped and restarted
// ---------------------------------------------------------------------------------------------

// A redis-server of the test's own on a free loopback port, in a scratch directory; it can be
// stopped and started again on the same port (with or without its data).
class PrivateRedis {
 public:
  PrivateRedis()
      : dir_(std::filesystem::temp_directory_path() / ::tierwise::testing::UniqueName("tw_redis")) {
    std::filesystem::create_directories(dir_);
    port_ = FreePort();
  }
  ~PrivateRedis() {
    Kill();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  int port() const { return port_; }

  // Starts redis-server (loading the dump a SHUTDOWN SAVE left) and waits until it answers.
  bool Start() {
    const std::string port = absl::StrCat(port_);
    const std::string dir = dir_.string();
    std::vector<std::string> args = {
        "redis-server", "--port", port,    "--bind", "127.0.0.1", "--save",          "",
        "--appendonly", "no",     "--dir", dir,      "--logfile", dir + "/redis.log"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    redis::RedisClient probe({.host = "127.0.0.1", .port = port_});
    for (int i = 0; i < 100; ++i) {
      if (probe.Ping().ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // SHUTDOWN (SAVE keeps the data for the next Start) and waits for the process to end.
  void Stop(bool save) {
    if (pid_ <= 0) return;
    redis::RedisClient client({.host = "127.0.0.1", .port = port_});
    (void)client.Command({"SHUTDOWN", save ? "SAVE" : "NOSAVE"});
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  static int FreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class CacheFallbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(redis_.port(), 0);
    ASSERT_TRUE(redis_.Start()) << "cannot start redis-server";
    cache_ = std::make_unique<redis::RedisClient>(
        redis::RedisOptions{.host = "127.0.0.1",
                            .port = redis_.port(),
                            .connect_timeout = std::chrono::milliseconds(500),
                            .command_timeout = std::chrono::milliseconds(500)});
    run_ = std::make_unique<ClassificationInstance>(kTestNow, cache_.get());
  }

  v1::Tier Get(const std::string& id) {
    v1::GetTierRequest request;
    request.set_customer_id(id);
    v1::Tier tier;
    grpc::Status s = run_->tiers().GetTier(H::Context(H::kViewer).get(), request, &tier);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return tier;
  }

  // The tier the cache holds for `id`, "" when none.
  std::string Cached(const std::string& id) {
    auto r = cache_->Command({"HGET", run_->engine().CacheKey(id), "p"});
    if (!r.ok() || r->type != redis::Reply::Type::kString) return "";
    v1::Tier t;
    return t.ParseFromString(r->str) ? t.tier() : "?";
  }

  // Twenty customers; `top` earns the most and is A.
  void Seed() {
    for (int i = 0; i < 20; ++i) {
      const std::string id = CustomerId(0x700 + i);
      ASSERT_TRUE(run_->Deliver(Veteran(id)).ok());
      ASSERT_TRUE(
          run_->Deliver(LedgerOrder(id, absl::StrCat("c", i), (i + 1) * 100000, kTestNow - kDay))
              .ok());
    }
  }

  PrivateRedis redis_;
  std::unique_ptr<redis::RedisClient> cache_;
  std::unique_ptr<ClassificationInstance> run_;
  const std::string top_ = CustomerId(0x700 + 19);
  const std::string challenger_ = CustomerId(0x700 + 3);
};

// Polls `done` every 10 ms for up to `seconds`.
template <typename Fn>
bool Eventually(Fn&& done, double seconds = 5) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST_F(CacheFallbackTest, TiersAreServedInProcessAndFollowEveryWriteOfTheCache) {
  redis::TrackedCache* local = run_->local_cache();
  ASSERT_NE(local, nullptr);
  ASSERT_TRUE(Eventually([&] { return local->coherent(); })) << "Redis tracks the cache";
  Seed();
  EXPECT_EQ(Get(top_).tier(), "A");  // read from Redis, kept in process
  const uint64_t local_hits = local->hits();
  EXPECT_EQ(Get(top_).tier(), "A");
  EXPECT_EQ(local->hits(), local_hits + 1) << "the second lookup needs no round trip";

  // Another replica writes the cache entry (here: a K tier): Redis's invalidation reaches us.
  v1::Tier other = Get(top_);
  other.set_tier("K");
  ASSERT_TRUE(cache_
                  ->Command({"HSET", run_->engine().CacheKey(top_), "v", "0", "p",
                             other.SerializeAsString()})
                  .ok());
  EXPECT_TRUE(Eventually([&] { return Get(top_).tier() == "K"; }, 2))
      << "a write by another process is seen";

  // Our own change is seen by the very next lookup, without waiting for Redis.
  ASSERT_TRUE(run_->Deliver(LedgerOrder(challenger_, "big", 90000000, kTestNow)).ok());
  EXPECT_EQ(Get(challenger_).tier(), "A");
  EXPECT_EQ(Get(top_).tier(), "B");

  // Redis gone: the copy in process is dropped, not served, until Redis tracks it again.
  redis_.Stop(/*save=*/false);
  ASSERT_TRUE(Eventually([&] { return !local->coherent(); }));
  EXPECT_EQ(local->size(), 0u);
  const uint64_t hits_down = local->hits();
  EXPECT_EQ(Get(top_).tier(), "B");
  EXPECT_EQ(local->hits(), hits_down);
  ASSERT_TRUE(redis_.Start());
  ASSERT_TRUE(Eventually([&] { return local->coherent(); }));
  // The first lookup refills Redis from PostgreSQL; once that write's invalidation has passed,
  // lookups are answered in process again.
  EXPECT_TRUE(Eventually([&] { return Get(top_).tier() == "B" && local->hits() > hits_down; }, 2));
}

TEST_F(CacheFallbackTest, GetTierAnswersFromPostgresWhileRedisIsDownAndRefillsTheCache) {
  Seed();
  EXPECT_EQ(Cached(top_), "A") << "written through on the change";
  const int64_t hits = run_->engine().cache_hits();
  EXPECT_EQ(Get(top_).tier(), "A");
  EXPECT_EQ(run_->engine().cache_hits(), hits + 1);

  redis_.Stop(/*save=*/false);
  // The in-process copy is bypassed once its tracking connection has seen Redis go.
  ASSERT_TRUE(Eventually([&] { return !run_->local_cache()->coherent(); }));
  const int64_t misses = run_->engine().cache_misses();
  EXPECT_EQ(Get(top_).tier(), "A");
  EXPECT_EQ(run_->engine().cache_misses(), misses + 1) << "answered by PostgreSQL";
  // Events keep being applied without Redis: the challenger's big order takes A.
  ASSERT_TRUE(run_->Deliver(LedgerOrder(challenger_, "big", 90000000, kTestNow)).ok());
  EXPECT_EQ(Get(challenger_).tier(), "A");
  EXPECT_EQ(Get(top_).tier(), "B");

  ASSERT_TRUE(redis_.Start());
  EXPECT_EQ(Cached(top_), "") << "a fresh Redis holds nothing";
  EXPECT_EQ(Get(top_).tier(), "B");
  EXPECT_EQ(Cached(top_), "B") << "the miss refilled the cache";
  const int64_t hits_after = run_->engine().cache_hits();
  EXPECT_EQ(Get(top_).tier(), "B");
  EXPECT_EQ(run_->engine().cache_hits(), hits_after + 1) << "served from the refilled cache";
}

TEST_F(CacheFallbackTest, ARedisRestartedWithOldDataDoesNotServeTiersThatChangedMeanwhile) {
  // Redis persists its data (RDB/AOF) in production: when it comes back after an outage it
  // still holds the tiers from before, and the write-throughs it missed must not be lost.
  Seed();
  EXPECT_EQ(Get(top_).tier(), "A");
  EXPECT_EQ(Cached(top_), "A");
  redis_.Stop(/*save=*/true);
  ASSERT_TRUE(run_->Deliver(LedgerOrder(challenger_, "big", 90000000, kTestNow)).ok());
  ASSERT_TRUE(redis_.Start());
  ASSERT_EQ(Cached(top_), "A") << "the restarted Redis has its old data";
  EXPECT_EQ(Get(top_).tier(), "B");
  EXPECT_EQ(Get(challenger_).tier(), "A");
  EXPECT_EQ(Cached(top_), "B");
}

// Day-one adoption: an archive created today for a customer whose history was imported counts
// its relationship from the earliest of the first order in the ledger, the first transaction
// date and the creation, so the largest customer is neither held at C by probation nor new.
TEST(DayOneAdoptionTest, ImportedHistoryCountsFromTheFirstOrder) {
  auto shanghai = time::BusinessCalendar::Load("Asia/Shanghai");
  ASSERT_TRUE(shanghai.ok()) << shanghai.status();
  ClassificationInstance c(kTestNow, nullptr, *shanghai);
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrFormat("00000000-0000-0000-0000-%012d", i + 1);
    ASSERT_TRUE(c.Deliver(CustomerCreated(id, kTestNow - 900 * kDay)).ok());
    ASSERT_TRUE(
        c.Deliver(LedgerOrder(id, absl::StrCat("e", i), 1000 + i, kTestNow - 30 * kDay)).ok());
  }
  const std::string imported = "00000000-0000-0000-0000-0000000000aa";
  ASSERT_TRUE(c.Deliver(CustomerCreated(imported, kTestNow - 3600LL * 1000000)).ok());
  ASSERT_TRUE(c.Deliver(LedgerOrder(imported, "imp-1", 50000, kTestNow - 200 * kDay)).ok());
  ASSERT_TRUE(c.Deliver(LedgerOrder(imported, "imp-2", 50000, kTestNow - 20 * kDay)).ok());
  v1::GetTierRequest request;
  request.set_customer_id(imported);
  v1::Tier tier;
  ASSERT_TRUE(c.tiers().GetTier(H::Context(H::kAdmin).get(), request, &tier).ok());
  EXPECT_EQ(tier.tier(), "A");
  EXPECT_EQ(tier.relationship(), "developing");  // 200 days: past six months, under a year
  EXPECT_NE(tier.behaviour(), "new");
  EXPECT_EQ(c.Outcomes()[imported].gate, "");

  // The first transaction date alone (no orders yet) also counts: 2 years back is long-term.
  const std::string dated = "00000000-0000-0000-0000-0000000000bb";
  const absl::CivilDay two_years_back = shanghai->DayOf(kTestNow) - 730;
  ASSERT_TRUE(c.Deliver(CustomerImported(dated, kTestNow - 3600LL * 1000000, two_years_back)).ok());
  request.set_customer_id(dated);
  ASSERT_TRUE(c.tiers().GetTier(H::Context(H::kAdmin).get(), request, &tier).ok());
  EXPECT_EQ(tier.relationship(), "long_term");
}

// Incremental metrics: after every new event, the metrics stored for its customer (from its
// stored ledger state, which the event updated without reading the ledger) equal those computed
// from the customer's whole ledger at that moment. Random sequences over two and a half years, in
// the Shanghai calendar: orders inside and far outside the window, a few dated ahead of the clock,
// partial and full cancellations (some before their order, some of orders long gone),
// redeliveries, and the periodic maintenance.
TEST(IncrementalMetricsTest, StoredMetricsEqualTheWholeLedgerAfterEveryEvent) {
  auto shanghai = time::BusinessCalendar::Load("Asia/Shanghai");
  ASSERT_TRUE(shanghai.ok()) << shanghai.status();
  ClassificationInstance run(kTestNow - 900 * kDay, nullptr, *shanghai);
  std::mt19937_64 rng(2024);
  std::vector<std::string> ids;
  for (int c = 0; c < 4; ++c) {
    ids.push_back(CustomerId(0x9000 + c));
    ASSERT_TRUE(run.Deliver(CustomerCreated(ids[c], kTestNow - 1200 * kDay)).ok());
  }
  std::vector<std::vector<std::string>> orders(ids.size());  // order event ids per customer
  std::vector<redis::StreamEntry> delivered;
  int checked = 0;
  for (int i = 0; i < 500; ++i) {
    // The clock moves on by up to three days (and some seconds), maintenance now and then.
    run.set_now(run.now() + static_cast<Micros>(rng() % (3 * 86400)) * 1000000);
    if (i % 25 == 0) ASSERT_TRUE(run.engine().Maintain().ok());
    const size_t c = rng() % ids.size();
    const std::string event_id = absl::StrCat("p-", i);
    redis::StreamEntry entry;
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 10 && !delivered.empty()) {
      entry = delivered[rng() % delivered.size()];  // redelivered: changes nothing
    } else if (dice < 25 && !orders[c].empty()) {
      const std::string& order = orders[c][rng() % orders[c].size()];
      const int64_t amount = rng() % 3 == 0 ? 0 : static_cast<int64_t>(rng() % 40000);
      entry = LedgerCancellation(ids[c], event_id, order, amount,
                                 run.now() - static_cast<Micros>(rng() % 30) * kDay);
    } else if (dice < 30) {
      // A cancellation ahead of its order, which comes later as "<id>-late".
      entry = LedgerCancellation(ids[c], event_id, event_id + "-late", 0, run.now());
      orders[c].push_back(event_id + "-late");
      delivered.push_back(LedgerOrder(ids[c], event_id + "-late", 50000,
                                      run.now() - static_cast<Micros>(rng() % 200) * kDay));
    } else {
      // Mostly recent orders; some from long ago (an imported history); a few ahead of the
      // clock by some hours.
      Micros at = run.now() - static_cast<Micros>(rng() % 120) * kDay;
      if (dice > 90) at = run.now() - static_cast<Micros>(400 + rng() % 400) * kDay;
      if (dice == 30) at = run.now() + static_cast<Micros>(rng() % 20) * 3600 * 1000000;
      at += static_cast<Micros>(rng() % 86400) * 1000000;
      entry = LedgerOrder(ids[c], event_id, 10000 + static_cast<int64_t>(rng() % 90000), at,
                          rng() % 2 == 0 ? "AA" : "A");
      orders[c].push_back(event_id);
    }
    bool fresh = false;
    ASSERT_TRUE(run.harness()
                    .pool()
                    .Transact([&](pqxx::work& tx) {
                      fresh = tx.exec_params("SELECT 1 FROM ledger_entries WHERE event_id = $1",
                                             entry.Field("event_id"))
                                  .empty();
                      return absl::OkStatus();
                    })
                    .ok());
    ASSERT_TRUE(run.Deliver(entry).ok()) << entry.Field("event_id");
    delivered.push_back(entry);
    if (!fresh) continue;
    // The customer's stored metrics against its whole ledger, now.
    events::v1::LedgerEvent event;
    ASSERT_TRUE(event.ParseFromString(entry.Field("payload")));
    const std::string& id = event.customer_id();
    std::map<std::string, CustomerMetrics> stored;
    std::vector<LedgerEntry> ledger;
    ASSERT_TRUE(run.harness()
                    .pool()
                    .Transact([&](pqxx::work& tx) {
                      stored = store::LoadMetricsOf(tx, {id});
                      ledger = store::LoadLedger(tx, id);
                      return absl::OkStatus();
                    })
                    .ok());
    ASSERT_EQ(stored.count(id), 1u);
    const CustomerMetrics& got = stored[id];
    const CustomerMetrics want = ComputeMetrics(ledger, run.now(), *shanghai);
    const std::string at = absl::StrCat("event ", i, " (", entry.Field("event_id"), ")");
    EXPECT_EQ(got.revenue_12m, want.revenue_12m) << at;
    EXPECT_EQ(got.margin_12m, want.margin_12m) << at;
    EXPECT_EQ(got.orders_12m, want.orders_12m) << at;
    EXPECT_EQ(got.revenue_last_6m, want.revenue_last_6m) << at;
    EXPECT_EQ(got.revenue_prev_6m, want.revenue_prev_6m) << at;
    EXPECT_EQ(got.renewal_permille, want.renewal_permille) << at;
    EXPECT_EQ(got.first_order_at, want.first_order_at) << at;
    EXPECT_EQ(got.last_order_at, want.last_order_at) << at;
    EXPECT_EQ(got.next_window_exit, want.next_window_exit) << at;
    ++checked;
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(checked, 300);
  // The stored state followed every event: each customer's ledger was read once, when its
  // state was first built, never again.
  EXPECT_LE(run.engine().ledger_replays(), static_cast<int64_t>(ids.size()));
}

}  // namespace
}  // namespace tierwise::classification
