#include "services/classification/tier_evaluator.h"

namespace tierwise::classification {

TierEvaluator::TierEvaluator(const v1::RuleSet& rule_set, const ParetoIndex& ranking,
                             const time::BusinessCalendar& calendar)
    : rule_set_(rule_set), ranking_(ranking), calendar_(calendar) {}

std::string TierEvaluator::MethodTier(const CustomerFacts& facts, const std::string& current_tier,
                                      Micros now, const Score* score) const {
  if (rule_set_.method() == v1::METHOD_ABC_PARETO) {
    return ParetoTier(rule_set_, ranking_, facts, current_tier);
  }
  if (score != nullptr) return ThresholdTier(rule_set_, facts, score->score, current_tier);
  return ThresholdTier(rule_set_, facts, ScoreCustomer(rule_set_, facts, now, calendar_).score,
                       current_tier);
}

int64_t TierEvaluator::InputHash(const CustomerFacts& facts, const std::string& method_tier,
                                 const std::string& pin_tier, bool pinned, Micros now) const {
  const absl::CivilDay day = calendar_.DayOf(now);
  return EvaluationHash(rule_set_.version(), day - absl::CivilDay(1970, 1, 1), calendar_.name(),
                        facts, method_tier, pin_tier, pinned);
}

v1::Tier TierEvaluator::Compute(const CustomerFacts& facts, const store::StoredTier* current,
                                Micros now, std::string* gate, std::string* method_tier) const {
  const std::string current_tier = current != nullptr ? current->tier.tier() : "";
  const Score score = ScoreCustomer(rule_set_, facts, now, calendar_);
  std::string tier = MethodTier(facts, current_tier, now, &score);
  if (method_tier != nullptr) *method_tier = tier;
  tier = ApplyGates(rule_set_, tier, facts, now, gate, calendar_);
  const bool pinned = current != nullptr && !current->pin_tier.empty() &&
                      (current->pin_expires == 0 || current->pin_expires > now);
  if (pinned) {
    tier = current->pin_tier;
    *gate = "pin";
  }
  const Dimensions dims = DimensionsOf(facts, now, calendar_);
  v1::Tier t;
  t.set_customer_id(facts.customer_id);
  t.set_tier(tier);
  t.set_score(score.score);
  t.set_potential(dims.potential);
  t.set_relationship(dims.relationship);
  t.set_behaviour(dims.behaviour);
  t.set_label(CombinedLabel(tier, dims));
  t.set_rule_set_version(rule_set_.version());
  store::SetTimestamp(now, t.mutable_evaluated_at());
  t.set_pinned(pinned);
  for (const auto& f : score.factors) *t.add_factors() = f;
  if (current != nullptr) t.set_reason_code(current->tier.reason_code());
  return t;
}

std::optional<v1::TierChange> TierEvaluator::Next(const CustomerFacts& facts,
                                                  const store::StoredTier* current, Micros now,
                                                  const std::string& reason,
                                                  const std::string& trigger,
                                                  const std::string& actor,
                                                  store::StoredTier* next) const {
  if (current != nullptr) {
    next->pin_tier = current->pin_tier;
    next->pin_reason = current->pin_reason;
    next->pin_expires = current->pin_expires;
  }
  std::string method_tier;
  next->tier = Compute(facts, current, now, &next->gate, &method_tier);
  next->next_review = NextTimeChange(rule_set_, facts, now, calendar_);
  if (!next->tier.pinned()) {
    next->pin_tier.clear();
    next->pin_reason.clear();
    next->pin_expires = 0;
  }
  next->input_hash = InputHash(facts, method_tier, next->pin_tier, next->tier.pinned(), now);
  const std::string previous = current != nullptr ? current->tier.tier() : "";
  if (previous == next->tier.tier()) return std::nullopt;
  std::string why = reason;
  if (current != nullptr && current->gate == "probation" && next->gate != "probation" &&
      (reason == reasons::kEvent || reason == reasons::kWindowSlide ||
       reason == reasons::kBoundaryShift)) {
    why = reasons::kProbationEnd;
  }
  next->tier.set_reason_code(why);
  v1::TierChange change;
  change.set_customer_id(facts.customer_id);
  change.set_previous_tier(previous);
  change.set_tier(next->tier.tier());
  change.set_reason_code(why);
  change.set_trigger_event_id(trigger);
  change.set_rule_set_version(rule_set_.version());
  change.set_score(next->tier.score());
  *change.mutable_factors() = next->tier.factors();
  *change.mutable_changed_at() = next->tier.evaluated_at();
  change.set_actor(actor);
  return change;
}

}  // namespace tierwise::classification
