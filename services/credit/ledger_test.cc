#include "services/credit/ledger.h"

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "gtest/gtest.h"
#include "services/credit/credit_rules.h"

namespace tierwise::credit {
namespace {

// 2026-01-01T00:00:00Z
constexpr Micros kJan1 = 1767225600LL * 1000000;

constexpr Micros kDay = 86400LL * 1000000;
const BusinessCalendar kUtc = BusinessCalendar::Utc();

Micros Day(int n) { return kJan1 + n * kDay; }

const Terms kNet30{Terms::Type::kNetDays, 30};

Fact Order(const std::string& id, int day, const std::string& no, int64_t amount,
           Terms terms = {}) {
  return {id, Day(day), OrderFact{no, amount, amount / 4, "pumps", 0, 0, terms}};
}
Fact Cancel(const std::string& id, int day, const std::string& no, int64_t amount) {
  return {id, Day(day), CancellationFact{absl::StrCat("CN-", id), no, amount, false}};
}
Fact Pay(const std::string& id, int day, int64_t amount, const std::string& order_no = "") {
  return {id, Day(day), PaymentFact{absl::StrCat("P-", id), amount, order_no}};
}

const Item& ItemOf(const Ledger& l, const std::string& no) {
  for (const Item& i : l.items) {
    if (i.order_no == no) return i;
  }
  ADD_FAILURE() << "no item " << no;
  static Item none;
  return none;
}

TEST(LedgerTest, PaymentsApplyOldestDueFirstAndPartially) {
  // O1 100.00 due day 30, O2 50.00 due day 40; a 120.00 payment on day 35 pays O1 and 20 of O2.
  Ledger l =
      Replay({Order("e1", 0, "O1", 10000), Order("e2", 10, "O2", 5000), Pay("e3", 35, 12000)},
             kNet30, kUtc);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 0);
  EXPECT_EQ(ItemOf(l, "O1").settled_at, Day(35));
  EXPECT_EQ(ItemOf(l, "O2").paid, 2000);
  EXPECT_EQ(ItemOf(l, "O2").balance(), 3000);
  EXPECT_EQ(ItemOf(l, "O2").payments, std::vector<std::string>{"P-e3"});
  EXPECT_EQ(l.unapplied, 0);

  // At day 75: O2 (due day 40) is 35 days overdue; O1 was paid 5 days late.
  Position p = *PositionAt(l, Day(75), kUtc);
  EXPECT_EQ(p.open_receivables, 3000);
  EXPECT_EQ(p.overdue_amount, 3000);
  EXPECT_EQ(p.max_days_overdue, 35);
  EXPECT_EQ(p.aging.days_31_60, 3000);
  EXPECT_EQ(p.aging.current, 0);
  ASSERT_TRUE(p.on_time_permille.has_value());
  EXPECT_EQ(*p.on_time_permille, 0);  // O1 late, O2 unpaid
  // DSO: receivables 30.00 over sales of the last 90 days 150.00 → 30.00 * 90 / 150.00 = 18.
  EXPECT_EQ(p.dso_days, 18);
}

TEST(LedgerTest, NamedPaymentGoesToItsOrderAndOverpaymentStaysOnAccount) {
  Ledger l =
      Replay({Order("e1", 0, "O1", 10000), Order("e2", 1, "O2", 5000), Pay("e3", 5, 7000, "O2")},
             kNet30, kUtc);
  EXPECT_EQ(ItemOf(l, "O2").balance(), 0);
  EXPECT_EQ(ItemOf(l, "O1").paid, 2000) << "the excess goes to the oldest open item";
  Ledger over = Replay({Order("e1", 0, "O1", 10000), Pay("e2", 5, 15000)}, kNet30, kUtc);
  EXPECT_EQ(over.unapplied, 5000);
  // The next order is settled from the credit on the account.
  over = Replay({Order("e1", 0, "O1", 10000), Pay("e2", 5, 15000), Order("e3", 9, "O3", 4000)},
                kNet30, kUtc);
  EXPECT_EQ(ItemOf(over, "O3").balance(), 0);
  EXPECT_EQ(ItemOf(over, "O3").settled_at, Day(9));
  EXPECT_EQ(over.unapplied, 1000);
}

TEST(LedgerTest, CancellationAfterPaymentBecomesCredit) {
  // Paid in full, then half the goods returned: 50.00 back on the account as credit.
  Ledger l = Replay({Order("e1", 0, "O1", 10000), Pay("e2", 3, 10000), Cancel("e3", 4, "O1", 5000)},
                    kNet30, kUtc);
  EXPECT_EQ(ItemOf(l, "O1").net(), 5000);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 0);
  EXPECT_EQ(l.unapplied, 5000);
  // A full cancellation of an unpaid order closes it without a payment.
  l = Replay({Order("e1", 0, "O1", 10000), Cancel("e2", 2, "O1", 0)}, kNet30, kUtc);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 0);
  EXPECT_EQ(PositionAt(l, Day(100), kUtc)->overdue_amount, 0);
  EXPECT_FALSE(PositionAt(l, Day(100), kUtc)->on_time_permille.has_value());
}

