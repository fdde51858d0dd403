#include "services/classification/ledger_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"

namespace tierwise::classification {
namespace {

constexpr Micros kNow = 1767225600LL * 1000000;  // 2026-01-01T00:00:00Z
constexpr Micros kHour = 3600LL * 1000000;

time::BusinessCalendar Shanghai() {
  auto calendar = time::BusinessCalendar::Load("Asia/Shanghai");
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  return calendar.ok() ? *calendar : time::BusinessCalendar::Utc();
}

LedgerEntry Order(std::string id, std::string no, int64_t amount, int64_t margin, Micros at) {
  return {std::move(id), LedgerEntry::Kind::kOrder, std::move(no), amount, margin, at};
}

LedgerEntry Cancel(std::string id, std::string no, int64_t amount, Micros at) {
  return {std::move(id), LedgerEntry::Kind::kCancellation, std::move(no), amount, 0, at};
}

}  // namespace

// Readable failures: the days and what was pruned.
void PrintTo(const LedgerState& s, std::ostream* os) {
  *os << "pruned before " << s.pruned_before << " first " << s.pruned_first << " last "
      << s.pruned_last << " days";
  for (const auto& [day, d] : s.days) {
    *os << " " << day << "{" << d.revenue << "," << d.margin << "," << d.counted << "," << d.orders
        << "," << d.first_at << "," << d.last_at << "}";
  }
}

void PrintTo(const OrderFact& o, std::ostream* os) {
  *os << o.document_no << "{" << o.order_event_id << "," << o.occurred_at << "," << o.amount << ","
      << o.margin << "," << o.partial_cancelled << "," << o.whole_cancelled << "}";
}

namespace {

void ExpectSameMetrics(const CustomerMetrics& got, const CustomerMetrics& want,
                       const std::string& where) {
  EXPECT_EQ(got.revenue_12m, want.revenue_12m) << where;
  EXPECT_EQ(got.margin_12m, want.margin_12m) << where;
  EXPECT_EQ(got.orders_12m, want.orders_12m) << where;
  EXPECT_EQ(got.revenue_last_6m, want.revenue_last_6m) << where;
  EXPECT_EQ(got.revenue_prev_6m, want.revenue_prev_6m) << where;
  EXPECT_EQ(got.renewal_permille, want.renewal_permille) << where;
  EXPECT_EQ(got.first_order_at, want.first_order_at) << where;
  EXPECT_EQ(got.last_order_at, want.last_order_at) << where;
  EXPECT_EQ(got.next_window_exit, want.next_window_exit) << where;
  EXPECT_EQ(got.out_of_range, want.out_of_range) << where;
}

// Random ledgers fed shuffled, duplicated and split into batches at a moving clock, the way the
// event path applies them (each batch: new entries applied, then the state pruned and stored):
// the state, the order rows and the metrics equal a replay of the whole ledger, and the
// metrics equal ComputeMetrics, at the end and later.
TEST(LedgerStateTest, AnyArrivalOrderEqualsTheReplayOfTheWholeLedger) {
  const time::BusinessCalendar calendar = Shanghai();
  int incremental = 0, replays = 0;
  for (uint64_t seed = 1; seed <= 1500; ++seed) {
    std::mt19937_64 rng(seed);
    const auto pick = [&rng](int64_t n) { return static_cast<int64_t>(rng() % n); };
    // The ledger: orders over three years (a few dated ahead, some numbers used twice),
    // cancellations (whole, partial, negative, before their order, of unknown orders), payments.
    std::vector<LedgerEntry> ledger;
    const int size = 1 + static_cast<int>(pick(seed % 10 == 0 ? 400 : 40));
    const bool huge = seed % 50 == 0;  // near the per-document maximum: sums pass 64 bits
    for (int i = 0; i < size; ++i) {
      const std::string id = absl::StrCat("e", i);
      // Order numbers are mostly new; one in twenty is used again. Cancellations name any
      // number, also one whose order comes later or never.
      std::string no = absl::StrCat("o", pick(20) == 0 ? pick(size) : i);
      Micros at = kNow - pick(3 * 365) * kDay - pick(24) * kHour;
      if (pick(20) == 0) at = kNow + pick(48) * kHour;  // ahead of the clock
      const int dice = static_cast<int>(pick(100));
      if (dice < 55) {
        const int64_t amount = huge ? 1000000000000000LL - pick(1000) : 1 + pick(1000000);
        ledger.push_back(Order(id, no, pick(30) == 0 ? 0 : amount, pick(amount + 1), at));
      } else if (dice < 85) {
        const int64_t amount = pick(3) == 0 ? 0 : (pick(10) == 0 ? -pick(500) : pick(600000));
        ledger.push_back(Cancel(id, absl::StrCat("o", pick(size)), amount, at));
      } else {
        ledger.push_back(
            {id, LedgerEntry::Kind::kPayment, absl::StrCat("p", i), pick(9999), 0, at});
      }
    }
    // Arrival: shuffled, with redeliveries, in batches at a clock moving from kNow.
    std::vector<LedgerEntry> arrival = ledger;
    for (int d = 0; d < size / 5; ++d) arrival.push_back(ledger[pick(size)]);
    std::shuffle(arrival.begin(), arrival.end(), rng);
    std::map<std::string, OrderFact> orders;
    LedgerState state;
    std::set<std::string> stored;
    std::vector<LedgerEntry> seen;
    Micros now = kNow;
    for (size_t start = 0; start < arrival.size();) {
      if (start > 0) now += pick(4) * kDay + pick(3600) * 1000000;
      const size_t end = std::min(arrival.size(), start + 1 + pick(8));
      bool replay = false;
      for (size_t i = start; i < end; ++i) {
        const LedgerEntry& e = arrival[i];
        if (!stored.insert(e.event_id).second) continue;  // the store's primary key
        seen.push_back(e);
        if (replay || e.kind == LedgerEntry::Kind::kPayment) continue;
        OrderFact& row = orders[e.document_no];
        if (!ApplyLedgerEntry(e, calendar, &row, &state)) replay = true;
      }
      if (replay) {
        state = ReplayLedger(seen, now, calendar, &orders);
        ++replays;
      } else {
        ++incremental;
      }
      PruneLedgerState(now, calendar, &state);
      start = end;
    }
    std::map<std::string, OrderFact> replayed_orders;
    const LedgerState replayed = ReplayLedger(ledger, now, calendar, &replayed_orders);
    const std::string where = absl::StrCat("seed ", seed);
    ASSERT_EQ(state, replayed) << where;
    ASSERT_EQ(orders, replayed_orders) << where;
    for (const Micros later : {now, now + 45 * kDay, now + 200 * kDay, now + 366 * kDay}) {
      LedgerState aged = state;
      PruneLedgerState(later, calendar, &aged);
      ExpectSameMetrics(MetricsOfState(aged, later, calendar),
                        ComputeMetrics(ledger, later, calendar),
                        absl::StrCat(where, " at +", (later - now) / kDay, " days"));
    }
    const std::optional<LedgerState> decoded = DecodeLedgerState(EncodeLedgerState(state));
    ASSERT_TRUE(decoded.has_value()) << where;
    ASSERT_EQ(*decoded, state) << where;
    if (::testing::Test::HasFailure()) break;
  }
  // Both paths were exercised, the incremental one far more.
  EXPECT_GT(incremental, 10 * replays);
  EXPECT_GT(replays, 20);
}

TEST(LedgerStateTest, AnEarlierOrderWithTheSameNumberAsksForAReplay) {
  const time::BusinessCalendar calendar = time::BusinessCalendar::Utc();
  LedgerState state;
  OrderFact row;
  ASSERT_TRUE(
      ApplyLedgerEntry(Order("b", "o1", 500, 100, kNow - 5 * kDay), calendar, &row, &state));
  // A later order event with the number changes nothing.
  const LedgerState before = state;
  ASSERT_TRUE(
      ApplyLedgerEntry(Order("c", "o1", 900, 100, kNow - 2 * kDay), calendar, &row, &state));
  EXPECT_EQ(state, before);
  EXPECT_EQ(row.order_event_id, "b");
  // An earlier one replaces the counted order: the state cannot follow it alone.
  EXPECT_FALSE(
      ApplyLedgerEntry(Order("a", "o1", 700, 100, kNow - 9 * kDay), calendar, &row, &state));
  const std::vector<LedgerEntry> all = {Order("b", "o1", 500, 100, kNow - 5 * kDay),
                                        Order("c", "o1", 900, 100, kNow - 2 * kDay),
                                        Order("a", "o1", 700, 100, kNow - 9 * kDay)};
  EXPECT_EQ(MetricsOfState(ReplayLedger(all, kNow, calendar), kNow, calendar).revenue_12m, 700);
}

TEST(LedgerStateTest, CancellationsBeforeTheirOrderAndTheMarginShare) {
  const time::BusinessCalendar calendar = time::BusinessCalendar::Utc();
  LedgerState state;
  OrderFact row;
  ASSERT_TRUE(ApplyLedgerEntry(Cancel("c1", "o1", 250, kNow - kDay), calendar, &row, &state));
  EXPECT_TRUE(state.days.empty());  // nothing to reduce yet
  ASSERT_TRUE(
      ApplyLedgerEntry(Order("o", "o1", 1000, 300, kNow - 3 * kDay), calendar, &row, &state));
  CustomerMetrics m = MetricsOfState(state, kNow, calendar);
  EXPECT_EQ(m.revenue_12m, 750);
  EXPECT_EQ(m.margin_12m, 225);
  EXPECT_EQ(m.orders_12m, 1);
  ASSERT_TRUE(ApplyLedgerEntry(Cancel("c2", "o1", 0, kNow), calendar, &row, &state));
  m = MetricsOfState(state, kNow, calendar);
  EXPECT_EQ(m.revenue_12m, 0);
  EXPECT_EQ(m.orders_12m, 0);
  EXPECT_EQ(m.last_order_at, kNow - 3 * kDay);  // a cancelled order is still the last order
}

TEST(LedgerStateTest, AnOrderCountsFromItsLocalDay) {
  const time::BusinessCalendar calendar = Shanghai();
  // kNow is 08:00 in Shanghai; an order at 20:00 the same local day counts already, one at
  // 01:00 the next local day from that day's 00:00.
  LedgerState state;
  OrderFact a, b;
  ASSERT_TRUE(ApplyLedgerEntry(Order("a", "o1", 100, 0, kNow + 12 * kHour), calendar, &a, &state));
  ASSERT_TRUE(ApplyLedgerEntry(Order("b", "o2", 40, 0, kNow + 17 * kHour), calendar, &b, &state));
  const CustomerMetrics m = MetricsOfState(state, kNow, calendar);
  EXPECT_EQ(m.revenue_12m, 100);
  EXPECT_EQ(m.next_window_exit, kNow + 16 * kHour);  // local 00:00 of the next day
  EXPECT_EQ(MetricsOfState(state, kNow + 16 * kHour, calendar).revenue_12m, 140);
}

TEST(LedgerStateTest, PrunedDaysKeepTheFirstAndLastOrder) {
  const time::BusinessCalendar calendar = time::BusinessCalendar::Utc();
  const std::vector<LedgerEntry> ledger = {Order("a", "o1", 100, 0, kNow - 900 * kDay),
                                           Order("b", "o2", 100, 0, kNow - 700 * kDay),
                                           Order("c", "o3", 100, 0, kNow - 10 * kDay)};
  const LedgerState state = ReplayLedger(ledger, kNow, calendar);
  EXPECT_EQ(state.days.size(), 1u);
  EXPECT_EQ(state.pruned_first, kNow - 900 * kDay);
  EXPECT_EQ(state.pruned_last, kNow - 700 * kDay);
  // A late order of a pruned day only moves the first or last order.
  LedgerState late = state;
  OrderFact row;
  ASSERT_TRUE(
      ApplyLedgerEntry(Order("d", "o4", 100, 0, kNow - 1000 * kDay), calendar, &row, &late));
  EXPECT_EQ(late.days, state.days);
  EXPECT_EQ(late.pruned_first, kNow - 1000 * kDay);
  const CustomerMetrics m = MetricsOfState(late, kNow, calendar);
  EXPECT_EQ(m.first_order_at, kNow - 1000 * kDay);
  EXPECT_EQ(m.revenue_12m, 100);
}

TEST(LedgerStateTest, DecodeRefusesWhatItDidNotWrite) {
  LedgerState state;
  state.days[absl::CivilDay(2026, 1, 1)] = {500, 50, 1, 2, kNow, kNow + kHour};
  const std::string bytes = EncodeLedgerState(state);
  EXPECT_EQ(DecodeLedgerState(bytes), state);
  EXPECT_FALSE(DecodeLedgerState("").has_value());
  EXPECT_FALSE(DecodeLedgerState(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(DecodeLedgerState(bytes + "x").has_value());
  EXPECT_FALSE(DecodeLedgerState(std::string("\x07", 1) + bytes.substr(1)).has_value());
}

}  // namespace
}  // namespace tierwise::classification
