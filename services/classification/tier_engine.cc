#include "services/classification/tier_engine.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/outbox/outbox.h"
#include "google/protobuf/util/message_differencer.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification {
namespace {

constexpr char kEvent[] = "EVENT";
constexpr char kBoundaryShift[] = "BOUNDARY_SHIFT";
constexpr char kWindowSlide[] = "WINDOW_SLIDE";
constexpr char kProbationEnd[] = "PROBATION_END";
constexpr char kPin[] = "PIN";
constexpr char kUnpin[] = "UNPIN";
constexpr char kRuleActivation[] = "RULE_ACTIVATION";

metrics::CounterFamily& TierChanges() {
  static auto& family = metrics::Registry::Default().RegisterCounter(
      "tierwise_reclassifications_total", "tier changes, by reason", {"reason"});
  return family;
}

// Both parts of a customer's metrics at `now`, from the stored ledger and interaction facts.
CustomerMetrics MetricsAt(pqxx::work& tx, const std::string& customer_id, Micros now) {
  CustomerMetrics m = ComputeMetrics(store::LoadLedger(tx, customer_id), now);
  std::vector<InteractionFact> interactions;
  std::vector<ComplaintFact> complaints;
  store::LoadInteractionFacts(tx, customer_id, now, &interactions, &complaints);
  AddInteractionMetrics(interactions, complaints, now, &m);
  return m;
}

template <typename Fn>
absl::Status InTx(postgres::PgPool& pool, Fn&& fn) {
  return pool.Transact([&](pqxx::work& tx) -> absl::Status { return fn(tx); });
}

}  // namespace

v1::ServicePolicy DefaultServicePolicy() {
  v1::ServicePolicy p;
  auto add = [&](std::string tier, std::string frequency, int interval, std::string channel,
                 std::string owner, int response, int resolution, std::string discount,
                 std::vector<std::string> terms) {
    v1::TierPolicy* t = p.add_tiers();
    t->set_tier(std::move(tier));
    t->set_visit_frequency(std::move(frequency));
    t->set_visit_interval_days(interval);
    t->set_preferred_channel(std::move(channel));
    t->set_owner_level(std::move(owner));
    t->set_response_sla_hours(response);
    t->set_resolution_sla_hours(resolution);
    t->set_discount_band(std::move(discount));
    for (auto& term : terms) t->add_eligible_terms(std::move(term));
  };
  add("K", "on-site visit every two weeks; executive contact monthly", 14, "on_site_visit",
      "key account director", 4, 24, "8-12%",
      {"monthly+30", "monthly", "net60", "net30", "prepaid"});
  p.mutable_tiers(0)->set_executive_interval_days(30);
  add("A", "on-site visit monthly; executive contact quarterly", 30, "on_site_visit",
      "dedicated account manager", 24, 48, "5-8%", {"monthly", "net60", "net30", "prepaid"});
  p.mutable_tiers(1)->set_executive_interval_days(90);
  add("B", "phone call monthly; report quarterly; survey half-yearly", 30, "phone",
      "account manager", 24, 48, "2-5%", {"net30", "prepaid"});
  add("C", "mail or SMS monthly; potential pool after six months without intent", 30, "mail",
      "standard service", 24, 48, "0-2%", {"prepaid", "net30"});
  p.mutable_tiers(3)->set_pool_after_days(180);
  p.mutable_tiers(3)->set_pool_interval_days(90);
  add("D", "mail quarterly", 90, "mail", "standard service", 48, 96, "0%", {"prepaid"});
  return p;
}

TierEngine::TierEngine(postgres::PgPool& pool, redis::RedisClient& redis, EngineOptions options)
    : pool_(pool), redis_(redis), options_(std::move(options)) {
  TierChanges();  // registered up front, so /metrics lists it before the first change
}

std::string TierEngine::CacheKey(const std::string& customer_id) const {
  return absl::StrCat(options_.redis_prefix, ":tier:", customer_id);
}

v1::RuleSet TierEngine::active_rule_set() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rule_set_;
}

void TierEngine::RebuildIndexLocked(pqxx::work& tx) {
  index_ =
      std::make_unique<ParetoIndex>(rule_set_.pareto(), rule_set_.gates().hysteresis_percent());
  index_->Reset(store::LoadRevenues(tx));
}

absl::Status TierEngine::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  return InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::RuleSet> active = store::LoadRuleSet(tx, 0);
    if (!active.has_value()) {
      v1::RuleSet rs = DefaultRuleSet();
      const int64_t version = store::InsertRuleSet(tx, rs, "system");
      store::ActivateRuleSet(tx, version);
      active = store::LoadRuleSet(tx, version);
    }
    rule_set_ = *active;
    RebuildIndexLocked(tx);
    return absl::OkStatus();
  });
}

