#include "services/classification/tier_engine.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/outbox/outbox.h"
#include "common/redis/stream_names.h"
#include "common/status/macros.h"
#include "services/classification/stream_decoding.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification {
namespace {

using reasons::kBoundaryShift;
using reasons::kEvent;
using reasons::kWindowSlide;
constexpr char kPin[] = "PIN";
constexpr char kUnpin[] = "UNPIN";
constexpr char kRuleActivation[] = "RULE_ACTIVATION";

// Tier lookups answered by a cache (in process or Redis: hit) or by PostgreSQL (miss).
metrics::CounterFamily& CacheRequests() {
  static auto& family = metrics::Registry::Default().RegisterCounter(
      "tierwise_tier_cache_requests_total",
      "tier lookups answered by the cache (in process or Redis) or by PostgreSQL", {"result"});
  return family;
}

metrics::CounterFamily& TierChanges() {
  static auto& family = metrics::Registry::Default().RegisterCounter(
      "tierwise_reclassifications_total", "tier changes, by reason", {"reason"});
  return family;
}

// Customers whose ledger state was rebuilt from their whole ledger (never built, or a late order
// replaced one that counted): the repair path, rare once every state is built.
metrics::CounterFamily& LedgerReplays() {
  static auto& family = metrics::Registry::Default().RegisterCounter(
      "tierwise_classification_ledger_replays_total",
      "customers whose ledger state was rebuilt from their whole ledger", {});
  return family;
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
    : pool_(pool),
      redis_(redis),
      options_(std::move(options)),
      cache_(redis, options_.redis_prefix, options_.cache_reads, options_.local_cache),
      runner_id_(options_.runner_id.empty() ? ids::NewUuid() : options_.runner_id) {
  // Registered up front, so /metrics lists them before the first change or lookup.
  TierChanges();
  CacheRequests().WithLabels({"hit"});
  CacheRequests().WithLabels({"miss"});
}

postgres::AuditRow AuditOf(const Actor& actor, std::string action, std::string customer_id,
                           std::string entity, std::string entity_id,
                           std::vector<std::string> fields) {
  return {.customer_id = std::move(customer_id),
          .action = std::move(action),
          .actor = actor.name,
          .actor_role = actor.role,
          .request_id = actor.request_id,
          .entity = std::move(entity),
          .entity_id = std::move(entity_id),
          .fields = std::move(fields)};
}

std::string TierEngine::CacheKey(const std::string& customer_id) const {
  return cache_.Key(customer_id);
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

absl::Status TierEngine::WriteTx(const std::function<absl::Status(pqxx::work&)>& fn) {
  const int64_t epoch = writer_epoch_.load();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (epoch != 0 && !store::WriterEpochIs(tx, epoch)) {
      // Transient for the stream consumers: the entries stay pending for the new writer.
      return absl::UnavailableError("this replica is no longer the classification writer");
    }
    return fn(tx);
  });
}

absl::Status TierEngine::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteTx([&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::RuleSet> active = store::LoadRuleSet(tx, 0);
    if (!active.has_value()) {
      v1::RuleSet rs = DefaultRuleSet();
      const int64_t version = store::InsertRuleSet(tx, rs, "system");
      store::ActivateRuleSet(tx, version);
      active = store::LoadRuleSet(tx, version);
      store::SetAppliedRuleSetVersion(tx, version);  // nothing evaluated yet under another
    }
    rule_set_ = *active;
    RebuildIndexLocked(tx);
    return absl::OkStatus();
  });
}

TierEvaluator TierEngine::EvaluatorLocked() const {
  return TierEvaluator(rule_set_, *index_, options_.calendar);
}

void TierEngine::PublishChangeLocked(pqxx::work& tx, const v1::TierChange& change) const {
  PublishChangesLocked(tx, {change});
}

void TierEngine::PublishChangesLocked(pqxx::work& tx,
                                      const std::vector<v1::TierChange>& changes) const {
  std::vector<outbox::Message> messages;
  messages.reserve(changes.size());
  for (const v1::TierChange& change : changes) {
    TierChanges().WithLabels({change.reason_code()}).Increment();
    messages.push_back(TierChangedMessage(change));
  }
  outbox::EnqueueAll(tx, messages);
}

outbox::Message TierEngine::TierChangedMessage(const v1::TierChange& change) const {
  events::v1::TierChanged event;
  event.set_event_id(ids::NewUuid());
  event.set_customer_id(change.customer_id());
  event.set_previous_tier(change.previous_tier());
  event.set_tier(change.tier());
  event.set_reason_code(change.reason_code());
  event.set_rule_set_version(absl::StrCat(rule_set_.version()));
  *event.mutable_changed_at() = change.changed_at();
  return {streams::TierChanged(options_.redis_prefix), event.GetTypeName(), event.event_id(),
          event.SerializeAsString()};
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
  std::optional<v1::TierChange> change = EvaluatorLocked().Next(
      *facts, current ? &*current : nullptr, now, reason, trigger, actor, &next);
  if (change.has_value()) {
    store::AppendHistory(tx, *change);
    PublishChangeLocked(tx, *change);
    if (changed != nullptr) changed->push_back(next.tier);
  }
  store::SaveTier(tx, next);
  return next.tier;
}

