#ifndef TIERWISE_SERVICES_CREDIT_CREDIT_SERVICE_H_
#define TIERWISE_SERVICES_CREDIT_CREDIT_SERVICE_H_

#include <chrono>

#include "common/auth/auth.h"
#include "services/credit/credit_desk.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"

namespace tierwise::credit {

// Who may call which method of LedgerIngestService and CreditService. Finer rules (a sales
// rep's own customers, the applicant not deciding) live in CreditDesk.
auth::RoleTable LedgerIngestRoleTable();
auth::RoleTable CreditRoleTable();

// gRPC face of ERP ingestion. Thread-safe.
class LedgerIngestService final : public v1::LedgerIngestService::Service {
 public:
  LedgerIngestService(CreditDesk& desk, const auth::Authorizer& authorizer)
      : desk_(desk), authorizer_(authorizer) {}

  grpc::Status RecordOrder(grpc::ServerContext* context, const v1::OrderEvent* request,
                           v1::IngestResult* response) override;
  grpc::Status RecordCancellation(grpc::ServerContext* context,
                                  const v1::CancellationEvent* request,
                                  v1::IngestResult* response) override;
  grpc::Status RecordPayment(grpc::ServerContext* context, const v1::PaymentEvent* request,
                             v1::IngestResult* response) override;
  grpc::Status IngestEvents(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::IngestEventsResponse, v1::IngestEventsRequest>* stream) override;
  grpc::Status ListParkedEvents(grpc::ServerContext* context,
                                const v1::ListParkedEventsRequest* request,
                                v1::ListParkedEventsResponse* response) override;

  // An IngestEvents stream that sends nothing for this long ends with DEADLINE_EXCEEDED
  // (--ingest_idle_timeout_s). Before the server starts.
  void set_idle_timeout(std::chrono::milliseconds timeout) { idle_timeout_ = timeout; }

 private:
  CreditDesk& desk_;
  const auth::Authorizer& authorizer_;
  std::chrono::milliseconds idle_timeout_{std::chrono::seconds(120)};
};

// gRPC face of credit management. Thread-safe.
class CreditService final : public v1::CreditService::Service {
 public:
  CreditService(CreditDesk& desk, const auth::Authorizer& authorizer)
      : desk_(desk), authorizer_(authorizer) {}

  grpc::Status GetCreditAccount(grpc::ServerContext* context,
                                const v1::GetCreditAccountRequest* request,
                                v1::CreditAccount* response) override;
  grpc::Status ListOpenItems(grpc::ServerContext* context, const v1::ListOpenItemsRequest* request,
                             v1::ListOpenItemsResponse* response) override;
  grpc::Status CheckCredit(grpc::ServerContext* context, const v1::CheckCreditRequest* request,
                           v1::CheckCreditResponse* response) override;
  grpc::Status SetCreditTerms(grpc::ServerContext* context,
                              const v1::SetCreditTermsRequest* request,
                              v1::CreditAccount* response) override;
  grpc::Status PlaceHold(grpc::ServerContext* context, const v1::PlaceHoldRequest* request,
                         v1::CreditAccount* response) override;
  grpc::Status ReleaseHold(grpc::ServerContext* context, const v1::ReleaseHoldRequest* request,
                           v1::CreditAccount* response) override;
  grpc::Status SubmitLimitApplication(grpc::ServerContext* context,
                                      const v1::SubmitLimitApplicationRequest* request,
                                      v1::LimitApplication* response) override;
  grpc::Status DecideLimitApplication(grpc::ServerContext* context,
                                      const v1::DecideLimitApplicationRequest* request,
                                      v1::LimitApplication* response) override;
  grpc::Status ListLimitApplications(grpc::ServerContext* context,
                                     const v1::ListLimitApplicationsRequest* request,
                                     v1::ListLimitApplicationsResponse* response) override;
  grpc::Status ListCollections(grpc::ServerContext* context,
                               const v1::ListCollectionsRequest* request,
                               v1::ListCollectionsResponse* response) override;
  grpc::Status GetCreditPolicy(grpc::ServerContext* context,
                               const v1::GetCreditPolicyRequest* request,
                               v1::CreditPolicy* response) override;
  grpc::Status UpdateCreditPolicy(grpc::ServerContext* context,
                                  const v1::UpdateCreditPolicyRequest* request,
                                  v1::CreditPolicy* response) override;
  grpc::Status VerifyLedger(grpc::ServerContext* context, const v1::VerifyLedgerRequest* request,
                            v1::VerifyLedgerResponse* response) override;

 private:
  CreditDesk& desk_;
  const auth::Authorizer& authorizer_;
};

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_CREDIT_SERVICE_H_