v1::Tier TierEngine::Compute(const CustomerFacts& facts, const store::StoredTier* current,
                             Micros now, std::string* gate) const {
  const std::string current_tier = current != nullptr ? current->tier.tier() : "";
  const Score score = ScoreCustomer(rule_set_, facts, now);
  std::string tier;
  if (rule_set_.method() == v1::METHOD_ABC_PARETO) {
    tier = ParetoTier(rule_set_, *index_, facts, current_tier);
  } else {
    tier = ThresholdTier(rule_set_, facts, score.score, current_tier);
  }
  tier = ApplyGates(rule_set_, tier, facts, now, gate);
  const bool pinned = current != nullptr && !current->pin_tier.empty() &&
                      (current->pin_expires == 0 || current->pin_expires > now);
  if (pinned) {
    tier = current->pin_tier;
    *gate = "pin";
  }
  const Dimensions dims = DimensionsOf(facts, now);
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

std::optional<v1::TierChange> TierEngine::NextTierLocked(const CustomerFacts& facts,
                                                         const store::StoredTier* current,
                                                         Micros now, const std::string& reason,
                                                         const std::string& trigger,
                                                         const std::string& actor,
                                                         store::StoredTier* next) const {
  if (current != nullptr) {
    next->pin_tier = current->pin_tier;
    next->pin_reason = current->pin_reason;
    next->pin_expires = current->pin_expires;
  }
  next->tier = Compute(facts, current, now, &next->gate);
  if (!next->tier.pinned()) {
    next->pin_tier.clear();
    next->pin_reason.clear();
    next->pin_expires = 0;
  }
  const std::string previous = current != nullptr ? current->tier.tier() : "";
  if (previous == next->tier.tier()) return std::nullopt;
  std::string why = reason;
  if (current != nullptr && current->gate == "probation" && next->gate != "probation" &&
      (reason == kEvent || reason == kWindowSlide || reason == kBoundaryShift)) {
    why = kProbationEnd;
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

void TierEngine::PublishChangeLocked(pqxx::work& tx, const v1::TierChange& change) const {
  TierChanges().WithLabels({change.reason_code()}).Increment();
  events::v1::TierChanged event;
  event.set_event_id(ids::NewUuid());
  event.set_customer_id(change.customer_id());
  event.set_previous_tier(change.previous_tier());
  event.set_tier(change.tier());
  event.set_reason_code(change.reason_code());
  event.set_rule_set_version(absl::StrCat(rule_set_.version()));
  *event.mutable_changed_at() = change.changed_at();
  outbox::Enqueue(tx, {absl::StrCat(options_.redis_prefix, ":classification.tier_changed"),
                       event.GetTypeName(), event.event_id(), event.SerializeAsString()});
}

std::optional<v1::Tier> TierEngine::EvaluateLocked(pqxx::work& tx, const std::string& customer_id,
                                                   const std::string& reason,
                                                   const std::string& trigger,
                                                   const std::string& actor,
                                                   std::vector<v1::Tier>* changed) {
  std::optional<CustomerFacts> facts = store::LoadFacts(tx, customer_id);
  if (!facts.has_value()) return std::nullopt;
  const Micros now = options_.clock();
  std::optional<store::StoredTier> current = store::LoadTier(tx, customer_id, true);
  store::StoredTier next;
  std::optional<v1::TierChange> change =
      NextTierLocked(*facts, current ? &*current : nullptr, now, reason, trigger, actor, &next);
  if (change.has_value()) {
    store::AppendHistory(tx, *change);
    PublishChangeLocked(tx, *change);
    if (changed != nullptr) changed->push_back(next.tier);
  }
  store::SaveTier(tx, next);
  return next.tier;
}

absl::Status TierEngine::RefreshMetricsLocked(pqxx::work& tx, const std::string& customer_id,
                                              const std::optional<std::string>& rating,
                                              const std::optional<int>& on_time, Micros now,
                                              std::vector<std::string>* affected) {
  const CustomerMetrics m = MetricsAt(tx, customer_id, now);
  store::SaveMetrics(tx, customer_id, m, rating, on_time);
  for (auto& id : index_->Upsert(customer_id, m.revenue_12m)) affected->push_back(std::move(id));
  return absl::OkStatus();
}

namespace {

// Writes the tier only if it is newer (by evaluation time) than what the cache holds, so a
// delayed write from another replica or thread cannot replace a newer tier.
constexpr char kCacheWriteScript[] = R"lua(
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'p', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

}  // namespace

void TierEngine::WriteCache(const std::vector<v1::Tier>& tiers) {
  (void)DropMissedCacheWrites("");
  // Pipelined in chunks: one round trip per chunk, not per tier (a full reclassification may
  // write many).
  constexpr size_t kChunk = 256;
  for (size_t start = 0; start < tiers.size(); start += kChunk) {
    const size_t end = std::min(tiers.size(), start + kChunk);
    std::vector<std::vector<std::string>> commands;
    commands.reserve(end - start);
    for (size_t i = start; i < end; ++i) {
      const v1::Tier& t = tiers[i];
      commands.push_back({"EVAL", kCacheWriteScript, "1", CacheKey(t.customer_id()),
                          absl::StrCat(store::ToMicros(t.evaluated_at())), t.SerializeAsString(),
                          "86400"});
    }
    // Best effort: PostgreSQL is the truth and GetTier falls back to it. A failed write is
    // remembered and its entry dropped once Redis answers again, as a Redis that comes back
    // with its data would serve the old tier otherwise.
    absl::StatusOr<std::vector<redis::Reply>> r = redis_.Pipeline(commands);
    std::vector<std::string> missed;
    for (size_t i = start; i < end; ++i) {
      if (!r.ok() || (*r)[i - start].type == redis::Reply::Type::kError) {
        missed.push_back(tiers[i].customer_id());
      }
    }
    if (!missed.empty()) {
      std::lock_guard<std::mutex> lock(missed_mu_);
      missed_writes_.insert(missed.begin(), missed.end());
      any_missed_ = true;
    }
  }
}

bool TierEngine::DropMissedCacheWrites(const std::string& customer_id) {
  if (!any_missed_.load()) return false;
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(missed_mu_);
    ids.assign(missed_writes_.begin(), missed_writes_.end());
  }
  bool was_missed = false;
  constexpr size_t kChunk = 500;
  for (size_t start = 0; start < ids.size(); start += kChunk) {
    const size_t end = std::min(ids.size(), start + kChunk);
    std::vector<std::string> del = {"DEL"};
    for (size_t i = start; i < end; ++i) del.push_back(CacheKey(ids[i]));
    absl::StatusOr<redis::Reply> r = redis_.Command(del);
    if (!r.ok() || r->type == redis::Reply::Type::kError) break;  // still away: later
    std::lock_guard<std::mutex> lock(missed_mu_);
    for (size_t i = start; i < end; ++i) {
      was_missed = was_missed || ids[i] == customer_id;
      missed_writes_.erase(ids[i]);
    }
    any_missed_ = !missed_writes_.empty();
  }
  return was_missed;
}

// A LedgerEvent stream entry, parsed and checked.
struct LedgerInput {
  std::string event_id;
  std::string customer_id;
  LedgerEntry entry;
  std::optional<int> on_time;
  std::optional<std::string> rating;
};

namespace {

absl::StatusOr<LedgerInput> ParseLedgerEntry(const redis::StreamEntry& entry) {
  events::v1::LedgerEvent event;
  if (entry.Field("type") != "tierwise.events.v1.LedgerEvent" ||
      !event.ParseFromString(entry.Field("payload")) || !ids::IsUuid(event.customer_id()) ||
      event.event_id().empty()) {
    return absl::InvalidArgumentError("not a LedgerEvent");
  }
  LedgerInput in;
  in.event_id = event.event_id();
  in.customer_id = event.customer_id();
  LedgerEntry& le = in.entry;
  le.event_id = event.event_id();
  le.kind = static_cast<LedgerEntry::Kind>(event.kind());
  le.document_no = event.document_no();
  le.amount = event.amount().minor_units();
  le.margin = event.margin().minor_units();
  le.occurred_at = store::ToMicros(event.occurred_at());
  if (event.on_time_payment_ratio() >= 0) {
    in.on_time = static_cast<int>(event.on_time_payment_ratio() * 1000 + 0.5);
  }
  if (!event.credit_rating().empty()) in.rating = event.credit_rating();
  return in;
}

}  // namespace

absl::Status TierEngine::ApplyLedgerLocked(pqxx::work& tx, const LedgerInput& in,
                                           std::vector<v1::Tier>* evaluated) {
  // The credit figures are the credit service's as of this event. They are dropped when a
  // newer event of the customer is stored already (this one was redelivered or reclaimed
  // late): the newer event's figures stay.
  std::optional<std::string> credit_rating;
  std::optional<int> credit_on_time;
  return ApplyEventLocked(
      tx, in.event_id, credit_rating, credit_on_time,
      [&](pqxx::work& tx) -> std::vector<std::string> {
        if (!store::InsertLedgerEntry(tx, in.customer_id, in.entry)) return {};
        const bool newest = store::IsNewestLedgerEntry(tx, in.customer_id, in.event_id);
        credit_rating = newest ? in.rating : std::nullopt;
        credit_on_time = newest ? in.on_time : std::nullopt;
        return {in.customer_id};
      },
      evaluated);
}

absl::Status TierEngine::OnLedgerEvent(const redis::StreamEntry& entry) {
  return OnLedgerEvents({entry});
}

absl::Status TierEngine::OnLedgerEvents(const std::vector<redis::StreamEntry>& entries) {
  std::vector<LedgerInput> inputs;
  inputs.reserve(entries.size());
  for (const redis::StreamEntry& entry : entries) {
    absl::StatusOr<LedgerInput> in = ParseLedgerEntry(entry);
    if (!in.ok()) return in.status();
    inputs.push_back(std::move(*in));
  }
  return ApplyInOneTransaction(
      [&](pqxx::work& tx, std::vector<v1::Tier>* evaluated) -> absl::Status {
        for (const LedgerInput& in : inputs) {
          if (absl::Status s = ApplyLedgerLocked(tx, in, evaluated); !s.ok()) return s;
        }
        return absl::OkStatus();
      });
}

absl::Status TierEngine::OnInteractionEvent(const redis::StreamEntry& entry) {
  const std::string type = entry.Field("type");
  if (type == events::v1::InteractionLogged::descriptor()->full_name()) {
    events::v1::InteractionLogged event;
    if (!event.ParseFromString(entry.Field("payload")) || event.interaction_id().empty() ||
        !ids::IsUuid(event.customer_id()) || store::ToMicros(event.occurred_at()) == 0 ||
        event.satisfaction() < 0 || event.satisfaction() > 5 ||
        event.corrects() == event.interaction_id()) {
      return absl::InvalidArgumentError("not a valid InteractionLogged event");
    }
    const InteractionFact fact{event.interaction_id(), store::ToMicros(event.occurred_at()),
                               event.satisfaction(), false};
    const std::string trigger =
        event.event_id().empty() ? event.interaction_id() : event.event_id();
    return ApplyEvent(trigger, std::nullopt, std::nullopt, [&](pqxx::work& tx) {
      std::vector<std::string> customers;
      if (store::InsertInteraction(tx, event.customer_id(), fact, event.corrects(), trigger)) {
        customers.push_back(event.customer_id());
      }
      if (!event.corrects().empty()) {
        // The replaced version stops counting, whichever of the two arrives first.
        std::optional<std::string> owner =
            store::SupersedeInteraction(tx, event.corrects(), event.customer_id());
        if (owner.has_value() &&
            std::find(customers.begin(), customers.end(), *owner) == customers.end()) {
          customers.push_back(*owner);
        }
      }
      return customers;
    });
  }
  if (type == events::v1::ComplaintChanged::descriptor()->full_name()) {
    events::v1::ComplaintChanged event;
    if (!event.ParseFromString(entry.Field("payload")) || event.complaint_id().empty() ||
        !ids::IsUuid(event.customer_id()) || event.version() <= 0) {
      return absl::InvalidArgumentError("not a valid ComplaintChanged event");
    }
    const Micros changed_at = store::ToMicros(event.changed_at());
    const Micros opened_at = event.has_opened_at() ? store::ToMicros(event.opened_at()) : 0;
    if (opened_at == 0 && changed_at == 0) {
      return absl::InvalidArgumentError("a ComplaintChanged event without opened_at");
    }
    const ComplaintFact fact{event.complaint_id(), opened_at != 0 ? opened_at : changed_at,
                             event.open(), event.response_breached(), event.resolution_breached()};
    const std::string trigger = event.event_id().empty()
                                    ? absl::StrCat(event.complaint_id(), "/", event.version())
                                    : event.event_id();
    return ApplyEvent(trigger, std::nullopt, std::nullopt, [&](pqxx::work& tx) {
      std::vector<std::string> customers;
      std::optional<std::string> before = store::UpsertComplaint(
          tx, event.customer_id(), fact, event.version(), changed_at, trigger);
      if (!before.has_value()) return customers;  // redelivered or older: nothing changes
      customers.push_back(event.customer_id());
      if (!before->empty() && *before != event.customer_id()) customers.push_back(*before);
      return customers;
    });
  }
  if (type.empty()) return absl::InvalidArgumentError("a stream entry without a type");
  return absl::OkStatus();  // another kind of interaction event: not a metric
}

absl::Status TierEngine::ApplyEvent(
    const std::string& event_id, const std::optional<std::string>& rating,
    const std::optional<int>& on_time,
    const std::function<std::vector<std::string>(pqxx::work&)>& apply) {
  return ApplyInOneTransaction([&](pqxx::work& tx, std::vector<v1::Tier>* evaluated) {
    return ApplyEventLocked(tx, event_id, rating, on_time, apply, evaluated);
  });
}

absl::Status TierEngine::ApplyInOneTransaction(
    const std::function<absl::Status(pqxx::work&, std::vector<v1::Tier>*)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Tier> evaluated;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    evaluated.clear();
    return fn(tx, &evaluated);
  });
  if (!s.ok()) {
    // The ranking moved ahead of the rolled-back transaction: put it back.
    (void)InTx(pool_, [&](pqxx::work& tx) {
      RebuildIndexLocked(tx);
      return absl::OkStatus();
    });
    return s;
  }
  WriteCache(evaluated);
  if (options_.published && !evaluated.empty()) options_.published();
  return absl::OkStatus();
}

