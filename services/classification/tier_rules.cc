#include "services/classification/tier_rules.h"

#include <algorithm>
#include <limits>
#include <set>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status.h"

namespace tierwise::classification {
namespace {

const std::vector<std::string>& CreditRatings() {
  static const auto* const kRatings =
      new std::vector<std::string>{"AAA", "AA", "A", "BBB", "BB", "B", "C"};
  return *kRatings;
}

int CreditRank(const std::string& rating) {
  const auto& r = CreditRatings();
  auto it = std::find(r.begin(), r.end(), rating);
  return it == r.end() ? -1 : static_cast<int>(it - r.begin());
}

std::string Money(int64_t minor) {
  // Unsigned magnitude: -INT64_MIN would overflow.
  const uint64_t abs = minor < 0 ? -static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  return absl::StrFormat("%s%d.%02d", minor < 0 ? "-" : "", abs / 100, abs % 100);
}

// The value of a factor for a customer, or nullopt when unknown (the factor scores 0).
std::optional<int64_t> FactorValue(v1::Factor f, const CustomerFacts& c, Micros now,
                                   const time::BusinessCalendar& calendar) {
  switch (f) {
    case v1::FACTOR_REVENUE_12M:
      return c.metrics.revenue_12m;
    case v1::FACTOR_MARGIN_12M:
      return c.metrics.margin_12m;
    case v1::FACTOR_ORDER_COUNT_12M:
      return c.metrics.orders_12m;
    case v1::FACTOR_RENEWAL_RATE:
      return c.metrics.renewal_permille;
    case v1::FACTOR_ON_TIME_RATIO:
      if (!c.on_time_permille.has_value()) return std::nullopt;
      return *c.on_time_permille;
    case v1::FACTOR_TENURE_DAYS:
      return c.since == 0 ? 0 : std::max<int64_t>(0, calendar.DaysBetween(c.since, now));
    case v1::FACTOR_SATISFACTION:
      if (!c.metrics.satisfaction_x100.has_value()) return std::nullopt;
      return *c.metrics.satisfaction_x100;
    case v1::FACTOR_COMPLAINTS_12M:
      return c.metrics.complaints_12m;
    case v1::FACTOR_OPEN_COMPLAINTS:
      return c.metrics.open_complaints;
    case v1::FACTOR_SLA_BREACHES_12M:
      return c.metrics.sla_breaches_12m;
    default:
      return std::nullopt;
  }
}

std::string FormatFactor(v1::Factor f, int64_t v) {
  switch (f) {
    case v1::FACTOR_REVENUE_12M:
    case v1::FACTOR_MARGIN_12M:
      return Money(v);
    case v1::FACTOR_RENEWAL_RATE:
    case v1::FACTOR_ON_TIME_RATIO:
      return absl::StrFormat("%d.%d%%", v / 10, v % 10);
    case v1::FACTOR_SATISFACTION:
      return absl::StrFormat("%d.%02d", v / 100, v % 100);
    default:
      return absl::StrCat(v);
  }
}

// The lowest average satisfaction ×100 (1.00), worth 0 points, and the points of no rating.
constexpr int64_t kSatisfactionFloor = 100;
constexpr int64_t kSatisfactionCeiling = 500;
constexpr int kNeutralPoints = 50;

}  // namespace

int FactorPoints(v1::Factor factor, std::optional<int64_t> value, int64_t cap) {
  if (cap <= 0) return 0;
  switch (factor) {
    case v1::FACTOR_SATISFACTION: {
      if (!value.has_value()) return kNeutralPoints;
      // A cap outside 101..500 is rejected on creation; guard the division all the same.
      const int64_t top = std::clamp(cap, kSatisfactionFloor + 1, kSatisfactionCeiling);
      const int64_t v = std::clamp(*value, kSatisfactionFloor, top);
      return static_cast<int>((v - kSatisfactionFloor) * 100 / (top - kSatisfactionFloor));
    }
    case v1::FACTOR_COMPLAINTS_12M:
    case v1::FACTOR_OPEN_COMPLAINTS:
    case v1::FACTOR_SLA_BREACHES_12M: {
      const int64_t v = std::clamp<int64_t>(value.value_or(0), 0, cap);
      return static_cast<int>(absl::int128(cap - v) * 100 / cap);  // a cap beyond 9 × 10^16
    }
    default: {
      const int64_t v = std::clamp<int64_t>(value.value_or(0), 0, cap);
      return static_cast<int>(absl::int128(v) * 100 / cap);
    }
  }
}

const std::vector<std::string>& Tiers() {
  static const auto* const kTiers = new std::vector<std::string>{"K", "A", "B", "C", "D"};
  return *kTiers;
}

int TierRank(const std::string& tier) {
  const auto& t = Tiers();
  auto it = std::find(t.begin(), t.end(), tier);
  return it == t.end() ? -1 : static_cast<int>(it - t.begin());
}

v1::RuleSet DefaultRuleSet() {
  v1::RuleSet r;
  r.set_name("ABC by customer count (5 % / 20 %)");
  r.set_method(v1::METHOD_ABC_PARETO);
  r.mutable_pareto()->set_basis(v1::CUTOFF_BASIS_CUSTOMER_COUNT);
  r.mutable_pareto()->set_a_percent(5);
  r.mutable_pareto()->set_b_percent(20);
  // Shown for every method: the seeds' 100-point score (amount 30, margin 30, renewal 40).
  auto add = [&](v1::Factor f, int weight, int64_t cap) {
    v1::ScoreFactor* s = r.add_factors();
    s->set_factor(f);
    s->set_weight(weight);
    s->set_cap(cap);
  };
  add(v1::FACTOR_REVENUE_12M, 30, 1000000LL * 100);
  add(v1::FACTOR_MARGIN_12M, 30, 200000LL * 100);
  add(v1::FACTOR_RENEWAL_RATE, 40, 1000);
  auto* g = r.mutable_gates();
  g->set_probation_months(6);
  g->set_probation_tier("C");
  g->set_credit_cap_below_rating("B");
  g->set_credit_cap_days_overdue(90);
  g->set_credit_cap_tier("C");
  g->set_hysteresis_percent(10);
  return r;
}

absl::Status ValidateRuleSet(const v1::RuleSet& r, const std::string& prefix) {
  status::ViolationList v;
  const auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  if (r.name().empty() || r.name().size() > 200)
    v.Add(f("name"), "is required (at most 200 bytes)");
  if (r.method() == v1::METHOD_UNSPECIFIED || !v1::Method_IsValid(r.method())) {
    v.Add(f("method"), "must be ABC_PARETO, WEIGHTED_SCORE or THRESHOLDS");
  }
  if (r.method() == v1::METHOD_ABC_PARETO) {
    const auto& p = r.pareto();
    if (p.basis() == v1::CUTOFF_BASIS_UNSPECIFIED || !v1::CutoffBasis_IsValid(p.basis())) {
      v.Add(f("pareto.basis"), "must be CUSTOMER_COUNT or REVENUE_SHARE");
    }
    if (p.a_percent() < 1 || p.a_percent() >= 100)
      v.Add(f("pareto.a_percent"), "must be within 1..99");
    if (p.b_percent() <= p.a_percent() || p.b_percent() > 100) {
      v.Add(f("pareto.b_percent"), "must be above a_percent and at most 100");
    }
  }
  int weights = 0;
  std::set<int> seen_factors;
  for (int i = 0; i < r.factors_size(); ++i) {
    const auto& s = r.factors(i);
    const std::string field = absl::StrCat(prefix, ".factors[", i, "]");
    if (s.factor() == v1::FACTOR_UNSPECIFIED || !v1::Factor_IsValid(s.factor())) {
      v.Add(field + ".factor", "is not a known factor");
    } else if (!seen_factors.insert(s.factor()).second) {
      v.Add(field + ".factor", "appears twice");
    }
    if (s.weight() < 0 || s.weight() > 100) v.Add(field + ".weight", "must be within 0..100");
    if (s.cap() <= 0) {
      v.Add(field + ".cap", "must be positive");
    } else if (s.factor() == v1::FACTOR_SATISFACTION &&
               (s.cap() <= kSatisfactionFloor || s.cap() > kSatisfactionCeiling)) {
      v.Add(field + ".cap", "is the average satisfaction ×100 worth full points, 101..500");
    }
    weights += s.weight();
  }
  if (r.method() == v1::METHOD_WEIGHTED_SCORE && r.factors_size() == 0) {
    v.Add(f("factors"), "are required for WEIGHTED_SCORE");
  } else if (r.factors_size() > 0 && weights != 100) {
    v.Add(f("factors"), absl::StrCat("weights must sum to 100, not ", weights));
  }
  if (r.method() == v1::METHOD_WEIGHTED_SCORE || r.method() == v1::METHOD_THRESHOLDS) {
    if (r.thresholds_size() == 0) v.Add(f("thresholds"), "are required for this method");
    std::set<std::string> tiers;
    for (int i = 0; i < r.thresholds_size(); ++i) {
      const auto& t = r.thresholds(i);
      const std::string field = absl::StrCat(prefix, ".thresholds[", i, "]");
      if (TierRank(t.tier()) < 0) {
        v.Add(field + ".tier", "must be K, A, B, C or D");
      } else if (!tiers.insert(t.tier()).second) {
        v.Add(field + ".tier", "appears twice");
      } else if (i > 0 && TierRank(t.tier()) <= TierRank(r.thresholds(i - 1).tier())) {
        v.Add(field + ".tier", "thresholds must go from the best tier to the worst");
      }
      if (t.min_value() < 0) v.Add(field + ".min_value", "must not be negative");
      if (i > 0 && t.min_value() >= r.thresholds(i - 1).min_value()) {
        v.Add(field + ".min_value", "must be below the previous threshold (ranges overlap)");
      }
      if (r.method() == v1::METHOD_WEIGHTED_SCORE && t.min_value() > 100) {
        v.Add(field + ".min_value", "a score threshold is within 0..100");
      }
    }
  }
  const auto& g = r.gates();
  if (g.probation_months() < 0 || g.probation_months() > 60) {
    v.Add(f("gates.probation_months"), "must be within 0..60");
  }
  if (g.probation_months() > 0 && TierRank(g.probation_tier()) < 0) {
    v.Add(f("gates.probation_tier"), "must be K, A, B, C or D");
  }
  if (!g.credit_cap_below_rating().empty() && CreditRank(g.credit_cap_below_rating()) < 0) {
    v.Add(f("gates.credit_cap_below_rating"), "must be AAA, AA, A, BBB, BB, B or C");
  }
  if (g.credit_cap_days_overdue() < 0)
    v.Add(f("gates.credit_cap_days_overdue"), "must not be negative");
  if ((!g.credit_cap_below_rating().empty() || g.credit_cap_days_overdue() > 0) &&
      TierRank(g.credit_cap_tier()) < 0) {
    v.Add(f("gates.credit_cap_tier"), "must be K, A, B, C or D");
  }
  if (g.hysteresis_percent() < 0 || g.hysteresis_percent() > 50) {
    v.Add(f("gates.hysteresis_percent"), "must be within 0..50");
  }
  return v.ToStatus();
}

Score ScoreCustomer(const v1::RuleSet& r, const CustomerFacts& c, Micros now,
                    const time::BusinessCalendar& calendar) {
  Score s;
  int64_t total = 0;
  for (const auto& factor : r.factors()) {
    const std::optional<int64_t> value = FactorValue(factor.factor(), c, now, calendar);
    const int points = FactorPoints(factor.factor(), value, factor.cap());
    v1::FactorContribution fc;
    fc.set_factor(v1::Factor_Name(factor.factor()).substr(7));  // drop "FACTOR_"
    if (value.has_value()) {
      fc.set_value(FormatFactor(factor.factor(), *value));
    } else {
      fc.set_value(factor.factor() == v1::FACTOR_SATISFACTION ? "none" : "unknown");
    }
    fc.set_points(points);
    fc.set_contribution(points * factor.weight() / 100);
    total += static_cast<int64_t>(points) * factor.weight();
    s.factors.push_back(std::move(fc));
  }
  s.score = static_cast<int>(total / 100);
  return s;
}

std::string ThresholdTier(const v1::RuleSet& r, const CustomerFacts& c, int score,
                          const std::string& current) {
  const int64_t value = r.method() == v1::METHOD_WEIGHTED_SCORE ? score : c.metrics.revenue_12m;
  std::string tier = "D";
  int64_t current_min = -1;
  for (const auto& t : r.thresholds()) {
    if (t.tier() == current) current_min = t.min_value();
  }
  for (const auto& t : r.thresholds()) {
    if (value >= t.min_value()) {
      tier = t.tier();
      break;
    }
  }
  // Hysteresis: keep a better current tier while within the band below its threshold.
  if (current_min >= 0 && TierRank(current) < TierRank(tier) &&
      absl::int128(value) * 100 >=
          absl::int128(current_min) * (100 - r.gates().hysteresis_percent())) {
    return current;
  }
  return tier;
}

std::pair<size_t, size_t> ParetoIndex::ComputeBoundaries() const {
  const size_t n = order_.size();
  if (rule_.basis() == v1::CUTOFF_BASIS_REVENUE_SHARE) {
    if (total_ <= 0) return {0, 0};
    size_t a = 0, b = 0;
    absl::int128 cumulative = 0;  // like total_, a sum of many int64 revenues
    bool a_done = false;
    for (size_t i = 0; i < n; ++i) {
      if (order_[i].revenue <= 0) break;
      // Customer i belongs to the tier whose share is not yet reached before it.
      if (!a_done) {
        if (cumulative * 100 < total_ * rule_.a_percent()) {
          a = i + 1;
        } else {
          a_done = true;
        }
      }
      if (cumulative * 100 < total_ * rule_.b_percent()) {
        b = i + 1;
      } else {
        break;
      }
      cumulative += order_[i].revenue;
    }
    return {a, std::max(a, b)};
  }
  // Count basis: ceil(n × percent / 100).
  const size_t a = (n * rule_.a_percent() + 99) / 100;
  const size_t b = (n * rule_.b_percent() + 99) / 100;
  return {a, std::max(a, b)};
}

std::string ParetoIndex::TierAt(size_t position, std::pair<size_t, size_t> bounds) const {
  if (position >= order_.size() || order_[position].revenue <= 0) return "C";
  if (position < bounds.first) return "A";
  if (position < bounds.second) return "B";
  return "C";
}

size_t ParetoIndex::PositionOf(const std::string& id) const {
  auto it = revenue_.find(id);
  if (it == revenue_.end()) return order_.size();
  return std::lower_bound(order_.begin(), order_.end(), Entry{it->second, id}) - order_.begin();
}

std::vector<std::string> ParetoIndex::Upsert(const std::string& id, int64_t revenue) {
  const auto before = Boundaries();
  const auto cutoff_at = [this](size_t count) {
    return count == 0 || count > order_.size() ? int64_t{0} : order_[count - 1].revenue;
  };
  const int64_t a_cutoff_before = cutoff_at(before.first);
  const int64_t b_cutoff_before = cutoff_at(before.second);
  const size_t old_position = PositionOf(id);
  const bool existed = old_position < order_.size();
  if (existed) {
    if (order_[old_position].revenue == revenue) return {id};
    total_ -= order_[old_position].revenue;
    order_.erase(order_.begin() + old_position);
  }
  const Entry entry{revenue, id};
  const size_t new_position =
      std::lower_bound(order_.begin(), order_.end(), entry) - order_.begin();
  order_.insert(order_.begin() + new_position, entry);
  revenue_[id] = revenue;
  total_ += revenue;
  bounds_ = ComputeBoundaries();
  const auto after = bounds_;

  // Only positions next to a cut-off (before or after the move) can change tier; the others
  // shift by at most one place within their tier. A cut-off that did not move is crossed only
  // when it lies within the span of positions the move shifted (the mover's old and new place,
  // or from its place to the end for a new customer).
  std::set<std::string> affected = {id};
  const size_t shifted_lo = existed ? std::min(old_position, new_position) : new_position;
  const size_t shifted_hi = existed ? std::max(old_position, new_position) : order_.size() - 1;
  auto window = [&](size_t b0, size_t b1) {
    if (b0 == b1 && (b0 < shifted_lo || b0 > shifted_hi + 1)) return;
    const size_t lo = std::min(b0, b1) == 0 ? 0 : std::min(b0, b1) - 1;
    const size_t hi = std::min(order_.size(), std::max(b0, b1) + 1);
    for (size_t p = lo; p < hi; ++p) affected.insert(order_[p].id);
  };
  window(before.first, after.first);
  window(before.second, after.second);
  const auto widen = [&](size_t b) { return b + b * hysteresis_percent_ / 100; };
  window(widen(before.first), widen(after.first));
  window(widen(before.second), widen(after.second));
  // By revenue share the band is in revenue (see ParetoTier): when a cut-off revenue moves,
  // whoever earns between the old and the new band floor may lose a tier it was keeping,
  // wherever it ranks.
  if (rule_.basis() == v1::CUTOFF_BASIS_REVENUE_SHARE && hysteresis_percent_ > 0) {
    const auto band = [&](int64_t c0, int64_t c1) {
      const int64_t lo = std::min(c0, c1), hi = std::max(c0, c1);
      if (lo == hi || lo == 0) return;
      const int64_t keep = 100 - hysteresis_percent_;
      const int64_t floor = static_cast<int64_t>(absl::int128(hi) * keep / 100);  // ≤ hi
      for (auto it = std::lower_bound(order_.begin(), order_.end(), Entry{floor, ""});
           it != order_.end() && absl::int128(it->revenue) * 100 >= absl::int128(lo) * keep; ++it) {
        affected.insert(it->id);
      }
    };
    band(a_cutoff_before, cutoff_at(after.first));
    band(b_cutoff_before, cutoff_at(after.second));
  }
  return {affected.begin(), affected.end()};
}

void ParetoIndex::Reset(const std::vector<std::pair<std::string, int64_t>>& revenues) {
  revenue_.clear();
  for (const auto& [id, revenue] : revenues) revenue_[id] = revenue;
  order_.clear();
  order_.reserve(revenue_.size());
  total_ = 0;
  for (const auto& [id, revenue] : revenue_) {
    order_.push_back({revenue, id});
    total_ += revenue;
  }
  std::sort(order_.begin(), order_.end());
  bounds_ = ComputeBoundaries();
}

std::vector<std::string> ParetoIndex::Remove(const std::string& id) {
  if (revenue_.find(id) == revenue_.end()) return {};
  // First down to zero revenue: its share leaves the total and the cut-offs move as for any
  // update. Then out of the ranking: only zero-revenue customers (C wherever they rank) shift
  // up, but the count shrinks, which may move a count cut-off by one place.
  std::vector<std::string> moved = Upsert(id, 0);
  std::set<std::string> affected(moved.begin(), moved.end());
  const auto before = Boundaries();
  const size_t position = PositionOf(id);
  total_ -= order_[position].revenue;
  order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(position));
  revenue_.erase(id);
  bounds_ = ComputeBoundaries();
  const auto after = bounds_;
  const auto widen = [&](size_t b) { return b + b * hysteresis_percent_ / 100; };
  const std::pair<size_t, size_t> cutoffs[] = {{before.first, after.first},
                                               {before.second, after.second},
                                               {widen(before.first), widen(after.first)},
                                               {widen(before.second), widen(after.second)}};
  for (const auto& [b0, b1] : cutoffs) {
    if (b0 == b1) continue;
    const size_t lo = std::min(b0, b1) == 0 ? 0 : std::min(b0, b1) - 1;
    const size_t hi = std::min(order_.size(), std::max(b0, b1) + 1);
    for (size_t p = lo; p < hi; ++p) affected.insert(order_[p].id);
  }
  affected.erase(id);
  return {affected.begin(), affected.end()};
}

