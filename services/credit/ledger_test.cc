#include "services/credit/ledger.h"

#include <algorithm>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "gtest/gtest.h"
#include "services/credit/credit_rules.h"

namespace tierwise::credit {
namespace {

// 2026-01-01T00:00:00Z
constexpr Micros kJan1 = 1767225600LL * 1000000;

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
  Ledger l = Replay(
      {Order("e1", 0, "O1", 10000), Order("e2", 10, "O2", 5000), Pay("e3", 35, 12000)}, kNet30);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 0);
  EXPECT_EQ(ItemOf(l, "O1").settled_at, Day(35));
  EXPECT_EQ(ItemOf(l, "O2").paid, 2000);
  EXPECT_EQ(ItemOf(l, "O2").balance(), 3000);
  EXPECT_EQ(ItemOf(l, "O2").payments, std::vector<std::string>{"P-e3"});
  EXPECT_EQ(l.unapplied, 0);

  // At day 75: O2 (due day 40) is 35 days overdue; O1 was paid 5 days late.
  Position p = *PositionAt(l, Day(75));
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
  Ledger l = Replay(
      {Order("e1", 0, "O1", 10000), Order("e2", 1, "O2", 5000), Pay("e3", 5, 7000, "O2")}, kNet30);
  EXPECT_EQ(ItemOf(l, "O2").balance(), 0);
  EXPECT_EQ(ItemOf(l, "O1").paid, 2000) << "the excess goes to the oldest open item";
  Ledger over = Replay({Order("e1", 0, "O1", 10000), Pay("e2", 5, 15000)}, kNet30);
  EXPECT_EQ(over.unapplied, 5000);
  // The next order is settled from the credit on the account.
  over = Replay({Order("e1", 0, "O1", 10000), Pay("e2", 5, 15000), Order("e3", 9, "O3", 4000)},
                kNet30);
  EXPECT_EQ(ItemOf(over, "O3").balance(), 0);
  EXPECT_EQ(ItemOf(over, "O3").settled_at, Day(9));
  EXPECT_EQ(over.unapplied, 1000);
}

TEST(LedgerTest, CancellationAfterPaymentBecomesCredit) {
  // Paid in full, then half the goods returned: 50.00 back on the account as credit.
  Ledger l = Replay({Order("e1", 0, "O1", 10000), Pay("e2", 3, 10000), Cancel("e3", 4, "O1", 5000)},
                    kNet30);
  EXPECT_EQ(ItemOf(l, "O1").net(), 5000);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 0);
  EXPECT_EQ(l.unapplied, 5000);
  // A full cancellation of an unpaid order closes it without a payment.
  l = Replay({Order("e1", 0, "O1", 10000), Cancel("e2", 2, "O1", 0)}, kNet30);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 0);
  EXPECT_EQ(PositionAt(l, Day(100))->overdue_amount, 0);
  EXPECT_FALSE(PositionAt(l, Day(100))->on_time_permille.has_value());
}

TEST(LedgerTest, EventsBeforeTheirOrderWaitForIt) {
  // The ERP's clock put the payment and the cancellation before the order.
  Ledger l = Replay(
      {Pay("e1", 0, 3000, "O1"), Cancel("e2", 0, "O1", 2000), Order("e3", 1, "O1", 10000)}, kNet30);
  EXPECT_EQ(ItemOf(l, "O1").cancelled, 2000);
  EXPECT_EQ(ItemOf(l, "O1").paid, 3000);
  EXPECT_EQ(ItemOf(l, "O1").balance(), 5000);
  EXPECT_EQ(l.unapplied, 0);
  // A payment for an order that never comes stays unapplied, not lost.
  l = Replay({Pay("e1", 0, 3000, "O9")}, kNet30);
  EXPECT_EQ(l.unapplied, 3000);
}

TEST(LedgerTest, AgingBucketsAndOpenOrders) {
  Fact future = Order("e5", 0, "O5", 700);
  std::get<OrderFact>(future.body).invoiced_at = Day(200);  // not invoiced yet at day 130
  Ledger l = Replay({Order("e1", 0, "O1", 100), Order("e2", 40, "O2", 200),
                     Order("e3", 70, "O3", 300), Order("e4", 100, "O4", 400), future},
                    kNet30);
  Position p = *PositionAt(l, Day(130));
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
                    kNet30);
  Position p = *PositionAt(l, Day(70));
  ASSERT_TRUE(p.on_time_permille.has_value());
  EXPECT_EQ(*p.on_time_permille, 500);  // 2 of 4
  EXPECT_FALSE(PositionAt(l, Day(460))->on_time_permille.has_value())
      << "nothing fell due in the 12 months before day 460";
}