absl::Status TierEngine::ApplyEventLocked(
    pqxx::work& tx, const std::string& event_id, const std::optional<std::string>& rating,
    const std::optional<int>& on_time,
    const std::function<std::vector<std::string>(pqxx::work&)>& apply,
    std::vector<v1::Tier>* evaluated) {
  const std::vector<std::string> customers = apply(tx);
  if (customers.empty()) return absl::OkStatus();
  const Micros now = options_.clock();
  std::vector<std::string> affected;
  for (const std::string& id : customers) {
    if (absl::Status st = RefreshMetricsLocked(tx, id, rating, on_time, now, &affected); !st.ok()) {
      return st;
    }
  }
  std::set<std::string> done;
  for (const std::string& id : affected) {
    if (!done.insert(id).second) continue;
    const bool self = std::find(customers.begin(), customers.end(), id) != customers.end();
    std::optional<v1::Tier> t =
        EvaluateLocked(tx, id, self ? kEvent : kBoundaryShift, event_id, "", nullptr);
    if (t.has_value()) evaluated->push_back(*t);
  }
  return absl::OkStatus();
}

absl::Status TierEngine::OnCustomerChanged(const redis::StreamEntry& entry) {
  events::v1::CustomerChanged event;
  if (entry.Field("type") != "tierwise.events.v1.CustomerChanged" ||
      !event.ParseFromString(entry.Field("payload")) || !ids::IsUuid(event.customer_id())) {
    return absl::InvalidArgumentError("not a CustomerChanged event");
  }
  Micros since = store::ToMicros(event.create_time());
  if (event.has_first_transaction_date() && event.first_transaction_date().year() > 0) {
    std::tm tm{};
    tm.tm_year = event.first_transaction_date().year() - 1900;
    tm.tm_mon = event.first_transaction_date().month() - 1;
    tm.tm_mday = event.first_transaction_date().day();
    since = static_cast<Micros>(timegm(&tm)) * 1000000;
  }
  const bool removed = event.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_DELETED ||
                       event.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_ERASED;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Tier> evaluated;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    evaluated.clear();
    store::UpsertCustomer(tx, event.customer_id(), event.external_ref(), event.owner(), since,
                          removed, event.version());
    if (removed) return absl::OkStatus();
    if (!store::LoadTier(tx, event.customer_id(), false).has_value()) {
      for (auto& id : index_->Upsert(event.customer_id(), 0)) {
        std::optional<v1::Tier> t =
            EvaluateLocked(tx, id, id == event.customer_id() ? kEvent : kBoundaryShift,
                           event.event_id(), "", nullptr);
        if (t.has_value()) evaluated.push_back(*t);
      }
      return absl::OkStatus();
    }
    std::optional<v1::Tier> t =
        EvaluateLocked(tx, event.customer_id(), kEvent, event.event_id(), "", nullptr);
    if (t.has_value()) evaluated.push_back(*t);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    (void)InTx(pool_, [&](pqxx::work& tx) {
      RebuildIndexLocked(tx);
      return absl::OkStatus();
    });
    return s;
  }
  if (removed) {
    index_->Remove(event.customer_id());
    (void)redis_.Command({"DEL", CacheKey(event.customer_id())});
  }
  WriteCache(evaluated);
  if (options_.published) options_.published();
  return absl::OkStatus();
}

