// tierwise-profile: the customer archive service. Flags and environment: --help.
#include "common/server/service_main.h"
#include "services/profile/profile_server.h"

int main(int argc, char** argv) {
  return tierwise::server::RunServiceMain(argc, argv, tierwise::profile::ProfileDefinition());
}