int64_t TierEngine::EvaluateManyLocked(pqxx::work& tx,
                                       const std::map<std::string, Cause>& customers,
                                       const std::string& actor, Micros now,
                                       std::vector<v1::Tier>* evaluated) {
  if (customers.empty()) return 0;
  std::vector<std::string> ids;
  ids.reserve(customers.size());
  for (const auto& [id, cause] : customers) ids.push_back(id);  // sorted: rows lock in order
  const auto facts = store::LoadFactsOf(tx, ids);
  const auto current = store::LoadTiersOf(tx, ids, /*for_update=*/true);
  std::vector<store::StoredTier> writes;
  std::vector<v1::TierChange> changes;
  for (const auto& [id, cause] : customers) {
    const auto f = facts.find(id);
    if (f == facts.end()) continue;
    const auto c = current.find(id);
    store::StoredTier next;
    std::optional<v1::TierChange> change =
        EvaluatorLocked().Next(f->second, c != current.end() ? &c->second : nullptr, now,
                               cause.reason, cause.trigger, actor, &next);
    if (change.has_value()) changes.push_back(std::move(*change));
    writes.push_back(std::move(next));
  }
  store::AppendHistoryBatch(tx, changes);
  PublishChangesLocked(tx, changes);
  store::SaveTiers(tx, writes);
  for (store::StoredTier& w : writes) evaluated->push_back(std::move(w.tier));
  return static_cast<int64_t>(changes.size());
}

TierEngine::Refreshed TierEngine::RefreshMetrics(pqxx::work& tx,
                                                 const std::vector<std::string>& customers,
                                                 const LedgerNews* news, Micros now) const {
  Refreshed out;
  if (customers.empty()) return out;
  const time::BusinessCalendar& calendar = options_.calendar;
  static const std::vector<LedgerEntry> kNoEntries;
  const auto news_of = [news](const std::string& id) -> const std::vector<LedgerEntry>& {
    if (news == nullptr) return kNoEntries;
    const auto n = news->entries.find(id);
    return n != news->entries.end() ? n->second : kNoEntries;
  };
  std::map<std::string, store::StoredLedgerState> stored = store::LoadLedgerStates(tx, customers);
  // The order rows the news touch, of the customers whose state is built: one read.
  std::vector<store::OrderKey> keys;
  for (const std::string& id : customers) {
    const auto s = stored.find(id);
    if (s == stored.end() || !s->second.state.has_value()) continue;
    for (const LedgerEntry& e : news_of(id)) {
      if (e.kind != LedgerEntry::Kind::kPayment) keys.emplace_back(id, e.document_no);
    }
  }
  std::map<store::OrderKey, OrderFact> rows = store::LoadOrderFacts(tx, keys);
  std::vector<std::pair<std::string, OrderFact>> row_writes;
  std::map<std::string, LedgerState> states;
  std::vector<std::string> replay;
  for (const std::string& id : customers) {
    const auto s = stored.find(id);
    if (s == stored.end() || !s->second.state.has_value()) {
      replay.push_back(id);
      continue;
    }
    LedgerState state = *s->second.state;
    std::map<std::string, OrderFact*> touched;
    bool incremental = true;
    for (const LedgerEntry& e : news_of(id)) {
      if (e.kind == LedgerEntry::Kind::kPayment) continue;
      OrderFact& row = rows[{id, e.document_no}];
      touched.emplace(e.document_no, &row);
      if (!ApplyLedgerEntry(e, calendar, &row, &state)) {
        incremental = false;  // a late order replaces the one that counted
        break;
      }
    }
    if (!incremental) {
      replay.push_back(id);
      continue;
    }
    for (const auto& [no, row] : touched) row_writes.emplace_back(id, *row);
    states.emplace(id, std::move(state));
  }
  // The repair path: the whole ledger of a customer, once.
  std::map<std::string, std::pair<Micros, std::string>> newest_stored;
  if (!replay.empty()) {
    const auto ledgers = store::LoadLedgers(tx, replay);
    for (const std::string& id : replay) {
      const auto l = ledgers.find(id);
      const std::vector<LedgerEntry>& ledger = l != ledgers.end() ? l->second : kNoEntries;
      std::map<std::string, OrderFact> orders;
      states[id] = ReplayLedger(ledger, now, calendar, &orders);
      for (auto& [no, row] : orders) row_writes.emplace_back(id, std::move(row));
      std::pair<Micros, std::string> newest;
      for (const LedgerEntry& e : ledger) {
        newest = std::max(newest, std::make_pair(e.occurred_at, e.event_id));
      }
      newest_stored[id] = std::move(newest);
      out.replayed.insert(id);
    }
    ledger_replays_ += static_cast<int64_t>(replay.size());
    LedgerReplays().WithLabels({}).Increment(static_cast<double>(replay.size()));
  }
  store::SaveOrderFacts(tx, row_writes);

  std::map<std::string, std::vector<InteractionFact>> interactions;
  std::map<std::string, std::vector<ComplaintFact>> complaints;
  store::LoadInteractionFactsOf(tx, customers, now, &interactions, &complaints);
  static const std::vector<InteractionFact> kNoInteractions;
  static const std::vector<ComplaintFact> kNoComplaints;
  out.metrics.reserve(customers.size());
  for (const std::string& id : customers) {
    LedgerState& state = states[id];
    PruneLedgerState(now, calendar, &state);
    // The credit figures travel with each event as the credit service saw them then; the
    // customer's newest event's are the current ones. A new event older than the newest stored
    // one (a late or reclaimed entry) leaves them as they are.
    std::pair<Micros, std::string> newest;
    const auto s = stored.find(id);
    if (const auto r = newest_stored.find(id); r != newest_stored.end()) {
      newest = r->second;
    } else if (s != stored.end()) {
      newest = {s->second.credit_at, s->second.credit_event};
    }
    const LedgerEntry* latest_new = nullptr;
    for (const LedgerEntry& e : news_of(id)) {
      if (latest_new == nullptr || std::tie(e.occurred_at, e.event_id) >
                                       std::tie(latest_new->occurred_at, latest_new->event_id)) {
        latest_new = &e;
      }
    }
    if (latest_new != nullptr && std::tie(latest_new->occurred_at, latest_new->event_id) >=
                                     std::tie(newest.first, newest.second)) {
      newest = {latest_new->occurred_at, latest_new->event_id};
      const auto figures = news->credit.find(latest_new->event_id);
      if (figures != news->credit.end()) out.credit[id] = figures->second;
    }
    CustomerMetrics m = MetricsOfState(state, now, calendar);
    const auto i = interactions.find(id);
    const auto c = complaints.find(id);
    AddInteractionMetrics(i != interactions.end() ? i->second : kNoInteractions,
                          c != complaints.end() ? c->second : kNoComplaints, now, &m, calendar);
    out.metrics.emplace_back(id, std::move(m));
    out.states[id] = {EncodeLedgerState(state), newest.first, std::move(newest.second)};
  }
  return out;
}