TEST(LedgerTest, MonthlyStatementTermsFallDueAtTheEndOfTheNextMonth) {
  // Invoiced 2026-01-15 on 月结 + 0: due 2026-02-28T23:59:59Z.
  const Micros due = DueDate(Day(14), {Terms::Type::kMonthlyStatement, 0});
  EXPECT_EQ(due, Day(31 + 28) - 1000000);
  EXPECT_EQ(DueDate(Day(0), {Terms::Type::kNetDays, 45}), Day(45));
  EXPECT_EQ(DueDate(Day(3), {Terms::Type::kPrepaid, 0}), Day(3));
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
    const Ledger expected = Replay(facts, kNet30);
    const Position expected_position = *PositionAt(expected, Day(100));
    for (int shuffle = 0; shuffle < 5; ++shuffle) {
      std::shuffle(facts.begin(), facts.end(), rng);
      const Ledger got = Replay(facts, kNet30);
      ASSERT_EQ(got.items.size(), expected.items.size());
      for (size_t i = 0; i < got.items.size(); ++i) {
        EXPECT_EQ(got.items[i].order_no, expected.items[i].order_no);
        EXPECT_EQ(got.items[i].balance(), expected.items[i].balance());
        EXPECT_EQ(got.items[i].cancelled, expected.items[i].cancelled);
        EXPECT_EQ(got.items[i].settled_at, expected.items[i].settled_at);
      }
      EXPECT_EQ(got.unapplied, expected.unapplied);
      const Position p = *PositionAt(got, Day(100));
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
  Ledger l = Replay(good, kNet30);
  Rating r = RateAccount(l, *PositionAt(l, Day(40 * 30)), Day(40 * 30), policy);
  EXPECT_EQ(r.score, 100);
  EXPECT_EQ(r.grade, "AAA");
  ASSERT_EQ(r.factors.size(), 4u);
  EXPECT_EQ(r.factors[0].name(), "on_time_ratio");
  EXPECT_EQ(r.factors[0].contribution(), 40);

  // A new customer 100 days overdue on everything: on time 0, overdue 0 points, tenure 30,
  // overdue share 100 % → 0*40 + 0*30 + 30*10 + 0*20 = 3 → C.
  l = Replay({Order("e1", 0, "O1", 10000)}, kNet30);
  r = RateAccount(l, *PositionAt(l, Day(130)), Day(130), policy);
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
  const Ledger l = Replay(MaximalOrders(9000, "e"), kNet30);
  absl::StatusOr<Position> p = PositionAt(l, Day(40));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->open_receivables, 9'000'000'000'000'000'000);
  EXPECT_EQ(p->exposure(), 9'000'000'000'000'000'000);
  EXPECT_EQ(p->overdue_amount, 9'000'000'000'000'000'000);
  EXPECT_EQ(p->aging.days_1_30, 9'000'000'000'000'000'000);
  EXPECT_EQ(p->max_days_overdue, 10);
  EXPECT_EQ(p->dso_days, 90);
  const Rating r = RateAccount(l, *p, Day(40), DefaultPolicy());
  EXPECT_EQ(r.factors[3].name(), "overdue_share");
  EXPECT_EQ(r.factors[3].value(), "100.0%");
  EXPECT_EQ(r.factors[3].points(), 0);
}

TEST(LedgerOverflowTest, ReceivablesPastInt64AreAnErrorNotAWrap) {
  // 10,000 orders just at the cap: 10^19 minor units of receivables would wrap to a negative
  // exposure (issue 11 saw −6,446,744,073,709,551,616); the checked path refuses instead.
  const Ledger l = Replay(MaximalOrders(10000, "e"), kNet30);
  ASSERT_EQ(l.items.size(), 10000u);
  absl::StatusOr<Position> p = PositionAt(l, Day(100));  // past the DSO window
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("open receivables"), std::string::npos) << p.status();
  EXPECT_NE(p.status().message().find("1000000000000000"), std::string::npos) << p.status();

  // Not yet invoiced: the open orders are the figure that passes.
  p = PositionAt(Replay(MaximalOrders(10000, "e", 100), kNet30), Day(40));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("open orders"), std::string::npos) << p.status();

  // Each part fits (5 × 10^18), their sum (the exposure) does not.
  std::vector<Fact> facts = MaximalOrders(5000, "r");
  for (Fact& f : MaximalOrders(5000, "o", 100)) facts.push_back(std::move(f));
  p = PositionAt(Replay(facts, kNet30), Day(40));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("exposure"), std::string::npos) << p.status();
}

TEST(LedgerOverflowTest, UnappliedCreditPastInt64IsAnError) {
  std::vector<Fact> facts;
  for (int i = 0; i < 10000; ++i)
    facts.push_back(Pay(absl::StrCat("p", i), 0, kMaxDocumentMinorUnits));
  const Ledger l = Replay(facts, kNet30);
  EXPECT_EQ(l.out_of_range, "unapplied credit");
  absl::StatusOr<Position> p = PositionAt(l, Day(1));
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
  const Ledger l = Replay(MaximalOrders(10000, "e"), kNet30);
  const absl::StatusOr<Position> p = PositionAt(l, Day(100));
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
      SuggestedLimit(Replay(MaximalOrders(9000, "e"), kNet30), r, Day(10));
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ(*limit, kMaxDocumentMinorUnits) << "a suggestion is a valid limit";
  limit = SuggestedLimit(Replay(MaximalOrders(10000, "e"), kNet30), r, Day(10));
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
