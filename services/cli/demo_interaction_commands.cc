// `tierwise demo interactions`: a year of follow-up records and a few complaints for the demo
// customers (see demo_interactions.h), logged through the interaction service's real API.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/cli/commands.h"
#include "services/cli/demo_data.h"
#include "services/cli/demo_interactions.h"
#include "services/cli/list_pages.h"
#include "services/cli/output.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"
#include "tierwise/interaction/v1/interaction.grpc.pb.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::interaction::v1;
namespace pb = ::tierwise::profile::v1;
namespace cv1 = ::tierwise::classification::v1;

constexpr int kDefaultCustomers = 200;
constexpr int kMaxCustomers = 99999;  // ERP-C00001 .. ERP-C99999
constexpr int kDefaultConcurrency = 16;
constexpr int kMaxConcurrency = 64;
constexpr int kBatchGetTiersMax = 1000;

// What happened, for the summary line.
struct Tally {
  int customers = 0;  // demo customers found
  int existing = 0;   // already had records: left alone
  int interactions = 0;
  int late = 0;  // of the logged ones, flagged late by the service
  int complaints = 0;
  int responded = 0;
  int resolved = 0;
  int failed = 0;  // calls that failed (and customers not reached after a fatal error)
  int tiers_guessed = 0;

  std::string ToJson() const {
    return absl::StrCat("{\"customers\":", customers, ",\"existing\":", existing,
                        ",\"interactions\":", interactions, ",\"late\":", late,
                        ",\"complaints\":", complaints, ",\"responded\":", responded,
                        ",\"resolved\":", resolved, ",\"failed\":", failed,
                        ",\"tiers_guessed\":", tiers_guessed, "}");
  }
};

// Loads the plans of many customers at once, `concurrency` customers in flight, each one's
// calls in order. CliContext is not thread-safe: calls are prepared and errors printed under
// `mu_`.
class Loader {
 public:
  Loader(CliContext& ctx, const demo::DemoInteractionOptions& options)
      : ctx_(ctx),
        options_(options),
        stub_(v1::InteractionService::NewStub(ctx.Channel(Service::kInteraction))) {}

  void Run(const std::vector<demo::InteractionCustomer>& customers, int concurrency) {
    std::atomic<size_t> next{0};
    auto work = [&] {
      while (true) {
        const size_t i = next.fetch_add(1);
        if (i >= customers.size()) return;
        if (stop_.load()) {
          Add(&Tally::failed, 1);
          continue;
        }
        Load(customers[i]);
      }
    };
    std::vector<std::thread> threads;
    const int workers = std::min<int>(concurrency, static_cast<int>(customers.size()));
    threads.reserve(static_cast<size_t>(std::max(workers, 0)));
    for (int i = 0; i < workers; ++i) threads.emplace_back(work);
    for (std::thread& thread : threads) thread.join();
  }

  Tally tally() {
    std::lock_guard<std::mutex> lock(mu_);
    return tally_;
  }

