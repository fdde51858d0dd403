#ifndef TIERWISE_SERVICES_CLASSIFICATION_TIER_EVALUATOR_H_
#define TIERWISE_SERVICES_CLASSIFICATION_TIER_EVALUATOR_H_

#include <cstdint>
#include <optional>
#include <string>

#include "common/time/business_calendar.h"
#include "services/classification/classification_store.h"
#include "services/classification/tier_rules.h"
#include "tierwise/classification/v1/classification.pb.h"

// A customer's evaluation under one rule set and one revenue ranking: the method's tier, the
// gates, a pin, the dimensions and label, and the change to record when the tier moves. Pure
// (no I/O, no locks): the caller keeps the rule set and the ranking still while it evaluates
// (the engine holds its evaluation lock).
namespace tierwise::classification {

// Reason codes of tier changes (TierChange.reason_code).
namespace reasons {
inline constexpr char kEvent[] = "EVENT";
inline constexpr char kBoundaryShift[] = "BOUNDARY_SHIFT";
inline constexpr char kWindowSlide[] = "WINDOW_SLIDE";
inline constexpr char kProbationEnd[] = "PROBATION_END";
}  // namespace reasons

class TierEvaluator {
 public:
  // All three must outlive the evaluator.
  TierEvaluator(const v1::RuleSet& rule_set, const ParetoIndex& ranking,
                const time::BusinessCalendar& calendar);

  // The method's tier (Pareto rank, or thresholds on `score`, computed when null) with the
  // hysteresis of `current_tier`.
  std::string MethodTier(const CustomerFacts& facts, const std::string& current_tier, Micros now,
                         const Score* score) const;
  // EvaluationHash under the rule set, at `now`'s local day.
  int64_t InputHash(const CustomerFacts& facts, const std::string& method_tier,
                    const std::string& pin_tier, bool pinned, Micros now) const;
  // The tier of `facts` whose stored tier is `current` (null: none); the gate that decided into
  // *gate, the method's tier before gates and pin into *method_tier (when given).
  v1::Tier Compute(const CustomerFacts& facts, const store::StoredTier* current, Micros now,
                   std::string* gate, std::string* method_tier = nullptr) const;
  // The evaluation into *next (pin kept while it lasts, next review time, input hash); the
  // change to record (history, TierChanged) when the tier moves, with `reason` (PROBATION_END
  // instead when the probation gate is what let go), `trigger` and `actor`.
  std::optional<v1::TierChange> Next(const CustomerFacts& facts, const store::StoredTier* current,
                                     Micros now, const std::string& reason,
                                     const std::string& trigger, const std::string& actor,
                                     store::StoredTier* next) const;

 private:
  const v1::RuleSet& rule_set_;
  const ParetoIndex& ranking_;
  const time::BusinessCalendar& calendar_;
};

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_TIER_EVALUATOR_H_