absl::StatusOr<v1::Tier> TierEngine::Reclassify(const std::string& customer_id,
                                                const std::string& reason,
                                                const std::string& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::Tier> result;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::vector<std::string> affected;
    if (absl::Status st = RefreshMetricsLocked(tx, customer_id, std::nullopt, std::nullopt,
                                               options_.clock(), &affected);
        !st.ok()) {
      return st;
    }
    result = EvaluateLocked(tx, customer_id, reason, "", actor, nullptr);
    if (!result.has_value())
      return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  WriteCache({*result});
  if (options_.published) options_.published();
  return *result;
}

namespace {

bool SameMetrics(const CustomerMetrics& a, const CustomerMetrics& b) {
  return a.revenue_12m == b.revenue_12m && a.margin_12m == b.margin_12m &&
         a.orders_12m == b.orders_12m && a.revenue_prev_6m == b.revenue_prev_6m &&
         a.revenue_last_6m == b.revenue_last_6m && a.renewal_permille == b.renewal_permille &&
         a.first_order_at == b.first_order_at && a.last_order_at == b.last_order_at &&
         a.next_window_exit == b.next_window_exit && a.satisfaction_x100 == b.satisfaction_x100 &&
         a.satisfaction_count_12m == b.satisfaction_count_12m &&
         a.complaints_12m == b.complaints_12m && a.open_complaints == b.open_complaints &&
         a.sla_breaches_12m == b.sla_breaches_12m;
}

// The same evaluation apart from when it was made.
bool SameEvaluation(const store::StoredTier& a, const store::StoredTier& b) {
  if (a.gate != b.gate || a.pin_tier != b.pin_tier || a.pin_reason != b.pin_reason ||
      a.pin_expires != b.pin_expires) {
    return false;
  }
  v1::Tier x = a.tier;
  v1::Tier y = b.tier;
  x.clear_evaluated_at();
  y.clear_evaluated_at();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

}  // namespace

absl::StatusOr<int64_t> TierEngine::ReclassifyAll(
    const std::string& reason, const std::function<void(int64_t, int64_t)>& progress) {
  std::lock_guard<std::mutex> lock(mu_);
  const Micros now = options_.clock();
  std::vector<std::string> ids;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    ids.clear();
    for (const auto& [id, revenue] : store::LoadRevenues(tx)) ids.push_back(id);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  const int64_t total = static_cast<int64_t>(ids.size());
  // Set-based: a few statements per batch, whatever its size; only what changed is written.
  constexpr size_t kBatch = 5000;
  const auto batch_of = [&ids](size_t start) {
    return std::vector<std::string>(
        ids.begin() + static_cast<std::ptrdiff_t>(start),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), start + kBatch)));
  };
  // Pass 1: metrics at `now` for everyone, so the ranking sees every slide at once.
  for (size_t start = 0; start < ids.size(); start += kBatch) {
    const std::vector<std::string> batch = batch_of(start);
    s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
      const auto ledgers = store::LoadLedgers(tx, batch);
      std::map<std::string, std::vector<InteractionFact>> interactions;
      std::map<std::string, std::vector<ComplaintFact>> complaints;
      store::LoadInteractionFactsOf(tx, batch, now, &interactions, &complaints);
      const auto stored = store::LoadMetricsOf(tx, batch);
      std::vector<std::pair<std::string, CustomerMetrics>> moved;
      static const std::vector<LedgerEntry> kNoLedger;
      static const std::vector<InteractionFact> kNoInteractions;
      static const std::vector<ComplaintFact> kNoComplaints;
      for (const std::string& id : batch) {
        const auto l = ledgers.find(id);
        CustomerMetrics m = ComputeMetrics(l != ledgers.end() ? l->second : kNoLedger, now);
        const auto i = interactions.find(id);
        const auto c = complaints.find(id);
        AddInteractionMetrics(i != interactions.end() ? i->second : kNoInteractions,
                              c != complaints.end() ? c->second : kNoComplaints, now, &m);
        const auto before = stored.find(id);
        if (before == stored.end() || !SameMetrics(before->second, m)) {
          moved.emplace_back(id, std::move(m));
        }
      }
      store::SaveMetricsBatch(tx, moved);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  // Pass 2: the ranking; pass 3: every customer against it.
  s = InTx(pool_, [&](pqxx::work& tx) {
    RebuildIndexLocked(tx);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  int64_t changed_count = 0;
  for (size_t start = 0; start < ids.size(); start += kBatch) {
    const std::vector<std::string> batch = batch_of(start);
    std::vector<v1::Tier> written;
    int64_t changes_in_batch = 0;
    s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
      written.clear();
      const auto facts = store::LoadFactsOf(tx, batch);
      const auto current = store::LoadTiersOf(tx, batch, /*for_update=*/true);
      std::vector<store::StoredTier> writes;
      std::vector<v1::TierChange> changes;
      for (const std::string& id : batch) {
        const auto f = facts.find(id);
        if (f == facts.end()) continue;
        const auto c = current.find(id);
        const store::StoredTier* before = c != current.end() ? &c->second : nullptr;
        store::StoredTier next;
        std::optional<v1::TierChange> change =
            NextTierLocked(f->second, before, now, reason, "", "", &next);
        if (change.has_value()) changes.push_back(std::move(*change));
        if (change.has_value() || before == nullptr || !SameEvaluation(*before, next)) {
          writes.push_back(std::move(next));
        }
      }
      store::AppendHistoryBatch(tx, changes);
      for (const v1::TierChange& change : changes) PublishChangeLocked(tx, change);
      store::SaveTiers(tx, writes);
      for (const store::StoredTier& w : writes) written.push_back(w.tier);
      changes_in_batch = static_cast<int64_t>(changes.size());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    changed_count += changes_in_batch;
    WriteCache(written);
    if (progress) progress(std::min<int64_t>(total, start + kBatch), total);
  }
  if (options_.published) options_.published();
  log::Info("classification.reclassified",
            {{"reason", reason}, {"customers", total}, {"changed", changed_count}});
  return changed_count;
}

absl::StatusOr<int64_t> TierEngine::Maintain() {
  const Micros now = options_.clock();
  std::lock_guard<std::mutex> lock(mu_);
  int64_t changes = 0;
  std::vector<v1::Tier> evaluated;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    evaluated.clear();
    std::vector<v1::Tier> changed;
    for (const std::string& id : store::CustomersWithExpiredWindow(tx, now, 500)) {
      std::vector<std::string> affected;
      if (absl::Status st =
              RefreshMetricsLocked(tx, id, std::nullopt, std::nullopt, now, &affected);
          !st.ok()) {
        return st;
      }
      for (const auto& a : affected) {
        std::optional<v1::Tier> t =
            EvaluateLocked(tx, a, a == id ? kWindowSlide : kBoundaryShift, "", "", &changed);
        if (t.has_value()) evaluated.push_back(*t);
      }
    }
    for (const std::string& id : store::ExpiredPins(tx, now)) {
      std::optional<v1::Tier> t = EvaluateLocked(tx, id, kUnpin, "", "pin expiry", &changed);
      if (t.has_value()) evaluated.push_back(*t);
    }
    changes = static_cast<int64_t>(changed.size());
    return absl::OkStatus();
  });
  if (!s.ok()) {
    (void)InTx(pool_, [&](pqxx::work& tx) {
      RebuildIndexLocked(tx);
      return absl::OkStatus();
    });
    return s;
  }
  WriteCache(evaluated);
  if (changes > 0 && options_.published) options_.published();
  return changes;
}

