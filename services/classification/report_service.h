#ifndef TIERWISE_SERVICES_CLASSIFICATION_REPORT_SERVICE_H_
#define TIERWISE_SERVICES_CLASSIFICATION_REPORT_SERVICE_H_

#include <functional>

#include "common/auth/auth.h"
#include "common/postgres/pool.h"
#include "services/classification/customer_metrics.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"

namespace tierwise::classification {

auth::RoleTable ReportRoleTable();

// Tier reports: the distribution (the 80/20 picture) now or at a past time, the transition
// matrix between two times with churn per tier, and the Pareto curve. Past tiers come from the
// tier history; revenue at a time is the trailing 12 months of the ledger entries then.
// Reads every customer's ledger: meant for reports, not for the hot path.
class ReportService final : public v1::ReportService::Service {
 public:
  ReportService(postgres::PgPool& pool, const auth::Authorizer& authorizer,
                std::function<Micros()> clock,
                time::BusinessCalendar calendar = time::BusinessCalendar::Utc())
      : pool_(pool),
        authorizer_(authorizer),
        clock_(std::move(clock)),
        calendar_(std::move(calendar)) {}

  grpc::Status GetTierDistribution(grpc::ServerContext* context,
                                   const v1::GetTierDistributionRequest* request,
                                   v1::GetTierDistributionResponse* response) override;
  grpc::Status GetTransitionMatrix(grpc::ServerContext* context,
                                   const v1::GetTransitionMatrixRequest* request,
                                   v1::GetTransitionMatrixResponse* response) override;
  grpc::Status GetParetoCurve(grpc::ServerContext* context,
                              const v1::GetParetoCurveRequest* request,
                              v1::GetParetoCurveResponse* response) override;

 private:
  postgres::PgPool& pool_;
  const auth::Authorizer& authorizer_;
  const std::function<Micros()> clock_;
  const time::BusinessCalendar calendar_;
};

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_REPORT_SERVICE_H_