int64_t TierEngine::RefreshAndEvaluateLocked(pqxx::work& tx,
                                             const std::vector<std::string>& customers,
                                             const std::string& reason,
                                             const std::map<std::string, std::string>& triggers,
                                             const LedgerNews* news, const std::string& actor,
                                             Micros now, std::vector<v1::Tier>* evaluated) {
  if (customers.empty()) return 0;
  Refreshed refreshed = RefreshMetrics(tx, customers, news, now);
  const auto& metrics = refreshed.metrics;
  store::SaveMetricsBatch(tx, metrics, refreshed.credit, refreshed.states);
  const auto trigger_of = [&triggers](const std::string& id) {
    const auto t = triggers.find(id);
    return t != triggers.end() ? t->second : std::string();
  };
  std::map<std::string, Cause> causes;
  for (const std::string& id : customers) causes[id] = {reason, trigger_of(id)};
  for (const auto& [id, m] : metrics) {
    for (std::string& other : index_->Upsert(id, m.revenue_12m)) {
      causes.try_emplace(std::move(other), Cause{kBoundaryShift, trigger_of(id)});
    }
  }
  return EvaluateManyLocked(tx, causes, actor, now, evaluated);
}

void TierEngine::WriteCache(const std::vector<v1::Tier>& tiers) { cache_.Write(tiers); }

absl::Status TierEngine::OnLedgerEvent(const redis::StreamEntry& entry) {
  return OnLedgerEvents({entry});
}

absl::Status TierEngine::OnLedgerEvents(const std::vector<redis::StreamEntry>& entries) {
  std::vector<LedgerInput> inputs;
  inputs.reserve(entries.size());
  for (const redis::StreamEntry& entry : entries) {
    TW_ASSIGN_OR_RETURN(LedgerInput in, DecodeLedgerEntry(entry));
    inputs.push_back(std::move(in));
  }
  // The whole batch set-based: one insert for its entries, then each customer they touched is
  // refreshed and evaluated once, however many of its events the batch holds.
  return ApplyInOneTransaction(
      [&](pqxx::work& tx, std::vector<v1::Tier>* evaluated) -> absl::Status {
        std::vector<std::pair<std::string, LedgerEntry>> rows;
        rows.reserve(inputs.size());
        for (const LedgerInput& in : inputs) rows.emplace_back(in.customer_id, in.entry);
        const std::set<std::string> stored = store::InsertLedgerEntries(tx, rows);
        if (stored.empty()) return absl::OkStatus();  // all redelivered
        std::vector<std::string> customers;
        std::map<std::string, std::string> triggers;  // a customer's last new event
        std::map<std::string, const LedgerInput*> by_event;
        for (const LedgerInput& in : inputs) {
          if (stored.count(in.event_id) == 0) continue;
          // The trigger named in the history: the customer's last order or cancellation of the
          // batch (what moves revenue), else its last event.
          const auto t = triggers.find(in.customer_id);
          if (t == triggers.end()) {
            customers.push_back(in.customer_id);
            triggers[in.customer_id] = in.event_id;
          } else if (in.entry.kind != LedgerEntry::Kind::kPayment ||
                     by_event.at(t->second)->entry.kind == LedgerEntry::Kind::kPayment) {
            t->second = in.event_id;
          }
          by_event.emplace(in.event_id, &in);
        }
        LedgerNews news;
        for (const LedgerInput& in : inputs) {
          const auto e = by_event.find(in.event_id);
          if (e == by_event.end() || e->second != &in) continue;  // old, or twice in the batch
          news.entries[in.customer_id].push_back(in.entry);
          news.credit[in.event_id] = {in.rating, in.on_time_permille};
        }
        RefreshAndEvaluateLocked(tx, customers, kEvent, triggers, &news, "", options_.clock(),
                                 evaluated);
        return absl::OkStatus();
      });
}

