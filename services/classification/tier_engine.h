#ifndef TIERWISE_SERVICES_CLASSIFICATION_TIER_ENGINE_H_
#define TIERWISE_SERVICES_CLASSIFICATION_TIER_ENGINE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/outbox/outbox.h"
#include "common/postgres/audit.h"
#include "common/postgres/pool.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_pool.h"
#include "common/redis/stream_consumer.h"
#include "common/redis/tracked_cache.h"
#include "common/time/business_calendar.h"
#include "services/classification/classification_store.h"
#include "services/classification/tier_cache.h"
#include "services/classification/tier_evaluator.h"
#include "services/classification/tier_rules.h"
#include "tierwise/classification/v1/classification.pb.h"

// Keeps every customer's tier right: applies the event streams to metrics, re-tiers the
// customer and those an ABC cut-off pushed across (bounded work per event), writes each change
// to history and the TierChanged stream (outbox) in the event's transaction, and writes the
// tier cache in Redis through after commit. Thread-safe: one mutex orders evaluations, so the
// in-memory ranking and the stored tiers move together.
namespace tierwise::classification {

struct EngineOptions {
  std::string redis_prefix;
  std::function<Micros()> clock;
  std::function<void()> published;  // after a commit that wrote outbox rows
  // Local days and months of every calendar rule (windows, tenure, probation, recency).
  time::BusinessCalendar calendar = time::BusinessCalendar::Utc();
  // Connections for GetTier's cache reads, so that lookups run in parallel; null: they share
  // the engine's RedisClient. Must talk to the same Redis and outlive the engine.
  redis::RedisPool* cache_reads = nullptr;
  // An in-process copy of the tier cache kept coherent by Redis (see TrackedCache), so that a
  // cached GetTier needs no round trip; null: every lookup reads Redis. Its prefix must cover
  // CacheKey(); it must outlive the engine.
  redis::TrackedCache* local_cache = nullptr;
  // Names this process in the jobs it runs (see runner_id()); "" = a new UUID.
  std::string runner_id;
};

// Who asked for a change (from the call context): the name goes into the tier history, all of
// it into the audit row the change writes in its transaction.
struct Actor {
  std::string name;
  std::string role;
  std::string request_id;
};

// The audit row of `actor`'s change: `action` ("tier.pin", ...), the customer it concerns ("" for
// none), what else it touched (`entity`, `entity_id`) and the names of the changed fields.
postgres::AuditRow AuditOf(const Actor& actor, std::string action, std::string customer_id,
                           std::string entity = "", std::string entity_id = "",
                           std::vector<std::string> fields = {});

// A committed activation: the rule set, and the job that reclassifies everyone under it.
struct Activation {
  v1::RuleSet rule_set;
  v1::Job job;
};
// Makes `version` the active rule set, saves its job as the running one (the writer applies the
// rule set and reports progress in it, see TierEngine::ApplyActiveRuleSet) and writes `actor`'s
// audit row, in `tx` (every replica commits an activation alike). NOT_FOUND when there is no
// such rule set; FAILED_PRECONDITION naming the job when a full job is running (the caller
// rolls `tx` back: nothing is activated).
absl::StatusOr<Activation> CommitActivation(pqxx::work& tx, int64_t version, const Actor& actor,
                                            Micros now);

class TierEngine {
 public:
  TierEngine(postgres::PgPool& pool, redis::RedisClient& redis, EngineOptions options);

  // Loads (or creates) the active rule set and the ranking. Call once before use, and again
  // when this replica becomes the writer (state fresh from PostgreSQL).
  absl::Status Load();

  // The writer term (store::BumpWriterEpoch) this replica writes in: every write transaction
  // first checks it is still current and fails UNAVAILABLE, changing nothing, once another
  // replica was elected. 0 (the default, one replica alone): no check.
  void set_writer_epoch(int64_t epoch) { writer_epoch_ = epoch; }
  int64_t writer_epoch() const { return writer_epoch_.load(); }

  // Applies the active rule set stored in PostgreSQL unless the writer applied it already
  // (committed by CommitActivation on any replica): loads it and reclassifies everyone
  // (RULE_ACTIVATION), reporting progress in the activation's job (claimed by this runner),
  // then records it as applied and the job done. Returns the version applied.
  absl::StatusOr<int64_t> ApplyActiveRuleSet();

