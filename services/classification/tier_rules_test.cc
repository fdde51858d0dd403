#include "services/classification/tier_rules.h"

#include <random>

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
  EXPECT_EQ(m.next_window_exit, kNow - 300 * kDay + kYear);
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
      const std::vector<std::string> affected =
          index.Upsert(id, static_cast<int64_t>(rng() % 100000));
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

}  // namespace
}  // namespace tierwise::classification