namespace {

// How to store a decoded interaction entry's facts: the customers whose metrics changed (none for
// a redelivery or an older version).
TierEngine::FactChange FactChangeOf(std::variant<InteractionInput, ComplaintInput> input) {
  if (auto* logged = std::get_if<InteractionInput>(&input)) {
    std::string trigger = logged->trigger;
    return {std::move(trigger), [in = std::move(*logged)](pqxx::work& tx) {
              std::vector<std::string> customers;
              if (store::InsertInteraction(tx, in.customer_id, in.fact, in.corrects, in.trigger)) {
                customers.push_back(in.customer_id);
              }
              if (!in.corrects.empty()) {
                // The replaced version stops counting, whichever of the two arrives first.
                std::optional<std::string> owner =
                    store::SupersedeInteraction(tx, in.corrects, in.customer_id);
                if (owner.has_value() &&
                    std::find(customers.begin(), customers.end(), *owner) == customers.end()) {
                  customers.push_back(*owner);
                }
              }
              return customers;
            }};
  }
  auto& complaint = std::get<ComplaintInput>(input);
  std::string trigger = complaint.trigger;
  return {std::move(trigger), [in = std::move(complaint)](pqxx::work& tx) {
            std::vector<std::string> customers;
            std::optional<std::string> before = store::UpsertComplaint(
                tx, in.customer_id, in.fact, in.version, in.changed_at, in.trigger);
            if (!before.has_value()) return customers;  // redelivered or older: nothing changes
            customers.push_back(in.customer_id);
            if (!before->empty() && *before != in.customer_id) customers.push_back(*before);
            return customers;
          }};
}

}  // namespace

absl::Status TierEngine::OnInteractionEvent(const redis::StreamEntry& entry) {
  return OnInteractionEvents({entry});
}

absl::Status TierEngine::OnInteractionEvents(const std::vector<redis::StreamEntry>& entries) {
  std::vector<FactChange> changes;
  for (const redis::StreamEntry& entry : entries) {
    TW_ASSIGN_OR_RETURN(auto decoded, DecodeInteractionEntry(entry));
    if (decoded.has_value()) changes.push_back(FactChangeOf(std::move(*decoded)));
  }
  if (changes.empty()) return absl::OkStatus();
  return ApplyFacts(changes);
}

absl::Status TierEngine::ApplyFacts(const std::vector<FactChange>& changes) {
  return ApplyInOneTransaction([&](pqxx::work& tx, std::vector<v1::Tier>* evaluated) {
    std::vector<std::string> customers;
    std::map<std::string, std::string> triggers;  // a customer's last event that changed it
    for (const FactChange& change : changes) {
      for (const std::string& id : change.apply(tx)) {
        if (triggers.count(id) == 0) customers.push_back(id);
        triggers[id] = change.trigger;
      }
    }
    RefreshAndEvaluateLocked(tx, customers, kEvent, triggers, nullptr, "", options_.clock(),
                             evaluated);
    return absl::OkStatus();
  });
}

absl::Status TierEngine::ApplyInOneTransaction(
    const std::function<absl::Status(pqxx::work&, std::vector<v1::Tier>*)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Tier> evaluated;
  absl::Status s = WriteTx([&](pqxx::work& tx) -> absl::Status {
    evaluated.clear();
    return fn(tx, &evaluated);
  });
  if (!s.ok()) {
    // The ranking moved ahead of the rolled-back transaction: put it back.
    (void)WriteTx([&](pqxx::work& tx) {
      RebuildIndexLocked(tx);
      return absl::OkStatus();
    });
    return s;
  }
  WriteCache(evaluated);
  if (options_.published && !evaluated.empty()) options_.published();
  return absl::OkStatus();
}

absl::Status TierEngine::OnCustomerChanged(const redis::StreamEntry& entry) {
  TW_ASSIGN_OR_RETURN(const CustomerInput event, DecodeCustomerChanged(entry, options_.calendar));
  const bool removed = event.removed;
  const std::string& id = event.customer_id;
  bool applied = false;
  absl::Status s =
      ApplyInOneTransaction([&](pqxx::work& tx, std::vector<v1::Tier>* evaluated) -> absl::Status {
        applied = store::UpsertCustomer(tx, id, event.external_ref, event.owner, event.since,
                                        removed, event.version);
        if (!applied) return absl::OkStatus();  // redelivered or older: nothing changes
        std::map<std::string, Cause> causes;
        if (removed) {
          // Out of the ranking; whoever its departure moves across a cut-off is re-tiered.
          for (std::string& other : index_->Remove(id)) {
            causes.emplace(std::move(other), Cause{kBoundaryShift, event.event_id});
          }
        } else {
          causes[id] = {kEvent, event.event_id};
          if (!store::LoadTier(tx, id, false).has_value()) {
            for (std::string& other : index_->Upsert(id, 0)) {
              causes.try_emplace(std::move(other), Cause{kBoundaryShift, event.event_id});
            }
          }
        }
        EvaluateManyLocked(tx, causes, "", options_.clock(), evaluated);
        return absl::OkStatus();
      });
  if (s.ok() && applied && removed) {
    cache_.Remove(id);  // best effort: GetTier finds no tier then
  }
  return s;
}

