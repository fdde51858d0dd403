#include "services/cli/demo_ledger.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace tierwise::demo {
namespace {

namespace v1 = ::tierwise::credit::v1;

DemoLedgerOptions Options(int customers, int months, absl::CivilDay end, uint64_t seed = 42) {
  DemoLedgerOptions options;
  options.seed = seed;
  options.customers = customers;
  options.months = months;
  options.end = end;
  return options;
}

const std::string& IdOf(const v1::LedgerEventInput& e) {
  return e.has_order()          ? e.order().event_id()
         : e.has_cancellation() ? e.cancellation().event_id()
                                : e.payment().event_id();
}

int64_t SecondsOf(const v1::LedgerEventInput& e) {
  return e.has_order()          ? e.order().occurred_at().seconds()
         : e.has_cancellation() ? e.cancellation().occurred_at().seconds()
                                : e.payment().occurred_at().seconds();
}

std::map<std::string, std::string> ById(const std::vector<v1::LedgerEventInput>& events) {
  std::map<std::string, std::string> by_id;
  for (const auto& e : events) by_id[IdOf(e)] = e.SerializeAsString();
  return by_id;
}

int64_t Seconds(absl::CivilDay day) {
  return absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone()));
}

TEST(DemoLedgerTest, SameOptionsGiveIdenticalEvents) {
  const DemoLedgerOptions options = Options(60, 12, absl::CivilDay(2026, 11, 23));
  std::vector<v1::LedgerEventInput> a = GenerateDemoLedger(options);
  std::vector<v1::LedgerEventInput> b = GenerateDemoLedger(options);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 300u);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
  }
  // Another seed: another ledger, sharing no event id and no order number.
  std::vector<v1::LedgerEventInput> other =
      GenerateDemoLedger(Options(60, 12, absl::CivilDay(2026, 11, 23), 43));
  std::set<std::string> ids;
  std::set<std::string> orders;
  for (const auto& e : a) {
    ids.insert(IdOf(e));
    if (e.has_order()) orders.insert(e.order().order_no());
  }
  for (const auto& e : other) {
    EXPECT_FALSE(ids.contains(IdOf(e))) << IdOf(e);
    if (e.has_order()) {
      EXPECT_FALSE(orders.contains(e.order().order_no())) << e.order().order_no();
    }
  }
}

TEST(DemoLedgerTest, ALaterEndOnlyAddsEventsAndNeverChangesOne) {
  const std::map<std::string, std::string> early =
      ById(GenerateDemoLedger(Options(40, 12, absl::CivilDay(2026, 6, 10))));
  const std::map<std::string, std::string> late =
      ById(GenerateDemoLedger(Options(40, 12, absl::CivilDay(2026, 6, 20))));
  ASSERT_GT(late.size(), early.size());
  for (const auto& [id, bytes] : early) {
    auto it = late.find(id);
    ASSERT_NE(it, late.end()) << id;
    EXPECT_EQ(it->second, bytes) << id;
  }
  // Fewer months or fewer customers: a subset as well.
  for (const auto& [id, bytes] :
       ById(GenerateDemoLedger(Options(20, 3, absl::CivilDay(2026, 6, 20))))) {
    auto it = late.find(id);
    ASSERT_NE(it, late.end()) << id;
    EXPECT_EQ(it->second, bytes) << id;
  }
}

