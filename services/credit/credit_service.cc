#include "services/credit/credit_service.h"

#include "common/server/rpc.h"
#include "common/status/macros.h"

namespace tierwise::credit {
namespace {

using auth::Role;
using server::ServeRpc;

v1::LedgerEventInput Wrap(const v1::OrderEvent& e) {
  v1::LedgerEventInput in;
  *in.mutable_order() = e;
  return in;
}
v1::LedgerEventInput Wrap(const v1::CancellationEvent& e) {
  v1::LedgerEventInput in;
  *in.mutable_cancellation() = e;
  return in;
}
v1::LedgerEventInput Wrap(const v1::PaymentEvent& e) {
  v1::LedgerEventInput in;
  *in.mutable_payment() = e;
  return in;
}

}  // namespace

auth::RoleTable LedgerIngestRoleTable() {
  const auth::Roles feeders = {Role::kErpAdapter, Role::kAdmin};
  return {{"RecordOrder", feeders},
          {"RecordCancellation", feeders},
          {"RecordPayment", feeders},
          {"IngestEvents", feeders},
          {"ListParkedEvents", {Role::kErpAdapter, Role::kAdmin, Role::kFinance, Role::kManager}}};
}

auth::RoleTable CreditRoleTable() {
  const auth::Roles readers = {Role::kAdmin, Role::kManager, Role::kSalesRep, Role::kFinance,
                               Role::kViewer};
  const auth::Roles back_office = {Role::kAdmin, Role::kManager, Role::kFinance};
  return {
      {"GetCreditAccount", readers},
      {"ListOpenItems", readers},
      {"CheckCredit", readers},
      {"SetCreditTerms", {Role::kAdmin, Role::kFinance}},
      {"PlaceHold", back_office},
      {"ReleaseHold", back_office},
      {"SubmitLimitApplication", {Role::kAdmin, Role::kManager, Role::kSalesRep}},
      {"DecideLimitApplication", back_office},
      {"ListLimitApplications", {Role::kAdmin, Role::kManager, Role::kFinance, Role::kSalesRep}},
      {"ListCollections", {Role::kAdmin, Role::kManager, Role::kFinance, Role::kSalesRep}},
      {"GetCreditPolicy", auth::Roles::All()},
      {"UpdateCreditPolicy", {Role::kAdmin, Role::kFinance}},
      {"VerifyLedger", {Role::kAdmin}}};
}

grpc::Status LedgerIngestService::RecordOrder(grpc::ServerContext* context,
                                              const v1::OrderEvent* request,
                                              v1::IngestResult* response) {
  return ServeRpc(authorizer_, context, "RecordOrder", response,
                  [&](const auth::CallContext& c) { return desk_.IngestOne(c, Wrap(*request)); });
}

grpc::Status LedgerIngestService::RecordCancellation(grpc::ServerContext* context,
                                                     const v1::CancellationEvent* request,
                                                     v1::IngestResult* response) {
  return ServeRpc(authorizer_, context, "RecordCancellation", response,
                  [&](const auth::CallContext& c) { return desk_.IngestOne(c, Wrap(*request)); });
}

grpc::Status LedgerIngestService::RecordPayment(grpc::ServerContext* context,
                                                const v1::PaymentEvent* request,
                                                v1::IngestResult* response) {
  return ServeRpc(authorizer_, context, "RecordPayment", response,
                  [&](const auth::CallContext& c) { return desk_.IngestOne(c, Wrap(*request)); });
}

grpc::Status LedgerIngestService::IngestEvents(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::IngestEventsResponse, v1::IngestEventsRequest>* stream) {
  return server::RunRpc(
      authorizer_, context, "IngestEvents", [&](const auth::CallContext& c) -> absl::Status {
        // A silent adapter does not hold a thread and a stream forever.
        server::StreamIdleDeadline idle(
            context, idle_timeout_,
            absl::StrCat("IngestEvents: no message for ",
                         std::chrono::duration_cast<std::chrono::seconds>(idle_timeout_).count(),
                         " s (--ingest_idle_timeout_s); open a new stream to send more"));
        v1::IngestEventsRequest batch;
        while (idle.Read(stream, &batch)) {
          std::vector<const v1::LedgerEventInput*> events;
          for (const auto& e : batch.events()) events.push_back(&e);
          TW_ASSIGN_OR_RETURN(std::vector<v1::IngestResult> results, desk_.Ingest(c, events));
          v1::IngestEventsResponse response;
          for (auto& r : results) *response.add_results() = std::move(r);
          if (!stream->Write(response)) {
            return absl::CancelledError("the client went away");
          }
        }
        if (idle.expired()) return absl::DeadlineExceededError(idle.message());
        return absl::OkStatus();
      });
}

grpc::Status LedgerIngestService::ListParkedEvents(grpc::ServerContext* context,
                                                   const v1::ListParkedEventsRequest* request,
                                                   v1::ListParkedEventsResponse* response) {
  return ServeRpc(authorizer_, context, "ListParkedEvents", response,
                  [&](const auth::CallContext& c) { return desk_.ListParked(c, *request); });
}

#define TIERWISE_CREDIT_RPC(Method, Request, Response, Call)                                   \
  grpc::Status CreditService::Method(grpc::ServerContext* context, const v1::Request* request, \
                                     v1::Response* response) {                                 \
    return ServeRpc(authorizer_, context, #Method, response,                                   \
                    [&](const auth::CallContext& c) { return desk_.Call(c, *request); });      \
  }

TIERWISE_CREDIT_RPC(GetCreditAccount, GetCreditAccountRequest, CreditAccount, GetAccount)
TIERWISE_CREDIT_RPC(ListOpenItems, ListOpenItemsRequest, ListOpenItemsResponse, ListOpenItems)
TIERWISE_CREDIT_RPC(CheckCredit, CheckCreditRequest, CheckCreditResponse, Check)
TIERWISE_CREDIT_RPC(SetCreditTerms, SetCreditTermsRequest, CreditAccount, SetTerms)
TIERWISE_CREDIT_RPC(PlaceHold, PlaceHoldRequest, CreditAccount, PlaceHold)
TIERWISE_CREDIT_RPC(ReleaseHold, ReleaseHoldRequest, CreditAccount, ReleaseHold)
TIERWISE_CREDIT_RPC(SubmitLimitApplication, SubmitLimitApplicationRequest, LimitApplication, Submit)
TIERWISE_CREDIT_RPC(DecideLimitApplication, DecideLimitApplicationRequest, LimitApplication, Decide)
TIERWISE_CREDIT_RPC(ListLimitApplications, ListLimitApplicationsRequest,
                    ListLimitApplicationsResponse, ListApplications)
TIERWISE_CREDIT_RPC(ListCollections, ListCollectionsRequest, ListCollectionsResponse,
                    ListCollections)
TIERWISE_CREDIT_RPC(UpdateCreditPolicy, UpdateCreditPolicyRequest, CreditPolicy, UpdatePolicy)
TIERWISE_CREDIT_RPC(VerifyLedger, VerifyLedgerRequest, VerifyLedgerResponse, VerifyLedger)

#undef TIERWISE_CREDIT_RPC

grpc::Status CreditService::GetCreditPolicy(grpc::ServerContext* context,
                                            const v1::GetCreditPolicyRequest* request,
                                            v1::CreditPolicy* response) {
  return ServeRpc(authorizer_, context, "GetCreditPolicy", response,
                  [&](const auth::CallContext& c) { return desk_.GetPolicy(c); });
}

}  // namespace tierwise::credit