TEST(LedgerTest, EventsBeforeTheirOrderWaitForIt) {
  // The ERP's clock put the payment and the cancellation before the order.
  Ledger l =
      Replay({Pay("e1", 0, 3000, "O1"), Cancel("e2", 0, "O1", 2000), Order("e3", 1, "O1", 10000)},
             kNet30, kUtc);
  EXPECT_EQ(ItemOf(l, "O1").cancelled, 2000);
  EXPECT_EQ(ItemOf(l, "O1").paid, 3000);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 5000);
  EXPECT_EQ(l.unapplied, 0);
  // A payment for an order that never comes stays unapplied, not lost.
  l = Replay({Pay("e1", 0, 3000, "O9")}, kNet30, kUtc);
  EXPECT_EQ(l.unapplied, 3000);
}

TEST(LedgerTest, AgingBucketsAndOpenOrders) {
  Fact future = Order("e5", 0, "O5", 700);
  std::get<OrderFact>(future.body).invoiced_at = Day(200);  // not invoiced yet at day 130
  Ledger l = Replay({Order("e1", 0, "O1", 100), Order("e2", 40, "O2", 200),
                     Order("e3", 70, "O3", 300), Order("e4", 100, "O4", 400), future},
                    kNet30, kUtc);
  Position p = *PositionAt(l, Day(130), kUtc);
  // Due days 30, 70, 100, 130 → 100, 60, 30, 0 days overdue.
  EXPECT_EQ(p.aging.days_over_90, 100);
  EXPECT_EQ(p.aging.days_31_60, 200);
  EXPECT_EQ(p.aging.days_1_30, 300);
  EXPECT_EQ(p.aging.current, 400);
  EXPECT_EQ(p.open_receivables, 1000);
  EXPECT_EQ(p.open_orders, 700);
  EXPECT_EQ(p.exposure(), 1700);
  EXPECT_EQ(p.max_days_overdue, 100);
  EXPECT_EQ(p.overdue_items, 3);
  EXPECT_EQ(p.oldest_open_due, Day(30));
}

TEST(LedgerTest, OnTimeRatioCountsItemsDueInTheLastYear) {
  Ledger l = Replay({Order("e1", 0, "O1", 100), Pay("e2", 20, 100),   // on time
                     Order("e3", 10, "O2", 100), Pay("e4", 45, 100),  // 5 days late
                     Order("e5", 20, "O3", 100), Pay("e6", 50, 100),  // due day 50, on time
                     Order("e7", 30, "O4", 100)},                     // unpaid, due day 60
                    kNet30, kUtc);
  Position p = *PositionAt(l, Day(70), kUtc);
  ASSERT_TRUE(p.on_time_permille.has_value());
  EXPECT_EQ(*p.on_time_permille, 500);  // 2 of 4
  EXPECT_FALSE(PositionAt(l, Day(460), kUtc)->on_time_permille.has_value())
      << "nothing fell due in the 12 months before day 460";
}

TEST(LedgerTest, MonthlyStatementTermsFallDueAtTheEndOfTheNextMonth) {
  // Invoiced 2026-01-15 on 月结 + 0: due 2026-02-28T23:59:59Z.
  const Micros due = DueDate(Day(14), {Terms::Type::kMonthlyStatement, 0}, kUtc);
  EXPECT_EQ(due, Day(31 + 28) - 1000000);
  EXPECT_EQ(DueDate(Day(0), {Terms::Type::kNetDays, 45}, kUtc), Day(45));
  EXPECT_EQ(DueDate(Day(3), {Terms::Type::kPrepaid, 0}, kUtc), Day(3));
}

// Property: any arrival order of the same facts gives the same ledger.
TEST(LedgerPropertyTest, ShuffledArrivalGivesTheSameState) {
  std::mt19937_64 rng(20261123);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Fact> facts;
    const int orders = 1 + static_cast<int>(rng() % 8);
    for (int o = 0; o < orders; ++o) {
      const std::string no = absl::StrCat("O", o);
      facts.push_back(Order(absl::StrCat("o", o), static_cast<int>(rng() % 60), no,
                            1000 + static_cast<int64_t>(rng() % 50000)));
      if (rng() % 3 == 0) {
        facts.push_back(Cancel(absl::StrCat("c", o), static_cast<int>(rng() % 90), no,
                               static_cast<int64_t>(rng() % 3000)));
      }
    }
    const int payments = static_cast<int>(rng() % 8);
    for (int p = 0; p < payments; ++p) {
      const std::string target = rng() % 2 ? absl::StrCat("O", rng() % orders) : "";
      facts.push_back(Pay(absl::StrCat("p", p), static_cast<int>(rng() % 90),
                          1 + static_cast<int64_t>(rng() % 30000), target));
    }
    const Ledger expected = Replay(facts, kNet30, kUtc);
    const Position expected_position = *PositionAt(expected, Day(100), kUtc);
    for (int shuffle = 0; shuffle < 5; ++shuffle) {
      std::shuffle(facts.begin(), facts.end(), rng);
      const Ledger got = Replay(facts, kNet30, kUtc);
      ASSERT_EQ(got.items.size(), expected.items.size());
      for (size_t i = 0; i < got.items.size(); ++i) {
        EXPECT_EQ(got.items[i].order_no, expected.items[i].order_no);
        EXPECT_EQ(got.items[i].balance(), expected.items[i].balance());
        EXPECT_EQ(got.items[i].cancelled, expected.items[i].cancelled);
        EXPECT_EQ(got.items[i].settled_at, expected.items[i].settled_at);
      }
      EXPECT_EQ(got.unapplied, expected.unapplied);
      const Position p = *PositionAt(got, Day(100), kUtc);
      EXPECT_EQ(p.exposure(), expected_position.exposure());
      EXPECT_EQ(p.overdue_amount, expected_position.overdue_amount);
    }
    // Conservation: money in = money applied + money unapplied.
    int64_t paid_in = 0, applied = 0;
    for (const Fact& f : facts) {
      if (const auto* p = std::get_if<PaymentFact>(&f.body)) paid_in += p->amount;
    }
    for (const Item& i : expected.items) applied += i.paid;
    EXPECT_GE(applied + expected.unapplied, paid_in) << "no payment is lost";
  }
}

