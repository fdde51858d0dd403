#ifndef TIERWISE_SERVICES_CLI_IMPORT_COMMANDS_H_
#define TIERWISE_SERVICES_CLI_IMPORT_COMMANDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "services/cli/args.h"
#include "services/cli/cli_context.h"
#include "services/cli/ledger_ingest.h"

// What `tierwise import` and `tierwise demo ledger` share: pushing records into the credit
// service and reporting the outcome the same way.
namespace tierwise::cli {

struct LedgerPushOptions {
  int batch_size = 500;
  bool progress = false;
};

// --batch (1..5000, default 500) and --no-progress; the bar shows only when stderr is a
// terminal. InvalidArgument with a usage message.
absl::StatusOr<LedgerPushOptions> ParseLedgerPushOptions(CliContext& ctx, const ParsedArgs& args);

// Streams `source` into LedgerIngestService.IngestEvents of the credit service, as
// TIERWISE_ERP_ADAPTER_TOKEN's principal when neither --token nor --role was given (and the
// token is known). --addr names the credit service; --timeout bounds the wait per batch.
IngestRun PushLedger(CliContext& ctx, RecordSource& source, const LedgerPushOptions& options);

// Prints the outcome and returns the exit code: the summary line on stdout and kExitOk, or
// kExitRejected (with a note naming `report_path` when not empty) when rows were rejected; a
// failed call prints its error and returns kExitFailed.
int FinishLedgerPush(CliContext& ctx, const IngestRun& run, const std::string& report_path);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_IMPORT_COMMANDS_H_
