#include "services/classification/tier_rules.h"

#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "gtest/gtest.h"

namespace tierwise::classification {
namespace {

constexpr Micros kNow = 1795392000LL * 1000000;  // 2026-11-22

LedgerEntry Order(const std::string& no, int64_t amount, int days_ago, int64_t margin = 0) {
  return {"o-" + no, LedgerEntry::Kind::kOrder, no, amount, margin, kNow - days_ago * kDay};
}
LedgerEntry Cancel(const std::string& no, int64_t amount, int days_ago) {
  return {"c-" + no, LedgerEntry::Kind::kCancellation, no, amount, 0, kNow - days_ago * kDay};
}

TEST(MetricsTest, TrailingWindowRevenueMarginAndRenewal) {
  const std::vector<LedgerEntry> entries = {
      Order("O1", 100000, 400, 20000),  // outside the window
      Order("O2", 50000, 300, 10000),   // months 7–12
      Order("O3", 80000, 100, 40000),   // last 6 months, half returned
      Cancel("O3", 40000, 90),
      Order("O4", 30000, 10, 3000),
      Cancel("O4", 0, 5),  // fully cancelled: does not count
  };
  const CustomerMetrics m = ComputeMetrics(entries, kNow);
  EXPECT_EQ(m.revenue_12m, 90000);
  EXPECT_EQ(m.margin_12m, 10000 + 20000);
  EXPECT_EQ(m.orders_12m, 2);
  EXPECT_EQ(m.revenue_prev_6m, 50000);
  EXPECT_EQ(m.revenue_last_6m, 40000);
  EXPECT_EQ(m.first_order_at, kNow - 400 * kDay);
  EXPECT_EQ(m.last_order_at, kNow - 10 * kDay);
  // The next change with time alone: O2 (2026-01-26) is one calendar month further back on
  // 2026-11-26, four days on (it leaves the window on 2027-01-26).
  EXPECT_EQ(m.next_window_exit, kNow + 4 * kDay);
  EXPECT_EQ(m.renewal_permille, 2 * 1000 / 12);
  // 66 days later O2 has left the window: the revenue slides with time alone.
  EXPECT_EQ(ComputeMetrics(entries, kNow + 66 * kDay).revenue_12m, 40000);
}

TEST(MetricsTest, RepeatedEventsAndCancellationsBeforeTheirOrderCountOnce) {
  std::vector<LedgerEntry> entries = {Cancel("O1", 1000, 5), Order("O1", 5000, 10),
                                      Order("O1", 5000, 10)};
  EXPECT_EQ(ComputeMetrics(entries, kNow).revenue_12m, 4000);
}

TEST(RuleSetValidationTest, NamesTheField) {
  EXPECT_TRUE(ValidateRuleSet(DefaultRuleSet(), "rule_set").ok());
  v1::RuleSet r = DefaultRuleSet();
  r.mutable_pareto()->set_b_percent(3);
  r.mutable_factors(0)->set_weight(50);
  auto v = status::FieldViolations(ValidateRuleSet(r, "rule_set"));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "rule_set.pareto.b_percent");
  EXPECT_EQ(v[1].field, "rule_set.factors");