std::string ParetoIndex::RankTier(const std::string& id) const {
  const auto it = revenue_.find(id);
  if (it == revenue_.end()) return "";
  if (it->second <= 0) return "C";
  // Compared with the entries at the cut-offs instead of searched for: a full run asks this of
  // every customer, and the ranking is sorted, so rank < k exactly when the entry sorts before
  // the one at k.
  const Entry entry{it->second, id};
  const auto before = [&](size_t k) { return k >= order_.size() || entry < order_[k]; };
  const auto bounds = Boundaries();
  if (bounds.first > 0 && before(bounds.first)) return "A";
  if (bounds.second > 0 && before(bounds.second)) return "B";
  return "C";
}

int64_t ParetoIndex::CutoffRevenue(const std::string& tier) const {
  const auto bounds = Boundaries();
  const size_t count = tier == "A" ? bounds.first : tier == "B" ? bounds.second : 0;
  if (count == 0 || count > order_.size()) return 0;
  return order_[count - 1].revenue;
}

size_t ParetoIndex::TierSpan(const std::string& tier, bool widened) const {
  const auto bounds = Boundaries();
  const size_t span = tier == "A" ? bounds.first : tier == "B" ? bounds.second : 0;
  return widened ? span + span * hysteresis_percent_ / 100 : span;
}

