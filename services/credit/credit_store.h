#ifndef TIERWISE_SERVICES_CREDIT_CREDIT_STORE_H_
#define TIERWISE_SERVICES_CREDIT_CREDIT_STORE_H_

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
// are the truth; each change to a customer's facts rebuilds the customer's ledger under a row
// lock on its account, stores the rating and hold state it implies, and emits one LedgerEvent
// per newly applied fact through the outbox — all in the fact's transaction. Thread-safe.
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
};

struct AccountSnapshot {
  AccountRow account;
  Ledger ledger;
};

struct Actor {
  std::string name;
  std::string role;
  std::string request_id;
};

class CreditStore {
 public:
  using Clock = std::function<Micros()>;

  CreditStore(postgres::PgPool& pool, std::string ledger_stream, Clock clock)
      : pool_(pool), ledger_stream_(std::move(ledger_stream)), clock_(std::move(clock)) {}

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
  absl::StatusOr<AccountSnapshot> Snapshot(const std::string& customer_id);

  // Finance/manager changes, each audited. `change` edits the locked account row.
  absl::StatusOr<AccountSnapshot> ChangeAccount(
      const std::string& customer_id, const std::string& action, const std::string& note,
      const Actor& actor, const std::function<absl::Status(AccountRow&)>& change);

  absl::StatusOr<v1::ListParkedEventsResponse> ListParked(const std::string& external_ref,
                                                          const std::string& after_event_id,
                                                          int limit);

  // Customers with overdue items, oldest due date first, after (due, customer) of the last page;
  // only those of `owner` unless it is "".
  absl::StatusOr<std::vector<v1::CollectionEntry>> ListCollections(
      Micros after_due, const std::string& after_customer, int limit, const std::string& owner);

  // Re-rates accounts whose oldest open item may have crossed the hold threshold (time passes
  // without events). Returns how many accounts changed hold state.
  absl::StatusOr<int> SweepHolds();

  absl::Status InsertApplication(const v1::LimitApplication& application, const Actor& actor);
  absl::StatusOr<v1::LimitApplication> GetApplication(const std::string& id);
  // Stores the decision if the application is still pending (FAILED_PRECONDITION otherwise)
  // and, when approved, sets the account's limit (and terms) in the same transaction.
  absl::Status DecideApplication(const v1::LimitApplication& decided, const Actor& actor);
  // Newest first; of one customer unless `customer_id` is "", of `owner`'s customers unless
  // `owner` is "".
  absl::StatusOr<std::vector<v1::LimitApplication>> ListApplications(const std::string& customer_id,
                                                                     int state,
                                                                     Micros before_submitted,
                                                                     int limit,
                                                                     const std::string& owner);

 private:
  postgres::PgPool& pool_;
  const std::string ledger_stream_;
  const Clock clock_;
};

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_CREDIT_STORE_H_