  v1::RuleSet score = DefaultRuleSet();
  score.set_method(v1::METHOD_WEIGHTED_SCORE);
  for (auto [tier, min] :
       std::vector<std::pair<std::string, int>>{{"K", 90}, {"A", 70}, {"B", 75}}) {
    auto* t = score.add_thresholds();
    t->set_tier(tier);
    t->set_min_value(min);
  }
  v = status::FieldViolations(ValidateRuleSet(score, "rule_set"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "rule_set.thresholds[2].min_value");
}

TEST(ScoreTest, HundredPointScoreWithContributions) {
  const v1::RuleSet r =
      DefaultRuleSet();  // revenue 30 (cap 1,000,000.00), margin 30 (cap 200,000.00), renewal 40
  CustomerFacts c;
  c.metrics.revenue_12m = 50000000;  // 500,000.00 → 50 points → 15
  c.metrics.margin_12m = 30000000;   // over the cap → 100 points → 30
  c.metrics.renewal_permille = 750;  // 75 points → 30
  const Score s = ScoreCustomer(r, c, kNow);
  EXPECT_EQ(s.score, 75);
  ASSERT_EQ(s.factors.size(), 3u);
  EXPECT_EQ(s.factors[0].factor(), "REVENUE_12M");
  EXPECT_EQ(s.factors[0].value(), "500000.00");
  EXPECT_EQ(s.factors[0].contribution(), 15);
  EXPECT_EQ(s.factors[2].contribution(), 30);
}

TEST(ThresholdTest, TiersWithHysteresis) {
  v1::RuleSet r = DefaultRuleSet();
  r.set_method(v1::METHOD_WEIGHTED_SCORE);
  for (auto [tier, min] :
       std::vector<std::pair<std::string, int>>{{"K", 90}, {"A", 75}, {"B", 50}, {"C", 20}}) {
    auto* t = r.add_thresholds();
    t->set_tier(tier);
    t->set_min_value(min);
  }
  CustomerFacts c;
  EXPECT_EQ(ThresholdTier(r, c, 95, ""), "K");
  EXPECT_EQ(ThresholdTier(r, c, 75, ""), "A");
  EXPECT_EQ(ThresholdTier(r, c, 10, ""), "D");
  // A at 75: falling to 70 stays A (within 10 % of 75), to 67 drops to B.
  EXPECT_EQ(ThresholdTier(r, c, 70, "A"), "A");
  EXPECT_EQ(ThresholdTier(r, c, 67, "A"), "B");
}

TEST(ParetoIndexTest, CountBasisTopFiveAndTwentyPercent) {
  v1::ParetoRule rule;
  rule.set_basis(v1::CUTOFF_BASIS_CUSTOMER_COUNT);
  rule.set_a_percent(5);
  rule.set_b_percent(20);
  ParetoIndex index(rule);
  for (int i = 0; i < 100; ++i) index.Upsert("c" + std::to_string(100 + i), (i + 1) * 1000);
  // c199 (100,000) … c195 are the top 5 → A; the next 15 → B.
  EXPECT_EQ(index.RankTier("c199"), "A");
  EXPECT_EQ(index.RankTier("c195"), "A");
  EXPECT_EQ(index.RankTier("c194"), "B");
  EXPECT_EQ(index.RankTier("c180"), "B");
  EXPECT_EQ(index.RankTier("c179"), "C");
  EXPECT_EQ(index.CutoffRevenue("A"), 96000);
  // c150 jumps to the top: it and c195 (pushed out of A) and c180 (pushed out of B) are
  // among the few customers to re-evaluate — not all 100.
  const std::vector<std::string> affected = index.Upsert("c150", 1000000);
  EXPECT_LE(affected.size(), 8u);
  auto has = [&](const std::string& id) {
    return std::find(affected.begin(), affected.end(), id) != affected.end();
  };
  EXPECT_TRUE(has("c150"));
  EXPECT_TRUE(has("c195"));
  EXPECT_TRUE(has("c180"));
  EXPECT_EQ(index.RankTier("c150"), "A");
  EXPECT_EQ(index.RankTier("c195"), "B");
  EXPECT_EQ(index.RankTier("c180"), "C");
}

TEST(ParetoIndexTest, RemovingACustomerReportsThoseItsDeparturePromotesOrDemotes) {
  v1::ParetoRule rule;
  rule.set_basis(v1::CUTOFF_BASIS_CUSTOMER_COUNT);
  rule.set_a_percent(5);
  rule.set_b_percent(20);
  ParetoIndex index(rule);
  // 21 customers: A = ceil(21 × 5 %) = 2, B up to ceil(21 × 20 %) = 5.
  for (int i = 0; i < 21; ++i) index.Upsert("c" + std::to_string(100 + i), (i + 1) * 1000);
  EXPECT_EQ(index.RankTier("c119"), "A");
  EXPECT_EQ(index.RankTier("c116"), "B");
  // The smallest leaves: 20 customers, A = 1 and B up to 4, so c119 drops to B and c116 to C.
  const std::vector<std::string> affected = index.Remove("c100");
  EXPECT_EQ(index.size(), 20u);
  EXPECT_EQ(index.RankTier("c119"), "B");
  EXPECT_EQ(index.RankTier("c116"), "C");
  EXPECT_EQ(index.RankTier("c100"), "");
  auto has = [&](const std::string& id) {
    return std::find(affected.begin(), affected.end(), id) != affected.end();
  };
  EXPECT_TRUE(has("c119"));
  EXPECT_TRUE(has("c116"));
  EXPECT_FALSE(has("c100"));
  EXPECT_LE(affected.size(), 8u);
  EXPECT_TRUE(index.Remove("unknown").empty());
}

TEST(ParetoIndexTest, RevenueShareBasis) {
  v1::ParetoRule rule;
  rule.set_basis(v1::CUTOFF_BASIS_REVENUE_SHARE);
  rule.set_a_percent(50);
  rule.set_b_percent(80);
  ParetoIndex index(rule);
  index.Upsert("big", 600);
  index.Upsert("mid", 250);
  index.Upsert("small", 100);
  index.Upsert("tiny", 50);
  index.Upsert("zero", 0);
  // big alone reaches 60 % ≥ 50 % → A; mid brings 85 % ≥ 80 % → B; the rest C.
  EXPECT_EQ(index.RankTier("big"), "A");
  EXPECT_EQ(index.RankTier("mid"), "B");
  EXPECT_EQ(index.RankTier("small"), "C");
  EXPECT_EQ(index.RankTier("zero"), "C");
}

// Property: after any sequence of updates, the tiers the incremental path reports as affected
// cover every customer whose rank tier actually changed.
TEST(ParetoIndexTest, AffectedSetCoversEveryChangedTier) {
  std::mt19937_64 rng(99);
  for (auto basis : {v1::CUTOFF_BASIS_CUSTOMER_COUNT, v1::CUTOFF_BASIS_REVENUE_SHARE}) {
    v1::ParetoRule rule;
    rule.set_basis(basis);
    rule.set_a_percent(10);
    rule.set_b_percent(30);
    ParetoIndex index(rule);
    std::map<std::string, std::string> tiers;
    for (int step = 0; step < 2000; ++step) {
      const std::string id = "c" + std::to_string(rng() % 60);
      // One step in eight removes the customer (deleted in the archive) instead.
      const bool remove = rng() % 8 == 0;
      const std::vector<std::string> affected =
          remove ? index.Remove(id) : index.Upsert(id, static_cast<int64_t>(rng() % 100000));
      if (remove) tiers.erase(id);
      for (const auto& a : affected) tiers[a] = index.RankTier(a);
      for (const auto& [other, tier] : tiers) {
        ASSERT_EQ(index.RankTier(other), tier) << "step " << step << " missed " << other;
      }
    }
  }
}

// Property: with rank hysteresis, evaluating only the customers an update reports leaves every
// customer where a full evaluation would put it, and the widened tiers never overflow.
TEST(ParetoTierTest, IncrementalEqualsFullAndTiersStayBounded) {
  v1::RuleSet r = DefaultRuleSet();  // by count, 5 % / 20 %, hysteresis 10 %
  ParetoIndex index(r.pareto(), r.gates().hysteresis_percent());
  std::map<std::string, std::string> tiers;
  std::map<std::string, int64_t> revenue;
  std::mt19937_64 rng(7);
  auto evaluate = [&](const std::string& id) {
    CustomerFacts f;
    f.customer_id = id;
    f.metrics.revenue_12m = revenue[id];
    return ParetoTier(r, index, f, tiers.count(id) ? tiers[id] : "");
  };
  for (int step = 0; step < 3000; ++step) {
    const std::string id = "c" + std::to_string(rng() % 200);
    revenue[id] = static_cast<int64_t>(rng() % 1000000);
    for (const auto& a : index.Upsert(id, revenue[id])) tiers[a] = evaluate(a);
    if (step % 100 != 99) continue;
    int a_count = 0, ab_count = 0;
    for (const auto& [other, tier] : tiers) {
      ASSERT_EQ(evaluate(other), tier) << "step " << step << ": " << other << " is stale";
      a_count += tier == "A";
      ab_count += tier == "A" || tier == "B";
    }
    EXPECT_LE(a_count, static_cast<int>(index.TierSpan("A", true)));
    EXPECT_LE(ab_count, static_cast<int>(index.TierSpan("B", true)));
  }
  EXPECT_EQ(index.TierSpan("A", false), 10u);
  EXPECT_EQ(index.TierSpan("A", true), 11u);
  EXPECT_EQ(index.TierSpan("B", true), 44u);
}

TEST(GatesTest, ProbationAndCreditCap) {
  const v1::RuleSet r = DefaultRuleSet();
  CustomerFacts c;
  std::string gate;
  c.since = kNow - 100 * kDay;  // 3 months
  EXPECT_EQ(ApplyGates(r, "A", c, kNow, &gate), "C");
  EXPECT_EQ(gate, "probation");
  c.since = kNow - 200 * kDay;
  EXPECT_EQ(ApplyGates(r, "A", c, kNow, &gate), "A");
  EXPECT_EQ(gate, "");
  c.credit_rating = "C";
  EXPECT_EQ(ApplyGates(r, "A", c, kNow, &gate), "C");
  EXPECT_EQ(gate, "credit_cap");
  c.credit_rating = "BB";
  c.max_days_overdue = 95;
  EXPECT_EQ(ApplyGates(r, "B", c, kNow, &gate), "C");
  EXPECT_EQ(ApplyGates(r, "D", c, kNow, &gate), "D") << "a cap never raises a tier";
}

TEST(DimensionsTest, LabelFromGrowthTenureAndRecency) {
  CustomerFacts c;
  c.since = kNow - 4 * 365 * kDay;
  c.metrics.revenue_prev_6m = 100;
  c.metrics.revenue_last_6m = 150;
  c.metrics.first_order_at = c.since;
  c.metrics.last_order_at = kNow - 20 * kDay;
  c.metrics.renewal_permille = 800;
  const Dimensions d = DimensionsOf(c, kNow);
  EXPECT_EQ(d.potential, "high");
  EXPECT_EQ(d.relationship, "strategic_partner");
  EXPECT_EQ(d.behaviour, "loyal");
  EXPECT_EQ(CombinedLabel("A", d), "A · high potential · strategic partner");
  c.metrics.last_order_at = kNow - 400 * kDay;
  EXPECT_EQ(DimensionsOf(c, kNow).behaviour, "churned");
}

TEST(MetricsTest, SatisfactionAndComplaintsOverTheTrailingWindow) {
  const std::vector<InteractionFact> interactions = {
      {"i1", kNow - 10 * kDay, 5, false},
      {"i2", kNow - 20 * kDay, 4, false},
      {"i3", kNow - 30 * kDay, 4, false},
      {"i3", kNow - 30 * kDay, 4, false},   // the same version twice counts once
      {"i4", kNow - 40 * kDay, 0, false},   // not asked
      {"i5", kNow - 50 * kDay, 1, true},    // replaced by a correction
      {"i6", kNow - 400 * kDay, 1, false},  // before the window
      {"i7", kNow - 300 * kDay, 2, false},
  };
  const std::vector<ComplaintFact> complaints = {
      {"k1", kNow - 5 * kDay, true, false, false},
      {"k2", kNow - 100 * kDay, false, true, true},
      {"k3", kNow - 500 * kDay, true, true, false},  // old, still open
  };
  CustomerMetrics m;
  AddInteractionMetrics(interactions, complaints, kNow, &m);
  ASSERT_TRUE(m.satisfaction_x100.has_value());
  EXPECT_EQ(*m.satisfaction_x100, 375);  // (5 + 4 + 4 + 2) / 4
  EXPECT_EQ(m.satisfaction_count_12m, 4);
  EXPECT_EQ(m.complaints_12m, 2);
  EXPECT_EQ(m.open_complaints, 2);
  EXPECT_EQ(m.sla_breaches_12m, 2);
  EXPECT_EQ(m.next_window_exit, kNow - 300 * kDay + kYear) << "i7 leaves first";

  // An order leaving earlier keeps its exit; rounding is half up.
  CustomerMetrics with_order;
  with_order.next_window_exit = kNow + kDay;
  AddInteractionMetrics({{"a", kNow, 5, false}, {"b", kNow, 4, false}, {"c", kNow, 4, false}}, {},
                        kNow, &with_order);
  EXPECT_EQ(*with_order.satisfaction_x100, 433);
  EXPECT_EQ(with_order.next_window_exit, kNow + kDay);

  CustomerMetrics none;
  AddInteractionMetrics({{"x", kNow, 0, false}}, {}, kNow, &none);
  EXPECT_FALSE(none.satisfaction_x100.has_value());
  EXPECT_EQ(none.next_window_exit, 0);
  // The window slides: 66 days later i7 is out.
  AddInteractionMetrics(interactions, complaints, kNow + 66 * kDay, &m);
  EXPECT_EQ(*m.satisfaction_x100, 433);
}

TEST(ScoreTest, SatisfactionPointsFromOneToTheCapNeutralWithoutRatings) {
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 100, 500), 0);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 300, 500), 50);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 433, 500), 83);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 500, 500), 100);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 400, 400), 100) << "4.00 worth full points";
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 480, 400), 100);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 250, 400), 50);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, std::nullopt, 500), 50) << "neutral";
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, std::nullopt, 400), 50);
  EXPECT_EQ(FactorPoints(v1::FACTOR_SATISFACTION, 300, 100), 100) << "a bad stored cap";
}

