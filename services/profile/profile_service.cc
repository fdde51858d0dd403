#include "services/profile/profile_service.h"

#include "common/server/rpc.h"

namespace tierwise::profile {
namespace {

using auth::Role;
using server::ServeRpc;

}  // namespace

auth::RoleTable ProfileRoleTable() {
  const auth::Roles writers = {Role::kAdmin, Role::kManager, Role::kSalesRep, Role::kErpAdapter};
  const auth::Roles contact_editors = {Role::kAdmin, Role::kManager, Role::kSalesRep};
  return {
      {"CreateCustomer", writers},
      {"GetCustomer", auth::Roles::All()},
      {"GetCustomerByExternalRef", auth::Roles::All()},
      {"UpdateCustomer", writers},
      {"ListCustomers", auth::Roles::All()},
      {"DeleteCustomer", {Role::kAdmin, Role::kManager}},
      {"EraseCustomer", {Role::kAdmin}},
      {"AddContact", contact_editors},
      {"UpdateContact", contact_editors},
      {"RemoveContact", contact_editors},
      {"ListCustomerAudit", {Role::kAdmin, Role::kManager}},
  };
}

grpc::Status ProfileService::CreateCustomer(grpc::ServerContext* context,
                                            const v1::CreateCustomerRequest* request,
                                            v1::Customer* response) {
  return ServeRpc(authorizer_, context, "CreateCustomer", response,
                  [&](const auth::CallContext& call) { return archive_.Create(call, *request); });
}

grpc::Status ProfileService::GetCustomer(grpc::ServerContext* context,
                                         const v1::GetCustomerRequest* request,
                                         v1::Customer* response) {
  return ServeRpc(authorizer_, context, "GetCustomer", response,
                  [&](const auth::CallContext& call) { return archive_.Get(call, *request); });
}

grpc::Status ProfileService::GetCustomerByExternalRef(
    grpc::ServerContext* context, const v1::GetCustomerByExternalRefRequest* request,
    v1::Customer* response) {
  return ServeRpc(
      authorizer_, context, "GetCustomerByExternalRef", response,
      [&](const auth::CallContext& call) { return archive_.GetByExternalRef(call, *request); });
}

grpc::Status ProfileService::UpdateCustomer(grpc::ServerContext* context,
                                            const v1::UpdateCustomerRequest* request,
                                            v1::Customer* response) {
  return ServeRpc(authorizer_, context, "UpdateCustomer", response,
                  [&](const auth::CallContext& call) { return archive_.Update(call, *request); });
}

grpc::Status ProfileService::ListCustomers(grpc::ServerContext* context,
                                           const v1::ListCustomersRequest* request,
                                           v1::ListCustomersResponse* response) {
  return ServeRpc(authorizer_, context, "ListCustomers", response,
                  [&](const auth::CallContext& call) { return archive_.List(call, *request); });
}

grpc::Status ProfileService::DeleteCustomer(grpc::ServerContext* context,
                                            const v1::DeleteCustomerRequest* request,
                                            v1::Customer* response) {
  return ServeRpc(authorizer_, context, "DeleteCustomer", response,
                  [&](const auth::CallContext& call) { return archive_.Delete(call, *request); });
}

grpc::Status ProfileService::EraseCustomer(grpc::ServerContext* context,
                                           const v1::EraseCustomerRequest* request,
                                           v1::Customer* response) {
  return ServeRpc(authorizer_, context, "EraseCustomer", response,
                  [&](const auth::CallContext& call) { return archive_.Erase(call, *request); });
}

grpc::Status ProfileService::AddContact(grpc::ServerContext* context,
                                        const v1::AddContactRequest* request,
                                        v1::Customer* response) {
  return ServeRpc(authorizer_, context, "AddContact", response, [&](const auth::CallContext& call) {
    return archive_.AddContact(call, *request);
  });
}

grpc::Status ProfileService::UpdateContact(grpc::ServerContext* context,
                                           const v1::UpdateContactRequest* request,
                                           v1::Customer* response) {
  return ServeRpc(
      authorizer_, context, "UpdateContact", response,
      [&](const auth::CallContext& call) { return archive_.UpdateContact(call, *request); });
}

grpc::Status ProfileService::RemoveContact(grpc::ServerContext* context,
                                           const v1::RemoveContactRequest* request,
                                           v1::Customer* response) {
  return ServeRpc(
      authorizer_, context, "RemoveContact", response,
      [&](const auth::CallContext& call) { return archive_.RemoveContact(call, *request); });
}

grpc::Status ProfileService::ListCustomerAudit(grpc::ServerContext* context,
                                               const v1::ListCustomerAuditRequest* request,
                                               v1::ListCustomerAuditResponse* response) {
  return ServeRpc(
      authorizer_, context, "ListCustomerAudit", response,
      [&](const auth::CallContext& call) { return archive_.ListAudit(call, *request); });
}

}  // namespace tierwise::profile
