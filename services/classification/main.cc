// tierwise-classification: tiers in real time from the event streams. Flags: --help.
#include "common/server/service_main.h"
#include "services/classification/classification_server.h"

int main(int argc, char** argv) {
  return tierwise::server::RunServiceMain(argc, argv,
                                          tierwise::classification::ClassificationDefinition());
}