std::string ParetoTier(const v1::RuleSet& r, const ParetoIndex& index, const CustomerFacts& c,
                       const std::string& current) {
  const std::string tier = index.RankTier(c.customer_id);
  if (tier.empty()) return "C";
  if ((current == "A" || current == "B") && TierRank(current) < TierRank(tier) &&
      r.pareto().basis() == v1::CUTOFF_BASIS_CUSTOMER_COUNT) {
    // By count, the band is in ranks: the tier may grow by hysteresis_percent of its size, so
    // a tier of 40 keeps members down to rank 44 and never holds more than 44.
    if (c.metrics.revenue_12m > 0 && index.Rank(c.customer_id) < index.TierSpan(current, true)) {
      return current;
    }
    return tier;
  }
  if ((current == "A" || current == "B") && TierRank(current) < TierRank(tier)) {
    const int64_t cutoff = index.CutoffRevenue(current);
    if (cutoff > 0 && absl::int128(c.metrics.revenue_12m) * 100 >=
                          absl::int128(cutoff) * (100 - r.gates().hysteresis_percent())) {
      return current;
    }
  }
  return tier;
}

std::string ApplyGates(const v1::RuleSet& r, const std::string& tier, const CustomerFacts& c,
                       Micros now, std::string* gate, const time::BusinessCalendar& calendar) {
  gate->clear();
  const auto& g = r.gates();
  std::string out = tier;
  if (g.probation_months() > 0 && c.since != 0 &&
      calendar.DayOf(now) < AddMonths(calendar.DayOf(c.since), g.probation_months()) &&
      TierRank(out) < TierRank(g.probation_tier())) {
    *gate = "probation";
    out = g.probation_tier();
  }
  const bool rating_low = !g.credit_cap_below_rating().empty() && !c.credit_rating.empty() &&
                          CreditRank(c.credit_rating) > CreditRank(g.credit_cap_below_rating());
  const bool overdue =
      g.credit_cap_days_overdue() > 0 && c.max_days_overdue >= g.credit_cap_days_overdue();
  if ((rating_low || overdue) && TierRank(out) < TierRank(g.credit_cap_tier())) {
    *gate = "credit_cap";
    out = g.credit_cap_tier();
  }
  return out;
}

