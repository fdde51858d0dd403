// `tierwise tiers ...`: customer tiers of the classification service: the current tier and its
// history, the customers of a tier, pins, reclassification, the service policy per tier, and
// the rule sets. Where a CUSTOMER is expected, an ERP customer code (external ref) works as
// well: anything that is not a UUID is resolved through the profile service's
// GetCustomerByExternalRef first.
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/cli/commands.h"
#include "services/cli/list_pages.h"
#include "services/cli/output.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::classification::v1;

constexpr absl::Duration kJobPollInterval = absl::Milliseconds(500);
constexpr absl::Duration kJobMaxWait = absl::Minutes(10);

std::unique_ptr<v1::ClassificationService::Stub> ClassificationStub(CliContext& ctx) {
  ctx.set_primary_service(Service::kClassification);
  return v1::ClassificationService::NewStub(ctx.Channel(Service::kClassification));
}

std::unique_ptr<v1::RuleSetService::Stub> RuleSetStub(CliContext& ctx) {
  ctx.set_primary_service(Service::kClassification);
  return v1::RuleSetService::NewStub(ctx.Channel(Service::kClassification));
}

std::optional<std::string> Resolve(CliContext& ctx, const std::string& customer) {
  return ResolveCustomer(ctx, customer, Service::kClassification);
}

const std::vector<OptionSpec>& kPageOptions = PageOptions();

int Get(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  v1::GetTierRequest request;
  request.set_customer_id(*id);
  auto stub = ClassificationStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Tier response;
  return ctx.Finish(stub->GetTier(&call, request, &response), response);
}

int History(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  v1::GetTierHistoryRequest request;
  request.set_customer_id(*id);
  auto stub = ClassificationStub(ctx);
  return ListPages<v1::GetTierHistoryRequest, v1::GetTierHistoryResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::GetTierHistoryRequest& r,
          v1::GetTierHistoryResponse* response) { return stub->GetTierHistory(call, r, response); },
      [](const v1::GetTierHistoryResponse& r) -> const auto& { return r.changes(); });
}

int List(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one TIER");
  v1::ListCustomersByTierRequest request;
  request.set_tier(absl::AsciiStrToUpper(args.positional()[0]));
  auto stub = ClassificationStub(ctx);
  return ListPages<v1::ListCustomersByTierRequest, v1::ListCustomersByTierResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListCustomersByTierRequest& r,
          v1::ListCustomersByTierResponse* response) {
        return stub->ListCustomersByTier(call, r, response);
      },
      [](const v1::ListCustomersByTierResponse& r) -> const auto& { return r.tiers(); });
}

int Pin(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 2) return ctx.UsageError("give CUSTOMER and TIER");
  std::optional<std::string> reason = args.Get("reason");
  if (!reason.has_value() || reason->empty()) return ctx.UsageError("--reason is required");
  if (!args.Has("days")) return ctx.UsageError("--days is required");
  absl::StatusOr<int> days = args.GetInt("days", 0);
  if (!days.ok() || *days <= 0) return ctx.UsageError("--days needs a number > 0");
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  v1::PinTierRequest request;
  request.set_customer_id(*id);
  request.set_tier(absl::AsciiStrToUpper(args.positional()[1]));
  request.set_reason(*reason);
  const absl::Time expire = absl::Now() + absl::Hours(24) * *days;
  request.mutable_expire_time()->set_seconds(absl::ToUnixSeconds(expire));
  auto stub = ClassificationStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Tier response;
  return ctx.Finish(stub->PinTier(&call, request, &response), response);
}

int Unpin(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  v1::UnpinTierRequest request;
  request.set_customer_id(*id);
  request.set_reason(args.Get("reason").value_or(""));
  auto stub = ClassificationStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Tier response;
  return ctx.Finish(stub->UnpinTier(&call, request, &response), response);
}

int Reclassify(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  v1::ReclassifyRequest request;
  request.set_customer_id(*id);
  auto stub = ClassificationStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Tier response;
  return ctx.Finish(stub->Reclassify(&call, request, &response), response);
}