TEST(CreditRulesTest, RatingFromBehaviour) {
  const v1::CreditPolicy policy = DefaultPolicy();
  // Always on time for more than 3 years, nothing open: top marks.
  std::vector<Fact> good;
  for (int m = 0; m < 40; ++m) {
    good.push_back(Order(absl::StrCat("o", m), m * 30, absl::StrCat("O", m), 10000));
    good.push_back(Pay(absl::StrCat("p", m), m * 30 + 20, 10000));
  }
  Ledger l = Replay(good, kNet30, kUtc);
  Rating r = RateAccount(l, *PositionAt(l, Day(40 * 30), kUtc), Day(40 * 30), kUtc, policy);
  EXPECT_EQ(r.score, 100);
  EXPECT_EQ(r.grade, "AAA");
  ASSERT_EQ(r.factors.size(), 4u);
  EXPECT_EQ(r.factors[0].name(), "on_time_ratio");
  EXPECT_EQ(r.factors[0].contribution(), 40);

  // A new customer 100 days overdue on everything: on time 0, overdue 0 points, tenure 30,
  // overdue share 100 % → 0*40 + 0*30 + 30*10 + 0*20 = 3 → C.
  l = Replay({Order("e1", 0, "O1", 10000)}, kNet30, kUtc);
  r = RateAccount(l, *PositionAt(l, Day(130), kUtc), Day(130), kUtc, policy);
  EXPECT_EQ(r.score, 3);
  EXPECT_EQ(r.grade, "C");
}

TEST(CreditRulesTest, CheckCreditGivesEveryReason) {
  v1::CreditPolicy policy = DefaultPolicy();
  policy.set_min_rating("BB");
  Position p;
  p.open_receivables = 95000;
  p.overdue_amount = 10000;
  p.max_days_overdue = 75;
  AccountState account{100000, true, "manual: dispute", "B", "CNY"};
  CheckOutcome out = CheckCredit(account, p, 10000, policy);
  EXPECT_EQ(out.decision, v1::CREDIT_DECISION_BLOCKED);
  ASSERT_EQ(out.reasons.size(), 4u);
  EXPECT_EQ(out.reasons[0].rfind("ON_HOLD", 0), 0u);
  EXPECT_EQ(out.reasons[1].rfind("OVER_LIMIT", 0), 0u);
  EXPECT_EQ(out.reasons[2].rfind("OVERDUE:", 0), 0u);
  EXPECT_EQ(out.reasons[3].rfind("RATING_TOO_LOW", 0), 0u);
  EXPECT_EQ(out.available_after, -5000);

  // Inside the warning band, with young overdue items: approved with two warnings.
  account = {100000, false, "", "A", "CNY"};
  p.max_days_overdue = 10;
  out = CheckCredit(account, p, 1000, policy);
  EXPECT_EQ(out.decision, v1::CREDIT_DECISION_APPROVED_WITH_WARNING);
  ASSERT_EQ(out.reasons.size(), 2u);
  EXPECT_EQ(out.reasons[0].rfind("NEAR_LIMIT", 0), 0u);
  EXPECT_EQ(out.reasons[1].rfind("OVERDUE_ITEMS", 0), 0u);

  Position clean;
  out = CheckCredit(account, clean, 50000, policy);
  EXPECT_EQ(out.decision, v1::CREDIT_DECISION_APPROVED);
  EXPECT_TRUE(out.reasons.empty());
}

TEST(CreditRulesTest, PolicyValidationNamesTheField) {
  v1::CreditPolicy p = DefaultPolicy();
  EXPECT_TRUE(ValidatePolicy(p, "policy").ok());
  p.set_weight_tenure(20);  // sum 110
  p.set_min_score_bb(65);   // not below BBB's 60
  p.set_min_rating("Z");
  const auto violations = status::FieldViolations(ValidatePolicy(p, "policy"));
  ASSERT_EQ(violations.size(), 3u);
  EXPECT_EQ(violations[0].field, "policy.weight_on_time_ratio");
  EXPECT_EQ(violations[1].field, "policy.min_score_bb");
  EXPECT_EQ(violations[2].field, "policy.min_rating");
}

