#ifndef TIERWISE_SERVICES_INTERACTION_INTERACTION_SERVICE_H_
#define TIERWISE_SERVICES_INTERACTION_INTERACTION_SERVICE_H_

#include "common/auth/auth.h"
#include "services/interaction/interaction_desk.h"
#include "tierwise/interaction/v1/interaction.grpc.pb.h"

namespace tierwise::interaction {

// Who may call which method. Finer rules (a sales rep's own customers and records) live in
// InteractionDesk.
auth::RoleTable InteractionRoleTable();

// gRPC face of the interaction log. Thread-safe.
class InteractionService final : public v1::InteractionService::Service {
 public:
  InteractionService(InteractionDesk& desk, const auth::Authorizer& authorizer)
      : desk_(desk), authorizer_(authorizer) {}

  grpc::Status LogInteraction(grpc::ServerContext* context,
                              const v1::LogInteractionRequest* request,
                              v1::Interaction* response) override;
  grpc::Status GetInteraction(grpc::ServerContext* context,
                              const v1::GetInteractionRequest* request,
                              v1::Interaction* response) override;
  grpc::Status ListInteractions(grpc::ServerContext* context,
                                const v1::ListInteractionsRequest* request,
                                v1::ListInteractionsResponse* response) override;
  grpc::Status CorrectInteraction(grpc::ServerContext* context,
                                  const v1::CorrectInteractionRequest* request,
                                  v1::Interaction* response) override;
  grpc::Status ListDueFollowUps(grpc::ServerContext* context,
                                const v1::ListDueFollowUpsRequest* request,
                                v1::ListFollowUpsResponse* response) override;
  grpc::Status ListOverdueFollowUps(grpc::ServerContext* context,
                                    const v1::ListOverdueFollowUpsRequest* request,
                                    v1::ListFollowUpsResponse* response) override;
  grpc::Status OpenComplaint(grpc::ServerContext* context, const v1::OpenComplaintRequest* request,
                             v1::Complaint* response) override;
  grpc::Status RespondToComplaint(grpc::ServerContext* context,
                                  const v1::RespondToComplaintRequest* request,
                                  v1::Complaint* response) override;
  grpc::Status ResolveComplaint(grpc::ServerContext* context,
                                const v1::ResolveComplaintRequest* request,
                                v1::Complaint* response) override;
  grpc::Status GetComplaint(grpc::ServerContext* context, const v1::GetComplaintRequest* request,
                            v1::Complaint* response) override;
  grpc::Status ListComplaints(grpc::ServerContext* context,
                              const v1::ListComplaintsRequest* request,
                              v1::ListComplaintsResponse* response) override;

 private:
  InteractionDesk& desk_;
  const auth::Authorizer& authorizer_;
};

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_INTERACTION_SERVICE_H_
