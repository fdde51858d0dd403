// `tierwise demo ...`: the demo data set (see demo_data.h and demo_ledger.h).
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/cli/commands.h"
#include "services/cli/demo_data.h"
#include "services/cli/demo_ledger.h"
#include "services/cli/import_commands.h"
#include "services/cli/ledger_import.h"
#include "services/cli/output.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace pb = ::tierwise::profile::v1;

constexpr int kDefaultCount = 200;
constexpr uint64_t kDefaultSeed = 42;
constexpr int kMaxCount = 100000;

// --count and --seed, shared by the demo commands.
bool ParseDemoOptions(CliContext& ctx, const ParsedArgs& args, int* count, uint64_t* seed,
                      int* exit_code) {
  if (!args.positional().empty()) {
    *exit_code = ctx.UsageError("no positional arguments expected");
    return false;
  }
  absl::StatusOr<int> parsed_count = args.GetInt("count", kDefaultCount);
  if (!parsed_count.ok() || *parsed_count < 0 || *parsed_count > kMaxCount) {
    *exit_code = ctx.UsageError(absl::StrCat("--count needs a number from 0 to ", kMaxCount));
    return false;
  }
  *count = *parsed_count;
  *seed = kDefaultSeed;
  if (std::optional<std::string> text = args.Get("seed");
      text.has_value() && !absl::SimpleAtoi(*text, seed)) {
    *exit_code = ctx.UsageError("--seed needs a non-negative integer");
    return false;
  }
  return true;
}

int DemoLoad(CliContext& ctx, const ParsedArgs& args) {
  int count = 0;
  uint64_t seed = 0;
  int exit_code = kExitOk;
  if (!ParseDemoOptions(ctx, args, &count, &seed, &exit_code)) return exit_code;

  std::vector<demo::DemoCustomer> customers = demo::GenerateDemoCustomers(seed, count);
  auto stub = pb::CustomerProfileService::NewStub(ctx.Channel(Service::kProfile));
  int created = 0;
  int existing = 0;
  int failed = 0;
  for (size_t i = 0; i < customers.size(); ++i) {
    pb::CreateCustomerRequest request;
    *request.mutable_customer() = customers[i].customer;
    for (const pb::Contact& contact : customers[i].contacts) *request.add_contacts() = contact;

    grpc::Status status;
    // A server that is still starting answers UNAVAILABLE for a moment: retry a few times.
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
      grpc::ClientContext call;
      ctx.PrepareCall(&call);
      pb::Customer response;
      status = stub->CreateCustomer(&call, request, &response);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    }
    if (status.ok()) {
      ++created;
    } else if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      ++existing;
    } else {
      ctx.err() << "{\"external_ref\":" << JsonQuote(request.customer().external_ref())
                << ",\"error\":" << StatusToJson(status) << "}\n";
      if (IsFatalForRun(status.error_code())) {
        failed += static_cast<int>(customers.size() - i);
        break;
      }
      ++failed;
    }
  }
  ctx.out() << "{\"created\":" << created << ",\"existing\":" << existing
            << ",\"failed\":" << failed << "}\n";
  return failed == 0 ? kExitOk : kExitFailed;
}

int DemoShow(CliContext& ctx, const ParsedArgs& args) {
  int count = 0;
  uint64_t seed = 0;
  int exit_code = kExitOk;
  if (!ParseDemoOptions(ctx, args, &count, &seed, &exit_code)) return exit_code;
  for (const demo::DemoCustomer& customer : demo::GenerateDemoCustomers(seed, count)) {
    pb::CreateCustomerRequest request;
    *request.mutable_customer() = customer.customer;
    for (const pb::Contact& contact : customer.contacts) *request.add_contacts() = contact;
    ctx.out() << MessageToJson(request, /*pretty=*/false) << "\n";
  }
  return kExitOk;
}

constexpr int kMaxMonths = 120;

// The demo ledger, customer after customer, as records for PushLedger. Progress counts
// customers.
class DemoLedgerSource final : public RecordSource {
 public:
  explicit DemoLedgerSource(const demo::DemoLedgerOptions& options)
      : options_(options),
        customers_(demo::GenerateDemoCustomers(options.seed, options.customers)) {}

  bool Next(LedgerRecord* record, std::string* origin) override {
    while (next_event_ == events_.size()) {
      if (next_customer_ == customers_.size()) return false;
      events_ = demo::GenerateCustomerLedger(options_, customers_[next_customer_],
                                             static_cast<int>(next_customer_) + 1);
      next_event_ = 0;
      ++next_customer_;
    }
    *record = LedgerRecord();
    record->line = ++count_;
    record->event_id = EventIdOf(events_[next_event_]);
    record->event = std::move(events_[next_event_++]);
    *origin = "demo";
    return true;
  }
  int64_t done() const override { return static_cast<int64_t>(next_customer_); }
  int64_t total() const override { return static_cast<int64_t>(customers_.size()); }