 private:
  // One call with a fresh context; UNAVAILABLE (a server still starting) is retried twice.
  // Records and complaints carry request ids, so a retried one is not written twice; a retried
  // respond/resolve that had gone through fails and is reported.
  template <typename Call>
  grpc::Status Invoke(Call call) {
    grpc::Status status;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
      grpc::ClientContext context;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ctx_.PrepareCall(&context);
      }
      status = call(&context);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    }
    return status;
  }

  void Add(int Tally::*field, int n) {
    std::lock_guard<std::mutex> lock(mu_);
    tally_.*field += n;
  }

  // Prints {"external_ref","step","error"} on stderr and counts the failure; a fatal one stops
  // the run.
  void Fail(const demo::InteractionCustomer& customer, absl::string_view step,
            const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    ++tally_.failed;
    ctx_.err() << "{\"external_ref\":" << JsonQuote(customer.external_ref)
               << ",\"step\":" << JsonQuote(step) << ",\"error\":" << StatusToJson(status) << "}\n";
    if (IsFatalForRun(status.error_code())) stop_.store(true);
  }

  void Load(const demo::InteractionCustomer& customer) {
    // A customer with records already was loaded before (or is in real use): leave it alone,
    // so that running the demo again changes nothing.
    v1::ListInteractionsRequest list;
    list.set_customer_id(customer.id);
    list.set_include_superseded(true);
    list.set_page_size(1);
    v1::ListInteractionsResponse existing;
    grpc::Status status = Invoke([&](grpc::ClientContext* context) {
      return stub_->ListInteractions(context, list, &existing);
    });
    if (!status.ok()) return Fail(customer, "ListInteractions", status);
    if (existing.interactions_size() > 0) return Add(&Tally::existing, 1);

    demo::CustomerInteractionPlan plan = demo::PlanCustomerInteractions(options_, customer);
    for (const v1::LogInteractionRequest& request : plan.interactions) {
      if (stop_.load()) return Add(&Tally::failed, 1);
      v1::Interaction logged;
      status = Invoke([&](grpc::ClientContext* context) {
        return stub_->LogInteraction(context, request, &logged);
      });
      if (!status.ok()) return Fail(customer, "LogInteraction", status);
      Add(&Tally::interactions, 1);
      if (logged.late_entry()) Add(&Tally::late, 1);
    }
    if (!plan.complaint.has_value() || stop_.load()) return;

    const demo::ComplaintPlan& complaint = *plan.complaint;
    v1::Complaint opened;
    status = Invoke([&](grpc::ClientContext* context) {
      return stub_->OpenComplaint(context, complaint.open, &opened);
    });
    if (!status.ok()) return Fail(customer, "OpenComplaint", status);
    Add(&Tally::complaints, 1);
    if (complaint.step == demo::ComplaintStep::kOpen) return;
    v1::RespondToComplaintRequest respond;
    respond.set_id(opened.id());
    respond.set_response(complaint.response);
    v1::Complaint answered;
    status = Invoke([&](grpc::ClientContext* context) {
      return stub_->RespondToComplaint(context, respond, &answered);
    });
    if (!status.ok()) return Fail(customer, "RespondToComplaint", status);
    Add(&Tally::responded, 1);
    if (complaint.step != demo::ComplaintStep::kResolve) return;
    v1::ResolveComplaintRequest resolve;
    resolve.set_id(opened.id());
    resolve.set_resolution(complaint.resolution);
    status = Invoke([&](grpc::ClientContext* context) {
      return stub_->ResolveComplaint(context, resolve, &answered);
    });
    if (!status.ok()) return Fail(customer, "ResolveComplaint", status);
    Add(&Tally::resolved, 1);
  }

  CliContext& ctx_;
  const demo::DemoInteractionOptions options_;
  std::unique_ptr<v1::InteractionService::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Tally tally_ ABSL_GUARDED_BY(mu_);
};

// The demo customers ERP-C00001 .. ERP-C<max_index> the profile service has, page after page.
grpc::Status ListDemoCustomers(CliContext& ctx, int max_index, std::vector<pb::Customer>* found) {
  auto stub = pb::CustomerProfileService::NewStub(ctx.Channel(Service::kProfile));
  pb::ListCustomersRequest request;
  request.set_page_size(500);
  grpc::Status status = ForEachPage<pb::ListCustomersRequest, pb::ListCustomersResponse>(
      ctx, request,
      [&](grpc::ClientContext* call, const pb::ListCustomersRequest& r,
          pb::ListCustomersResponse* response) { return stub->ListCustomers(call, r, response); },
      [&](const pb::ListCustomersResponse& response) {
        for (const pb::Customer& customer : response.customers()) {
          const int index = demo::DemoCustomerIndex(customer.external_ref());
          if (index >= 1 && index <= max_index) found->push_back(customer);
        }
      });
  if (!status.ok()) return status;
  std::sort(found->begin(), found->end(), [](const pb::Customer& a, const pb::Customer& b) {
    return a.external_ref() < b.external_ref();
  });
  return grpc::Status::OK;
}

// Current tiers by customer id from the classification service, in batches; an error leaves
// the rest unknown (the caller guesses them).
grpc::Status FetchTiers(CliContext& ctx, const std::vector<pb::Customer>& customers,
                        std::map<std::string, std::string>* tiers) {
  auto stub = cv1::ClassificationService::NewStub(ctx.Channel(Service::kClassification));
  for (size_t start = 0; start < customers.size(); start += kBatchGetTiersMax) {
    cv1::BatchGetTiersRequest request;
    for (size_t i = start; i < std::min(customers.size(), start + kBatchGetTiersMax); ++i) {
      request.add_customer_ids(customers[i].id());
    }
    grpc::ClientContext call;
    ctx.PrepareCall(&call);
    cv1::BatchGetTiersResponse response;
    grpc::Status status = stub->BatchGetTiers(&call, request, &response);
    if (!status.ok()) return status;
    for (const cv1::Tier& tier : response.tiers()) (*tiers)[tier.customer_id()] = tier.tier();
  }
  return grpc::Status::OK;
}

