// `tierwise demo ...`: the demo data set (see demo_data.h).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/cli/commands.h"
#include "services/cli/demo_data.h"
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

// Errors that will not go away for the next customer either: stop instead of repeating them.
bool IsFatalForRun(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
         code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::UNIMPLEMENTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
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
}

}  // namespace tierwise::cli