TEST(ScoreTest, ComplaintPointsFewerIsBetter) {
  for (v1::Factor f :
       {v1::FACTOR_COMPLAINTS_12M, v1::FACTOR_OPEN_COMPLAINTS, v1::FACTOR_SLA_BREACHES_12M}) {
    EXPECT_EQ(FactorPoints(f, 0, 4), 100) << f;
    EXPECT_EQ(FactorPoints(f, 1, 4), 75) << f;
    EXPECT_EQ(FactorPoints(f, 4, 4), 0) << f;
    EXPECT_EQ(FactorPoints(f, 9, 4), 0) << f;
  }
  EXPECT_EQ(FactorPoints(v1::FACTOR_REVENUE_12M, 50, 200), 25) << "others: value / cap";
  EXPECT_EQ(FactorPoints(v1::FACTOR_ON_TIME_RATIO, std::nullopt, 1000), 0);
}

TEST(ScoreTest, ServiceQualityFactorsInAWeightedScore) {
  v1::RuleSet r = DefaultRuleSet();
  r.set_method(v1::METHOD_WEIGHTED_SCORE);
  r.clear_factors();
  auto add = [&](v1::Factor f, int weight, int64_t cap) {
    v1::ScoreFactor* s = r.add_factors();
    s->set_factor(f);
    s->set_weight(weight);
    s->set_cap(cap);
  };
  add(v1::FACTOR_REVENUE_12M, 40, 100000);
  add(v1::FACTOR_SATISFACTION, 40, 500);
  add(v1::FACTOR_COMPLAINTS_12M, 10, 2);
  add(v1::FACTOR_SLA_BREACHES_12M, 10, 2);
  auto* t = r.add_thresholds();
  t->set_tier("A");
  t->set_min_value(60);
  EXPECT_TRUE(ValidateRuleSet(r, "rule_set").ok());

  CustomerFacts c;
  c.metrics.revenue_12m = 50000;  // 50 points → 20
  Score s = ScoreCustomer(r, c, kNow);
  EXPECT_EQ(s.score, 20 + 20 + 10 + 10);
  EXPECT_EQ(s.factors[1].factor(), "SATISFACTION");
  EXPECT_EQ(s.factors[1].value(), "none");
  EXPECT_EQ(s.factors[1].points(), 50);
  c.metrics.satisfaction_x100 = 425;
  c.metrics.complaints_12m = 1;
  c.metrics.sla_breaches_12m = 3;
  s = ScoreCustomer(r, c, kNow);
  EXPECT_EQ(s.factors[1].value(), "4.25");
  EXPECT_EQ(s.factors[1].points(), 81);
  EXPECT_EQ(s.factors[2].value(), "1");
  EXPECT_EQ(s.factors[2].points(), 50);
  EXPECT_EQ(s.factors[3].points(), 0);
  EXPECT_EQ(s.score, (50 * 40 + 81 * 40 + 50 * 10 + 0) / 100);

  r.mutable_factors(1)->set_cap(50);
  auto v = status::FieldViolations(ValidateRuleSet(r, "rule_set"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "rule_set.factors[1].cap");
  r.mutable_factors(1)->set_cap(501);
  EXPECT_FALSE(ValidateRuleSet(r, "rule_set").ok());
  r.mutable_factors(1)->set_cap(450);
  EXPECT_TRUE(ValidateRuleSet(r, "rule_set").ok());
}

// Property: the dimensions and the probation gate never change before the moment NextTimeChange
// announces (checked day by day over three years, with metrics that stay as they are).
TEST(NextTimeChangeTest, NamesTheFirstMomentTheEvaluationChangesWithTimeAlone) {
  const v1::RuleSet rs = DefaultRuleSet();
  CustomerFacts c;
  c.customer_id = "t";
  c.since = kNow - 100 * kDay;
  c.metrics.first_order_at = kNow - 60 * kDay;
  c.metrics.last_order_at = kNow - 20 * kDay;
  c.metrics.revenue_last_6m = 1000;
  c.metrics.revenue_12m = 1000;
  const auto state = [&](Micros at) {
    std::string gate;
    ApplyGates(rs, "A", c, at, &gate);
    const Dimensions d = DimensionsOf(c, at);
    return absl::StrCat(gate, "|", d.relationship, "|", d.behaviour, "|", d.potential);
  };
  Micros now = kNow;
  int changes = 0;
  for (int step = 0; step < 3 * 365; ++step) {
    const Micros next = NextTimeChange(rs, c, now);
    const Micros until = now + kDay;
    if (next == 0 || next > until) {
      EXPECT_EQ(state(until), state(now)) << "a change at day " << step << " was not announced";
    } else {
      EXPECT_EQ(state(next - 1), state(now)) << "announced late at day " << step;
      ++changes;
    }
    now = until;
  }
  // Probation end, developing, long term, no longer new, dormant, churned (at least).
  EXPECT_GE(changes, 6);
  EXPECT_EQ(NextTimeChange(rs, c, kNow + 10 * kYear), 0);
}

// Money never wraps (issue 11): sums of revenue and margin are checked, shares in 128 bits.
TEST(MoneyOverflowTest, TrailingSumsAreExactOrHeldNeverWrapped) {
  constexpr int64_t kMaxDocument = 1'000'000'000'000'000;  // credit's per-document maximum
  std::vector<LedgerEntry> entries;
  for (int i = 0; i < 9000; ++i) {
    entries.push_back(Order(absl::StrCat("O", i), kMaxDocument, 10, kMaxDocument / 2));
  }
  CustomerMetrics m = ComputeMetrics(entries, kNow);
  EXPECT_EQ(m.revenue_12m, 9'000'000'000'000'000'000);
  EXPECT_EQ(m.margin_12m, 4'500'000'000'000'000'000);
  EXPECT_EQ(m.revenue_last_6m, 9'000'000'000'000'000'000);
  EXPECT_EQ(m.out_of_range, "");

  // 10,000 of them: 10^19 would wrap to a negative revenue; it is held at the int64 maximum
  // (still the largest customer) and named.
  for (int i = 9000; i < 10000; ++i) {
    entries.push_back(Order(absl::StrCat("O", i), kMaxDocument, 10, kMaxDocument / 2));
  }
  m = ComputeMetrics(entries, kNow);
  EXPECT_EQ(m.revenue_12m, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(m.revenue_last_6m, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(m.margin_12m, 5'000'000'000'000'000'000) << "fits: exact";
  EXPECT_EQ(m.out_of_range, "revenue_12m");
  EXPECT_EQ(m.orders_12m, 10000);
}

TEST(MoneyOverflowTest, ParetoSharesOfHugeRevenuesDoNotWrap) {
  v1::ParetoRule rule;
  rule.set_basis(v1::CUTOFF_BASIS_REVENUE_SHARE);
  rule.set_a_percent(50);
  rule.set_b_percent(80);
  ParetoIndex index(rule, 10);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  index.Upsert("big", kMax);
  index.Upsert("mid", kMax / 2);
  index.Upsert("small", 1000);
  // The total passes int64 (it used to wrap negative, and every customer became C).
  EXPECT_EQ(index.total_revenue(), kMax);
  EXPECT_EQ(index.RankTier("big"), "A");
  EXPECT_EQ(index.RankTier("mid"), "B");
  EXPECT_EQ(index.RankTier("small"), "C");
  // Hysteresis near the top: a revenue × 100 beyond int64 is still compared right.
  v1::RuleSet r = DefaultRuleSet();
  r.mutable_pareto()->CopyFrom(rule);
  r.mutable_gates()->set_hysteresis_percent(10);
  CustomerFacts c;
  c.customer_id = "mid";
  c.metrics.revenue_12m = kMax / 2;
  EXPECT_EQ(ParetoTier(r, index, c, "A"), "B") << "50 % of A's cut-off is outside the 10 % band";
  index.Upsert("mid", kMax / 100 * 95);
  c.metrics.revenue_12m = kMax / 100 * 95;
  EXPECT_EQ(index.RankTier("mid"), "B");
  EXPECT_EQ(ParetoTier(r, index, c, "A"), "A") << "within 10 % of A's cut-off";
}

TEST(MoneyOverflowTest, ThresholdsAndFactorPointsOfHugeValues) {
  v1::RuleSet r = DefaultRuleSet();
  r.set_method(v1::METHOD_THRESHOLDS);
  r.clear_thresholds();
  constexpr int64_t kTop = 1'000'000'000'000'000'000;  // 10^18 minor units
  for (auto [tier, min] : std::vector<std::pair<std::string, int64_t>>{{"A", kTop}, {"B", 0}}) {
    auto* t = r.add_thresholds();
    t->set_tier(tier);
    t->set_min_value(min);
  }
  r.mutable_gates()->set_hysteresis_percent(10);
  CustomerFacts c;
  c.metrics.revenue_12m = kTop / 100 * 95;  // × 100 passes int64
  EXPECT_EQ(ThresholdTier(r, c, 0, "A"), "A") << "within 10 % of A's minimum";
  c.metrics.revenue_12m = kTop / 100 * 85;
  EXPECT_EQ(ThresholdTier(r, c, 0, "A"), "B");
  EXPECT_EQ(FactorPoints(v1::FACTOR_REVENUE_12M, kTop / 2, kTop), 50);
  EXPECT_EQ(FactorPoints(v1::FACTOR_COMPLAINTS_12M, kTop / 4, kTop), 75);
}

}  // namespace
}  // namespace tierwise::classification

namespace tierwise::classification {
namespace {

TEST(ClampToInt64Test, TotalsPastInt64AreHeldAtTheBoundNotWrapped) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  absl::int128 total = 0;
  for (int i = 0; i < 10000; ++i) total += int64_t{1000000000000000};  // 10^4 customers at 10^15
  EXPECT_EQ(ClampToInt64(total), max);
  EXPECT_EQ(ClampToInt64(-total), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ClampToInt64(absl::int128(max)), max);
  EXPECT_EQ(ClampToInt64(absl::int128(42)), 42);
}

}  // namespace

// The business calendar: days and months are Asia/Shanghai ones (UTC+8), whatever the UTC date.
class CalendarRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = time::BusinessCalendar::Load("Asia/Shanghai");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    cal_ = *loaded;
  }
  // Local wall time in Shanghai as micros.
  Micros At(int y, int mo, int d, int h = 0, int mi = 0) const {
    return time::ToMicros(absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), cal_.zone()));
  }
  time::BusinessCalendar cal_ = time::BusinessCalendar::Utc();
};

