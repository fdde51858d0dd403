#ifndef TIERWISE_SERVICES_CREDIT_CREDIT_SERVER_H_
#define TIERWISE_SERVICES_CREDIT_CREDIT_SERVER_H_

#include <memory>

#include "common/redis/stream_consumer.h"
#include "common/server/periodic_task.h"
#include "common/server/service_main.h"
#include "services/credit/credit_desk.h"
#include "services/credit/credit_service.h"
#include "services/credit/credit_store.h"

namespace tierwise::credit {

// The stream LedgerEvents go to, under the deployment's Redis prefix.
std::string LedgerStream(const std::string& redis_prefix);

// Applies one CustomerChanged entry of the profile stream: the customer becomes known (and its
// parked events are applied). Other change types only refresh the known external_ref/owner, and
// only when the event's profile version is above the stored one.
absl::Status HandleCustomerChanged(CreditStore& store, const redis::StreamEntry& entry);

// The credit service's object graph, wired the same way in main() and in tests.
struct CreditServer {
  CreditServer(server::ServiceDeps& deps, CreditStore::Clock clock);

  CreditStore store;
  CreditDesk desk;
  auth::Authorizer ingest_authorizer;
  auth::Authorizer credit_authorizer;
  LedgerIngestService ingest_service;
  CreditService credit_service;
};

const std::vector<postgres::Migration>& Migrations();

// Name, port 50053, migrations, wiring, and the background work: the CustomerChanged consumer
// and the periodic automatic-hold sweep.
server::ServiceDefinition CreditDefinition();

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_CREDIT_SERVER_H_