// Starts a full reclassification and prints the job; with --wait, polls it every 500 ms until
// it is no longer running (at most 10 minutes) and prints it then. Exits 1 when the job
// failed or the wait ran out.
int ReclassifyAll(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  auto stub = ClassificationStub(ctx);
  v1::Job job;
  {
    grpc::ClientContext call;
    ctx.PrepareCall(&call);
    grpc::Status status =
        stub->StartFullReclassification(&call, v1::StartFullReclassificationRequest(), &job);
    if (!status.ok() || !args.Has("wait")) return ctx.Finish(status, job);
  }
  const absl::Time give_up = absl::Now() + kJobMaxWait;
  while (job.state() == "running") {
    if (absl::Now() >= give_up) {
      ctx.PrintMessage(job);
      return ctx.PrintError(grpc::Status(
          grpc::StatusCode::DEADLINE_EXCEEDED,
          absl::StrCat("job ", job.id(), " still running after ", absl::FormatDuration(kJobMaxWait),
                       "; check later with GetJob")));
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(kJobPollInterval));
    v1::GetJobRequest request;
    request.set_id(job.id());
    grpc::ClientContext call;
    ctx.PrepareCall(&call);
    v1::Job next;
    grpc::Status status = stub->GetJob(&call, request, &next);
    if (!status.ok()) return ctx.PrintError(status);
    job = std::move(next);
  }
  ctx.PrintMessage(job);
  return job.state() == "failed" ? kExitFailed : kExitOk;
}

int Policy(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  auto stub = ClassificationStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::ServicePolicy response;
  return ctx.Finish(stub->GetServicePolicy(&call, v1::GetServicePolicyRequest(), &response),
                    response);
}

int Rules(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  auto stub = RuleSetStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::ListRuleSetsResponse response;
  return ctx.Finish(stub->ListRuleSets(&call, v1::ListRuleSetsRequest(), &response), response);
}

int Simulate(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one rule set VERSION");
  int64_t version = 0;
  if (!absl::SimpleAtoi(args.positional()[0], &version) || version <= 0) {
    return ctx.UsageError("VERSION needs a number > 0");
  }
  v1::SimulateRuleSetRequest request;
  request.set_version(version);
  auto stub = RuleSetStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::SimulateRuleSetResponse response;
  return ctx.Finish(stub->SimulateRuleSet(&call, request, &response), response);
}

// SVG: one bar per tier (height = share of customers, label = revenue share) and the Pareto
// curve (cumulative revenue share over the share of customers, best customers first).
std::string ReportSvg(const v1::GetTierDistributionResponse& dist,
                      const v1::GetParetoCurveResponse& curve) {
  std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"860\" height=\"380\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"860\" height=\"380\" fill=\"white\"/>\n"
      "<text x=\"20\" y=\"24\" font-size=\"16\">Tier distribution</text>\n"
      "<text x=\"460\" y=\"24\" font-size=\"16\">Pareto curve</text>\n";
  const int base = 330, height = 260;
  int x = 40;
  for (const auto& t : dist.tiers()) {
    const int64_t permille = dist.customers() > 0 ? t.customers() * 1000 / dist.customers() : 0;
    const int h = static_cast<int>(permille * height / 1000);
    absl::StrAppend(&svg, "<rect x=\"", x, "\" y=\"", base - h, "\" width=\"50\" height=\"", h,
                    "\" fill=\"#4a7ab8\"/>\n", "<text x=\"", x + 25, "\" y=\"", base + 16,
                    "\" text-anchor=\"middle\">", t.tier(), " (", t.customers(), ")</text>\n",
                    "<text x=\"", x + 25, "\" y=\"", base - h - 6, "\" text-anchor=\"middle\">",
                    t.revenue_share_permille() / 10, ".", t.revenue_share_permille() % 10,
                    "% rev</text>\n");
    x += 75;
  }
  std::string points = "460,330";
  for (const auto& p : curve.points()) {
    absl::StrAppend(&points, " ", 460 + p.customer_share_permille() * 360 / 1000, ",",
                    330 - p.revenue_share_permille() * 260 / 1000);
  }
  absl::StrAppend(&svg,
                  "<line x1=\"460\" y1=\"330\" x2=\"820\" y2=\"330\" stroke=\"black\"/>\n"
                  "<line x1=\"460\" y1=\"330\" x2=\"460\" y2=\"70\" stroke=\"black\"/>\n"
                  "<line x1=\"460\" y1=\"330\" x2=\"820\" y2=\"70\" stroke=\"#bbb\" "
                  "stroke-dasharray=\"4\"/>\n<polyline fill=\"none\" stroke=\"#c0392b\" "
                  "stroke-width=\"2\" points=\"",
                  points,
                  "\"/>\n<text x=\"640\" y=\"350\" text-anchor=\"middle\">share of customers "
                  "(largest first)</text>\n<text x=\"450\" y=\"64\">share of revenue</text>\n"
                  "</svg>\n");
  return svg;
}