  // Stream handlers; idempotent (a redelivered entry changes nothing).
  absl::Status OnLedgerEvent(const redis::StreamEntry& entry);
  // Several ledger entries in one transaction, set-based: a few statements for the whole batch,
  // each customer it touches refreshed and evaluated once. Ends with the metrics and tiers of
  // OnLedgerEvent applied to each in order, but a tier held only between two events of the
  // batch is not recorded. Any error rolls all of them back (a malformed entry is
  // INVALID_ARGUMENT before anything is applied).
  absl::Status OnLedgerEvents(const std::vector<redis::StreamEntry>& entries);
  absl::Status OnCustomerChanged(const redis::StreamEntry& entry);
  // `<prefix>:interaction.events`: InteractionLogged (a correction makes the version it replaces
  // stop counting, in either arrival order) and ComplaintChanged (the newest version wins)
  // update the customer's satisfaction and complaint metrics and re-tier it (reason EVENT).
  // Other event types on the stream are skipped; a malformed entry is INVALID_ARGUMENT.
  absl::Status OnInteractionEvent(const redis::StreamEntry& entry);
  // Several interaction entries in one transaction: each one's facts stored in order, then each
  // customer they changed refreshed and evaluated once. Any error rolls all of them back (a
  // malformed entry is INVALID_ARGUMENT before anything is stored).
  absl::Status OnInteractionEvents(const std::vector<redis::StreamEntry>& entries);

  // A stream event's facts: how to store them, naming the customers whose metrics changed (none:
  // a redelivery), and the event id a tier change it causes names as its trigger.
  struct FactChange {
    std::string trigger;
    std::function<std::vector<std::string>(pqxx::work&)> apply;
  };

  // Re-evaluates one customer (reason RECLASSIFY unless given).
  absl::StatusOr<v1::Tier> Reclassify(const std::string& customer_id, const std::string& reason,
                                      const Actor& actor);
  // Recomputes every customer's metrics at `now`, rebuilds the ranking and re-evaluates all
  // (one run at a time; events are applied between its batches),
  // set-based: a few statements per batch of customers, and only the metrics and evaluations
  // that differ are written (so an unchanged customer keeps its evaluated_at and its cache
  // entry). A customer whose inputs match the fingerprint of its stored evaluation
  // (EvaluationHash) is not evaluated again: the run costs one range read of the facts per page.
  // Returns how many tiers changed; on unchanged data, none, and nothing is written (the first
  // run of a local day, or after an upgrade, writes the new fingerprints).
  absl::StatusOr<int64_t> ReclassifyAll(const std::string& reason,
                                        const std::function<void(int64_t, int64_t)>& progress);
  // Moves windows that slid, ends lapsed pins and re-evaluates customers whose evaluation time
  // alone changes (probation end, dimension thresholds; see NextTimeChange). Periodic.
  absl::StatusOr<int64_t> Maintain();

  absl::StatusOr<v1::Tier> GetTier(const std::string& customer_id);
  // Pin, Unpin, Reclassify and CreateRuleSet write `actor`'s audit row in the transaction of the
  // change.
  absl::StatusOr<v1::Tier> Pin(const std::string& customer_id, const std::string& tier,
                               const std::string& reason, Micros expires, const Actor& actor);
  absl::StatusOr<v1::Tier> Unpin(const std::string& customer_id, const std::string& reason,
                                 const Actor& actor);

  absl::StatusOr<v1::RuleSet> CreateRuleSet(const v1::RuleSet& rule_set, const Actor& actor);
  absl::StatusOr<v1::SimulateRuleSetResponse> Simulate(const v1::RuleSet& candidate, int samples);
  v1::RuleSet active_rule_set() const;

  // Names this process in the jobs it claims (jobs.claimed_by).
  const std::string& runner_id() const { return runner_id_; }

  std::string CacheKey(const std::string& customer_id) const;
  // Write-through of evaluated tiers (newer evaluation wins); exposed for tests.
  void WriteCache(const std::vector<v1::Tier>& tiers);
  // Lookups answered by the cache (in-process or Redis) and by PostgreSQL.
  int64_t cache_hits() const { return cache_.hits(); }
  int64_t cache_misses() const { return cache_.misses(); }
  // Customers whose ledger state was rebuilt from their whole ledger (see RefreshMetrics).
  int64_t ledger_replays() const { return ledger_replays_; }

