#ifndef TIERWISE_SERVICES_PROFILE_PROFILE_SERVER_H_
#define TIERWISE_SERVICES_PROFILE_PROFILE_SERVER_H_

#include <memory>

#include "common/server/service_main.h"
#include "services/profile/customer_archive.h"
#include "services/profile/customer_store.h"
#include "services/profile/profile_service.h"

namespace tierwise::profile {

// The profile service's object graph, wired the same way in main() and in tests.
struct ProfileServer {
  ProfileServer(server::ServiceDeps& deps, CustomerArchive::Clock clock);

  CustomerStore store;
  CustomerArchive archive;
  auth::Authorizer authorizer;
  ProfileService service;
};

// The migrations of the `profile` schema (from services/profile/migrations).
const std::vector<postgres::Migration>& Migrations();

// The definition RunServiceMain needs: name, port 50051, migrations, wiring.
server::ServiceDefinition ProfileDefinition();

}  // namespace tierwise::profile

#endif  // TIERWISE_SERVICES_PROFILE_PROFILE_SERVER_H_
