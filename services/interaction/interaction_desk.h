#ifndef TIERWISE_SERVICES_INTERACTION_INTERACTION_DESK_H_
#define TIERWISE_SERVICES_INTERACTION_INTERACTION_DESK_H_

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/auth/auth.h"
#include "common/postgres/pool.h"
#include "common/redis/redis_client.h"
#include "common/time/business_calendar.h"
#include "services/interaction/follow_up_plan.h"
#include "services/interaction/tier_directory.h"
#include "tierwise/interaction/v1/interaction.pb.h"

// The interaction log's domain: who may log and read what, records and their corrections,
// follow-up plans, complaints with their SLA clocks, and the two streams it follows
// (CustomerChanged for ownership, TierChanged for plans). Every change commits together with
// its audit row and its event (outbox), or not at all. Reads run without a transaction block
// (PgPool::Read): one statement each, and an audited read commits its audit row on its own
// before it returns anything (no audit row, no data).
//
// Follow-up plans are stored (store::ReplacePlans): every change that moves a customer's plan
// replans that customer in its own transaction (a record logged or corrected, a tier change, an
// owner move, the customer leaving), and ReplanStale catches up with a new service policy in
// batches; ListDue/ListOverdue read one index page.
namespace tierwise::interaction {

struct DeskOptions {
  std::string events_stream;        // <prefix>:interaction.events
  std::function<Micros()> clock;    // injectable for tests
  std::function<void()> published;  // wakes the outbox relay after a commit
  // Local days for follow-up due days, "today" and next_follow_up_date.
  time::BusinessCalendar calendar = time::BusinessCalendar::Utc();
};

class InteractionDesk {
 public:
  InteractionDesk(postgres::PgPool& pool, TierDirectory& tiers, DeskOptions options);

  absl::StatusOr<v1::Interaction> Log(const auth::CallContext& call,
                                      const v1::LogInteractionRequest& request);
  absl::StatusOr<v1::Interaction> Get(const auth::CallContext& call, const std::string& id);
  absl::StatusOr<v1::ListInteractionsResponse> List(const auth::CallContext& call,
                                                    const v1::ListInteractionsRequest& request);
  absl::StatusOr<v1::Interaction> Correct(const auth::CallContext& call,
                                          const v1::CorrectInteractionRequest& request);

  absl::StatusOr<v1::ListFollowUpsResponse> ListDue(const auth::CallContext& call,
                                                    const v1::ListDueFollowUpsRequest& request);
  absl::StatusOr<v1::ListFollowUpsResponse> ListOverdue(
      const auth::CallContext& call, const v1::ListOverdueFollowUpsRequest& request);

  absl::StatusOr<v1::Complaint> OpenComplaint(const auth::CallContext& call,
                                              const v1::OpenComplaintRequest& request);
  absl::StatusOr<v1::Complaint> RespondToComplaint(const auth::CallContext& call,
                                                   const v1::RespondToComplaintRequest& request);
  absl::StatusOr<v1::Complaint> ResolveComplaint(const auth::CallContext& call,
                                                 const v1::ResolveComplaintRequest& request);
  absl::StatusOr<v1::Complaint> GetComplaint(const auth::CallContext& call, const std::string& id);
  absl::StatusOr<v1::ListComplaintsResponse> ListComplaints(
      const auth::CallContext& call, const v1::ListComplaintsRequest& request);

  // Records every SLA breach not recorded yet (each exactly once, with its event); returns
  // how many. Run periodically.
  absl::StatusOr<int> SweepBreaches();

  // Stream handlers: CustomerChanged (ownership, deletion; on ERASED the free text of every
  // version of the customer's records, complaints and audit details is scrubbed in the same
  // transaction, see erasure.h) and TierChanged (plans).
  absl::Status OnCustomerChanged(const redis::StreamEntry& entry);
  absl::Status OnTierChanged(const redis::StreamEntry& entry);

  // Replans, in batches of `batch` customers per transaction, every customer whose stored plan
  // was computed under another service policy (or business calendar) than the current one;
  // when the policy is the one this process last caught up with, only those marked stale.
  // Returns how many customers were replanned; UNAVAILABLE without a policy. Run periodically
  // (any replica; rows another transaction holds are skipped, their writer replans them).
  absl::StatusOr<int> ReplanStale(int batch = 500);

 private:
  // Makes the stored plans of `customer_ids` (rows locked by the caller) those of `policy`;
  // nullptr = no policy at hand: plans are marked stale, and customers that left lose theirs.
  void Replan(pqxx::work& tx, const std::vector<std::string>& customer_ids,
              const ServicePolicy* policy) const;
  // The same with the customers' plan inputs at hand (those without a plan left out).
  void ReplanLoaded(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                    const std::vector<PlanCustomer>& customers, const ServicePolicy* policy) const;
  std::string PolicyFingerprint(const ServicePolicy& policy) const;
  absl::StatusOr<v1::ListFollowUpsResponse> ListPlan(const auth::CallContext& call,
                                                     std::vector<std::string> owners,
                                                     int64_t from_day, int64_t to_day,
                                                     int64_t overdue_as_of, int page_size,
                                                     const std::string& fingerprint,
                                                     const std::string& page_token);
  void Publish() const;

  postgres::PgPool& pool_;
  TierDirectory& tiers_;
  const DeskOptions options_;
  std::mutex sweep_mu_;  // one ReplanStale at a time in this process
  std::string caught_up_policy_ ABSL_GUARDED_BY(sweep_mu_);
};

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_INTERACTION_DESK_H_