TEST(AddMonthsTest, HoldsAtTheLastDayOfAShorterMonth) {
  EXPECT_EQ(AddMonths(absl::CivilDay(2025, 8, 31), 6), absl::CivilDay(2026, 2, 28));
  EXPECT_EQ(AddMonths(absl::CivilDay(2023, 8, 31), 6), absl::CivilDay(2024, 2, 29));
  EXPECT_EQ(AddMonths(absl::CivilDay(2024, 2, 29), 12), absl::CivilDay(2025, 2, 28));
  EXPECT_EQ(AddMonths(absl::CivilDay(2025, 1, 15), 12), absl::CivilDay(2026, 1, 15));
  EXPECT_EQ(WholeMonthsBetween(absl::CivilDay(2025, 8, 31), absl::CivilDay(2026, 2, 27)), 5);
  EXPECT_EQ(WholeMonthsBetween(absl::CivilDay(2025, 8, 31), absl::CivilDay(2026, 2, 28)), 6);
  EXPECT_EQ(WholeMonthsBetween(absl::CivilDay(2025, 3, 15), absl::CivilDay(2025, 3, 15)), 0);
}

// A last order at 23:59 local is a day older than one a minute later at 00:00: 181 days back
// is dormant, 180 is not, whatever time of today it is (and UTC sees both on the same day).
TEST_F(CalendarRulesTest, RecencyCountsLocalDays) {
  CustomerFacts c;
  c.since = At(2024, 1, 1);
  c.metrics.first_order_at = c.since;
  const Micros now = At(2026, 6, 30, 7, 0);  // 2026-06-29 23:00 UTC
  const absl::CivilDay today(2026, 6, 30);
  const absl::CivilDay d181 = today - 181;
  const Micros late = At(d181.year(), d181.month(), d181.day(), 23, 59);
  const Micros midnight = late + 60 * 1000000LL;  // 00:00 of the next local day
  c.metrics.last_order_at = late;
  EXPECT_EQ(DimensionsOf(c, now, cal_).behaviour, "dormant");
  c.metrics.last_order_at = midnight;
  EXPECT_EQ(DimensionsOf(c, now, cal_).behaviour, "active");
  // It turns dormant at local 00:00, 16:00 UTC the day before.
  const Micros dormant_at = At(2026, 7, 1);
  EXPECT_EQ(DimensionsOf(c, dormant_at - 1, cal_).behaviour, "active");
  EXPECT_EQ(DimensionsOf(c, dormant_at, cal_).behaviour, "dormant");
  EXPECT_EQ(NextTimeChange(DefaultRuleSet(), c, now, cal_), dormant_at);
  // In UTC the two orders are both 180 days back at this instant.
  EXPECT_EQ(DimensionsOf(c, now).behaviour, "active");
  c.metrics.last_order_at = late;
  EXPECT_EQ(DimensionsOf(c, now).behaviour, "active");
}