 private:
  const demo::DemoLedgerOptions options_;
  const std::vector<demo::DemoCustomer> customers_;
  std::vector<tierwise::credit::v1::LedgerEventInput> events_;
  size_t next_customer_ = 0;
  size_t next_event_ = 0;
  int count_ = 0;
};

int DemoLedger(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  demo::DemoLedgerOptions options;
  absl::StatusOr<int> customers = args.GetInt("customers", kDefaultCount);
  if (!customers.ok() || *customers < 0 || *customers > kMaxCount) {
    return ctx.UsageError(absl::StrCat("--customers needs a number from 0 to ", kMaxCount));
  }
  options.customers = *customers;
  if (std::optional<std::string> text = args.Get("seed");
      text.has_value() && !absl::SimpleAtoi(*text, &options.seed)) {
    return ctx.UsageError("--seed needs a non-negative integer");
  }
  absl::StatusOr<int> months = args.GetInt("months", 12);
  if (!months.ok() || *months < 1 || *months > kMaxMonths) {
    return ctx.UsageError(absl::StrCat("--months needs a number from 1 to ", kMaxMonths));
  }
  options.months = *months;
  options.end = absl::ToCivilDay(absl::Now(), ctx.business_zone());
  if (std::optional<std::string> end = args.Get("end"); end.has_value()) {
    if (end->size() != 10 || !absl::ParseCivilTime(*end, &options.end) ||
        options.end.year() < 2001 || options.end.year() > 2099) {
      return ctx.UsageError(
          absl::StrCat("--end needs a date YYYY-MM-DD between 2001 and 2099, got '", *end, "'"));
    }
  }

  if (std::optional<std::string> csv = args.Get("csv"); csv.has_value()) {
    std::ofstream file;
    if (*csv != "-") {
      file.open(*csv, std::ios::trunc | std::ios::binary);
      if (!file) {
        ctx.err() << "tierwise: cannot write " << *csv << "\n";
        return kExitUsage;
      }
    }
    std::ostream& out = *csv == "-" ? ctx.out() : file;
    out << CsvHeaderLine();
    int64_t written = 0;
    DemoLedgerSource source(options);
    LedgerRecord record;
    std::string origin;
    while (source.Next(&record, &origin)) {
      out << EventToCsvLine(*record.event, ctx.business_zone());
      ++written;
    }
    if (*csv != "-") {
      file.close();
      if (!file) {
        ctx.err() << "tierwise: could not finish writing " << *csv << "\n";
        return kExitFailed;
      }
      ctx.out() << "{\"written\":" << written << ",\"file\":" << JsonQuote(*csv) << "}\n";
    }
    return kExitOk;
  }

  absl::StatusOr<LedgerPushOptions> push = ParseLedgerPushOptions(ctx, args);
  if (!push.ok()) return ctx.UsageError(push.status().message());
  DemoLedgerSource source(options);
  IngestRun run = PushLedger(ctx, source, *push);
  // Generated rows are never malformed; a rejection is the server's and worth seeing at once.
  for (const RejectedRow& row : run.rejected) ctx.err() << row.ToJson() << "\n";
  return FinishLedgerPush(ctx, run, "");
}

}  // namespace

void RegisterDemoCommands(CommandTable& table) {
  table.Add({
      .resource = "demo",
      .verb = "load",
      .synopsis = "[--count 200] [--seed 42]",
      .summary = "Create the demo customers (ERP-C00001...) with their contacts; ones that "
                 "exist already are skipped. Prints {\"created\",\"existing\",\"failed\"}.",
      .options = {{"count"}, {"seed"}},
      .run = DemoLoad,
  });
  table.Add({
      .resource = "demo",
      .verb = "show",
      .synopsis = "[--count 200] [--seed 42]",
      .summary = "Print the demo customers' create requests as JSON lines, without calling a "
                 "server.",
      .options = {{"count"}, {"seed"}},
      .run = DemoShow,
  });
  table.Add({
      .resource = "demo",
      .verb = "ledger",
      .synopsis = "[--customers 200] [--seed 42] [--months 12] [--end YYYY-MM-DD]\n"
                  "      [--batch 500] [--no-progress] | ... --csv FILE",
      .summary = "Generate the demo customers' ERP ledger (orders with margins, product lines "
                 "and terms; payments, mostly on time, some late, a few never; cancellations "
                 "and partial returns) for the calendar months up to --end (default: today, "
                 "UTC) and stream it into the credit service like `import` does, printing the "
                 "same summary. Deterministic: the same options give the same events and ids, "
                 "so a rerun only finds duplicates, and a later --end only adds what happened "
                 "since. --csv writes the events as an import CSV instead (- for stdout) and "
                 "calls nothing. Use the seed of `demo load`.",
      .options = {{"customers"},
                  {"seed"},
                  {"months"},
                  {"end"},
                  {"csv"},
                  {"batch"},
                  {"no-progress", false}},
      .run = DemoLedger,
  });
}

}  // namespace tierwise::cli