TEST(CreditRulesTest, FormatsMoneyWithoutFloatingPoint) {
  EXPECT_EQ(FormatMinor(123456), "1234.56");
  EXPECT_EQ(FormatMinor(-5), "-0.05");
  EXPECT_EQ(FormatMinor(0), "0.00");
}

// Money never wraps (issue 11): the figures of many maximal documents are exact while they fit
// and an error once they would pass int64.

// `count` orders of the document maximum, invoiced on `invoiced_day` (the order date is day 0).
std::vector<Fact> MaximalOrders(int count, const std::string& prefix, int invoiced_day = 0) {
  std::vector<Fact> facts;
  for (int i = 0; i < count; ++i) {
    Fact f = Order(absl::StrCat(prefix, i), 0, absl::StrCat(prefix, "-O", i),
                   kMaxDocumentMinorUnits, kNet30);
    std::get<OrderFact>(f.body).invoiced_at = Day(invoiced_day);
    facts.push_back(std::move(f));
  }
  return facts;
}

TEST(LedgerOverflowTest, AddCheckedRefusesToWrap) {
  int64_t total = std::numeric_limits<int64_t>::max() - 1;
  EXPECT_TRUE(AddChecked(total, 1));
  EXPECT_EQ(total, std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(AddChecked(total, 1));
  EXPECT_EQ(total, std::numeric_limits<int64_t>::max()) << "unchanged on overflow";
}

TEST(LedgerOverflowTest, NineThousandMaximalOrdersAreExact) {
  // 9,000 × 10^15 = 9 × 10^18 still fits; overdue × 1000 and receivables × 90 do not, so the
  // overdue share and the DSO must be computed in 128 bits.
  const Ledger l = Replay(MaximalOrders(9000, "e"), kNet30, kUtc);
  absl::StatusOr<Position> p = PositionAt(l, Day(40), kUtc);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->open_receivables, 9'000'000'000'000'000'000);
  EXPECT_EQ(p->exposure(), 9'000'000'000'000'000'000);
  EXPECT_EQ(p->overdue_amount, 9'000'000'000'000'000'000);
  EXPECT_EQ(p->aging.days_1_30, 9'000'000'000'000'000'000);
  EXPECT_EQ(p->max_days_overdue, 10);
  EXPECT_EQ(p->dso_days, 90);
  const Rating r = RateAccount(l, *p, Day(40), kUtc, DefaultPolicy());
  EXPECT_EQ(r.factors[3].name(), "overdue_share");
  EXPECT_EQ(r.factors[3].value(), "100.0%");
  EXPECT_EQ(r.factors[3].points(), 0);
}

TEST(LedgerOverflowTest, ReceivablesPastInt64AreAnErrorNotAWrap) {
  // 10,000 orders just at the cap: 10^19 minor units of receivables would wrap to a negative
  // exposure (issue 11 saw −6,446,744,073,709,551,616); the checked path refuses instead.
  const Ledger l = Replay(MaximalOrders(10000, "e"), kNet30, kUtc);
  ASSERT_EQ(l.items.size(), 10000u);
  absl::StatusOr<Position> p = PositionAt(l, Day(100), kUtc);  // past the DSO window
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("open receivables"), std::string::npos) << p.status();
  EXPECT_NE(p.status().message().find("1000000000000000"), std::string::npos) << p.status();

  // Not yet invoiced: the open orders are the figure that passes.
  p = PositionAt(Replay(MaximalOrders(10000, "e", 100), kNet30, kUtc), Day(40), kUtc);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("open orders"), std::string::npos) << p.status();

  // Each part fits (5 × 10^18), their sum (the exposure) does not.
  std::vector<Fact> facts = MaximalOrders(5000, "r");
  for (Fact& f : MaximalOrders(5000, "o", 100)) facts.push_back(std::move(f));
  p = PositionAt(Replay(facts, kNet30, kUtc), Day(40), kUtc);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("exposure"), std::string::npos) << p.status();
}

TEST(LedgerOverflowTest, UnappliedCreditPastInt64IsAnError) {
  std::vector<Fact> facts;
  for (int i = 0; i < 10000; ++i)
    facts.push_back(Pay(absl::StrCat("p", i), 0, kMaxDocumentMinorUnits));
  const Ledger l = Replay(facts, kNet30, kUtc);
  EXPECT_EQ(l.out_of_range, "unapplied credit");
  absl::StatusOr<Position> p = PositionAt(l, Day(1), kUtc);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("unapplied credit"), std::string::npos) << p.status();
}

