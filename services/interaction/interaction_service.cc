#include "services/interaction/interaction_service.h"

#include "common/server/rpc.h"

namespace tierwise::interaction {

using auth::Role;
using server::ServeRpc;

auth::RoleTable InteractionRoleTable() {
  const auth::Roles field = {Role::kAdmin, Role::kManager, Role::kSalesRep};
  const auth::Roles readers = {Role::kAdmin, Role::kManager, Role::kSalesRep, Role::kViewer};
  return {
      {"LogInteraction", field},     {"GetInteraction", readers},   {"ListInteractions", readers},
      {"CorrectInteraction", field}, {"ListDueFollowUps", field},   {"ListOverdueFollowUps", field},
      {"OpenComplaint", field},      {"RespondToComplaint", field}, {"ResolveComplaint", field},
      {"GetComplaint", readers},     {"ListComplaints", readers}};
}

grpc::Status InteractionService::LogInteraction(grpc::ServerContext* context,
                                                const v1::LogInteractionRequest* request,
                                                v1::Interaction* response) {
  return ServeRpc(authorizer_, context, "LogInteraction", response,
                  [&](const auth::CallContext& c) { return desk_.Log(c, *request); });
}

grpc::Status InteractionService::GetInteraction(grpc::ServerContext* context,
                                                const v1::GetInteractionRequest* request,
                                                v1::Interaction* response) {
  return ServeRpc(authorizer_, context, "GetInteraction", response,
                  [&](const auth::CallContext& c) { return desk_.Get(c, request->id()); });
}

grpc::Status InteractionService::ListInteractions(grpc::ServerContext* context,
                                                  const v1::ListInteractionsRequest* request,
                                                  v1::ListInteractionsResponse* response) {
  return ServeRpc(authorizer_, context, "ListInteractions", response,
                  [&](const auth::CallContext& c) { return desk_.List(c, *request); });
}

grpc::Status InteractionService::CorrectInteraction(grpc::ServerContext* context,
                                                    const v1::CorrectInteractionRequest* request,
                                                    v1::Interaction* response) {
  return ServeRpc(authorizer_, context, "CorrectInteraction", response,
                  [&](const auth::CallContext& c) { return desk_.Correct(c, *request); });
}

grpc::Status InteractionService::ListDueFollowUps(grpc::ServerContext* context,
                                                  const v1::ListDueFollowUpsRequest* request,
                                                  v1::ListFollowUpsResponse* response) {
  return ServeRpc(authorizer_, context, "ListDueFollowUps", response,
                  [&](const auth::CallContext& c) { return desk_.ListDue(c, *request); });
}

grpc::Status InteractionService::ListOverdueFollowUps(
    grpc::ServerContext* context, const v1::ListOverdueFollowUpsRequest* request,
    v1::ListFollowUpsResponse* response) {
  return ServeRpc(authorizer_, context, "ListOverdueFollowUps", response,
                  [&](const auth::CallContext& c) { return desk_.ListOverdue(c, *request); });
}

grpc::Status InteractionService::OpenComplaint(grpc::ServerContext* context,
                                               const v1::OpenComplaintRequest* request,
                                               v1::Complaint* response) {
  return ServeRpc(authorizer_, context, "OpenComplaint", response,
                  [&](const auth::CallContext& c) { return desk_.OpenComplaint(c, *request); });
}

grpc::Status InteractionService::RespondToComplaint(grpc::ServerContext* context,
                                                    const v1::RespondToComplaintRequest* request,
                                                    v1::Complaint* response) {
  return ServeRpc(
      authorizer_, context, "RespondToComplaint", response,
      [&](const auth::CallContext& c) { return desk_.RespondToComplaint(c, *request); });
}

grpc::Status InteractionService::ResolveComplaint(grpc::ServerContext* context,
                                                  const v1::ResolveComplaintRequest* request,
                                                  v1::Complaint* response) {
  return ServeRpc(authorizer_, context, "ResolveComplaint", response,
                  [&](const auth::CallContext& c) { return desk_.ResolveComplaint(c, *request); });
}

grpc::Status InteractionService::GetComplaint(grpc::ServerContext* context,
                                              const v1::GetComplaintRequest* request,
                                              v1::Complaint* response) {
  return ServeRpc(authorizer_, context, "GetComplaint", response,
                  [&](const auth::CallContext& c) { return desk_.GetComplaint(c, request->id()); });
}

grpc::Status InteractionService::ListComplaints(grpc::ServerContext* context,
                                                const v1::ListComplaintsRequest* request,
                                                v1::ListComplaintsResponse* response) {
  return ServeRpc(authorizer_, context, "ListComplaints", response,
                  [&](const auth::CallContext& c) { return desk_.ListComplaints(c, *request); });
}

}  // namespace tierwise::interaction