// "New" (first order fewer than 90 local days back) ends at local 00:00.
TEST_F(CalendarRulesTest, NewCustomerForNinetyLocalDays) {
  CustomerFacts c;
  c.since = At(2026, 1, 10, 23, 59);
  c.metrics.first_order_at = c.since;
  c.metrics.last_order_at = c.since;
  const Micros end = cal_.StartOf(absl::CivilDay(2026, 1, 10) + 90);
  EXPECT_EQ(DimensionsOf(c, end - 1, cal_).behaviour, "new");
  EXPECT_EQ(DimensionsOf(c, end, cal_).behaviour, "active");
}

// Six months of probation from Aug 31 end on Feb 28 at local 00:00.
TEST_F(CalendarRulesTest, ProbationEndsAtTheMonthEndLocalMidnight) {
  const v1::RuleSet r = DefaultRuleSet();
  ASSERT_EQ(r.gates().probation_months(), 6);
  CustomerFacts c;
  c.since = At(2025, 8, 31, 15, 0);
  std::string gate;
  const Micros end = At(2026, 2, 28);
  EXPECT_EQ(ApplyGates(r, "A", c, end - 60 * 1000000LL, &gate, cal_), "C");  // Feb 27, 23:59
  EXPECT_EQ(gate, "probation");
  EXPECT_EQ(ApplyGates(r, "A", c, end, &gate, cal_), "A");
  EXPECT_EQ(gate, "");
  EXPECT_EQ(NextTimeChange(r, c, At(2026, 2, 1), cal_), end);
  EXPECT_EQ(DimensionsOf(c, end - 1, cal_).relationship, "new");
  EXPECT_EQ(DimensionsOf(c, end, cal_).relationship, "developing");
  // Tenure in local days: Aug 31 to Feb 28 is 181 days.
  const Score s = [&] {
    v1::RuleSet w = r;
    w.set_method(v1::METHOD_WEIGHTED_SCORE);
    w.clear_factors();
    auto* f = w.add_factors();
    f->set_factor(v1::FACTOR_TENURE_DAYS);
    f->set_weight(100);
    f->set_cap(181);
    return ScoreCustomer(w, c, end, cal_);
  }();
  EXPECT_EQ(s.score, 100);
}