 private:
  // Evaluates one customer inside tx against the current rule set and ranking; records a
  // change (history + outbox) when the tier moves. Returns the stored tier.
  std::optional<v1::Tier> EvaluateLocked(pqxx::work& tx, const std::string& customer_id,
                                         const std::string& reason, const std::string& trigger,
                                         const std::string& actor, std::vector<v1::Tier>* changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The TierChanged event of `change` into the outbox (and the change counter).
  void PublishChangeLocked(pqxx::work& tx, const v1::TierChange& change) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PublishChangeLocked of several, in one statement.
  void PublishChangesLocked(pqxx::work& tx, const std::vector<v1::TierChange>& changes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  outbox::Message TierChangedMessage(const v1::TierChange& change) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The evaluator of the current rule set and ranking (valid while mu_ is held).
  TierEvaluator EvaluatorLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why a customer is evaluated: the reason code of a change and the triggering event id.
  struct Cause {
    std::string reason;
    std::string trigger;
  };
  // Evaluates the customers set-based (a few statements whatever their number): loads their
  // facts and stored tiers, records the changes (history, outbox) and stores every evaluation.
  // Unknown customers are skipped. The stored tiers go to *evaluated; returns how many changed.
  int64_t EvaluateManyLocked(pqxx::work& tx, const std::map<std::string, Cause>& customers,
                             const std::string& actor, Micros now, std::vector<v1::Tier>* evaluated)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ledger entries a batch stored for the first time, and the credit figures they carry.
  struct LedgerNews {
    std::map<std::string, std::vector<LedgerEntry>> entries;  // by customer, in arrival order
    std::map<std::string, store::CreditFigures> credit;       // by event id
  };
  // The metrics of customers at a moment, and what to store with them.
  struct Refreshed {
    std::vector<std::pair<std::string, CustomerMetrics>> metrics;  // in the customers' order
    std::map<std::string, store::LedgerStateWrite> states;
    std::map<std::string, store::CreditFigures> credit;  // newer figures to store
    std::set<std::string> replayed;                      // states rebuilt from the ledger
  };
  // The metrics of `customers` at `now`: the ledger part from each one's stored state with
  // `news` applied (the order rows they touch read and written; no ledger is reread), the
  // interaction part from its facts of the window. A customer without a built state, or whose
  // news replace an order that counted, is replayed from its whole ledger (once). A customer
  // takes the credit figures of a new entry that is its newest (the latest occurred_at, then
  // the greatest event id).
  Refreshed RefreshMetrics(pqxx::work& tx, const std::vector<std::string>& customers,
                           const LedgerNews* news, Micros now) const;
  // Refreshes the metrics of `customers` (RefreshMetrics), moves them in the ranking, and
  // evaluates them (`reason`, trigger triggers[id]) and the customers a cut-off pushed across
  // (BOUNDARY_SHIFT, the trigger of the customer whose move pushed them), all set-based.
  // Returns how many tiers changed.
  int64_t RefreshAndEvaluateLocked(pqxx::work& tx, const std::vector<std::string>& customers,
                                   const std::string& reason,
                                   const std::map<std::string, std::string>& triggers,
                                   const LedgerNews* news, const std::string& actor, Micros now,
                                   std::vector<v1::Tier>* evaluated)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RebuildIndexLocked(pqxx::work& tx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stream events in one transaction: each change's facts stored in order, then the customers
  // they changed, and those a cut-off pushed across, refreshed and re-evaluated (trigger: the
  // customer's last change). The cache is written after commit.
  absl::Status ApplyFacts(const std::vector<FactChange>& changes) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `fn` in one transaction under mu_; after commit writes the tiers it evaluated to the
  // cache; after a rollback rebuilds the ranking.
  absl::Status ApplyInOneTransaction(
      const std::function<absl::Status(pqxx::work&, std::vector<v1::Tier>*)>& fn)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A write transaction of the current writer term (see set_writer_epoch).
  absl::Status WriteTx(const std::function<absl::Status(pqxx::work&)>& fn);

  postgres::PgPool& pool_;
  redis::RedisClient& redis_;
  const EngineOptions options_;
  TierCache cache_;
  const std::string runner_id_;
  std::mutex apply_mu_;  // one ApplyActiveRuleSet at a time; taken before full_mu_
  std::mutex full_mu_;   // one ReclassifyAll at a time; taken before mu_
  mutable std::mutex mu_;
  v1::RuleSet rule_set_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ParetoIndex> index_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> writer_epoch_{0};
  mutable std::atomic<int64_t> ledger_replays_{0};
};

// Per tier: visit frequency, owner level, SLAs, discount band, eligible terms (from the seeds).
v1::ServicePolicy DefaultServicePolicy();

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_TIER_ENGINE_H_