TEST(LedgerOverflowTest, CheckCreditBlocksWhenTheExposureAfterTheOrderPassesInt64) {
  const v1::CreditPolicy policy = DefaultPolicy();
  const AccountState account{kMaxDocumentMinorUnits, false, "", "A", "CNY"};
  Position p;
  p.open_receivables = std::numeric_limits<int64_t>::max() - 10;
  const CheckOutcome out = CheckCredit(account, p, kMaxDocumentMinorUnits, policy);
  EXPECT_EQ(out.decision, v1::CREDIT_DECISION_BLOCKED);
  ASSERT_EQ(out.reasons.size(), 2u);
  EXPECT_EQ(out.reasons[0].rfind("OVER_LIMIT", 0), 0u) << out.reasons[0];
  EXPECT_EQ(out.reasons[1].rfind("OUT_OF_RANGE", 0), 0u) << out.reasons[1];
  EXPECT_FALSE(out.available_after.has_value());

  // Near the cap the warning band is computed in 128 bits too: 96 % of a 10^15 limit warns.
  Position near;
  near.open_receivables = kMaxDocumentMinorUnits / 100 * 96 - 1;
  const CheckOutcome warned = CheckCredit(account, near, 1, policy);
  EXPECT_EQ(warned.decision, v1::CREDIT_DECISION_APPROVED_WITH_WARNING);
  EXPECT_EQ(warned.available_after, kMaxDocumentMinorUnits / 100 * 4);
}

TEST(LedgerOverflowTest, AnUncomputablePositionBlocksTheCheck) {
  const Ledger l = Replay(MaximalOrders(10000, "e"), kNet30, kUtc);
  const absl::StatusOr<Position> p = PositionAt(l, Day(100), kUtc);
  ASSERT_FALSE(p.ok());
  const CheckOutcome out =
      BlockedOutOfRange({100000, true, "manual: dispute", "A", "CNY"}, p.status());
  EXPECT_EQ(out.decision, v1::CREDIT_DECISION_BLOCKED);
  ASSERT_EQ(out.reasons.size(), 2u);
  EXPECT_EQ(out.reasons[0], "ON_HOLD: manual: dispute");
  EXPECT_EQ(out.reasons[1].rfind("OUT_OF_RANGE: the account's open receivables", 0), 0u)
      << out.reasons[1];
  EXPECT_FALSE(out.available_after.has_value());
}

TEST(LedgerOverflowTest, SuggestedLimitIsCappedAndChecked) {
  Rating r;
  r.score = 100;
  absl::StatusOr<int64_t> limit =
      SuggestedLimit(Replay(MaximalOrders(9000, "e"), kNet30, kUtc), r, Day(10), kUtc);
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ(*limit, kMaxDocumentMinorUnits) << "a suggestion is a valid limit";
  limit = SuggestedLimit(Replay(MaximalOrders(10000, "e"), kNet30, kUtc), r, Day(10), kUtc);
  ASSERT_FALSE(limit.ok());
  EXPECT_EQ(limit.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LedgerOverflowTest, PolicyDefaultLimitIsCapped) {
  v1::CreditPolicy p = DefaultPolicy();
  p.mutable_default_limit()->set_minor_units(kMaxDocumentMinorUnits);
  EXPECT_TRUE(ValidatePolicy(p, "policy").ok());
  p.mutable_default_limit()->set_minor_units(kMaxDocumentMinorUnits + 1);
  const auto violations = status::FieldViolations(ValidatePolicy(p, "policy"));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "policy.default_limit.minor_units");
  EXPECT_EQ(violations[0].description, "exceeds the maximum of 1000000000000000 minor units");
}

}  // namespace
}  // namespace tierwise::credit

