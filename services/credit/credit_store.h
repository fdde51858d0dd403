#ifndef TIERWISE_SERVICES_CREDIT_CREDIT_STORE_H_
#define TIERWISE_SERVICES_CREDIT_CREDIT_STORE_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/postgres/pool.h"
#include "services/credit/credit_rules.h"
#include "services/credit/ledger.h"
#include "services/credit/ledger_events.h"
#include "tierwise/credit/v1/credit.pb.h"

// PostgreSQL storage of the credit service (schema `credit`; migrations/). The ledger facts
// are the truth; each account's ledger state (items in ledger_items, the rest on the account
// row) is kept incrementally: new facts of a customer, under a row lock on its account, are
// applied to its open items and the items they name (LedgerApplier), or — when one is older
// than the last fact applied — the customer's facts are replayed and the state rewritten. The
// same transaction stores the rating and hold state and emits one LedgerEvent per newly applied
// fact through the outbox. Accounts are locked in customer_id order, only those a batch touches.
// Days are those of the calendar (business_time_zone). Thread-safe.
namespace tierwise::credit {

struct AccountRow {
  std::string customer_id;
  std::string currency;
  int64_t credit_limit = 0;
  Terms terms;
  bool on_hold = false;
  std::string hold_reason;
  bool hold_automatic = false;
  std::string rating;
  int score = 0;
  std::vector<v1::RatingFactor> factors;
  Micros rated_at = 0;
  int64_t events_applied = 0;
  // The stored ledger state besides its items (see migrations/003_ledger_state.sql). Not ready:
  // the account predates the stored state and is rebuilt by replay before use.
  bool ledger_ready = false;
  std::string ledger_state;  // serialized v1::StoredLedgerState
  FactKey last_fact;
  Micros first_order_at = 0;
  std::optional<int64_t> unapplied;  // nullopt when the unapplied credit passes int64
};

// An account and what a position at the snapshot's time needs of its ledger: the open items and
// those inside the DSO and on-time windows (never the whole history), with the policy.
struct AccountSnapshot {
  AccountRow account;
  Ledger ledger;
  v1::CreditPolicy policy;
};

// What VerifyLedger found.
struct LedgerCheck {
  bool matched = true;
  std::string difference;  // the first difference, for the log
  bool repaired = false;
};

// A page of ListCollections: `more` when another page follows; the cursor of its last entry.
struct CollectionsPage {
  std::vector<v1::CollectionEntry> entries;
  bool more = false;
  Micros last_due = 0;  // accounts.oldest_open_due of the last entry (the keyset cursor)
};

struct Actor {
  std::string name;
  std::string role;
  std::string request_id;
};

class CreditStore {
 public:
  using Clock = std::function<Micros()>;

  CreditStore(postgres::PgPool& pool, std::string ledger_stream, Clock clock,
              BusinessCalendar calendar = BusinessCalendar::Utc())
      : pool_(pool),
        ledger_stream_(std::move(ledger_stream)),
        clock_(std::move(clock)),
        calendar_(std::move(calendar)) {}

  const BusinessCalendar& calendar() const { return calendar_; }

  // How many times applying new facts had to replay a customer's ledger (a fact older than the
  // last applied one, or an account from before the stored state) since start.
  int64_t ledger_replays() const { return replays_.load(); }

  absl::StatusOr<v1::CreditPolicy> GetPolicy();
  absl::StatusOr<v1::CreditPolicy> UpdatePolicy(const v1::CreditPolicy& policy, const Actor& actor);

  // Stores and applies a batch of valid events; one result per event, in order. A repeated
  // event_id gets its first outcome with duplicate = true and changes nothing.
  absl::StatusOr<std::vector<v1::IngestResult>> Ingest(const std::vector<ValidEvent>& events);

