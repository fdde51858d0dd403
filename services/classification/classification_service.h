#ifndef TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVICE_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVICE_H_

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/auth/auth.h"
#include "services/classification/tier_desk.h"
#include "services/classification/tier_engine.h"
#include "services/classification/writer.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"

namespace tierwise::classification {

auth::RoleTable RuleSetRoleTable();
auth::RoleTable ClassificationRoleTable();

class RuleSetService final : public v1::RuleSetService::Service {
 public:
  RuleSetService(TierEngine& engine, Writer& writer, postgres::PgPool& pool,
                 const auth::Authorizer& authorizer)
      : engine_(engine), writer_(writer), pool_(pool), authorizer_(authorizer) {}

  grpc::Status CreateRuleSet(grpc::ServerContext* context, const v1::CreateRuleSetRequest* request,
                             v1::RuleSet* response) override;
  grpc::Status GetRuleSet(grpc::ServerContext* context, const v1::GetRuleSetRequest* request,
                          v1::RuleSet* response) override;
  grpc::Status ListRuleSets(grpc::ServerContext* context, const v1::ListRuleSetsRequest* request,
                            v1::ListRuleSetsResponse* response) override;
  grpc::Status ActivateRuleSet(grpc::ServerContext* context,
                               const v1::ActivateRuleSetRequest* request,
                               v1::ActivateRuleSetResponse* response) override;
  grpc::Status SimulateRuleSet(grpc::ServerContext* context,
                               const v1::SimulateRuleSetRequest* request,
                               v1::SimulateRuleSetResponse* response) override;

 private:
  TierEngine& engine_;
  Writer& writer_;  // activation, on any replica
  postgres::PgPool& pool_;
  const auth::Authorizer& authorizer_;
};

class ClassificationService final : public v1::ClassificationService::Service {
 public:
  ClassificationService(TierEngine& engine, Writer& writer, JobRunner& jobs, postgres::PgPool& pool,
                        const auth::Authorizer& authorizer, std::function<Micros()> clock)
      : engine_(engine),
        writer_(writer),
        jobs_(jobs),
        pool_(pool),
        authorizer_(authorizer),
        clock_(std::move(clock)) {}

  grpc::Status GetTier(grpc::ServerContext* context, const v1::GetTierRequest* request,
                       v1::Tier* response) override;
  grpc::Status BatchGetTiers(grpc::ServerContext* context, const v1::BatchGetTiersRequest* request,
                             v1::BatchGetTiersResponse* response) override;
  grpc::Status ListCustomersByTier(grpc::ServerContext* context,
                                   const v1::ListCustomersByTierRequest* request,
                                   v1::ListCustomersByTierResponse* response) override;
  grpc::Status GetTierHistory(grpc::ServerContext* context,
                              const v1::GetTierHistoryRequest* request,
                              v1::GetTierHistoryResponse* response) override;
  grpc::Status PinTier(grpc::ServerContext* context, const v1::PinTierRequest* request,
                       v1::Tier* response) override;
  grpc::Status UnpinTier(grpc::ServerContext* context, const v1::UnpinTierRequest* request,
                         v1::Tier* response) override;
  grpc::Status Reclassify(grpc::ServerContext* context, const v1::ReclassifyRequest* request,
                          v1::Tier* response) override;
  grpc::Status StartFullReclassification(grpc::ServerContext* context,
                                         const v1::StartFullReclassificationRequest* request,
                                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status GetServicePolicy(grpc::ServerContext* context,
                                const v1::GetServicePolicyRequest* request,
                                v1::ServicePolicy* response) override;
  grpc::Status UpdateServicePolicy(grpc::ServerContext* context,
                                   const v1::UpdateServicePolicyRequest* request,
                                   v1::ServicePolicy* response) override;

 private:
  TierEngine& engine_;
  Writer& writer_;  // pins, reclassification, full runs: on any replica
  JobRunner& jobs_;
  postgres::PgPool& pool_;
  const auth::Authorizer& authorizer_;
  const std::function<Micros()> clock_;
  TierDesk desk_{engine_, pool_};  // the reads that depend on who asks
};

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVICE_H_