namespace tierwise::credit {
namespace {

// 2026-03-10T00:00:00+08:00 (2026-03-09T16:00:00Z).
constexpr Micros kMar10Shanghai = 1773072000LL * 1000000;
constexpr Micros kHour = 3600LL * 1000000;
constexpr Micros kMinute = 60LL * 1000000;

const BusinessCalendar& Shanghai() {
  static const BusinessCalendar calendar = *BusinessCalendar::Load("Asia/Shanghai");
  return calendar;
}

// Local midnight of 2026-`month`-`day` in Shanghai.
Micros ShanghaiMidnight(int year, int month, int day) {
  return Shanghai().StartOf(absl::CivilDay(year, month, day));
}

Fact OrderDue(const std::string& id, Micros at, const std::string& no, int64_t amount, Micros due) {
  return {id, at, OrderFact{no, amount, 0, "pumps", 0, due, {}}};
}

TEST(BusinessCalendarLedgerTest, DueOnLocalDayDIsOverdueFromLocalMidnightOfDPlusOne) {
  // Due 2026-03-10 10:00 local; the whole local day 10 March is not overdue.
  const Micros due = kMar10Shanghai + 10 * kHour;
  const Ledger l =
      Replay({OrderDue("e1", kMar10Shanghai - 30 * kDay, "O1", 1000, due)}, kNet30, Shanghai());
  const Micros last_minute = kMar10Shanghai + kDay - kMinute;  // 10 March 23:59 local
  EXPECT_EQ(DaysOverdue(l.items[0], last_minute, Shanghai()), 0);
  Position p = *PositionAt(l, last_minute, Shanghai());
  EXPECT_EQ(p.overdue_amount, 0);
  EXPECT_EQ(p.aging.current, 1000);
  const Micros midnight = kMar10Shanghai + kDay;  // 11 March 00:00 local
  EXPECT_EQ(DaysOverdue(l.items[0], midnight, Shanghai()), 1);
  p = *PositionAt(l, midnight, Shanghai());
  EXPECT_EQ(p.overdue_amount, 1000);
  EXPECT_EQ(p.max_days_overdue, 1);
  EXPECT_EQ(p.aging.days_1_30, 1000);
  // 30 local days later at 23:59 it is 30 days overdue, at the next midnight 31.
  EXPECT_EQ(DaysOverdue(l.items[0], kMar10Shanghai + 31 * kDay - kMinute, Shanghai()), 30);
  p = *PositionAt(l, kMar10Shanghai + 31 * kDay, Shanghai());
  EXPECT_EQ(p.max_days_overdue, 31);
  EXPECT_EQ(p.aging.days_31_60, 1000);
}

TEST(BusinessCalendarLedgerTest, LocalAndUtcDaysDiffer) {
  // 11 March 00:00 local is still 10 March in UTC: overdue in Shanghai, not in UTC.
  const Micros due = kMar10Shanghai + 10 * kHour;  // 10 March 02:00Z as well
  const Ledger shanghai =
      Replay({OrderDue("e1", kMar10Shanghai - 30 * kDay, "O1", 1000, due)}, kNet30, Shanghai());
  const Ledger utc =
      Replay({OrderDue("e1", kMar10Shanghai - 30 * kDay, "O1", 1000, due)}, kNet30, kUtc);
  const Micros at = kMar10Shanghai + kDay + kHour;  // 11 March 01:00 local = 10 March 17:00Z
  EXPECT_EQ(PositionAt(shanghai, at, Shanghai())->max_days_overdue, 1);
  EXPECT_EQ(PositionAt(utc, at, kUtc)->max_days_overdue, 0);
  // Net 30 counts local days from the local invoice day: invoiced 1 March 07:00 local (28 Feb
  // 23:00Z) is due on local 31 March, where UTC would say 30 March.
  const Micros invoiced = ShanghaiMidnight(2026, 3, 1) + 7 * kHour;
  const Terms net30{Terms::Type::kNetDays, 30};
  EXPECT_EQ(Shanghai().DayOf(DueDate(invoiced, net30, Shanghai())), absl::CivilDay(2026, 3, 31));
  EXPECT_EQ(kUtc.DayOf(DueDate(invoiced, net30, kUtc)), absl::CivilDay(2026, 3, 30));
}

TEST(BusinessCalendarLedgerTest, MonthlyStatementClosesAtLocalMonthEnd) {
  const Terms statement{Terms::Type::kMonthlyStatement, 0};
  // Invoiced on the last day of January at 23:30 local: January's statement, due at the end of
  // February local.
  const Micros jan31 = ShanghaiMidnight(2026, 1, 31) + 23 * kHour + 30 * kMinute;
  EXPECT_EQ(DueDate(jan31, statement, Shanghai()), ShanghaiMidnight(2026, 3, 1) - 1000000);
  // One hour later it is February (local) and February's statement, due at the end of March;
  // in UTC (16:30Z on 31 January) it would still be January's.
  const Micros feb1 = jan31 + kHour;
  EXPECT_EQ(DueDate(feb1, statement, Shanghai()), ShanghaiMidnight(2026, 4, 1) - 1000000);
  EXPECT_EQ(kUtc.MonthOf(DueDate(feb1, statement, kUtc)), absl::CivilMonth(2026, 2));
  // Year-end rollover: 31 December 23:30 local is due at the end of January.
  const Micros dec31 = ShanghaiMidnight(2026, 12, 31) + 23 * kHour + 30 * kMinute;
  EXPECT_EQ(DueDate(dec31, statement, Shanghai()), ShanghaiMidnight(2027, 2, 1) - 1000000);
  // 月结 + 10: ten local days after the month end.
  EXPECT_EQ(Shanghai().DayOf(DueDate(jan31, {Terms::Type::kMonthlyStatement, 10}, Shanghai())),
            absl::CivilDay(2026, 3, 10));
  // The statement's due day is the last day of February: overdue from 1 March 00:00 local.
  const Ledger l =
      Replay({{"e1", jan31, OrderFact{"O1", 500, 0, "", 0, 0, statement}}}, kNet30, Shanghai());
  EXPECT_EQ(PositionAt(l, ShanghaiMidnight(2026, 3, 1) - kMinute, Shanghai())->overdue_amount, 0);
  EXPECT_EQ(PositionAt(l, ShanghaiMidnight(2026, 3, 1), Shanghai())->max_days_overdue, 1);
}

TEST(BusinessCalendarLedgerTest, OnTimeMeansSettledByTheEndOfTheLocalDueDay) {
  const Micros due = kMar10Shanghai + 10 * kHour;
  const Micros ordered = kMar10Shanghai - 30 * kDay;
  // Paid 10 March 23:59 local: on time. Paid 11 March 00:00 local: late.
  std::vector<Fact> in_time = {OrderDue("e1", ordered, "O1", 1000, due),
                               {"e2", kMar10Shanghai + kDay - kMinute, PaymentFact{"P", 1000, ""}}};
  std::vector<Fact> late = {OrderDue("e1", ordered, "O1", 1000, due),
                            {"e2", kMar10Shanghai + kDay, PaymentFact{"P", 1000, ""}}};
  const Micros later = kMar10Shanghai + 5 * kDay;
  EXPECT_EQ(PositionAt(Replay(in_time, kNet30, Shanghai()), later, Shanghai())->on_time_permille,
            1000);
  EXPECT_EQ(PositionAt(Replay(late, kNet30, Shanghai()), later, Shanghai())->on_time_permille, 0);
}

// The stored-state path of the store, without PostgreSQL: items kept by order number, the
// rest of the state beside them; each batch is applied incrementally when all its facts come
// after the last applied one (loading only open items and the items the batch names), else the
// whole ledger is replayed (the repair path).
class StoredLedger {
 public:
  explicit StoredLedger(const BusinessCalendar& calendar) : calendar_(calendar) {}

