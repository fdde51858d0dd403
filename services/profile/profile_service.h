#ifndef TIERWISE_SERVICES_PROFILE_PROFILE_SERVICE_H_
#define TIERWISE_SERVICES_PROFILE_PROFILE_SERVICE_H_

#include "common/auth/auth.h"
#include "services/profile/customer_archive.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::profile {

// Who may call which method of CustomerProfileService. Finer rules (a sales rep's own
// customers, who sees the FULL view) live in CustomerArchive.
auth::RoleTable ProfileRoleTable();

// gRPC face of the customer archive: authorizes, converts, maps errors. Thread-safe.
class ProfileService final : public v1::CustomerProfileService::Service {
 public:
  ProfileService(CustomerArchive& archive, const auth::Authorizer& authorizer)
      : archive_(archive), authorizer_(authorizer) {}

  grpc::Status CreateCustomer(grpc::ServerContext* context,
                              const v1::CreateCustomerRequest* request,
                              v1::Customer* response) override;
  grpc::Status GetCustomer(grpc::ServerContext* context, const v1::GetCustomerRequest* request,
                           v1::Customer* response) override;
  grpc::Status GetCustomerByExternalRef(grpc::ServerContext* context,
                                        const v1::GetCustomerByExternalRefRequest* request,
                                        v1::Customer* response) override;
  grpc::Status UpdateCustomer(grpc::ServerContext* context,
                              const v1::UpdateCustomerRequest* request,
                              v1::Customer* response) override;
  grpc::Status ListCustomers(grpc::ServerContext* context, const v1::ListCustomersRequest* request,
                             v1::ListCustomersResponse* response) override;
  grpc::Status DeleteCustomer(grpc::ServerContext* context,
                              const v1::DeleteCustomerRequest* request,
                              v1::Customer* response) override;
  grpc::Status EraseCustomer(grpc::ServerContext* context, const v1::EraseCustomerRequest* request,
                             v1::Customer* response) override;
  grpc::Status AddContact(grpc::ServerContext* context, const v1::AddContactRequest* request,
                          v1::Customer* response) override;
  grpc::Status UpdateContact(grpc::ServerContext* context, const v1::UpdateContactRequest* request,
                             v1::Customer* response) override;
  grpc::Status RemoveContact(grpc::ServerContext* context, const v1::RemoveContactRequest* request,
                             v1::Customer* response) override;
  grpc::Status ListCustomerAudit(grpc::ServerContext* context,
                                 const v1::ListCustomerAuditRequest* request,
                                 v1::ListCustomerAuditResponse* response) override;

 private:
  CustomerArchive& archive_;
  const auth::Authorizer& authorizer_;
};

}  // namespace tierwise::profile

#endif  // TIERWISE_SERVICES_PROFILE_PROFILE_SERVICE_H_