TEST(DemoLedgerTest, EventsAreWellFormedAndNothingLiesAfterTheEnd) {
  const absl::CivilDay end(2026, 11, 23);
  std::vector<v1::LedgerEventInput> events = GenerateDemoLedger(Options(200, 12, end));
  std::set<std::string> ids;
  std::set<std::string> orders;
  std::map<std::string, int64_t> net;   // order_no -> amount - cancelled
  std::map<std::string, int64_t> paid;  // order_no -> named payments
  int cancellations = 0;
  int returns = 0;
  int unnamed_payments = 0;
  for (const auto& e : events) {
    EXPECT_TRUE(ids.insert(IdOf(e)).second) << "repeated " << IdOf(e);
    EXPECT_TRUE(absl::StartsWith(IdOf(e), "demo-42-ERP-C")) << IdOf(e);
    EXPECT_LT(SecondsOf(e), Seconds(end + 1)) << IdOf(e);
    EXPECT_GE(SecondsOf(e), Seconds(absl::CivilDay(2025, 12, 1))) << IdOf(e);
    if (e.has_order()) {
      const v1::OrderEvent& o = e.order();
      EXPECT_GT(o.amount().minor_units(), 0);
      EXPECT_EQ(o.amount().currency(), "CNY");
      EXPECT_GT(o.margin().minor_units(), 0);
      EXPECT_LT(o.margin().minor_units(), o.amount().minor_units());
      EXPECT_NE(o.terms().type(), v1::PAYMENT_TERMS_TYPE_UNSPECIFIED);
      EXPECT_FALSE(o.product_line().empty());
      EXPECT_TRUE(orders.insert(o.order_no()).second);
      net[o.order_no()] += o.amount().minor_units();
    } else if (e.has_cancellation()) {
      const v1::CancellationEvent& c = e.cancellation();
      ASSERT_TRUE(orders.contains(c.order_no())) << "cancellation before its order";
      if (c.is_return()) {
        ++returns;
        EXPECT_GT(c.amount().minor_units(), 0);
        net[c.order_no()] -= c.amount().minor_units();
      } else {
        ++cancellations;
        EXPECT_FALSE(c.has_amount());
        net[c.order_no()] = 0;
      }
    } else {
      const v1::PaymentEvent& p = e.payment();
      EXPECT_GT(p.amount().minor_units(), 0);
      if (p.order_no().empty()) {
        ++unnamed_payments;
      } else {
        paid[p.order_no()] += p.amount().minor_units();
      }
    }
  }
  EXPECT_GT(cancellations, 0);
  EXPECT_GT(returns, 0);
  EXPECT_GT(unnamed_payments, 0);
  for (const auto& [order_no, amount] : paid) {
    EXPECT_LE(amount, net[order_no]) << order_no << " is paid more than it is worth";
  }
}

// The payment behaviour the demo promises: most orders due long ago are paid in full, some
// late, and a few never (so that the 90+ bucket is not empty).
TEST(DemoLedgerTest, MostPayOnTimeSomeLateAFewNever) {
  const absl::CivilDay end(2026, 11, 23);
  std::vector<v1::LedgerEventInput> events = GenerateDemoLedger(Options(200, 12, end));
  // Payments carry their order's event id: "<order id>-p1".
  std::map<std::string, int64_t> order_day;  // order event id -> occurred (seconds)
  std::set<std::string> cancelled;
  std::map<std::string, int64_t> last_payment;
  for (const auto& e : events) {
    const std::string& id = IdOf(e);
    if (e.has_order()) {
      order_day[id] = SecondsOf(e);
    } else if (e.has_cancellation()) {
      if (!e.cancellation().has_amount()) cancelled.insert(id.substr(0, id.size() - 2));
    } else {
      const std::string order_id = id.substr(0, id.rfind("-p"));
      last_payment[order_id] = std::max(last_payment[order_id], SecondsOf(e));
    }
  }
  // Orders older than 200 days: whatever their terms (at most ~75 days), they are due 120+
  // days ago.
  const int64_t old = Seconds(end) - 200 * 86400;
  int old_orders = 0;
  int never_paid = 0;
  int paid_after_90_days = 0;
  for (const auto& [id, day] : order_day) {
    if (day > old || cancelled.contains(id)) continue;
    ++old_orders;
    auto paid = last_payment.find(id);
    if (paid == last_payment.end()) {
      ++never_paid;
    } else if (paid->second - day > 90 * 86400) {
      ++paid_after_90_days;
    }
  }
  ASSERT_GT(old_orders, 100);
  EXPECT_GT(never_paid, 0) << "nobody leaves anything unpaid";
  EXPECT_LT(never_paid * 100 / old_orders, 10) << never_paid << " of " << old_orders;
  EXPECT_GT(paid_after_90_days, 0) << "nobody pays late";
  EXPECT_LT(paid_after_90_days * 100 / old_orders, 20)
      << paid_after_90_days << " of " << old_orders;
}

TEST(DemoLedgerTest, ProspectsAndFormerCustomersHaveNoLedger) {
  const DemoLedgerOptions options = Options(200, 12, absl::CivilDay(2026, 11, 23));
  const std::vector<DemoCustomer> customers = GenerateDemoCustomers(42, 200);
  int without = 0;
  for (size_t i = 0; i < customers.size(); ++i) {
    const auto stage = customers[i].customer.lifecycle_stage();
    std::vector<v1::LedgerEventInput> events =
        GenerateCustomerLedger(options, customers[i], static_cast<int>(i) + 1);
    if (stage == tierwise::profile::v1::LIFECYCLE_STAGE_PROSPECT ||
        stage == tierwise::profile::v1::LIFECYCLE_STAGE_FORMER) {
      EXPECT_TRUE(events.empty()) << customers[i].customer.external_ref();
      ++without;
    }
    for (const auto& e : events) {
      EXPECT_TRUE(absl::StrContains(IdOf(e), customers[i].customer.external_ref()));
    }
  }
  EXPECT_GT(without, 0);
}

}  // namespace
}  // namespace tierwise::demo