int Report(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  ctx.set_primary_service(Service::kClassification);
  auto stub = v1::ReportService::NewStub(ctx.Channel(Service::kClassification));
  v1::GetTierDistributionResponse dist;
  {
    grpc::ClientContext call;
    ctx.PrepareCall(&call);
    grpc::Status status = stub->GetTierDistribution(&call, v1::GetTierDistributionRequest(), &dist);
    if (!status.ok()) return ctx.PrintError(status);
  }
  v1::GetParetoCurveResponse curve;
  {
    grpc::ClientContext call;
    ctx.PrepareCall(&call);
    v1::GetParetoCurveRequest request;
    request.set_points(20);
    grpc::Status status = stub->GetParetoCurve(&call, request, &curve);
    if (!status.ok()) return ctx.PrintError(status);
  }
  if (auto path = args.Get("svg"); path.has_value()) {
    std::ofstream file(*path);
    file << ReportSvg(dist, curve);
    if (!file) return ctx.UsageError(absl::StrCat("cannot write ", *path));
  }
  ctx.out() << "{\"distribution\":" << MessageToJson(dist, /*pretty=*/false)
            << ",\"pareto_curve\":" << MessageToJson(curve, /*pretty=*/false) << "}\n";
  return 0;
}

}  // namespace

void RegisterTierCommands(CommandTable& table) {
  table.Add({
      .resource = "tiers",
      .verb = "report",
      .synopsis = "[--svg FILE]",
      .summary = "Tier distribution (customers and revenue share per tier) and the Pareto curve; "
                 "--svg also draws both into FILE.",
      .options = {{"svg"}},
      .run = Report,
  });
  const std::string customer_note =
      " CUSTOMER is a customer id or an ERP customer code (external ref, resolved through the "
      "profile service).";
  table.Add({
      .resource = "tiers",
      .verb = "get",
      .synopsis = "CUSTOMER",
      .summary = absl::StrCat("Show the customer's tier: score, potential, relationship, "
                              "behaviour, label, pin and the factors behind it.",
                              customer_note),
      .options = {},
      .run = Get,
  });
  table.Add({
      .resource = "tiers",
      .verb = "history",
      .synopsis = "CUSTOMER [--page-size N] [--page-token T] [--all]",
      .summary = "The customer's tier changes, newest first, with reason and actor; --all "
                 "follows the pages (JSON lines).",
      .options = kPageOptions,
      .run = History,
  });
  table.Add({
      .resource = "tiers",
      .verb = "list",
      .synopsis = "TIER [--page-size N] [--page-token T] [--all]",
      .summary = "The customers in TIER (K, A, B, C, D); --all follows the pages (JSON lines).",
      .options = kPageOptions,
      .run = List,
  });
  table.Add({
      .resource = "tiers",
      .verb = "pin",
      .synopsis = "CUSTOMER TIER --reason R --days N",
      .summary = "Pin the customer to TIER for N days: reclassification leaves it alone until "
                 "then.",
      .options = {{"reason"}, {"days"}},
      .run = Pin,
  });
  table.Add({
      .resource = "tiers",
      .verb = "unpin",
      .synopsis = "CUSTOMER [--reason R]",
      .summary = "Remove a pin; the tier is evaluated again.",
      .options = {{"reason"}},
      .run = Unpin,
  });
  table.Add({
      .resource = "tiers",
      .verb = "reclassify",
      .synopsis = "CUSTOMER",
      .summary = "Evaluate the customer's tier now under the active rule set.",
      .options = {},
      .run = Reclassify,
  });
  table.Add({
      .resource = "tiers",
      .verb = "reclassify-all",
      .synopsis = "[--wait]",
      .summary = "Start reclassifying every customer and print the job; --wait polls it until "
                 "it is done or failed (at most 10 minutes; exit 1 if it failed).",
      .options = {{"wait", false}},
      .run = ReclassifyAll,
  });
  table.Add({
      .resource = "tiers",
      .verb = "policy",
      .synopsis = "",
      .summary = "Show the service policy per tier: visit frequency, channel, owner, SLAs, "
                 "discount band, eligible terms.",
      .options = {},
      .run = Policy,
  });
  table.Add({
      .resource = "tiers",
      .verb = "rules",
      .synopsis = "",
      .summary = "List the rule sets, newest first, with the active one marked.",
      .options = {},
      .run = Rules,
  });
  table.Add({
      .resource = "tiers",
      .verb = "simulate",
      .synopsis = "VERSION",
      .summary = "Simulate rule set VERSION against today's customers: the transition matrix, "
                 "the tier distribution and sample movers.",
      .options = {},
      .run = Simulate,
  });
}

}  // namespace tierwise::cli
