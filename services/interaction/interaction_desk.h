#ifndef TIERWISE_SERVICES_INTERACTION_INTERACTION_DESK_H_
#define TIERWISE_SERVICES_INTERACTION_INTERACTION_DESK_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/auth.h"
#include "common/postgres/pool.h"
#include "common/redis/redis_client.h"
#include "services/interaction/follow_up_plan.h"
#include "services/interaction/tier_directory.h"
#include "tierwise/interaction/v1/interaction.pb.h"

// The interaction log's domain: who may log and read what, records and their corrections,
// follow-up plans, complaints with their SLA clocks, and the two streams it follows
// (CustomerChanged for ownership, TierChanged for plans). Every change commits together with
// its audit row and its event (outbox), or not at all.
namespace tierwise::interaction {

struct DeskOptions {
  std::string events_stream;        // <prefix>:interaction.events
  std::function<Micros()> clock;    // injectable for tests
  std::function<void()> published;  // wakes the outbox relay after a commit
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

 private:
  absl::StatusOr<v1::ListFollowUpsResponse> ListPlan(const auth::CallContext& call,
                                                     std::vector<std::string> owners,
                                                     int64_t from_day, int64_t to_day, bool overdue,
                                                     int page_size, const std::string& fingerprint,
                                                     const std::string& page_token);
  void Publish() const;

  postgres::PgPool& pool_;
  TierDirectory& tiers_;
  const DeskOptions options_;
};

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_INTERACTION_DESK_H_