int DemoInteractions(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  absl::StatusOr<int> max_index = args.GetInt("customers", kDefaultCustomers);
  if (!max_index.ok() || *max_index < 0 || *max_index > kMaxCustomers) {
    return ctx.UsageError(absl::StrCat("--customers needs a number from 0 to ", kMaxCustomers));
  }
  demo::DemoInteractionOptions options;
  if (std::optional<std::string> text = args.Get("seed");
      text.has_value() && !absl::SimpleAtoi(*text, &options.seed)) {
    return ctx.UsageError("--seed needs a non-negative integer");
  }
  absl::StatusOr<int> concurrency = args.GetInt("concurrency", kDefaultConcurrency);
  if (!concurrency.ok() || *concurrency < 1 || *concurrency > kMaxConcurrency) {
    return ctx.UsageError(absl::StrCat("--concurrency needs a number from 1 to ", kMaxConcurrency));
  }
  options.now = absl::Now();
  // --addr names the interaction service; the profile and classification services stay where
  // the environment says.
  ctx.set_primary_service(Service::kInteraction);

  std::vector<pb::Customer> listed;
  if (grpc::Status status = ListDemoCustomers(ctx, *max_index, &listed); !status.ok()) {
    return ctx.PrintError(
        grpc::Status(status.error_code(),
                     absl::StrCat("listing the demo customers at the profile service (",
                                  ctx.Address(Service::kProfile), "): ", status.error_message()),
                     status.error_details()));
  }
  int tiers_guessed = 0;
  std::map<std::string, std::string> tiers;
  if (grpc::Status status = FetchTiers(ctx, listed, &tiers); !status.ok()) {
    ctx.err() << "{\"note\":" << JsonQuote("tiers guessed: the classification service answered")
              << ",\"error\":" << StatusToJson(status) << "}\n";
  }

  // Whom the records name: the contacts the profile service listed, else the generated ones.
  int highest = 0;
  for (const pb::Customer& customer : listed) {
    highest = std::max(highest, demo::DemoCustomerIndex(customer.external_ref()));
  }
  const std::vector<demo::DemoCustomer> generated =
      demo::GenerateDemoCustomers(options.seed, highest);
  std::vector<demo::InteractionCustomer> customers;
  for (const pb::Customer& customer : listed) {
    demo::InteractionCustomer c;
    c.index = demo::DemoCustomerIndex(customer.external_ref());
    c.id = customer.id();
    c.external_ref = customer.external_ref();
    c.owner = customer.owner();
    c.lifecycle = customer.lifecycle_stage();
    if (auto it = tiers.find(customer.id()); it != tiers.end() && !it->second.empty()) {
      c.tier = it->second;
    } else {
      c.tier = demo::GuessDemoTier(options.seed, customer, c.index);
      ++tiers_guessed;
    }
    if (!customer.contacts().empty()) {
      c.contacts.assign(customer.contacts().begin(), customer.contacts().end());
    } else {
      c.contacts = generated[static_cast<size_t>(c.index - 1)].contacts;
    }
    customers.push_back(std::move(c));
  }

  Loader loader(ctx, options);
  loader.Run(customers, *concurrency);
  Tally loaded = loader.tally();
  loaded.customers = static_cast<int>(customers.size());
  loaded.tiers_guessed = tiers_guessed;
  ctx.out() << loaded.ToJson() << "\n";
  return loaded.failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace

void RegisterDemoInteractionCommands(CommandTable& table) {
  table.Add({
      .resource = "demo",
      .verb = "interactions",
      .synopsis = "[--customers 200] [--seed 42] [--concurrency 16]",
      .summary =
          "Log a year of follow-up records for the demo customers ERP-C00001..ERP-C<customers> "
          "that the profile service has, through the interaction service's LogInteraction: "
          "how often and by which channel follows each customer's current tier (from the "
          "classification service; guessed when it has none) — A on-site visits monthly and "
          "an executive contact quarterly, B calls, C mail, with some mix — entered as the "
          "customer's owner, back-filled a few hours after the contact (about 5 % more than "
          "24 h: flagged late). About 3 % of the customers complained in the last ten days "
          "(some SLAs already breached); some complaints are answered or resolved. Customers "
          "that have records already are left alone, so a rerun changes nothing. Needs the "
          "admin token (back-fill). Prints {\"customers\",\"existing\",\"interactions\","
          "\"late\",\"complaints\",\"responded\",\"resolved\",\"failed\",\"tiers_guessed\"}. "
          "Use the seed of `demo load`.",
      .options = {{"customers"}, {"seed"}, {"concurrency"}},
      .run = DemoInteractions,
  });
}

}  // namespace tierwise::cli
