// `tierwise customer ...`: the customer archive of the profile service.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status/macros.h"
#include "services/cli/commands.h"
#include "services/cli/list_pages.h"
#include "services/cli/message_fields.h"
#include "services/cli/output.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace pb = ::tierwise::profile::v1;

std::unique_ptr<pb::CustomerProfileService::Stub> ProfileStub(CliContext& ctx) {
  return pb::CustomerProfileService::NewStub(ctx.Channel(Service::kProfile));
}

// The text of a --json option: inline JSON, `-` for stdin, or `@path` for a file.
absl::StatusOr<std::string> ReadJsonArgument(const std::string& value) {
  if (value == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (absl::StartsWith(value, "@")) {
    std::ifstream in(value.substr(1), std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", value.substr(1)));
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  return value;
}

// Parses --json into a Customer; InvalidArgument with the parser's message.
absl::Status ParseCustomerJson(const std::string& value, pb::Customer* customer) {
  TW_ASSIGN_OR_RETURN(std::string json, ReadJsonArgument(value));
  auto status = google::protobuf::util::JsonStringToMessage(json, customer);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--json is not a Customer: ", status.message().as_string()));
  }
  return absl::OkStatus();
}

// Sets `path` of `customer` from an option, when the option was given.
absl::Status ApplyOption(const ParsedArgs& args, const std::string& option, const std::string& path,
                         pb::Customer* customer) {
  std::optional<std::string> value = args.Get(option);
  if (!value.has_value()) return absl::OkStatus();
  absl::Status status = SetFieldFromText(customer, path, *value);
  if (!status.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", option, ": ", status.message()));
  return absl::OkStatus();
}

// The options of `customer create` and `customer list` that map to one Customer/filter field.
struct FieldOption {
  const char* option;
  const char* path;
};

constexpr FieldOption kCreateFieldOptions[] = {
    {"legal-name", "legal_name"},
    {"external-ref", "external_ref"},
    {"short-name", "short_name"},
    {"industry", "industry"},
    {"province", "region.province"},
    {"city", "region.city"},
    {"owner", "owner"},
    {"nature", "nature"},
    {"lifecycle", "lifecycle_stage"},
    {"credit-code", "registration.unified_credit_code"},
    {"email", "registration.email"},
    {"phone", "registration.phone"},
};

constexpr FieldOption kListFilterOptions[] = {
    {"province", "province"},
    {"city", "city"},
    {"industry", "industry"},
    {"owner", "owner"},
    {"tag", "tag"},
    {"name-prefix", "name_prefix"},
    {"lifecycle", "lifecycle_stage"},
    {"nature", "nature"},
};

int CreateCustomer(CliContext& ctx, const ParsedArgs& args) {
  pb::CreateCustomerRequest request;
  pb::Customer* customer = request.mutable_customer();
  if (std::optional<std::string> json = args.Get("json"); json.has_value()) {
    if (absl::Status status = ParseCustomerJson(*json, customer); !status.ok()) {
      return ctx.UsageError(status.message());
    }
    // Customer.contacts is output-only; contacts in the JSON become the initial decision chain.
    for (pb::Contact& contact : *customer->mutable_contacts()) {
      *request.add_contacts() = std::move(contact);
    }
    customer->clear_contacts();
  }
  for (const FieldOption& field : kCreateFieldOptions) {
    if (absl::Status status = ApplyOption(args, field.option, field.path, customer); !status.ok()) {
      return ctx.UsageError(status.message());
    }
  }
  for (const std::string& tag : args.GetAll("tag")) customer->add_tags(tag);
  if (args.Has("data-consent")) customer->set_data_consent(true);
  if (customer->legal_name().empty()) {
    return ctx.UsageError("--legal-name (or a legal_name in --json) is required");
  }

  auto stub = ProfileStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  pb::Customer response;
  return ctx.Finish(stub->CreateCustomer(&call, request, &response), response);
}

int GetCustomer(CliContext& ctx, const ParsedArgs& args) {
  std::optional<std::string> external_ref = args.Get("external-ref");
  if (args.positional().size() > 1 || external_ref.has_value() == !args.positional().empty()) {
    return ctx.UsageError("give either an ID or --external-ref");
  }
  pb::CustomerView view = args.Has("full") ? pb::CUSTOMER_VIEW_FULL : pb::CUSTOMER_VIEW_BASIC;
  auto stub = ProfileStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  pb::Customer response;
  if (external_ref.has_value()) {
    pb::GetCustomerByExternalRefRequest request;
    request.set_external_ref(*external_ref);
    request.set_view(view);
    return ctx.Finish(stub->GetCustomerByExternalRef(&call, request, &response), response);
  }
  pb::GetCustomerRequest request;
  request.set_id(args.positional()[0]);
  request.set_view(view);
  return ctx.Finish(stub->GetCustomer(&call, request, &response), response);
}

int ListCustomers(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("list takes no positional arguments");
  pb::ListCustomersRequest request;
  for (const FieldOption& field : kListFilterOptions) {
    std::optional<std::string> value = args.Get(field.option);
    if (!value.has_value()) continue;
    if (absl::Status status = SetFieldFromText(&request, field.path, *value); !status.ok()) {
      return ctx.UsageError(absl::StrCat("--", field.option, ": ", status.message()));
    }
  }
  request.set_show_deleted(args.Has("show-deleted"));
  auto stub = ProfileStub(ctx);
  // --all: one compact customer per line (JSON lines), page after page.
  return ListPages<pb::ListCustomersRequest, pb::ListCustomersResponse>(
      ctx, args, std::move(request),
      [&](grpc::ClientContext* call, const pb::ListCustomersRequest& r,
          pb::ListCustomersResponse* response) { return stub->ListCustomers(call, r, response); },
      [](const pb::ListCustomersResponse& r) -> const auto& { return r.customers(); });
}

int UpdateCustomer(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("update needs exactly one ID");
  pb::UpdateCustomerRequest request;
  pb::Customer* customer = request.mutable_customer();
  if (std::optional<std::string> json = args.Get("json"); json.has_value()) {
    if (absl::Status status = ParseCustomerJson(*json, customer); !status.ok()) {
      return ctx.UsageError(status.message());
    }
  }
  std::vector<std::string> paths;
  auto add_path = [&paths](std::string path) {
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  };
  for (const std::string& mask : args.GetAll("mask")) {
    for (absl::string_view path : absl::StrSplit(mask, ',', absl::SkipWhitespace())) {
      add_path(std::string(absl::StripAsciiWhitespace(path)));
    }
  }
  for (const std::string& assignment : args.GetAll("set")) {
    size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      return ctx.UsageError(absl::StrCat("--set needs path=value, got '", assignment, "'"));
    }
    std::string path = assignment.substr(0, eq);
    if (absl::Status status = SetFieldFromText(customer, path, assignment.substr(eq + 1));
        !status.ok()) {
      return ctx.UsageError(absl::StrCat("--set: ", status.message()));
    }
    add_path(path);
  }
  if (paths.empty()) return ctx.UsageError("nothing to update: give --set or --json with --mask");
  customer->set_id(args.positional()[0]);
  for (const std::string& path : paths) request.mutable_update_mask()->add_paths(path);
  request.set_etag(args.Get("etag").value_or(""));

  auto stub = ProfileStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  pb::Customer response;
  return ctx.Finish(stub->UpdateCustomer(&call, request, &response), response);
}

int DeleteCustomer(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("delete needs exactly one ID");
  pb::DeleteCustomerRequest request;
  request.set_id(args.positional()[0]);
  request.set_etag(args.Get("etag").value_or(""));
  auto stub = ProfileStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  pb::Customer response;
  return ctx.Finish(stub->DeleteCustomer(&call, request, &response), response);
}

int CustomerAudit(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("audit needs exactly one ID");
  pb::ListCustomerAuditRequest request;
  request.set_customer_id(args.positional()[0]);
  auto stub = ProfileStub(ctx);
  return ListPages<pb::ListCustomerAuditRequest, pb::ListCustomerAuditResponse>(
      ctx, args, std::move(request),
      [&](grpc::ClientContext* call, const pb::ListCustomerAuditRequest& r,
          pb::ListCustomerAuditResponse* response) {
        return stub->ListCustomerAudit(call, r, response);
      },
      [](const pb::ListCustomerAuditResponse& r) -> const auto& { return r.entries(); });
}

}  // namespace

void RegisterCustomerCommands(CommandTable& table) {
  std::string natures = EnumChoices(pb::Nature_descriptor());
  std::string stages = EnumChoices(pb::LifecycleStage_descriptor());
  table.Add({
      .resource = "customer",
      .verb = "create",
      .synopsis = absl::StrCat(
          "--legal-name NAME [--external-ref REF] [--short-name S] [--industry CODE]\n"
          "      [--province P] [--city C] [--owner PRINCIPAL] [--tag T]... [--credit-code CODE]\n"
          "      [--email E] [--phone P] [--data-consent]\n"
          "      [--nature ",
          natures, "]\n      [--lifecycle ", stages, "]\n",
          "    | --json CUSTOMER_JSON  (inline, - for stdin, @FILE; its contacts become the\n"
          "      initial ones; options given as well override its fields)"),
      .summary = "Create a customer; prints it.",
      .options = {{"legal-name"},
                  {"external-ref"},
                  {"short-name"},
                  {"industry"},
                  {"province"},
                  {"city"},
                  {"owner"},
                  {"nature"},
                  {"lifecycle"},
                  {"tag", true, true},
                  {"credit-code"},
                  {"email"},
                  {"phone"},
                  {"data-consent", false},
                  {"json"}},
      .run = CreateCustomer,
  });
  table.Add({
      .resource = "customer",
      .verb = "get",
      .synopsis = "ID | --external-ref REF  [--full]",
      .summary = "Show a customer (--full: with sensitive data; audited, not for every role).",
      .options = {{"external-ref"}, {"full", false}},
      .run = GetCustomer,
  });
  table.Add({
      .resource = "customer",
      .verb = "list",
      .synopsis =
          absl::StrCat("[--province P] [--city C] [--industry CODE] [--owner PRINCIPAL] [--tag T]\n"
                       "      [--name-prefix PREFIX] [--lifecycle ",
                       stages, "]\n      [--nature ", natures,
                       "]\n      [--show-deleted] [--page-size N] [--page-token T] [--all]"),
      .summary = "List customers, one page; --all follows the pages and prints one customer "
                 "per line (JSON lines).",
      .options = {{"province"},
                  {"city"},
                  {"industry"},
                  {"owner"},
                  {"tag"},
                  {"name-prefix"},
                  {"lifecycle"},
                  {"nature"},
                  {"show-deleted", false},
                  {"page-size"},
                  {"page-token"},
                  {"all", false}},
      .run = ListCustomers,
  });
  table.Add({
      .resource = "customer",
      .verb = "update",
      .synopsis =
          "ID --set PATH=VALUE... [--etag E]\n"
          "    | ID --json CUSTOMER_JSON --mask PATH[,PATH...] [--etag E]\n"
          "      PATH: a Customer field such as legal_name, owner, nature (short name),\n"
          "      lifecycle_stage, region.province, region.city, tags (comma list),\n"
          "      registration.email, first_transaction_date (YYYY-MM-DD); an empty VALUE clears",
      .summary = "Change some fields of a customer (the paths form the update mask).",
      .options = {{"set", true, true}, {"json"}, {"mask", true, true}, {"etag"}},
      .run = UpdateCustomer,
  });
  table.Add({
      .resource = "customer",
      .verb = "delete",
      .synopsis = "ID [--etag E]",
      .summary = "Soft-delete a customer (an admin can restore it).",
      .options = {{"etag"}},
      .run = DeleteCustomer,
  });
  table.Add({
      .resource = "customer",
      .verb = "audit",
      .synopsis = "ID [--page-size N] [--page-token T] [--all]",
      .summary = "Show who did what to a customer, newest first.",
      .options = {{"page-size"}, {"page-token"}, {"all", false}},
      .run = CustomerAudit,
  });
}

}  // namespace tierwise::cli