  void Feed(std::vector<Fact> batch) {
    std::vector<Fact> fresh;
    for (Fact& f : batch) {
      if (seen_.insert(f.event_id).second) fresh.push_back(f);
    }
    std::sort(fresh.begin(), fresh.end(),
              [](const Fact& a, const Fact& b) { return KeyOf(a) < KeyOf(b); });
    for (const Fact& f : fresh) all_.push_back(f);
    if (fresh.empty()) return;
    if (!AllAfter(rest_.last, fresh)) {
      ++replays_;
      LedgerState state = ReplayState(all_, kNet30, calendar_);
      items_.clear();
      days_.clear();
      for (const Item& i : state.items) ASSERT_TRUE(AddToDays(i, +1, calendar_, &days_));
      for (Item& i : state.items) items_[i.order_no] = std::move(i);
      state.items.clear();
      rest_ = std::move(state);
      return;
    }
    LedgerState state = rest_;
    std::set<std::string> named;
    for (const Fact& f : fresh) named.insert(NamedOrder(f));
    for (const auto& [no, item] : items_) {
      if (item.balance() > 0 || named.contains(no)) state.items.push_back(item);
    }
    LedgerApplier applier(std::move(state), kNet30, calendar_);
    for (const Fact& f : fresh) ASSERT_TRUE(applier.Apply(f).ok());
    const std::set<std::string> changed = applier.changed();
    LedgerState after = applier.Take();
    for (Item& i : after.items) {
      if (!changed.contains(i.order_no)) continue;
      if (auto it = items_.find(i.order_no); it != items_.end()) {
        ASSERT_TRUE(AddToDays(it->second, -1, calendar_, &days_));
      }
      ASSERT_TRUE(AddToDays(i, +1, calendar_, &days_));
      items_[i.order_no] = std::move(i);
    }
    after.items.clear();
    rest_ = std::move(after);
  }

  LedgerState State() const {
    LedgerState s = rest_;
    for (const auto& [no, item] : items_) s.items.push_back(item);
    return s;
  }
  // The ledger a store's read path builds: open items and the window sums of the day figures.
  Ledger ReadLedger(Micros now) const {
    Ledger l = LedgerOf(State());
    std::erase_if(l.items, [](const Item& i) { return i.balance() <= 0; });
    std::map<int64_t, DayFigures> kept = days_;
    PruneDays(&kept, now, calendar_);
    l.windows = TotalsFromDays(kept, now, calendar_);
    return l;
  }
  const std::vector<Fact>& facts() const { return all_; }
  int replays() const { return replays_; }

