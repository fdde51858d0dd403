#ifndef TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_STORE_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_STORE_H_

#include <functional>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "common/time/micros.h"
#include "services/classification/ledger_state.h"
#include "services/classification/tier_rules.h"
#include "tierwise/classification/v1/classification.pb.h"

// SQL of the classification schema (migrations/), as functions over the caller's transaction
// so that an event's metrics, tiers, history and outbox rows commit together.
namespace tierwise::classification::store {

std::vector<LedgerEntry> LoadLedger(pqxx::work& tx, const std::string& customer_id);
// Stores each (customer_id, entry) once, in one statement; returns the event ids stored now (the
// others were seen before, or twice in `entries`).
std::set<std::string> InsertLedgerEntries(
    pqxx::work& tx, const std::vector<std::pair<std::string, LedgerEntry>>& entries);

// Interaction facts (migrations/002). Stores an interaction version once (filling in the
// placeholder a correction left); false when it was stored before.
bool InsertInteraction(pqxx::work& tx, const std::string& customer_id, const InteractionFact& fact,
                       const std::string& corrects, const std::string& event_id);
// Marks a replaced version superseded, leaving a placeholder for `customer_id` when it has not
// arrived yet. Returns the customer it belongs to when this changed anything.
std::optional<std::string> SupersedeInteraction(pqxx::work& tx, const std::string& interaction_id,
                                                const std::string& customer_id);
// Keeps the complaint's newest version: stores `fact` when `version` is above the stored one.
// Returns the customer the complaint belonged to before ("" when new) when it changed anything.
std::optional<std::string> UpsertComplaint(pqxx::work& tx, const std::string& customer_id,
                                           const ComplaintFact& fact, int64_t version,
                                           Micros changed_at, const std::string& event_id);

// Stores the customer as of profile `version`; false when a version as new was stored already.
bool UpsertCustomer(pqxx::work& tx, const std::string& customer_id, const std::string& external_ref,
                    const std::string& owner, Micros since, bool removed, int64_t version);

// Everything a rule may use; nullopt when neither the profile nor the ledger knows it.
std::optional<CustomerFacts> LoadFacts(pqxx::work& tx, const std::string& customer_id);
// (customer_id, revenue_12m) of every customer that is not removed.
std::vector<std::pair<std::string, int64_t>> LoadRevenues(pqxx::work& tx);
// Customers whose window moved on since their metrics were computed.
// How many CustomersWithExpiredWindow there are.
int64_t CountExpiredWindows(pqxx::work& tx, Micros now);
std::vector<std::string> CustomersWithExpiredWindow(pqxx::work& tx, Micros now, int limit);

struct StoredTier {
  v1::Tier tier;
  std::string gate;
  std::string pin_tier;
  std::string pin_reason;
  Micros pin_expires = 0;
  Micros next_review = 0;  // NextTimeChange of the evaluation; 0: none
  // EvaluationHash of the evaluation's inputs (written by SaveTiers, not read back by LoadTier);
  // 0: none.
  int64_t input_hash = 0;
};

// What a full run compares a customer's stored evaluation against, without its payload.
struct EvaluationInput {
  std::string customer_id;
  std::optional<CustomerFacts> facts;  // as LoadFacts (nullopt: removed)
  bool has_tier = false;
  std::string tier;        // the stored tier
  int64_t input_hash = 0;  // StoredTier::input_hash
  std::string pin_tier;
  Micros pin_expires = 0;
};
// Every customer (with a profile, or only metrics) once, in no order, handed to `fn` `chunk` at
// a time from one read of the tables.
void ScanEvaluationInputs(pqxx::work& tx, int chunk,
                          const std::function<void(std::vector<EvaluationInput>&&)>& fn);
// Sets only the input_hash of stored tiers (whose evaluation is otherwise unchanged).
void SaveInputHashes(pqxx::work& tx, const std::vector<std::pair<std::string, int64_t>>& hashes);
std::optional<StoredTier> LoadTier(pqxx::work& tx, const std::string& customer_id, bool for_update);
void SaveTier(pqxx::work& tx, const StoredTier& tier);
void AppendHistory(pqxx::work& tx, const v1::TierChange& change);
// LoadTier of each of the customers (those without a tier are absent).
std::map<std::string, StoredTier> LoadTiersOf(pqxx::work& tx,
                                              const std::vector<std::string>& customer_ids,
                                              bool for_update);
// SaveTier / AppendHistory of many in one statement each (history rows in the given order).
void SaveTiers(pqxx::work& tx, const std::vector<StoredTier>& tiers);
void AppendHistoryBatch(pqxx::work& tx, const std::vector<v1::TierChange>& changes);
std::vector<v1::TierChange> LoadHistory(pqxx::work& tx, const std::string& customer_id,
                                        int64_t before_id, int limit);
// Tiers of `tier` after `after_customer` in id order; only of customers `owner` owns unless
// `owner` is "".
std::vector<v1::Tier> ListByTier(pqxx::work& tx, const std::string& tier,
                                 const std::string& after_customer, int limit,
                                 const std::string& owner = "");
// The owner the profile service last announced ("" when none); nullopt when the profile has
// not announced the customer.
std::optional<std::string> OwnerOf(pqxx::work& tx, const std::string& customer_id);
// OwnerOf each of the customers (the unannounced ones are absent).
std::map<std::string, std::string> OwnersOf(pqxx::work& tx,
                                            const std::vector<std::string>& customer_ids);
std::vector<std::string> ExpiredPins(pqxx::work& tx, Micros now);
// Customers whose next_review is due at `now`, the earliest first.
std::vector<std::string> CustomersDueForReview(pqxx::work& tx, Micros now, int limit);
std::vector<StoredTier> AllTiers(pqxx::work& tx);
// Every customer's tier at `at` (0 = now), rebuilt from the history for past times.
std::map<std::string, std::string> TiersAt(pqxx::work& tx, Micros at);
// Every customer that has ledger entries or a profile.
std::vector<std::string> AllCustomers(pqxx::work& tx);

std::optional<v1::RuleSet> LoadRuleSet(pqxx::work& tx, int64_t version);  // 0 = active
int64_t InsertRuleSet(pqxx::work& tx, const v1::RuleSet& rule_set, const std::string& actor);
std::vector<v1::RuleSet> ListRuleSets(pqxx::work& tx);
void ActivateRuleSet(pqxx::work& tx, int64_t version);

std::optional<v1::ServicePolicy> LoadServicePolicy(pqxx::work& tx);
void SaveServicePolicy(pqxx::work& tx, const v1::ServicePolicy& policy);

void SaveJob(pqxx::work& tx, const v1::Job& job);
std::optional<v1::Job> LoadJob(pqxx::work& tx, const std::string& id);
// Saves `job` (id, start time, rule_set_version) as the running job unless a job is running
// already (migrations/010: one at a time): nullopt when saved, else the running job.
std::optional<v1::Job> InsertRunningJob(pqxx::work& tx, const v1::Job& job);
// The running job that applies rule set `version`, if any.
std::optional<v1::Job> RunningActivationJob(pqxx::work& tx, int64_t version);
// Records that `runner` (a process's JobRunner) runs the job.
void ClaimJob(pqxx::work& tx, const std::string& id, const std::string& runner);
// Marks failed the running full runs that another runner claimed (it stopped: this one is the
// writer now). Activation jobs stay: the writer takes them over. Returns how many.
int64_t FailInterruptedJobs(pqxx::work& tx, const std::string& runner, Micros now);

// Set-based reads and batched writes of the full reclassification: a few statements per batch
// of customers instead of several per customer. `customer_ids` are UUID strings; customers a
// read does not find are absent from its map.

// Every stored ledger entry of the customers, per customer (in storage order, as LoadLedger).
std::map<std::string, std::vector<LedgerEntry>> LoadLedgers(
    pqxx::work& tx, const std::vector<std::string>& customer_ids);
// The facts AddInteractionMetrics needs at `now`, per customer: current rated interactions of
// the window, complaints open or opened in it.
void LoadInteractionFactsOf(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                            Micros now,
                            std::map<std::string, std::vector<InteractionFact>>* interactions,
                            std::map<std::string, std::vector<ComplaintFact>>* complaints);
// The stored metrics rows of the customers (credit figures aside).
std::map<std::string, CustomerMetrics> LoadMetricsOf(pqxx::work& tx,
                                                     const std::vector<std::string>& customer_ids);
// The credit service's figures as of a ledger event (absent ones keep the stored value).
struct CreditFigures {
  std::optional<std::string> rating;
  std::optional<int> on_time_permille;
};
// A customer's stored ledger state (migrations/009): nullopt state when not built yet (or not
// readable), and the newest ledger event whose credit figures are stored.
struct StoredLedgerState {
  std::optional<LedgerState> state;
  Micros credit_at = 0;
  std::string credit_event;
};
// The stored ledger states of the customers that have a metrics row.
std::map<std::string, StoredLedgerState> LoadLedgerStates(
    pqxx::work& tx, const std::vector<std::string>& customer_ids);
// The order rows of (customer id, document number) pairs (those not stored are absent).
using OrderKey = std::pair<std::string, std::string>;
std::map<OrderKey, OrderFact> LoadOrderFacts(pqxx::work& tx, const std::vector<OrderKey>& keys);
// Stores the rows (customer id, row), replacing those stored, in one statement.
void SaveOrderFacts(pqxx::work& tx, const std::vector<std::pair<std::string, OrderFact>>& rows);

// What SaveMetricsBatch stores of a customer's ledger state.
struct LedgerStateWrite {
  std::string bytes;  // EncodeLedgerState
  Micros credit_at = 0;
  std::string credit_event;
};
// Metrics (ledger and interaction parts) of many customers in one statement; their stored
// credit figures stay unless `credit` has newer ones for them, their ledger state unless
// `states` has one.
void SaveMetricsBatch(pqxx::work& tx,
                      const std::vector<std::pair<std::string, CustomerMetrics>>& metrics,
                      const std::map<std::string, CreditFigures>& credit = {},
                      const std::map<std::string, LedgerStateWrite>& states = {});
// LoadFacts of each of the customers (the unknown and removed ones are absent).
std::map<std::string, CustomerFacts> LoadFactsOf(pqxx::work& tx,
                                                 const std::vector<std::string>& customer_ids);

// ---- The single writer (migrations/005, see writer.h) ----

// Starts a writer term: the epoch after the bump (waits for write transactions of the previous
// term that still hold the row).
int64_t BumpWriterEpoch(pqxx::work& tx, const std::string& holder);
// True when `epoch` is still the current term; holds the row FOR SHARE until commit, so a new
// term cannot start before this transaction ends.
bool WriterEpochIs(pqxx::work& tx, int64_t epoch);
// The version of the active rule set (0: none) and the one the writer last applied.
int64_t ActiveRuleSetVersion(pqxx::work& tx);
int64_t AppliedRuleSetVersion(pqxx::work& tx);
void SetAppliedRuleSetVersion(pqxx::work& tx, int64_t version);

struct WriteRequest {
  int64_t id = 0;
  std::string kind;
  std::string payload;
  std::string actor;
  std::string actor_role;
  std::string request_id;
};
int64_t InsertWriteRequest(pqxx::work& tx, const std::string& kind, const std::string& payload,
                           const std::string& actor, const std::string& actor_role,
                           const std::string& request_id);
// Not yet applied, in id order.
std::vector<WriteRequest> PendingWriteRequests(pqxx::work& tx, int limit);
// Records the outcome (`code` an absl::StatusCode, 0 = OK with `result`).
void FinishWriteRequest(pqxx::work& tx, int64_t id, const std::string& result, int code,
                        const std::string& message);
struct WriteOutcome {
  bool done = false;
  std::string result;
  int code = 0;
  std::string message;
};
// nullopt when there is no such request.
std::optional<WriteOutcome> LoadWriteOutcome(pqxx::work& tx, int64_t id);

using time::SetTimestamp;
using time::ToMicros;

}  // namespace tierwise::classification::store

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_STORE_H_