absl::StatusOr<v1::Tier> TierEngine::Reclassify(const std::string& customer_id,
                                                const std::string& reason, const Actor& actor) {
  std::optional<v1::Tier> result;
  TW_RETURN_IF_ERROR(
      ApplyInOneTransaction([&](pqxx::work& tx, std::vector<v1::Tier>* evaluated) -> absl::Status {
        // Known first: an unknown customer must not enter the metrics or the ranking.
        if (!store::LoadFacts(tx, customer_id).has_value()) {
          return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
        }
        postgres::WriteAudit(tx, AuditOf(actor, "tier.reclassify", customer_id));
        RefreshAndEvaluateLocked(tx, {customer_id}, reason, {}, nullptr, actor.name,
                                 options_.clock(), evaluated);
        for (const v1::Tier& t : *evaluated) {
          if (t.customer_id() == customer_id) result = t;
        }
        return absl::OkStatus();
      }));
  if (!result.has_value()) {
    return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
  }
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
      a.pin_expires != b.pin_expires || a.next_review != b.next_review) {
    return false;
  }
  v1::Tier x = a.tier;
  v1::Tier y = b.tier;
  x.clear_evaluated_at();
  y.clear_evaluated_at();
  // Tier has no map fields, so equal messages serialize to equal bytes; far cheaper than the
  // reflection of MessageDifferencer over a million customers.
  return x.SerializeAsString() == y.SerializeAsString();
}

}  // namespace