// An order counts in the trailing 12 months until local 00:00 of its day a year on, and is in
// the last 6 months until its day 6 months on; the renewal months are calendar months back.
TEST_F(CalendarRulesTest, TrailingWindowsAreLocalDays) {
  // 2025-03-01 00:30 local = 2025-02-28 16:30 UTC.
  const Micros placed = At(2025, 3, 1, 0, 30);
  const std::vector<LedgerEntry> entries = {
      {"e1", LedgerEntry::Kind::kOrder, "O1", 1000, 100, placed}};
  const Micros exit = At(2026, 3, 1);
  CustomerMetrics m = ComputeMetrics(entries, exit - 1, cal_);
  EXPECT_EQ(m.revenue_12m, 1000);
  EXPECT_EQ(m.revenue_prev_6m, 1000);
  EXPECT_EQ(m.next_window_exit, exit);
  EXPECT_EQ(ComputeMetrics(entries, exit, cal_).revenue_12m, 0);
  // Six months on (Sep 1, local) it moves from the last six months to the six before.
  EXPECT_EQ(ComputeMetrics(entries, At(2025, 8, 31, 23, 59), cal_).revenue_last_6m, 1000);
  EXPECT_EQ(ComputeMetrics(entries, At(2025, 9, 1), cal_).revenue_last_6m, 0);
  // Renewal: one active month of the two since the first order.
  EXPECT_EQ(ComputeMetrics(entries, At(2025, 3, 31), cal_).renewal_permille, 1000);
  EXPECT_EQ(ComputeMetrics(entries, At(2025, 4, 1), cal_).renewal_permille, 500);
  // Ratings leave the window at the same local midnight.
  CustomerMetrics i;
  AddInteractionMetrics({{"i1", placed, 5, false}}, {}, exit - 1, &i, cal_);
  EXPECT_EQ(i.satisfaction_count_12m, 1);
  EXPECT_EQ(i.next_window_exit, exit);
  CustomerMetrics j;
  AddInteractionMetrics({{"i1", placed, 5, false}}, {}, exit, &j, cal_);
  EXPECT_EQ(j.satisfaction_count_12m, 0);
}