absl::StatusOr<v1::Tier> TierEngine::GetTier(const std::string& customer_id) {
  const std::vector<std::string> hget = {"HGET", CacheKey(customer_id), "p"};
  absl::StatusOr<redis::Reply> cached =
      options_.cache_reads != nullptr ? options_.cache_reads->Command(hget) : redis_.Command(hget);
  // Redis answers: what it missed while it was away goes first (see WriteCache).
  const bool missed = cached.ok() && DropMissedCacheWrites(customer_id);
  if (cached.ok() && !missed && cached->type == redis::Reply::Type::kString) {
    v1::Tier t;
    if (t.ParseFromString(cached->str)) {
      ++cache_hits_;
      return t;
    }
  }
  ++cache_misses_;
  std::optional<store::StoredTier> stored;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) {
    stored = store::LoadTier(tx, customer_id, false);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("no tier for customer ", customer_id));
  }
  if (cached.ok()) WriteCache({stored->tier});  // Redis is up: fill the cache
  return stored->tier;
}

absl::StatusOr<v1::Tier> TierEngine::Pin(const std::string& customer_id, const std::string& tier,
                                         const std::string& reason, Micros expires,
                                         const std::string& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::Tier> result;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<store::StoredTier> current = store::LoadTier(tx, customer_id, true);
    if (!current.has_value()) {
      return absl::NotFoundError(absl::StrCat("no tier for customer ", customer_id));
    }
    current->pin_tier = tier;
    current->pin_reason = reason;
    current->pin_expires = expires;
    store::SaveTier(tx, *current);
    result = EvaluateLocked(tx, customer_id, kPin, "", actor, nullptr);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  WriteCache({*result});
  if (options_.published) options_.published();
  return *result;
}