absl::StatusOr<int64_t> TierEngine::ReclassifyAll(
    const std::string& reason, const std::function<void(int64_t, int64_t)>& progress) {
  // One full run at a time; events and maintenance go on between its batches (each batch holds
  // the evaluation lock only for its own transaction): the ranking moves with them, and every
  // batch is evaluated against the ranking as it is then.
  std::lock_guard<std::mutex> full(full_mu_);
  const Micros now = options_.clock();
  bool bulk_moved = false;  // pass 1 moved more than the ranking follows one by one
  // Bounds pass 1 (a refreshed window is not due again at once, so the rounds end before).
  int64_t due = 0;
  TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
    due = store::CountExpiredWindows(tx, now);
    return absl::OkStatus();
  }));
  // Set-based: a few statements per batch, whatever its size; only what changed is written.
  constexpr size_t kBatch = 5000;
  const auto started = std::chrono::steady_clock::now();
  const auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
  };
  // Pass 1: the stored metrics are exact until their next_window_exit (see CustomerMetrics);
  // those that time moved on are refreshed now, so the ranking sees every slide at once. The
  // others are not read: the run costs a pass over the stored metrics, not over the ledgers.
  for (int64_t round = 0; round <= due / static_cast<int64_t>(kBatch); ++round) {
    std::vector<std::string> batch;
    TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
      batch = store::CustomersWithExpiredWindow(tx, now, static_cast<int>(kBatch));
      return absl::OkStatus();
    }));
    if (batch.empty()) break;
    // The evaluation lock before the connection, as for events.
    std::unique_lock<std::mutex> lock(mu_);
    const absl::Status s = WriteTx([&](pqxx::work& tx) -> absl::Status {
      // From the stored ledger states: no ledger is read (unless one was never built).
      Refreshed refreshed = RefreshMetrics(tx, batch, nullptr, now);
      const auto stored = store::LoadMetricsOf(tx, batch);
      std::vector<std::pair<std::string, CustomerMetrics>> moved;
      for (auto& [id, m] : refreshed.metrics) {
        const auto before = stored.find(id);
        if (before == stored.end() || !SameMetrics(before->second, m) ||
            refreshed.replayed.contains(id)) {
          moved.emplace_back(id, std::move(m));
        }
      }
      store::SaveMetricsBatch(tx, moved, refreshed.credit, refreshed.states);
      // The ranking follows at once for a few moves, as it does for an event. Many (a backfill)
      // wait for the rebuild of pass 2, as each Upsert shifts the ranking's vector; an event
      // meanwhile is evaluated against the older ranking and again in pass 3.
      if (moved.size() <= 1000) {
        for (const auto& [id, m] : moved) index_->Upsert(id, m.revenue_12m);
      } else {
        bulk_moved = true;
      }
      return absl::OkStatus();
    });
    lock.unlock();
    if (!s.ok()) return s;
  }
  const int64_t metrics_ms = ms_since(started);
  // Pass 2: the ranking, rebuilt from the stored metrics when pass 1 moved many customers, or
  // when pass 3 finds it differs from them (then pass 3 runs again against the rebuilt one).
  // Pass 3: one read of every customer's facts and of the fingerprint of its stored evaluation
  // (no payloads), compared in memory against today's inputs (the ranking as it is now, the
  // stored tier as the current one); only the customers whose fingerprint differs are loaded
  // and evaluated in full below, and only what changed is written.
  constexpr int kScanChunk = 20000;
  bool rebuild = bulk_moved;
  int64_t total = 0;
  std::vector<std::string> stale;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (rebuild) {
      std::lock_guard<std::mutex> lock(mu_);
      TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) {
        RebuildIndexLocked(tx);
        return absl::OkStatus();
      }));
    }
    stale.clear();
    total = 0;
    bool consistent = true;
    size_t ranked = 0;
    TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      store::ScanEvaluationInputs(
          tx, kScanChunk, [&](std::vector<store::EvaluationInput>&& inputs) {
            std::lock_guard<std::mutex> lock(mu_);
            const TierEvaluator evaluator = EvaluatorLocked();
            for (const store::EvaluationInput& in : inputs) {
              if (!in.facts.has_value()) continue;  // removed
              ++total;
              if (index_->RevenueOf(in.customer_id) != in.facts->metrics.revenue_12m) {
                consistent = false;
              }
              if (in.has_tier && in.input_hash != 0) {
                const bool pinned =
                    !in.pin_tier.empty() && (in.pin_expires == 0 || in.pin_expires > now);
                const int64_t hash = evaluator.InputHash(
                    *in.facts, evaluator.MethodTier(*in.facts, in.tier, now, nullptr), in.pin_tier,
                    pinned, now);
                if (hash == in.input_hash) continue;
              }
              stale.push_back(in.customer_id);
            }
            ranked = index_->size();
          });
      return absl::OkStatus();
    }));
    // Events meanwhile move the ranking past the read: the second attempt is taken as it is
    // (those events evaluated their customers themselves).
    if (rebuild || (consistent && ranked == static_cast<size_t>(total))) break;
    rebuild = true;
  }
  const int64_t scan_ms = ms_since(started) - metrics_ms;
  std::sort(stale.begin(), stale.end());
  int64_t changed_count = 0;
  const int64_t evaluated_count = static_cast<int64_t>(stale.size());
  for (size_t start = 0; start < stale.size(); start += kBatch) {
    const std::vector<std::string> batch(
        stale.begin() + static_cast<std::ptrdiff_t>(start),
        stale.begin() + static_cast<std::ptrdiff_t>(std::min(stale.size(), start + kBatch)));
    std::vector<v1::Tier> written;
    int64_t changes_in_batch = 0;
    std::lock_guard<std::mutex> lock(mu_);
    TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
      written.clear();
      const auto facts = store::LoadFactsOf(tx, batch);
      // No row locks: the batch holds the evaluation lock, and only the writer (this replica,
      // fenced by its term) writes tiers; locking every row would write every row.
      const auto current = store::LoadTiersOf(tx, batch, /*for_update=*/false);
      std::vector<store::StoredTier> writes;
      std::vector<v1::TierChange> changes;
      std::vector<std::pair<std::string, int64_t>> hashes;
      for (const std::string& id : batch) {
        const auto f = facts.find(id);
        if (f == facts.end()) continue;
        const auto c = current.find(id);
        const store::StoredTier* before = c != current.end() ? &c->second : nullptr;
        store::StoredTier next;
        std::optional<v1::TierChange> change =
            EvaluatorLocked().Next(f->second, before, now, reason, "", "", &next);
        if (change.has_value()) changes.push_back(std::move(*change));
        if (change.has_value() || before == nullptr || !SameEvaluation(*before, next)) {
          writes.push_back(std::move(next));
        } else {
          // The same evaluation from other inputs (a new day, a stored tier without a
          // fingerprint): only the fingerprint moves, so the next run skips it.
          hashes.emplace_back(id, next.input_hash);
        }
      }
      store::AppendHistoryBatch(tx, changes);
      PublishChangesLocked(tx, changes);
      store::SaveTiers(tx, writes);
      store::SaveInputHashes(tx, hashes);
      for (const store::StoredTier& w : writes) written.push_back(w.tier);
      changes_in_batch = static_cast<int64_t>(changes.size());
      return absl::OkStatus();
    }));
    changed_count += changes_in_batch;
    WriteCache(written);
    if (progress) {
      progress(
          total * static_cast<int64_t>(start + batch.size()) / static_cast<int64_t>(stale.size()),
          total);
    }
  }
  if (progress) progress(total, total);
  if (options_.published) options_.published();
  log::Info("classification.reclassified", {{"reason", reason},
                                            {"customers", total},
                                            {"changed", changed_count},
                                            {"evaluated", evaluated_count},
                                            {"metrics_ms", metrics_ms},
                                            {"scan_ms", scan_ms},
                                            {"total_ms", ms_since(started)}});
  return changed_count;
}