Dimensions DimensionsOf(const CustomerFacts& c, Micros now,
                        const time::BusinessCalendar& calendar) {
  Dimensions d;
  const CustomerMetrics& m = c.metrics;
  // Potential: growth of the last six months over the six before.
  if (m.revenue_prev_6m == 0) {
    d.potential = m.revenue_last_6m > 0 ? "high" : "low";
  } else {
    const int64_t growth = (m.revenue_last_6m - m.revenue_prev_6m) * 100 / m.revenue_prev_6m;
    d.potential = growth >= 20 ? "high" : growth >= -10 ? "medium" : "low";
  }
  const absl::CivilDay today = calendar.DayOf(now);
  const int64_t tenure_months =
      c.since == 0 ? 0 : WholeMonthsBetween(calendar.DayOf(c.since), today);
  d.relationship = tenure_months >= 36   ? "strategic_partner"
                   : tenure_months >= 12 ? "long_term"
                   : tenure_months >= 6  ? "developing"
                                         : "new";
  const int64_t recency = m.last_order_at == 0 ? -1 : calendar.DaysBetween(m.last_order_at, now);
  if (m.first_order_at == 0 || calendar.DaysBetween(m.first_order_at, now) < 90) {
    d.behaviour = "new";
  } else if (recency > 365) {
    d.behaviour = "churned";
  } else if (recency > 180) {
    d.behaviour = "dormant";
  } else if (tenure_months >= 12 && m.renewal_permille >= 500) {
    d.behaviour = "loyal";
  } else {
    d.behaviour = "active";
  }
  return d;
}