  // The customer exists (the profile service said so, at profile `version`): remembers its
  // ERP code and owner unless a version as new is stored already (a redelivered or older event
  // changes nothing), and applies the events parked for it under the stored code. Returns how
  // many were applied.
  absl::StatusOr<int> CustomerKnown(const std::string& customer_id, const std::string& external_ref,
                                    const std::string& owner, int64_t version);

  // The owning sales rep the profile service last announced ("" when none); NOT_FOUND when the
  // customer is not known.
  absl::StatusOr<std::string> OwnerOf(const std::string& customer_id);

  // NOT_FOUND when the customer is unknown; an account with policy defaults when it has none.
  // A few indexed statements: the account, the policy, the items a position at `now` needs.
  absl::StatusOr<AccountSnapshot> Snapshot(const std::string& customer_id);

  // Items of the customer in order of occurrence after (occurred_at, event_id) `after`, open
  // ones only unless `include_settled`; at most `limit`. NOT_FOUND when the customer is unknown.
  absl::StatusOr<std::vector<Item>> ListItems(const std::string& customer_id, bool include_settled,
                                              const FactKey& after, int limit);

  // Replays the customer's facts and compares the result with the stored ledger state (items,
  // pending money and cancellations, the last fact, counters); with `repair`, a difference is
  // fixed by storing the replayed state (and the account re-rated), audited as REPAIR_LEDGER
  // by `actor`. NOT_FOUND for an account that does not exist.
  absl::StatusOr<LedgerCheck> VerifyLedger(const std::string& customer_id, bool repair,
                                           const Actor& actor = {"system", "system", ""});

  // Builds the stored ledger state of up to `limit` accounts that predate it (replaying their
  // facts). Returns how many were built.
  absl::StatusOr<int> BackfillLedgers(int limit);

  // Finance/manager changes, each audited. `change` edits the locked account row.
  absl::StatusOr<AccountSnapshot> ChangeAccount(
      const std::string& customer_id, const std::string& action, const std::string& note,
      const Actor& actor, const std::function<absl::Status(AccountRow&)>& change);

  absl::StatusOr<v1::ListParkedEventsResponse> ListParked(const std::string& external_ref,
                                                          const std::string& after_event_id,
                                                          int limit);

  // Customers with receivables overdue (by local days) at the store's clock, oldest due date
  // first, after (due, customer) of the last page; only those of `owner` unless it is "". One
  // statement per page over the stored items (an account from before the stored ledger state
  // shows once BackfillLedgers built it). FAILED_PRECONDITION when an overdue sum passes int64.
  absl::StatusOr<CollectionsPage> ListCollections(Micros after_due,
                                                  const std::string& after_customer, int limit,
                                                  const std::string& owner);

  // Re-rates accounts whose oldest open item may have crossed the hold threshold (time passes
  // without events). Returns how many accounts changed hold state.
  absl::StatusOr<int> SweepHolds();

  absl::Status InsertApplication(const v1::LimitApplication& application, const Actor& actor);
  absl::StatusOr<v1::LimitApplication> GetApplication(const std::string& id);
  // Stores the decision if the application is still pending (FAILED_PRECONDITION otherwise)
  // and, when approved, sets the account's limit (and terms) in the same transaction.
  absl::Status DecideApplication(const v1::LimitApplication& decided, const Actor& actor);
  // Newest first, by (submitted_at desc, id), after the (submitted_at, id) of the last page
  // (`after_id` "" for the first page); of one customer unless `customer_id` is "", of `owner`'s
  // customers unless `owner` is "".
  absl::StatusOr<std::vector<v1::LimitApplication>> ListApplications(
      const std::string& customer_id, int state, Micros after_submitted,
      const std::string& after_id, int limit, const std::string& owner);

 private:
  absl::StatusOr<std::optional<AccountSnapshot>> ReadSnapshot(const std::string& customer_id,
                                                              Micros now);
  postgres::PgPool& pool_;
  const std::string ledger_stream_;
  const Clock clock_;
  const BusinessCalendar calendar_;
  std::atomic<int64_t> replays_{0};
};

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_CREDIT_STORE_H_