// Property: with the Shanghai calendar, nothing of the evaluation changes with time before the
// moment NextTimeChange names.
TEST_F(CalendarRulesTest, NextTimeChangeIsExactInLocalTime) {
  std::mt19937 rng(7);
  const v1::RuleSet rs = DefaultRuleSet();
  for (int round = 0; round < 200; ++round) {
    CustomerFacts c;
    const Micros now = At(2026, 6, 15, 12, 0) + static_cast<Micros>(rng() % 86400) * 1000000;
    c.since = now - static_cast<Micros>(rng() % (1500 * 86400)) * 1000000;
    c.metrics.first_order_at = c.since + static_cast<Micros>(rng() % 86400) * 1000000;
    c.metrics.last_order_at = std::min(
        now, c.metrics.first_order_at + static_cast<Micros>(rng() % (900 * 86400)) * 1000000);
    const auto state = [&](Micros at) {
      std::string gate;
      const std::string tier = ApplyGates(rs, "A", c, at, &gate, cal_);
      const Dimensions d = DimensionsOf(c, at, cal_);
      return absl::StrCat(tier, gate, d.relationship, d.behaviour);
    };
    const Micros next = NextTimeChange(rs, c, now, cal_);
    if (next == 0) continue;
    EXPECT_EQ(state(now), state(next - 1)) << round;
    if (state(next) != state(next - 1)) continue;
    // A threshold that changes nothing visible (e.g. long_term while churned) is allowed, but it
    // is a local midnight.
    EXPECT_EQ(cal_.StartOf(cal_.DayOf(next)), next) << round;
  }
}