Micros NextTimeChange(const v1::RuleSet& rule_set, const CustomerFacts& c, Micros now,
                      const time::BusinessCalendar& calendar) {
  Micros next = 0;
  const auto consider = [&](Micros at) {
    if (at > now && (next == 0 || at < next)) next = at;
  };
  const CustomerMetrics& m = c.metrics;
  // Every threshold is crossed at local 00:00 of a day.
  const auto day_after = [&](Micros at, int days) {
    consider(calendar.StartOf(calendar.DayOf(at) + days));
  };
  if (c.since != 0) {
    // Relationship developing, long-term, strategic partner (loyal needs a year); probation.
    const absl::CivilDay start = calendar.DayOf(c.since);
    for (int months : {6, 12, 36}) consider(calendar.StartOf(AddMonths(start, months)));
    const int months = rule_set.gates().probation_months();
    if (months > 0) consider(calendar.StartOf(AddMonths(start, months)));
  }
  if (m.first_order_at != 0) day_after(m.first_order_at, 90);  // no longer new
  if (m.last_order_at != 0) {
    day_after(m.last_order_at, 181);  // dormant: more than 180 days since the last order
    day_after(m.last_order_at, 366);  // churned: more than 365
  }
  return next;
}

int64_t EvaluationHash(int64_t rule_set_version, int64_t local_day, const std::string& zone,
                       const CustomerFacts& f, const std::string& method_tier,
                       const std::string& pin_tier, bool pinned) {
  // FNV-1a over the values' bytes (little-endian integers, strings with their length): no
  // formatting, as a full run fingerprints every customer.
  uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<uint64_t>(v >> (8 * i)) & 0xff;
      h *= 1099511628211ULL;
    }
  };
  const auto mix_text = [&h, &mix](const std::string& text) {
    mix(static_cast<int64_t>(text.size()));
    for (const unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  const auto mix_optional = [&mix](const std::optional<int>& v) {
    mix(v.has_value() ? 1 : 0);
    mix(v.value_or(0));
  };
  const CustomerMetrics& m = f.metrics;
  mix(kEvaluationCodeVersion);
  mix(rule_set_version);
  mix(local_day);
  mix_text(zone);
  mix_text(f.customer_id);
  for (const int64_t v :
       {m.revenue_12m, m.margin_12m, static_cast<int64_t>(m.orders_12m), m.revenue_prev_6m,
        m.revenue_last_6m, static_cast<int64_t>(m.renewal_permille), m.first_order_at,
        m.last_order_at, m.next_window_exit, static_cast<int64_t>(m.satisfaction_count_12m),
        static_cast<int64_t>(m.complaints_12m), static_cast<int64_t>(m.open_complaints),
        static_cast<int64_t>(m.sla_breaches_12m), f.since,
        static_cast<int64_t>(f.max_days_overdue)}) {
    mix(v);
  }
  mix_optional(m.satisfaction_x100);
  mix_optional(f.on_time_permille);
  mix_text(f.credit_rating);
  mix_text(method_tier);
  mix_text(pin_tier);
  mix(pinned ? 1 : 0);
  // 0 is "none" in the store.
  return h == 0 ? 1 : static_cast<int64_t>(h);
}

std::string CombinedLabel(const std::string& tier, const Dimensions& d) {
  std::string relationship = d.relationship;
  std::replace(relationship.begin(), relationship.end(), '_', ' ');
  return absl::StrCat(tier, " · ", d.potential, " potential · ", relationship);
}

}  // namespace tierwise::classification
