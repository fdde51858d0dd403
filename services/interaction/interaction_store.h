#ifndef TIERWISE_SERVICES_INTERACTION_INTERACTION_STORE_H_
#define TIERWISE_SERVICES_INTERACTION_INTERACTION_STORE_H_

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/outbox/outbox.h"
#include "common/postgres/audit.h"
#include "services/interaction/follow_up_plan.h"
#include "tierwise/interaction/v1/interaction.pb.h"

// SQL of the interaction schema (migrations/). Every function runs in the caller's
// transaction; parameters are always bound, never spliced into the text. Functions that take a
// pqxx::transaction_base are single statements that also run in a PgPool::Read (no BEGIN/COMMIT;
// locking variants only inside a transaction).
namespace tierwise::interaction::store {

struct KnownCustomer {
  std::string customer_id;
  std::string external_ref;
  std::string owner;
  bool deleted = false;
  bool former = false;  // lifecycle stage FORMER: no follow-up plan
  bool erased = false;  // erased in the profile service: its records' free text is scrubbed
  Micros known_at = 0;
  std::string tier;       // the last TierChanged seen, "" = none
  Micros tier_since = 0;  // its changed_at
};

// Audit rows are the shared ones (common/postgres/audit.h).
using AuditEntry = postgres::AuditRow;

// From CustomerChanged: later profile versions win, a redelivered or older event changes nothing.
void UpsertCustomer(pqxx::work& tx, const KnownCustomer& customer, int64_t version,
                    Micros known_at);
// `for_write` locks the row (FOR NO KEY UPDATE) until the transaction ends: every write of a
// customer's records or plan takes it, so an erasure (which locks the row for update) never
// runs alongside one, and two writers replan the customer one after the other.
std::optional<KnownCustomer> FindCustomer(pqxx::transaction_base& tx,
                                          const std::string& customer_id, bool for_write = false);

// From TierChanged: the newer changed_at wins. Returns whether the row changed.
bool UpsertTier(pqxx::work& tx, const std::string& customer_id, const std::string& tier,
                Micros changed_at);
std::string LastKnownTier(pqxx::work& tx, const std::string& customer_id);

// Interactions. `request_key` empty = no idempotency key.
void InsertInteraction(pqxx::work& tx, const v1::Interaction& in, const std::string& request_key);
std::optional<v1::Interaction> FindInteraction(pqxx::transaction_base& tx, const std::string& id,
                                               bool for_update);
std::optional<v1::Interaction> FindInteractionByKey(pqxx::work& tx, const std::string& request_key);
void MarkSuperseded(pqxx::work& tx, const std::string& id, const std::string& by);
// Recomputes the customer's contact_state from its current interactions (after a correction).
void RefreshContactState(pqxx::work& tx, const std::string& customer_id);
// Logs a new record (first version): the interaction row, its audit row, its event in the
// outbox (common/outbox's table) and the customer's contact_state updated from this record
// alone, in one statement. Returns the contact state.
ContactState LogInteraction(pqxx::work& tx, const v1::Interaction& in,
                            const std::string& request_key, const AuditEntry& audit,
                            const outbox::Message& event);

struct InteractionFilter {
  std::string customer_id;
  std::string owner;
  Micros from = 0;  // 0 = open
  Micros to = 0;
  int channel = 0;
  bool include_superseded = false;
  // Keyset: rows strictly after (occurred_at, id) in newest-first order.
  Micros after_occurred = 0;
  std::string after_id;
  int limit = 50;
};
std::vector<v1::Interaction> ListInteractions(pqxx::transaction_base& tx,
                                              const InteractionFilter& filter);

// Customers of these owners (all when empty) that are neither deleted nor former, with tier,
// contact state and whether a complaint is open: the from-scratch inputs of their plans (the
// check of the stored plans; lists read ListPlanPage).
std::vector<PlanCustomer> LoadPlanCustomers(pqxx::work& tx, const std::vector<std::string>& owners);
// The same for the given customers; deleted, former and unknown ones are absent.
std::vector<PlanCustomer> LoadPlanCustomersById(pqxx::work& tx,
                                                const std::vector<std::string>& customer_ids);

// Stored follow-up plans (migrations/005). The caller holds the customers' rows locked
// (FindCustomer for_write, UpsertCustomer or LockStalePlans), so one customer is replanned by
// one transaction at a time.
struct PlanWrite {
  std::string customer_id;
  std::string owner;
  std::string external_ref;
  StoredPlan rows;
};
// Makes the stored plans of `customer_ids` exactly `plans` (a customer without a PlanWrite, or
// with no rows, has none afterwards) and records the policy fingerprint they were computed
// under; one statement.
void ReplacePlans(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                  const std::vector<PlanWrite>& plans, const std::string& policy_fingerprint);
// The customers' plans must be computed again (no policy at hand): the rows stay as they are
// until the background pass replans them.
void MarkPlansStale(pqxx::work& tx, const std::vector<std::string>& customer_ids);
// Up to `limit` customers, in id order after `after` ("" = from the start), whose plan was not
// computed under `policy_fingerprint`; locked, skipping rows other transactions hold.
// `only_unplanned`: just those marked stale (an index scan), not every other fingerprint.
std::vector<std::string> LockStalePlans(pqxx::work& tx, const std::string& policy_fingerprint,
                                        const std::string& after, bool only_unplanned, int limit);

struct PlanPageQuery {
  std::vector<std::string> owners;  // distinct; empty = everyone
  int64_t from_day = 0;             // due days, inclusive
  int64_t to_day = 0;
  Micros now = 0;  // picks the rows valid at this instant
  // Keyset: rows strictly after (due_day, customer_id, kind); after_customer "" = first page.
  int64_t after_day = 0;
  std::string after_customer;
  int after_kind = 0;
  int limit = 100;
};
// One page of stored follow-ups, earliest due first, then customer id and kind: an index
// range per owner (or one for everyone), at most `limit` rows each. days_overdue is not set.
std::vector<v1::FollowUp> ListPlanPage(pqxx::transaction_base& tx, const PlanPageQuery& query);
// The statement ListPlanPage runs (for EXPLAIN in tests): $1..$3 the keyset (due day, customer
// id, kind), $4 the last due day, $5 now, $6 the limit, and with `by_owner` $7 the owners.
std::string PlanPageSql(bool by_owner);

// Complaints. The payload is the whole Complaint; the columns follow it on every write.
void InsertComplaint(pqxx::work& tx, const v1::Complaint& c, const std::string& request_key);
void UpdateComplaint(pqxx::work& tx, const v1::Complaint& c);
std::optional<v1::Complaint> FindComplaint(pqxx::transaction_base& tx, const std::string& id,
                                           bool for_update);
std::optional<v1::Complaint> FindComplaintByKey(pqxx::work& tx, const std::string& request_key);

struct ComplaintQuery {
  v1::ComplaintFilter filter = v1::COMPLAINT_FILTER_UNSPECIFIED;
  std::string owner;
  std::string customer_id;
  Micros after_opened = 0;  // keyset, newest first
  std::string after_id;
  int limit = 50;
};
std::vector<v1::Complaint> ListComplaints(pqxx::transaction_base& tx, const ComplaintQuery& query);
// Unresolved complaints whose response or resolution deadline passed before `now` and whose
// breach is not recorded yet (at most `limit`, locked, skipping rows others hold).
std::vector<v1::Complaint> LockUnrecordedBreaches(pqxx::work& tx, Micros now, int limit);

// Erasure (CustomerChanged ERASED). MarkErased locks the customer's row for update (after
// UpsertCustomer made sure it exists), marks it erased and deleted, and returns whether it was
// not erased before.
bool MarkErased(pqxx::work& tx, const std::string& customer_id, Micros at);
// Every version of the customer's records / every complaint, locked, as their payload holds them.
std::vector<v1::Interaction> LockInteractionPayloads(pqxx::work& tx,
                                                     const std::string& customer_id);
void ReplaceInteractionPayload(pqxx::work& tx, const v1::Interaction& in);
std::vector<v1::Complaint> LockComplaints(pqxx::work& tx, const std::string& customer_id);
// Drops the idempotency keys (client request ids) of the customer's records and complaints;
// returns how many.
int ClearRequestKeys(pqxx::work& tx, const std::string& customer_id);
// Audit details of the customer that are not one of the value-free forms the service writes
// (older rows held correction reasons and complaint subjects) become value-free: "corrects
// <id>" for a correction, kErasedText otherwise. Returns how many rows changed.
int ScrubAuditDetails(pqxx::work& tx, const std::string& customer_id);

void Audit(pqxx::transaction_base& tx, const AuditEntry& entry);

}  // namespace tierwise::interaction::store

#endif  // TIERWISE_SERVICES_INTERACTION_INTERACTION_STORE_H_