// Property: the ledger metrics do not change with time alone before next_window_exit, so
// stored metrics stay exact until the maintenance refreshes them then (and the full run need
// not recompute the others).
TEST_F(CalendarRulesTest, MetricsHoldUntilTheirNextChange) {
  std::mt19937_64 rng(99);
  const auto same = [](CustomerMetrics a, CustomerMetrics b) {
    return a.revenue_12m == b.revenue_12m && a.margin_12m == b.margin_12m &&
           a.orders_12m == b.orders_12m && a.revenue_prev_6m == b.revenue_prev_6m &&
           a.revenue_last_6m == b.revenue_last_6m && a.renewal_permille == b.renewal_permille &&
           a.first_order_at == b.first_order_at && a.last_order_at == b.last_order_at;
  };
  int moved = 0;
  for (int round = 0; round < 100; ++round) {
    const Micros now = At(2026, 6, 1) + static_cast<Micros>(rng() % (200 * 86400)) * 1000000;
    std::vector<LedgerEntry> entries;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      const Micros at = now - static_cast<Micros>(rng() % (420 * 86400)) * 1000000 +
                        (rng() % 10 == 0 ? static_cast<Micros>(rng() % 86400) * 1000000 : 0);
      entries.push_back({absl::StrCat("e", i), LedgerEntry::Kind::kOrder, absl::StrCat("O", i),
                         1000 + static_cast<int64_t>(rng() % 9000), 100, at});
    }
    const CustomerMetrics m = ComputeMetrics(entries, now, cal_);
    if (m.next_window_exit == 0) continue;
    ASSERT_GT(m.next_window_exit, now) << round;
    for (int probe = 0; probe < 5; ++probe) {
      const Micros t =
          now + static_cast<Micros>(rng() % static_cast<uint64_t>(m.next_window_exit - now));
      EXPECT_TRUE(same(ComputeMetrics(entries, t, cal_), m)) << round << " at +" << (t - now);
    }
    EXPECT_TRUE(same(ComputeMetrics(entries, m.next_window_exit - 1, cal_), m)) << round;
    if (!same(ComputeMetrics(entries, m.next_window_exit, cal_), m)) ++moved;
  }
  EXPECT_GT(moved, 10) << "next_window_exit names moments where something changes";
}

}  // namespace tierwise::classification