 private:
  const BusinessCalendar calendar_;
  std::set<std::string> seen_;
  std::vector<Fact> all_;
  std::map<std::string, Item> items_;
  std::map<int64_t, DayFigures> days_;
  LedgerState rest_;
  int replays_ = 0;
};

// Random ledgers: orders (some repeated order numbers), partial and total cancellations and
// returns, targeted (also before their order) and untargeted payments, duplicates.
std::vector<Fact> RandomLedger(std::mt19937_64& rng) {
  std::vector<Fact> facts;
  const int orders = 1 + static_cast<int>(rng() % 12);
  for (int o = 0; o < orders; ++o) {
    const std::string no = absl::StrCat("O", o % 10);
    Fact f = Order(absl::StrCat("o", o), static_cast<int>(rng() % 120), no,
                   1 + static_cast<int64_t>(rng() % 50000));
    if (rng() % 4 == 0)
      std::get<OrderFact>(f.body).invoiced_at = Day(static_cast<int>(rng() % 150));
    facts.push_back(f);
    if (rng() % 3 == 0) {
      facts.push_back(Cancel(absl::StrCat("c", o), static_cast<int>(rng() % 150), no,
                             rng() % 3 == 0 ? 0 : static_cast<int64_t>(rng() % 30000)));
    }
  }
  const int payments = static_cast<int>(rng() % 12);
  for (int p = 0; p < payments; ++p) {
    const std::string target = rng() % 2 ? absl::StrCat("O", rng() % 12) : "";
    facts.push_back(Pay(absl::StrCat("p", p), static_cast<int>(rng() % 150),
                        1 + static_cast<int64_t>(rng() % 40000), target));
  }
  const size_t n = facts.size();
  for (size_t d = 0; d < n / 4; ++d) facts.push_back(facts[rng() % n]);  // redelivered
  return facts;
}

void ExpectSameState(const LedgerState& got, const LedgerState& want, uint64_t seed) {
  const Ledger g = LedgerOf(got);
  const Ledger w = LedgerOf(want);
  ASSERT_EQ(g.items.size(), w.items.size()) << "seed " << seed;
  for (size_t i = 0; i < g.items.size(); ++i) {
    EXPECT_TRUE(g.items[i] == w.items[i]) << "seed " << seed << " item " << w.items[i].order_no;
  }
  EXPECT_EQ(got.pool, want.pool) << "seed " << seed;
  EXPECT_EQ(got.reserved, want.reserved) << "seed " << seed;
  EXPECT_EQ(got.waiting, want.waiting) << "seed " << seed;
  EXPECT_EQ(got.first_order_at, want.first_order_at) << "seed " << seed;
  EXPECT_EQ(got.facts, want.facts) << "seed " << seed;
  EXPECT_TRUE(got.last == want.last) << "seed " << seed;
  EXPECT_EQ(g.unapplied, w.unapplied) << "seed " << seed;
  for (int day : {0, 45, 100, 200, 500}) {
    const Position a = *PositionAt(g, Day(day), Shanghai());
    const Position b = *PositionAt(w, Day(day), Shanghai());
    EXPECT_EQ(a.exposure(), b.exposure()) << "seed " << seed << " day " << day;
    EXPECT_EQ(a.overdue_amount, b.overdue_amount) << "seed " << seed << " day " << day;
    EXPECT_EQ(a.max_days_overdue, b.max_days_overdue) << "seed " << seed;
    EXPECT_EQ(a.aging.days_31_60, b.aging.days_31_60) << "seed " << seed;
    EXPECT_EQ(a.dso_days, b.dso_days) << "seed " << seed;
    EXPECT_EQ(a.on_time_permille, b.on_time_permille) << "seed " << seed;
  }
}

// Property: fed in any order and any batch split, the stored state equals the replay of the
// same facts.
TEST(IncrementalLedgerPropertyTest, StoredStateEqualsReplayForAnyArrivalAndBatches) {
  int incremental_batches = 0;
  for (uint64_t seed = 1; seed <= 1500; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<Fact> facts = RandomLedger(rng);
    const int mode = static_cast<int>(seed % 3);
    if (mode == 0) {
      std::shuffle(facts.begin(), facts.end(), rng);
    } else {
      // Mostly in order (the usual feed), with a few facts swapped.
      std::sort(facts.begin(), facts.end(),
                [](const Fact& a, const Fact& b) { return KeyOf(a) < KeyOf(b); });
      if (mode == 2 && facts.size() > 2) std::swap(facts[rng() % facts.size()], facts.back());
    }
    StoredLedger stored(Shanghai());
    size_t start = 0;
    int batches = 0;
    while (start < facts.size()) {
      const size_t size = 1 + rng() % 5;
      stored.Feed({facts.begin() + start, facts.begin() + std::min(facts.size(), start + size)});
      start += size;
      ++batches;
    }
    incremental_batches += batches - stored.replays();
    ExpectSameState(stored.State(), ReplayState(facts, kNet30, Shanghai()), seed);
    const Ledger replayed = Replay(facts, kNet30, Shanghai());
    for (int day : {0, 30, 45, 100, 130, 200, 400, 500}) {
      for (Micros at : {Day(day), Day(day) + kDay - 1}) {
        const Position a = *PositionAt(stored.ReadLedger(at), at, Shanghai());
        const Position b = *PositionAt(replayed, at, Shanghai());
        EXPECT_EQ(a.exposure(), b.exposure()) << "seed " << seed << " day " << day;
        EXPECT_EQ(a.overdue_amount, b.overdue_amount) << "seed " << seed << " day " << day;
        EXPECT_EQ(a.dso_days, b.dso_days) << "seed " << seed << " day " << day;
        EXPECT_EQ(a.on_time_permille, b.on_time_permille) << "seed " << seed << " day " << day;
        EXPECT_EQ(a.max_days_overdue, b.max_days_overdue) << "seed " << seed << " day " << day;
      }
    }
    if (HasFailure()) {
      ADD_FAILURE() << "failing seed " << seed;
      return;
    }
  }
  EXPECT_GT(incremental_batches, 1000) << "the incremental path was exercised";
}

TEST(IncrementalLedgerTest, ApplyRefusesAFactThatIsNotAfterTheLastOne) {
  LedgerApplier applier({}, kNet30, kUtc);
  ASSERT_TRUE(applier.Apply(Order("e2", 5, "O1", 100)).ok());
  EXPECT_EQ(applier.Apply(Order("e1", 5, "O2", 100)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(applier.Apply(Order("e3", 4, "O2", 100)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(applier.state().facts, 1);
  EXPECT_TRUE(applier.Apply(Order("e3", 5, "O2", 100)).ok());
}

}  // namespace
}  // namespace tierwise::credit
