#ifndef TIERWISE_SERVICES_INTERACTION_INTERACTION_SERVER_H_
#define TIERWISE_SERVICES_INTERACTION_INTERACTION_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "common/server/service_main.h"
#include "services/interaction/interaction_desk.h"
#include "services/interaction/interaction_service.h"
#include "services/interaction/tier_directory.h"

namespace tierwise::interaction {

// The stream interaction and complaint events go to, under the deployment's Redis prefix.
std::string EventsStream(const std::string& redis_prefix);

// The interaction service's object graph, wired the same way in main() and in tests.
struct InteractionServer {
  InteractionServer(server::ServiceDeps& deps, std::shared_ptr<TierDirectory> tiers,
                    std::function<Micros()> clock);

  std::shared_ptr<TierDirectory> directory;
  InteractionDesk desk;
  auth::Authorizer authorizer;
  InteractionService service;
};

const std::vector<postgres::Migration>& Migrations();

// Name, port 50052, migrations, flags (where classification is, the credential for it, the
// SLA sweep interval), wiring, and the background work: consumers of CustomerChanged and
// TierChanged, and the periodic SLA-breach sweep.
server::ServiceDefinition InteractionDefinition();

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_INTERACTION_SERVER_H_