absl::StatusOr<v1::Tier> TierEngine::Unpin(const std::string& customer_id,
                                           const std::string& reason, const std::string& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::Tier> result;
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<store::StoredTier> current = store::LoadTier(tx, customer_id, true);
    if (!current.has_value() || current->pin_tier.empty()) {
      return absl::FailedPreconditionError("the customer's tier is not pinned");
    }
    current->pin_tier.clear();
    current->pin_reason.clear();
    current->pin_expires = 0;
    current->tier.set_pinned(false);
    store::SaveTier(tx, *current);
    result = EvaluateLocked(tx, customer_id, kUnpin, "", actor, nullptr);
    (void)reason;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  WriteCache({*result});
  if (options_.published) options_.published();
  return *result;
}

absl::StatusOr<v1::RuleSet> TierEngine::CreateRuleSet(const v1::RuleSet& candidate,
                                                      const std::string& actor) {
  v1::RuleSet rs = candidate;
  rs.clear_version();
  rs.clear_active();
  rs.clear_activate_time();
  store::SetTimestamp(options_.clock(), rs.mutable_create_time());
  rs.set_created_by(actor);
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) {
    rs.set_version(store::InsertRuleSet(tx, rs, actor));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return rs;
}

absl::StatusOr<v1::RuleSet> TierEngine::ActivateRuleSet(int64_t version, const std::string& actor) {
  std::optional<v1::RuleSet> rs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
      rs = store::LoadRuleSet(tx, version);
      if (!rs.has_value()) return absl::NotFoundError(absl::StrCat("no rule set ", version));
      store::ActivateRuleSet(tx, version);
      rs = store::LoadRuleSet(tx, version);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    rule_set_ = *rs;
  }
  absl::StatusOr<int64_t> changed = ReclassifyAll(kRuleActivation, nullptr);
  if (!changed.ok()) return changed.status();
  log::Info("classification.rule_set_activated",
            {{"version", version}, {"actor", actor}, {"changed", *changed}});
  return *rs;
}