absl::StatusOr<int64_t> TierEngine::Maintain() {
  const Micros now = options_.clock();
  int64_t changes = 0;
  // Rounds of up to kRound customers each (one transaction per round), until nothing is due or
  // kMaxRounds passed: a month start or a backlog is worked off within a few minutes.
  constexpr int kRound = 500;
  constexpr int kMaxRounds = 40;
  for (int round = 0; round < kMaxRounds; ++round) {
    size_t due_count = 0;
    TW_RETURN_IF_ERROR(ApplyInOneTransaction([&](pqxx::work& tx,
                                                 std::vector<v1::Tier>* evaluated) -> absl::Status {
      const std::vector<std::string> slid = store::CustomersWithExpiredWindow(tx, now, kRound);
      changes += RefreshAndEvaluateLocked(tx, slid, kWindowSlide, {}, nullptr, "", now, evaluated);
      std::map<std::string, Cause> lapsed;
      for (std::string& id : store::ExpiredPins(tx, now)) {
        lapsed.emplace(std::move(id), Cause{kUnpin, ""});
      }
      changes += EvaluateManyLocked(tx, lapsed, "pin expiry", now, evaluated);
      // Time alone moves a probation end or a dimension's threshold (reason WINDOW_SLIDE,
      // or PROBATION_END when that is what changed the tier).
      std::map<std::string, Cause> due;
      for (std::string& id : store::CustomersDueForReview(tx, now, kRound)) {
        due.emplace(std::move(id), Cause{kWindowSlide, ""});
      }
      changes += EvaluateManyLocked(tx, due, "", now, evaluated);
      due_count = std::max(slid.size(), due.size());
      return absl::OkStatus();
    }));
    if (due_count < static_cast<size_t>(kRound)) break;
  }
  return changes;
}

absl::StatusOr<v1::Tier> TierEngine::GetTier(const std::string& customer_id) {
  TierCache::Found cached = cache_.Read(customer_id);
  CacheRequests().WithLabels({cached.tier.has_value() ? "hit" : "miss"}).Increment();
  if (cached.tier.has_value()) return *std::move(cached.tier);
  std::optional<store::StoredTier> stored;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    stored = store::LoadTier(tx, customer_id, false);
    return absl::OkStatus();
  }));
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("no tier for customer ", customer_id));
  }
  if (cached.redis_answered) cache_.Write({stored->tier});  // Redis is up: fill the cache
  return stored->tier;
}

absl::StatusOr<v1::Tier> TierEngine::Pin(const std::string& customer_id, const std::string& tier,
                                         const std::string& reason, Micros expires,
                                         const Actor& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::Tier> result;
  TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
    std::optional<store::StoredTier> current = store::LoadTier(tx, customer_id, true);
    if (!current.has_value()) {
      return absl::NotFoundError(absl::StrCat("no tier for customer ", customer_id));
    }
    current->pin_tier = tier;
    current->pin_reason = reason;
    current->pin_expires = expires;
    store::SaveTier(tx, *current);
    postgres::WriteAudit(tx, AuditOf(actor, "tier.pin", customer_id, "", "",
                                     {"pin_tier", "pin_reason", "pin_expires"}));
    result = EvaluateLocked(tx, customer_id, kPin, "", actor.name, nullptr);
    return absl::OkStatus();
  }));
  WriteCache({*result});
  if (options_.published) options_.published();
  return *result;
}

absl::StatusOr<v1::Tier> TierEngine::Unpin(const std::string& customer_id,
                                           const std::string& reason, const Actor& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::Tier> result;
  TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
    std::optional<store::StoredTier> current = store::LoadTier(tx, customer_id, true);
    if (!current.has_value() || current->pin_tier.empty()) {
      return absl::FailedPreconditionError("the customer's tier is not pinned");
    }
    current->pin_tier.clear();
    current->pin_reason.clear();
    current->pin_expires = 0;
    current->tier.set_pinned(false);
    store::SaveTier(tx, *current);
    postgres::WriteAudit(tx, AuditOf(actor, "tier.unpin", customer_id, "", "",
                                     {"pin_tier", "pin_reason", "pin_expires"}));
    result = EvaluateLocked(tx, customer_id, kUnpin, "", actor.name, nullptr);
    (void)reason;
    return absl::OkStatus();
  }));
  WriteCache({*result});
  if (options_.published) options_.published();
  return *result;
}

absl::StatusOr<v1::RuleSet> TierEngine::CreateRuleSet(const v1::RuleSet& candidate,
                                                      const Actor& actor) {
  v1::RuleSet rs = candidate;
  rs.clear_version();
  rs.clear_active();
  rs.clear_activate_time();
  store::SetTimestamp(options_.clock(), rs.mutable_create_time());
  rs.set_created_by(actor.name);
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    rs.set_version(store::InsertRuleSet(tx, rs, actor.name));
    postgres::WriteAudit(
        tx, AuditOf(actor, "ruleset.create", "", "rule_set", absl::StrCat(rs.version())));
    return absl::OkStatus();
  }));
  return rs;
}

absl::StatusOr<Activation> CommitActivation(pqxx::work& tx, int64_t version, const Actor& actor,
                                            Micros now) {
  if (!store::LoadRuleSet(tx, version).has_value()) {
    return absl::NotFoundError(absl::StrCat("no rule set ", version));
  }
  Activation out;
  out.job.set_id(ids::NewUuid());
  out.job.set_state("running");
  out.job.set_rule_set_version(version);
  store::SetTimestamp(now, out.job.mutable_start_time());
  if (std::optional<v1::Job> running = store::InsertRunningJob(tx, out.job); running.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("full job ", running->id(),
                     " is running; activate the rule set when it has ended (GetJob)"));
  }
  store::ActivateRuleSet(tx, version);
  postgres::WriteAudit(
      tx, AuditOf(actor, "ruleset.activate", "", "rule_set", absl::StrCat(version), {"active"}));
  out.rule_set = *store::LoadRuleSet(tx, version);
  return out;
}

