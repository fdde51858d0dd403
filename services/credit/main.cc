// tierwise-credit: credit management and ERP ledger ingestion. Flags and environment: --help.
#include "common/server/service_main.h"
#include "services/credit/credit_server.h"

int main(int argc, char** argv) {
  return tierwise::server::RunServiceMain(argc, argv, tierwise::credit::CreditDefinition());
}
