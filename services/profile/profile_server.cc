#include "services/profile/profile_server.h"

#include "common/time/micros.h"

namespace tierwise::profile {

ProfileServer::ProfileServer(server::ServiceDeps& deps, CustomerArchive::Clock clock)
    : store(deps.pool),
      archive(store, CustomerChangedStream(deps.config.redis_prefix), std::move(clock),
              [&relay = deps.relay] { relay.Wake(); }),
      authorizer(deps.tokens, ProfileRoleTable()),
      service(archive, authorizer) {}

server::ServiceDefinition ProfileDefinition() {
  return {.name = "profile",
          .default_port = 50051,
          .migrations = Migrations(),
          .build = [](server::ServiceDeps& deps) -> absl::StatusOr<server::ServiceBundle> {
            auto profile = std::make_shared<ProfileServer>(deps, time::NowMicros);
            server::ServiceBundle bundle;
            bundle.services.emplace_back(&profile->service,
                                         v1::CustomerProfileService::service_full_name());
            bundle.keep_alive.push_back(profile);
            return bundle;
          }};
}

}  // namespace tierwise::profile
