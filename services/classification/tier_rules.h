#ifndef TIERWISE_SERVICES_CLASSIFICATION_TIER_RULES_H_
#define TIERWISE_SERVICES_CLASSIFICATION_TIER_RULES_H_

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "services/classification/customer_metrics.h"
#include "tierwise/classification/v1/classification.pb.h"

// The rules that turn metrics into tiers: rule-set validation, the ABC Pareto ranking (with
// bounded re-tiering when one customer's revenue moves), weighted scores and thresholds, the
// gates (probation, credit cap, hysteresis) and the extra dimensions. Pure; no I/O.
namespace tierwise::classification {

// Tiers from best to worst; Pareto uses A, B, C.
const std::vector<std::string>& Tiers();
int TierRank(const std::string& tier);  // 0 = K … 4 = D; -1 unknown

// ABC by customer count, 5 % / 20 %; probation 6 months at C; a rating below B or 90+ days
// overdue caps at C; hysteresis 10 %.
v1::RuleSet DefaultRuleSet();

// INVALID_ARGUMENT naming the field: a method; Pareto percents 1 ≤ a < b ≤ 100; score factors
// known, caps > 0 (satisfaction: 101..500), weights summing to 100; thresholds with known, distinct
// tiers and strictly decreasing minimums; gates in range.
absl::Status ValidateRuleSet(const v1::RuleSet& rule_set, const std::string& prefix);

// What a rule may look at for one customer.
struct CustomerFacts {
  std::string customer_id;
  CustomerMetrics metrics;
  // Relationship start: the earliest of the first transaction date, the first order in the
  // ledger and the archive's creation (0: none known). Tenure, probation and the relationship
  // dimension count from it, in local days and months.
  Micros since = 0;
  std::string credit_rating;  // "" when unknown
  int max_days_overdue = 0;
  std::optional<int> on_time_permille;
};

// A factor's points (0..100) for its value (nullopt = unknown), normalised against `cap` as
// the Factor enum documents: most factors min(value, cap) / cap; satisfaction from 1.00 (0) to
// cap (100), neutral 50 without a rating; complaint counts the fewer the better. Unknown
// values of the other factors score 0.
int FactorPoints(v1::Factor factor, std::optional<int64_t> value, int64_t cap);

// Score and factor contributions of the weighted-score method (also shown for the others).
struct Score {
  int score = 0;
  std::vector<v1::FactorContribution> factors;
};
Score ScoreCustomer(const v1::RuleSet& rule_set, const CustomerFacts& facts, Micros now,
                    const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// The tier a threshold-based rule set (WEIGHTED_SCORE or THRESHOLDS) gives before gates, with
// the hysteresis band applied against `current` ("" = none).
std::string ThresholdTier(const v1::RuleSet& rule_set, const CustomerFacts& facts, int score,
                          const std::string& current);

// Ranking by 12-month revenue (descending, then customer id) for the ABC method.
class ParetoIndex {
 public:
  // hysteresis_percent widens each tier for customers already in it (see ParetoTier); the
  // re-tiering after an update then also covers the widened boundaries.
  explicit ParetoIndex(v1::ParetoRule rule, int hysteresis_percent = 0)
      : rule_(rule), hysteresis_percent_(hysteresis_percent) {}

  // Sets a customer's revenue; returns the customers whose tier by rank may have changed (the
  // customer itself and those pushed across a cut-off): bounded by the cut-offs' movement.
  std::vector<std::string> Upsert(const std::string& customer_id, int64_t revenue);
  // Takes a customer out of the ranking; returns the others whose tier by rank may have changed
  // (its revenue leaves the total, and the count shrinks).
  std::vector<std::string> Remove(const std::string& customer_id);
  // Replaces the whole ranking with (customer_id, revenue) pairs, sorting once: O(n log n),
  // where n Upserts would move O(n²) entries.
  void Reset(const std::vector<std::pair<std::string, int64_t>>& revenues);

  // A, B or C by rank; "" for an unknown customer. Zero revenue is always C.
  std::string RankTier(const std::string& customer_id) const;
  // The lowest revenue still inside tier A or B (0 when the tier is empty).
  int64_t CutoffRevenue(const std::string& tier) const;
  // 0-based rank by revenue (size() when unknown), and how many ranks tier A or B spans,
  // without and with the hysteresis widening.
  size_t Rank(const std::string& customer_id) const { return PositionOf(customer_id); }
  size_t TierSpan(const std::string& tier, bool widened) const;
  size_t size() const { return order_.size(); }
  // The revenue the ranking holds for a customer (nullopt: not ranked).
  std::optional<int64_t> RevenueOf(const std::string& customer_id) const {
    const auto it = revenue_.find(customer_id);
    if (it == revenue_.end()) return std::nullopt;
    return it->second;
  }
  // The sum of all revenues, held at the int64 maximum should it pass it (the shares are
  // computed from the exact 128-bit sum).
  int64_t total_revenue() const {
    return total_ > std::numeric_limits<int64_t>::max() ? std::numeric_limits<int64_t>::max()
                                                        : static_cast<int64_t>(total_);
  }

 private:
  struct Entry {
    int64_t revenue;
    std::string id;
    bool operator<(const Entry& o) const {  // descending revenue, then id
      return revenue != o.revenue ? revenue > o.revenue : id < o.id;
    }
  };
  // Number of leading positions in A and in A+B: kept from the last change, as computing them
  // walks the ranking (a full run asks for every customer's tier).
  std::pair<size_t, size_t> Boundaries() const { return bounds_; }
  std::pair<size_t, size_t> ComputeBoundaries() const;
  std::string TierAt(size_t position, std::pair<size_t, size_t> bounds) const;
  size_t PositionOf(const std::string& customer_id) const;

  const v1::ParetoRule rule_;
  const int hysteresis_percent_;
  std::vector<Entry> order_;
  // Looked up for every customer of a full run: hashed, not ordered (order_ is the order).
  absl::flat_hash_map<std::string, int64_t> revenue_;
  std::pair<size_t, size_t> bounds_{0, 0};
  // 128 bits: the revenues of many customers, each up to int64, must not wrap the shares.
  absl::int128 total_ = 0;
};

// Applies the hysteresis band to a Pareto rank tier: a customer keeps a better current tier
// while its revenue is within hysteresis_percent below that tier's cut-off.
std::string ParetoTier(const v1::RuleSet& rule_set, const ParetoIndex& index,
                       const CustomerFacts& facts, const std::string& current);

// Gates after the method: probation for new customers, then the credit cap. Returns the tier
// and sets *gate to "probation" or "credit_cap" when one applied.
// Probation lasts until local 00:00 of the day probation_months calendar months after the
// relationship start's local day (Aug 31 + 6 months = Feb 28).
std::string ApplyGates(const v1::RuleSet& rule_set, const std::string& tier,
                       const CustomerFacts& facts, Micros now, std::string* gate,
                       const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

struct Dimensions {
  std::string potential;  // high, medium, low
  std::string
      relationship;  // strategic_partner (≥ 3 y), long_term (1–3 y), developing, new (< 6 m)
  std::string behaviour;  // new, active, loyal, dormant, churned
};
// In local calendar terms: relationship new < 6 months ≤ developing < 12 months ≤ long_term
// < 3 years ≤ strategic_partner from the relationship start's day; behaviour new while the first
// order is fewer than 90 local days back, churned when the last is more than 365, dormant more
// than 180 (an order at 23:59 is a day older at 00:00).
Dimensions DimensionsOf(const CustomerFacts& facts, Micros now,
                        const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// "A · high potential · strategic partner"
// The first moment after `now` at which the customer's evaluation may change with time alone:
// probation ends, or a tenure or recency threshold of DimensionsOf is crossed. 0: none ahead.
// (Scores of weighted rule sets that drift with time are left to the full reclassification.)
Micros NextTimeChange(const v1::RuleSet& rule_set, const CustomerFacts& customer, Micros now,
                      const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

std::string CombinedLabel(const std::string& tier, const Dimensions& d);

// Bump whenever what an evaluation computes from its inputs changes (scores, gates, labels,
// dimensions, NextTimeChange): stored EvaluationHash values then no longer match, and the next
// full reclassification re-evaluates everyone.
inline constexpr int kEvaluationCodeVersion = 1;

// A stable 64-bit fingerprint (FNV-1a, the same in every process) of everything an evaluation
// depends on: the rule set version, the local day it is made on (`now` enters the evaluation
// only through local days; `zone` names the calendar), every fact, the method's tier before gates
// with the hysteresis of the stored tier applied (`method_tier`), and the pin (`pin_tier` and
// whether it holds now). Equal fingerprints of the inputs that produced a stored evaluation and
// of today's inputs with that evaluation as the current one mean the evaluation would come out
// the same, apart from its time.
int64_t EvaluationHash(int64_t rule_set_version, int64_t local_day, const std::string& zone,
                       const CustomerFacts& facts, const std::string& method_tier,
                       const std::string& pin_tier, bool pinned);

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_TIER_RULES_H_
