// `tierwise import`: the ERP adapter. Reads orders, cancellations and payments from CSV or JSON
// Lines files and streams them into the credit service (LedgerIngestService.IngestEvents).
#include "services/cli/import_commands.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/cli/commands.h"
#include "services/cli/ledger_import.h"
#include "services/cli/ledger_ingest.h"
#include "services/cli/output.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;

constexpr int kDefaultBatch = 500;
constexpr int kMaxBatch = 5000;  // the server's limit per request message
constexpr char kDefaultReport[] = "import-report.jsonl";

// The files of one import, read one after the other.
class FileSource final : public RecordSource {
 public:
  struct File {
    std::string name;
    std::unique_ptr<std::istream> owned;  // unset for stdin
    std::istream* in = nullptr;
    std::unique_ptr<LedgerReader> reader;
    int64_t size = -1;  // -1: unknown (stdin, a pipe)
  };

  explicit FileSource(std::vector<File> files) : files_(std::move(files)) {
    for (const File& file : files_) {
      if (file.size < 0) {
        total_ = -1;
        break;
      }
      total_ += file.size;
    }
  }

  bool Next(LedgerRecord* record, std::string* origin) override {
    while (current_ < files_.size()) {
      File& file = files_[current_];
      if (file.reader->Next(record)) {
        *origin = file.name;
        return true;
      }
      finished_bytes_ += file.reader->bytes_read();
      ++current_;
    }
    return false;
  }

  int64_t done() const override {
    return finished_bytes_ + (current_ < files_.size() ? files_[current_].reader->bytes_read() : 0);
  }
  int64_t total() const override { return total_; }

 private:
  std::vector<File> files_;
  size_t current_ = 0;
  int64_t finished_bytes_ = 0;
  int64_t total_ = 0;
};

// Opens FILE... with their readers; a message for a file that cannot be read, an unknown format
// or a bad CSV header (nothing has been sent then).
absl::StatusOr<std::vector<FileSource::File>> OpenFiles(const std::vector<std::string>& names,
                                                        std::optional<InputFormat> forced,
                                                        const absl::TimeZone& business_zone) {
  std::vector<FileSource::File> files;
  int stdin_uses = 0;
  for (const std::string& name : names) {
    FileSource::File file;
    file.name = name;
    std::optional<InputFormat> format = forced.has_value() ? forced : FormatFromPath(name);
    if (name == "-") {
      if (++stdin_uses > 1) return absl::InvalidArgumentError("- (stdin) given more than once");
      file.in = &std::cin;
      if (!format.has_value()) format = InputFormat::kCsv;
    } else {
      if (!format.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ": cannot tell the format from the name (.csv, .jsonl): give --format"));
      }
      auto in = std::make_unique<std::ifstream>(name, std::ios::binary);
      if (!*in) return absl::NotFoundError(absl::StrCat(name, ": cannot be read"));
      std::error_code error;
      if (std::filesystem::is_regular_file(name, error)) {
        const auto size = std::filesystem::file_size(name, error);
        if (!error) file.size = static_cast<int64_t>(size);
      }
      file.in = in.get();
      file.owned = std::move(in);
    }
    if (*format == InputFormat::kCsv) {
      absl::StatusOr<std::unique_ptr<LedgerReader>> reader = NewCsvReader(*file.in, business_zone);
      if (!reader.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", reader.status().message()));
      }
      file.reader = *std::move(reader);
    } else {
      file.reader = NewJsonlReader(*file.in, business_zone);
    }
    files.push_back(std::move(file));
  }
  return files;
}

int Import(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().empty()) return ctx.UsageError("give at least one FILE (- for stdin)");
  std::optional<InputFormat> format;
  if (std::optional<std::string> name = args.Get("format"); name.has_value()) {
    absl::StatusOr<InputFormat> parsed = ParseInputFormat(*name);
    if (!parsed.ok()) return ctx.UsageError(parsed.status().message());
    format = *parsed;
  }
  absl::StatusOr<LedgerPushOptions> push = ParseLedgerPushOptions(ctx, args);
  if (!push.ok()) return ctx.UsageError(push.status().message());

  absl::StatusOr<std::vector<FileSource::File>> files =
      OpenFiles(args.positional(), format, ctx.business_zone());
  if (!files.ok()) {
    ctx.err() << "tierwise: " << files.status().message() << "\n";
    return kExitUsage;
  }
  const std::string report_path = args.Get("report").value_or(kDefaultReport);
  // Written (emptied) on every run, so that it never shows an older run's rows.
  std::ofstream report(report_path, std::ios::trunc);
  if (!report) {
    ctx.err() << "tierwise: cannot write the report " << report_path << "\n";
    return kExitUsage;
  }

  FileSource source(*std::move(files));
  IngestRun run = PushLedger(ctx, source, *push);
  for (const RejectedRow& row : run.rejected) report << row.ToJson() << "\n";
  report.close();
  if (!report) ctx.err() << "tierwise: could not finish writing " << report_path << "\n";
  return FinishLedgerPush(ctx, run, report_path);
}

}  // namespace