absl::StatusOr<v1::SimulateRuleSetResponse> TierEngine::Simulate(const v1::RuleSet& candidate,
                                                                 int samples) {
  const Micros now = options_.clock();
  std::vector<std::pair<CustomerFacts, std::string>> population;  // facts, current tier
  absl::Status s = InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    for (const auto& [id, revenue] : store::LoadRevenues(tx)) {
      std::optional<CustomerFacts> f = store::LoadFacts(tx, id);
      if (!f.has_value()) continue;
      std::optional<store::StoredTier> t = store::LoadTier(tx, id, false);
      population.emplace_back(std::move(*f), t ? t->tier.tier() : "");
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  ParetoIndex index(candidate.pareto(), candidate.gates().hysteresis_percent());
  std::vector<std::pair<std::string, int64_t>> revenues;
  for (const auto& [f, current] : population)
    revenues.emplace_back(f.customer_id, f.metrics.revenue_12m);
  index.Reset(revenues);
  v1::SimulateRuleSetResponse out;
  std::map<std::pair<std::string, std::string>, int64_t> matrix;
  std::map<std::string, std::pair<int64_t, int64_t>> distribution;  // tier → (count, revenue)
  int64_t total_revenue = 0;
  for (const auto& [f, current] : population) {
    const Score score = ScoreCustomer(candidate, f, now);
    std::string tier = candidate.method() == v1::METHOD_ABC_PARETO
                           ? ParetoTier(candidate, index, f, current)
                           : ThresholdTier(candidate, f, score.score, current);
    std::string gate;
    tier = ApplyGates(candidate, tier, f, now, &gate);
    ++matrix[{current, tier}];
    distribution[tier].first += 1;
    distribution[tier].second += f.metrics.revenue_12m;
    total_revenue += f.metrics.revenue_12m;
    if (tier != current) {
      out.set_movers(out.movers() + 1);
      if (out.sample_movers_size() < samples) {
        v1::Mover* m = out.add_sample_movers();
        m->set_customer_id(f.customer_id);
        m->set_from_tier(current);
        m->set_to_tier(tier);
        m->set_score(score.score);
      }
    }
  }
  for (const auto& [cell, count] : matrix) {
    v1::Transition* t = out.add_transitions();
    t->set_from_tier(cell.first);
    t->set_to_tier(cell.second);
    t->set_customers(count);
  }
  for (const auto& [tier, counts] : distribution) {
    v1::TierShare* share = out.add_distribution();
    share->set_tier(tier);
    share->set_customers(counts.first);
    share->mutable_revenue()->set_minor_units(counts.second);
    share->mutable_revenue()->set_currency("CNY");
    share->set_revenue_share_permille(
        total_revenue > 0 ? static_cast<int32_t>(counts.second * 1000 / total_revenue) : 0);
  }
  out.set_customers(static_cast<int64_t>(population.size()));
  return out;
}

}  // namespace tierwise::classification
