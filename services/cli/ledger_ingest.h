#ifndef TIERWISE_SERVICES_CLI_LEDGER_INGEST_H_
#define TIERWISE_SERVICES_CLI_LEDGER_INGEST_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "services/cli/ledger_import.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"

// Pushing ledger records through LedgerIngestService.IngestEvents: batching, pipelining, the
// tally of outcomes, the rejected rows and a progress bar. Shared by `tierwise import` and
// `tierwise demo ledger`.
namespace tierwise::cli {

// Where the records come from (files, a generator). Used from one thread.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // The next record and the name of its origin (a file name); false at the end.
  virtual bool Next(LedgerRecord* record, std::string* origin) = 0;
  // Progress in some unit (bytes, customers): done so far and the total (<= 0: unknown).
  virtual int64_t done() const = 0;
  virtual int64_t total() const = 0;
};

// What happened to the records. duplicate counts events the server had seen before (whatever
// their first outcome); applied and parked count only new ones. Every record ends up in exactly
// one of applied, duplicate, parked or rejected, and `lines` counts them all.
struct IngestSummary {
  int64_t applied = 0;
  int64_t duplicate = 0;
  int64_t parked = 0;
  int64_t rejected = 0;
  int64_t lines = 0;

  // {"applied":N,"duplicate":N,"parked":N,"rejected":N,"lines":N}
  std::string ToJson() const;
};

// A record that was not stored, for the report.
struct RejectedRow {
  std::string file;
  int line = 0;
  std::string event_id;
  std::string field;   // the server's field path ("order.amount.minor_units"), or the column
  std::string column;  // the input column, when known
  std::string reason;
  std::string source;  // "cli": could not be read; "server": REJECTED by the credit service

  // One line of JSON: {"file","line","event_id","field","column","reason","source"}.
  std::string ToJson() const;
};

struct IngestOptions {
  int batch_size = 500;  // events per request message, 1..5000
  // When set, a progress bar (count, rate, ETA) is drawn on it, and erased at the end.
  std::ostream* progress = nullptr;
  // Longest wait for the answer to a batch; the call is cancelled after it.
  std::chrono::milliseconds batch_timeout{10000};
};

struct IngestRun {
  IngestSummary summary;              // the records answered (and the ones the CLI rejected)
  std::vector<RejectedRow> rejected;  // in input order
  grpc::Status status;                // OK, or why the call failed
};

// Reads every record of `source`, sends the readable ones in batches over one IngestEvents
// call (`context` prepared by the caller: credentials, no deadline — the call lasts as long as
// the input) and tallies the answers. Up to a few batches are in flight at once. Stops at the
// first call failure, with what was answered so far.
IngestRun IngestRecords(tierwise::credit::v1::LedgerIngestService::StubInterface& stub,
                        grpc::ClientContext& context, RecordSource& source,
                        const IngestOptions& options);

// "1,234,567" (for the progress bar).
std::string GroupThousands(int64_t value);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_LEDGER_INGEST_H_
