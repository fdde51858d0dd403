// tierwise-interaction: the interaction log, follow-up plans and complaints. Flags and
// environment: --help.
#include "common/server/service_main.h"
#include "services/interaction/interaction_server.h"

int main(int argc, char** argv) {
  return tierwise::server::RunServiceMain(argc, argv,
                                          tierwise::interaction::InteractionDefinition());
}
