#ifndef TIERWISE_SERVICES_PROFILE_CUSTOMER_ARCHIVE_H_
#define TIERWISE_SERVICES_PROFILE_CUSTOMER_ARCHIVE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/auth.h"
#include "services/profile/customer_store.h"
#include "tierwise/profile/v1/profile.pb.h"

// The customer archive's rules (客户档案卡): who may see and change what, validation, the
// shape of updates (update_mask + etag), soft deletion and erasure, the audit trail and the
// CustomerChanged events. Knows nothing of gRPC; storage goes through CustomerStore.
namespace tierwise::profile {

// The stream CustomerChanged events go to, under the deployment's Redis prefix.
std::string CustomerChangedStream(const std::string& redis_prefix);

// Reduces a customer to the BASIC view: no tax id, bank data, legal representative or
// financials, no contact phone, e-mail or birthday (and for individuals, no registration
// contact data at all).
void MaskToBasicView(v1::Customer& customer);

class CustomerArchive {
 public:
  using Clock = std::function<int64_t()>;  // microseconds since the epoch

  // `published` is called after each committed change (e.g. to wake the outbox relay).
  CustomerArchive(CustomerStore& store, std::string event_stream, Clock clock,
                  std::function<void()> published = {});

  absl::StatusOr<v1::Customer> Create(const auth::CallContext& call,
                                      const v1::CreateCustomerRequest& request);
  absl::StatusOr<v1::Customer> Get(const auth::CallContext& call,
                                   const v1::GetCustomerRequest& request);
  absl::StatusOr<v1::Customer> GetByExternalRef(const auth::CallContext& call,
                                                const v1::GetCustomerByExternalRefRequest& request);
  absl::StatusOr<v1::Customer> Update(const auth::CallContext& call,
                                      const v1::UpdateCustomerRequest& request);
  absl::StatusOr<v1::ListCustomersResponse> List(const auth::CallContext& call,
                                                 const v1::ListCustomersRequest& request);
  absl::StatusOr<v1::Customer> Delete(const auth::CallContext& call,
                                      const v1::DeleteCustomerRequest& request);
  absl::StatusOr<v1::Customer> Erase(const auth::CallContext& call,
                                     const v1::EraseCustomerRequest& request);
  absl::StatusOr<v1::Customer> AddContact(const auth::CallContext& call,
                                          const v1::AddContactRequest& request);
  absl::StatusOr<v1::Customer> UpdateContact(const auth::CallContext& call,
                                             const v1::UpdateContactRequest& request);
  absl::StatusOr<v1::Customer> RemoveContact(const auth::CallContext& call,
                                             const v1::RemoveContactRequest& request);
  absl::StatusOr<v1::ListCustomerAuditResponse> ListAudit(
      const auth::CallContext& call, const v1::ListCustomerAuditRequest& request);

 private:
  // Loads a customer that may be changed by this caller; FAILED_PRECONDITION once erased.
  absl::StatusOr<v1::Customer> LoadForChange(const auth::CallContext& call, const std::string& id,
                                             const std::string& id_field);
  // Applies the view the caller asked for and may have; audits FULL reads.
  absl::StatusOr<v1::Customer> Present(const auth::CallContext& call, v1::Customer customer,
                                       v1::CustomerView view);
  WriteContext MakeWrite(const auth::CallContext& call, const v1::Customer& after,
                         v1::AuditAction action, std::vector<std::string> fields,
                         int event_change_type, std::string note = "");
  VersionBump NextVersion(const auth::CallContext& call, const v1::Customer& current) const;

  CustomerStore& store_;
  const std::string event_stream_;
  const Clock clock_;
  const std::function<void()> published_;
};

}  // namespace tierwise::profile

#endif  // TIERWISE_SERVICES_PROFILE_CUSTOMER_ARCHIVE_H_
