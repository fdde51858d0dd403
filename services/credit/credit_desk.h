#ifndef TIERWISE_SERVICES_CREDIT_CREDIT_DESK_H_
#define TIERWISE_SERVICES_CREDIT_CREDIT_DESK_H_

#include "absl/status/statusor.h"
#include "common/auth/auth.h"
#include "services/credit/credit_store.h"
#include "tierwise/credit/v1/credit.pb.h"

// The credit department's rules on top of the store: ingest validation, account views at the
// current time, credit checks, terms and holds, limit applications (the applicant never
// decides their own), the policy, and the data scope: a sales rep reads accounts, open items,
// checks, applications and collections only of the customers they own (the owner the profile
// service announced) — PERMISSION_DENIED for another rep's customer, NOT_FOUND for an unknown
// one, lists narrowed to their own customers. Knows nothing of gRPC.
namespace tierwise::credit {

class CreditDesk {
 public:
  CreditDesk(CreditStore& store, CreditStore::Clock clock, std::function<void()> published = {})
      : store_(store), clock_(std::move(clock)), published_(std::move(published)) {}

  // Invalid events come back REJECTED with the field; the rest are stored and applied.
  absl::StatusOr<std::vector<v1::IngestResult>> Ingest(
      const auth::CallContext& call, const std::vector<const v1::LedgerEventInput*>& events);
  // A single event: an invalid one is INVALID_ARGUMENT instead of a REJECTED result.
  absl::StatusOr<v1::IngestResult> IngestOne(const auth::CallContext& call,
                                             const v1::LedgerEventInput& event);
  absl::StatusOr<v1::ListParkedEventsResponse> ListParked(const auth::CallContext& call,
                                                          const v1::ListParkedEventsRequest& req);

  absl::StatusOr<v1::CreditAccount> GetAccount(const auth::CallContext& call,
                                               const v1::GetCreditAccountRequest& req);
  absl::StatusOr<v1::ListOpenItemsResponse> ListOpenItems(const auth::CallContext& call,
                                                          const v1::ListOpenItemsRequest& req);
  absl::StatusOr<v1::CheckCreditResponse> Check(const auth::CallContext& call,
                                                const v1::CheckCreditRequest& req);
  absl::StatusOr<v1::CreditAccount> SetTerms(const auth::CallContext& call,
                                             const v1::SetCreditTermsRequest& req);
  absl::StatusOr<v1::CreditAccount> PlaceHold(const auth::CallContext& call,
                                              const v1::PlaceHoldRequest& req);
  absl::StatusOr<v1::CreditAccount> ReleaseHold(const auth::CallContext& call,
                                                const v1::ReleaseHoldRequest& req);
  absl::StatusOr<v1::LimitApplication> Submit(const auth::CallContext& call,
                                              const v1::SubmitLimitApplicationRequest& req);
  absl::StatusOr<v1::LimitApplication> Decide(const auth::CallContext& call,
                                              const v1::DecideLimitApplicationRequest& req);
  absl::StatusOr<v1::ListLimitApplicationsResponse> ListApplications(
      const auth::CallContext& call, const v1::ListLimitApplicationsRequest& req);
  absl::StatusOr<v1::ListCollectionsResponse> ListCollections(
      const auth::CallContext& call, const v1::ListCollectionsRequest& req);
  absl::StatusOr<v1::CreditPolicy> GetPolicy(const auth::CallContext& call);
  absl::StatusOr<v1::CreditPolicy> UpdatePolicy(const auth::CallContext& call,
                                                const v1::UpdateCreditPolicyRequest& req);
  // Compares the stored ledger state with a replay of the facts, repairing it on request.
  absl::StatusOr<v1::VerifyLedgerResponse> VerifyLedger(const auth::CallContext& call,
                                                        const v1::VerifyLedgerRequest& req);

 private:
  absl::StatusOr<AccountSnapshot> Load(const std::string& customer_id, const char* field);
  // OK unless the caller is a sales rep who does not own the customer (PERMISSION_DENIED) or
  // the customer is unknown (NOT_FOUND). `field` names the request field in the message.
  absl::Status CheckScope(const auth::CallContext& call, const std::string& customer_id,
                          const char* field);
  // Loads an account the caller may read: Load, then CheckScope.
  absl::StatusOr<AccountSnapshot> LoadInScope(const auth::CallContext& call,
                                              const std::string& customer_id, const char* field);
  absl::StatusOr<v1::CreditAccount> View(const AccountSnapshot& snapshot, Micros now) const;

  CreditStore& store_;
  const CreditStore::Clock clock_;
  const std::function<void()> published_;
};

// One account as the API shows it, computed at `now`; FAILED_PRECONDITION when one of its
// figures would pass int64 (see PositionAt).
absl::StatusOr<v1::CreditAccount> BuildAccountView(const AccountRow& account, const Ledger& ledger,
                                                   Micros now, const BusinessCalendar& calendar);

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_CREDIT_DESK_H_
