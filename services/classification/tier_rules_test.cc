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
}  // namespace tierwise::classification