absl::StatusOr<LedgerPushOptions> ParseLedgerPushOptions(CliContext& ctx, const ParsedArgs& args) {
  LedgerPushOptions options;
  absl::StatusOr<int> batch = args.GetInt("batch", kDefaultBatch);
  if (!batch.ok() || *batch < 1 || *batch > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("--batch needs a number from 1 to ", kMaxBatch));
  }
  options.batch_size = *batch;
  // Progress only for a person watching: stderr is a terminal and is the process's stderr.
  options.progress =
      !args.Has("no-progress") && &ctx.err() == &std::cerr && ::isatty(STDERR_FILENO) == 1;
  return options;
}

IngestRun PushLedger(CliContext& ctx, RecordSource& source, const LedgerPushOptions& options) {
  ctx.set_primary_service(Service::kCredit);
  ctx.PreferRole("erp_adapter");
  auto stub = v1::LedgerIngestService::NewStub(ctx.Channel(Service::kCredit));
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  // The call lasts as long as the input; --timeout bounds the wait for each batch instead.
  call.set_deadline(std::chrono::system_clock::time_point::max());
  IngestOptions ingest;
  ingest.batch_size = options.batch_size;
  ingest.progress = options.progress ? &ctx.err() : nullptr;
  ingest.batch_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(ctx.options().timeout_seconds * 1000));
  return IngestRecords(*stub, call, source, ingest);
}

int FinishLedgerPush(CliContext& ctx, const IngestRun& run, const std::string& report_path) {
  if (!run.status.ok()) {
    ctx.PrintError(run.status);
    ctx.err() << "tierwise: stopped after " << run.summary.lines
              << " rows; running the same input again is safe (events already stored count as "
                 "duplicates)\n";
    return kExitFailed;
  }
  ctx.out() << run.summary.ToJson() << "\n";
  if (run.summary.rejected > 0) {
    ctx.err() << "tierwise: " << run.summary.rejected
              << (run.summary.rejected == 1 ? " row" : " rows") << " rejected";
    if (!report_path.empty()) ctx.err() << ", see " << report_path;
    ctx.err() << "\n";
    return kExitRejected;
  }
  return kExitOk;
}

void RegisterImportCommands(CommandTable& table) {
  table.Add({
      .resource = "import",
      .verb = "",
      .synopsis = "FILE... [--format csv|jsonl] [--batch 500] [--report PATH] [--no-progress]",
      .summary = absl::StrCat(
          "The ERP adapter: read orders, cancellations and payments from CSV (header row) or "
          "JSON Lines files (- for stdin; the format follows the file name unless --format "
          "says it) and stream them into the credit service in batches. Columns: ",
          absl::StrJoin(LedgerColumns(), ", "),
          " (see deploy/sample/README.md). Amounts are decimals such as 1234.50 or 1,234.50; "
          "times RFC 3339 or YYYY-MM-DD (UTC). Re-running a file changes nothing: the server "
          "knows the event ids and counts them as duplicates. Prints "
          "{\"applied\",\"duplicate\",\"parked\",\"rejected\",\"lines\"}; rejected rows (file, "
          "line, field, reason) go to the report, a JSON line each (default ",
          kDefaultReport,
          " in the current directory, rewritten on every run). A progress bar shows on a "
          "terminal. Uses TIERWISE_ERP_ADAPTER_TOKEN when set and neither --token nor --role is "
          "given. Exit 0, 3 when rows were rejected, 1 when the call failed."),
      .options = {{"format"}, {"batch"}, {"report"}, {"no-progress", false}},
      .run = Import,
  });
}

}  // namespace tierwise::cli