absl::StatusOr<int64_t> TierEngine::ApplyActiveRuleSet() {
  // One application at a time; a call while one runs (the writer's poll during an activation's
  // run) returns at once: that run covers it.
  std::unique_lock<std::mutex> applying(apply_mu_, std::try_to_lock);
  if (!applying.owns_lock()) {
    std::lock_guard<std::mutex> lock(mu_);
    return rule_set_.version();
  }
  std::optional<v1::RuleSet> active;
  int64_t applied = 0;
  TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
    active = store::LoadRuleSet(tx, 0);
    applied = store::AppliedRuleSetVersion(tx);
    return absl::OkStatus();
  }));
  if (!active.has_value()) return absl::FailedPreconditionError("no active rule set");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (active->version() == applied && rule_set_.version() == applied) return applied;
  }
  {
    // The rule set and a ranking with its cut-offs together (events evaluate with both from
    // now on, while the full run below goes through everyone).
    std::lock_guard<std::mutex> lock(mu_);
    TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
      rule_set_ = *active;
      RebuildIndexLocked(tx);
      return absl::OkStatus();
    }));
  }
  // The activation's job (ActivateRuleSet started it) follows the run; this writer claims it,
  // also when a previous writer began it.
  std::optional<v1::Job> job;
  TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
    job = store::RunningActivationJob(tx, active->version());
    if (job.has_value()) store::ClaimJob(tx, job->id(), runner_id_);
    return absl::OkStatus();
  }));
  const auto save_job = [this, &job](pqxx::work& tx) {
    if (job.has_value()) store::SaveJob(tx, *job);
  };
  TW_ASSIGN_OR_RETURN(const int64_t changed,
                      ReclassifyAll(kRuleActivation, [&](int64_t processed, int64_t total) {
                        if (!job.has_value()) return;
                        job->set_processed(processed);
                        job->set_total(total);
                        (void)WriteTx([&](pqxx::work& tx) {
                          save_job(tx);
                          return absl::OkStatus();
                        });
                      }));
  // (A failed run returned above and stays running: the writer's next poll, or the next
  // writer, runs it again.)
  if (job.has_value()) {
    job->set_state("done");
    job->set_changed(changed);
    job->set_processed(job->total());
    store::SetTimestamp(options_.clock(), job->mutable_end_time());
  }
  TW_RETURN_IF_ERROR(WriteTx([&](pqxx::work& tx) -> absl::Status {
    store::SetAppliedRuleSetVersion(tx, active->version());
    save_job(tx);
    return absl::OkStatus();
  }));
  log::Info("classification.rule_set_applied",
            {{"version", active->version()}, {"changed", changed}});
  return active->version();
}

absl::StatusOr<v1::SimulateRuleSetResponse> TierEngine::Simulate(const v1::RuleSet& candidate,
                                                                 int samples) {
  const Micros now = options_.clock();
  std::vector<std::pair<CustomerFacts, std::string>> population;  // facts, current tier
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    // One snapshot, read set-based a batch of customers at a time.
    tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    std::vector<std::string> ids;
    for (const auto& [id, revenue] : store::LoadRevenues(tx)) ids.push_back(id);
    constexpr size_t kBatch = 5000;
    for (size_t start = 0; start < ids.size(); start += kBatch) {
      const std::vector<std::string> batch(
          ids.begin() + static_cast<std::ptrdiff_t>(start),
          ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), start + kBatch)));
      auto facts = store::LoadFactsOf(tx, batch);
      const auto tiers = store::LoadTiersOf(tx, batch, /*for_update=*/false);
      for (const std::string& id : batch) {
        auto f = facts.find(id);
        if (f == facts.end()) continue;
        const auto t = tiers.find(id);
        population.emplace_back(std::move(f->second),
                                t != tiers.end() ? t->second.tier.tier() : "");
      }
    }
    return absl::OkStatus();
  }));
  ParetoIndex index(candidate.pareto(), candidate.gates().hysteresis_percent());
  std::vector<std::pair<std::string, int64_t>> revenues;
  for (const auto& [f, current] : population)
    revenues.emplace_back(f.customer_id, f.metrics.revenue_12m);
  index.Reset(revenues);
  v1::SimulateRuleSetResponse out;
  std::map<std::pair<std::string, std::string>, int64_t> matrix;
  // tier → (count, revenue); revenue summed in 128 bits: many customers near the per-customer
  // maximum must not wrap the total.
  std::map<std::string, std::pair<int64_t, absl::int128>> distribution;
  absl::int128 total_revenue = 0;
  for (const auto& [f, current] : population) {
    const Score score = ScoreCustomer(candidate, f, now, options_.calendar);
    std::string tier = candidate.method() == v1::METHOD_ABC_PARETO
                           ? ParetoTier(candidate, index, f, current)
                           : ThresholdTier(candidate, f, score.score, current);
    std::string gate;
    tier = ApplyGates(candidate, tier, f, now, &gate, options_.calendar);
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
    // A total beyond int64 is reported at the bound (the share stays exact).
    share->mutable_revenue()->set_minor_units(ClampToInt64(counts.second));
    share->mutable_revenue()->set_currency("CNY");
    share->set_revenue_share_permille(
        total_revenue > 0 ? static_cast<int32_t>(counts.second * 1000 / total_revenue) : 0);
  }
  out.set_customers(static_cast<int64_t>(population.size()));
  return out;
}

}  // namespace tierwise::classification
