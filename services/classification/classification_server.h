#ifndef TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVER_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVER_H_

#include <memory>

#include "common/server/service_main.h"
#include "services/classification/classification_service.h"
#include "services/classification/report_service.h"
#include "services/classification/tier_engine.h"

namespace tierwise::classification {

// The classification service's object graph, wired the same way in main() and in tests.
struct ClassificationServer {
  ClassificationServer(server::ServiceDeps& deps, std::function<Micros()> clock);

  TierEngine engine;
  JobRunner jobs;
  auth::Authorizer rule_set_authorizer;
  auth::Authorizer tier_authorizer;
  auth::Authorizer report_authorizer;
  RuleSetService rule_set_service;
  ClassificationService classification_service;
  ReportService report_service;
};

const std::vector<postgres::Migration>& Migrations();

// Port 50054; consumers of credit.ledger and profile.customer_changed; periodic maintenance
// (window slides, pin expiry) every minute and a full reclassification every
// --reclassify_interval_s (0 = never).
server::ServiceDefinition ClassificationDefinition();

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVER_H_
