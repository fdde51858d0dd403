// `tierwise credit ...`: credit accounts, checks, terms, holds, limit applications, collections
// and the parked ERP events of the credit service. Where a CUSTOMER is expected, an ERP
// customer code (external ref) works as well: anything that is not a UUID is resolved through
// the profile service's GetCustomerByExternalRef first.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/cli/commands.h"
#include "services/cli/ledger_text.h"
#include "services/cli/list_pages.h"
#include "services/cli/message_fields.h"
#include "services/cli/output.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;

constexpr char kDefaultCurrency[] = "CNY";

std::unique_ptr<v1::CreditService::Stub> CreditStub(CliContext& ctx) {
  ctx.set_primary_service(Service::kCredit);
  return v1::CreditService::NewStub(ctx.Channel(Service::kCredit));
}

// An amount option or argument in minor units of `currency`; usage message on error.
absl::StatusOr<tierwise::type::v1::Money> Money(absl::string_view what, absl::string_view text,
                                                const std::string& currency) {
  absl::StatusOr<int64_t> minor = ParseAmount(text, currency);
  if (!minor.ok())
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", minor.status().message()));
  tierwise::type::v1::Money money;
  money.set_minor_units(*minor);
  money.set_currency(currency);
  return money;
}

std::string Currency(const ParsedArgs& args) {
  return absl::AsciiStrToUpper(args.Get("currency").value_or(kDefaultCurrency));
}

// --reason (or another required text option); nullopt after a usage error.
std::optional<std::string> Required(CliContext& ctx, const ParsedArgs& args, const char* option,
                                    int* exit_code) {
  std::optional<std::string> value = args.Get(option);
  if (!value.has_value() || value->empty()) {
    *exit_code = ctx.UsageError(absl::StrCat("--", option, " is required"));
    return std::nullopt;
  }
  return value;
}

const std::vector<OptionSpec>& kPageOptions = PageOptions();

std::vector<OptionSpec> WithPages(std::vector<OptionSpec> options) {
  options.insert(options.end(), kPageOptions.begin(), kPageOptions.end());
  return options;
}

int Account(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> id = ResolveCustomer(ctx, args.positional()[0], Service::kCredit);
  if (!id.has_value()) return kExitFailed;
  v1::GetCreditAccountRequest request;
  request.set_customer_id(*id);
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::CreditAccount response;
  return ctx.Finish(stub->GetCreditAccount(&call, request, &response), response);
}

int Items(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> id = ResolveCustomer(ctx, args.positional()[0], Service::kCredit);
  if (!id.has_value()) return kExitFailed;
  v1::ListOpenItemsRequest request;
  request.set_customer_id(*id);
  request.set_include_settled(args.Has("all"));
  auto stub = CreditStub(ctx);
  // Every page, printed as one response (the server pages by order of occurrence).
  v1::ListOpenItemsResponse all;
  const grpc::Status status = ForEachPage<v1::ListOpenItemsRequest, v1::ListOpenItemsResponse>(
      ctx, request,
      [&](grpc::ClientContext* call, const v1::ListOpenItemsRequest& r,
          v1::ListOpenItemsResponse* response) { return stub->ListOpenItems(call, r, response); },
      [&](const v1::ListOpenItemsResponse& page) {
        const std::string token = all.next_page_token();
        all.MergeFrom(page);
        all.set_next_page_token(token);
      });
  return ctx.Finish(status, all);
}

int Check(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 2) return ctx.UsageError("give CUSTOMER and AMOUNT");
  absl::StatusOr<tierwise::type::v1::Money> amount =
      Money("AMOUNT", args.positional()[1], Currency(args));
  if (!amount.ok()) return ctx.UsageError(amount.status().message());
  std::optional<std::string> id = ResolveCustomer(ctx, args.positional()[0], Service::kCredit);
  if (!id.has_value()) return kExitFailed;
  v1::CheckCreditRequest request;
  request.set_customer_id(*id);
  *request.mutable_order_amount() = *amount;
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::CheckCreditResponse response;
  return ctx.Finish(stub->CheckCredit(&call, request, &response), response);
}

int Terms(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  int exit_code = kExitOk;
  std::optional<std::string> reason = Required(ctx, args, "reason", &exit_code);
  if (!reason.has_value()) return exit_code;
  v1::SetCreditTermsRequest request;
  if (std::optional<std::string> limit = args.Get("limit"); limit.has_value()) {
    absl::StatusOr<tierwise::type::v1::Money> money = Money("--limit", *limit, Currency(args));
    if (!money.ok()) return ctx.UsageError(money.status().message());
    *request.mutable_credit_limit() = *money;
  }
  if (std::optional<std::string> text = args.Get("terms"); text.has_value()) {
    absl::StatusOr<v1::PaymentTerms> terms = ParseTerms(*text);
    if (!terms.ok() || terms->type() == v1::PAYMENT_TERMS_TYPE_UNSPECIFIED) {
      return ctx.UsageError(
          absl::StrCat("--terms: ", terms.ok() ? "give prepaid, netN, monthly or monthly+N"
                                               : std::string(terms.status().message())));
    }
    *request.mutable_terms() = *terms;
  }
  if (!request.has_credit_limit() && !request.has_terms()) {
    return ctx.UsageError("give --limit, --terms or both");
  }
  std::optional<std::string> id = ResolveCustomer(ctx, args.positional()[0], Service::kCredit);
  if (!id.has_value()) return kExitFailed;
  request.set_customer_id(*id);
  request.set_reason(*reason);
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::CreditAccount response;
  return ctx.Finish(stub->SetCreditTerms(&call, request, &response), response);
}

int Hold(CliContext& ctx, const ParsedArgs& args, bool place) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  int exit_code = kExitOk;
  std::optional<std::string> reason = Required(ctx, args, "reason", &exit_code);
  if (!reason.has_value()) return exit_code;
  std::optional<std::string> id = ResolveCustomer(ctx, args.positional()[0], Service::kCredit);
  if (!id.has_value()) return kExitFailed;
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::CreditAccount response;
  if (place) {
    v1::PlaceHoldRequest request;
    request.set_customer_id(*id);
    request.set_reason(*reason);
    return ctx.Finish(stub->PlaceHold(&call, request, &response), response);
  }
  v1::ReleaseHoldRequest request;
  request.set_customer_id(*id);
  request.set_reason(*reason);
  return ctx.Finish(stub->ReleaseHold(&call, request, &response), response);
}

int Apply(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  int exit_code = kExitOk;
  std::optional<std::string> limit = Required(ctx, args, "limit", &exit_code);
  if (!limit.has_value()) return exit_code;
  std::optional<std::string> justification = Required(ctx, args, "justification", &exit_code);
  if (!justification.has_value()) return exit_code;
  v1::SubmitLimitApplicationRequest request;
  absl::StatusOr<tierwise::type::v1::Money> money = Money("--limit", *limit, Currency(args));
  if (!money.ok()) return ctx.UsageError(money.status().message());
  *request.mutable_requested_limit() = *money;
  if (std::optional<std::string> text = args.Get("terms"); text.has_value()) {
    absl::StatusOr<v1::PaymentTerms> terms = ParseTerms(*text);
    if (!terms.ok()) return ctx.UsageError(absl::StrCat("--terms: ", terms.status().message()));
    *request.mutable_requested_terms() = *terms;
  }
  std::optional<std::string> id = ResolveCustomer(ctx, args.positional()[0], Service::kCredit);
  if (!id.has_value()) return kExitFailed;
  request.set_customer_id(*id);
  request.set_justification(*justification);
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::LimitApplication response;
  return ctx.Finish(stub->SubmitLimitApplication(&call, request, &response), response);
}

int Decide(CliContext& ctx, const ParsedArgs& args) {
  const std::vector<std::string>& words = args.positional();
  if (words.size() < 2) {
    return ctx.UsageError("give APPLICATION_ID and approve, approve-with AMOUNT or reject");
  }
  int exit_code = kExitOk;
  std::optional<std::string> reason = Required(ctx, args, "reason", &exit_code);
  if (!reason.has_value()) return exit_code;
  v1::DecideLimitApplicationRequest request;
  request.set_application_id(words[0]);
  request.set_reason(*reason);
  const std::string action = absl::AsciiStrToLower(words[1]);
  if (action == "approve-with") {
    if (words.size() != 3) return ctx.UsageError("approve-with needs the approved AMOUNT");
    absl::StatusOr<tierwise::type::v1::Money> money = Money("AMOUNT", words[2], Currency(args));
    if (!money.ok()) return ctx.UsageError(money.status().message());
    request.set_action(v1::DECISION_ACTION_APPROVE_WITH_AMOUNT);
    *request.mutable_approved_limit() = *money;
  } else if (words.size() != 2) {
    return ctx.UsageError("only approve-with takes an AMOUNT");
  } else if (action == "approve") {
    request.set_action(v1::DECISION_ACTION_APPROVE);
  } else if (action == "reject") {
    request.set_action(v1::DECISION_ACTION_REJECT);
  } else {
    return ctx.UsageError(
        absl::StrCat("unknown decision '", words[1], "' (approve, approve-with AMOUNT, reject)"));
  }
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::LimitApplication response;
  return ctx.Finish(stub->DecideLimitApplication(&call, request, &response), response);
}

int Applications(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  v1::ListLimitApplicationsRequest request;
  if (std::optional<std::string> state = args.Get("state"); state.has_value()) {
    absl::StatusOr<int> number = ParseEnumValue(v1::ApplicationState_descriptor(), *state);
    if (!number.ok()) return ctx.UsageError(absl::StrCat("--state: ", number.status().message()));
    request.set_state(static_cast<v1::ApplicationState>(*number));
  }
  if (std::optional<std::string> customer = args.Get("customer"); customer.has_value()) {
    std::optional<std::string> id = ResolveCustomer(ctx, *customer, Service::kCredit);
    if (!id.has_value()) return kExitFailed;
    request.set_customer_id(*id);
  }
  auto stub = CreditStub(ctx);
  return ListPages<v1::ListLimitApplicationsRequest, v1::ListLimitApplicationsResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListLimitApplicationsRequest& r,
          v1::ListLimitApplicationsResponse* response) {
        return stub->ListLimitApplications(call, r, response);
      },
      [](const v1::ListLimitApplicationsResponse& r) -> const auto& { return r.applications(); });
}

int Collections(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  auto stub = CreditStub(ctx);
  return ListPages<v1::ListCollectionsRequest, v1::ListCollectionsResponse>(
      ctx, args, v1::ListCollectionsRequest(),
      [&](grpc::ClientContext* call, const v1::ListCollectionsRequest& r,
          v1::ListCollectionsResponse* response) {
        return stub->ListCollections(call, r, response);
      },
      [](const v1::ListCollectionsResponse& r) -> const auto& { return r.entries(); });
}

int Policy(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  auto stub = CreditStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::CreditPolicy response;
  return ctx.Finish(stub->GetCreditPolicy(&call, v1::GetCreditPolicyRequest(), &response),
                    response);
}

int Parked(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  v1::ListParkedEventsRequest request;
  request.set_external_ref(args.Get("external-ref").value_or(""));
  ctx.set_primary_service(Service::kCredit);
  auto stub = v1::LedgerIngestService::NewStub(ctx.Channel(Service::kCredit));
  return ListPages<v1::ListParkedEventsRequest, v1::ListParkedEventsResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListParkedEventsRequest& r,
          v1::ListParkedEventsResponse* response) {
        return stub->ListParkedEvents(call, r, response);
      },
      [](const v1::ListParkedEventsResponse& r) -> const auto& { return r.events(); });
}

}  // namespace

void RegisterCreditCommands(CommandTable& table) {
  const std::string customer_note =
      " CUSTOMER is a customer id or an ERP customer code (external ref, resolved through the "
      "profile service).";
  table.Add({
      .resource = "credit",
      .verb = "account",
      .synopsis = "CUSTOMER",
      .summary = absl::StrCat("Show the credit account: rating and its factors, limit, terms, "
                              "hold, exposure, aging, overdue, DSO, on-time ratio.",
                              customer_note),
      .options = {},
      .run = Account,
  });
  table.Add({
      .resource = "credit",
      .verb = "items",
      .synopsis = "CUSTOMER [--all]",
      .summary = "List the customer's open items (orders and invoices not paid yet); --all "
                 "includes settled ones.",
      .options = {{"all", false}},
      .run = Items,
  });
  table.Add({
      .resource = "credit",
      .verb = "check",
      .synopsis = "CUSTOMER AMOUNT [--currency CNY]",
      .summary = "Credit check for a prospective order of AMOUNT (a decimal such as 12000.50): "
                 "approved, approved with warning or blocked, with the reasons.",
      .options = {{"currency"}},
      .run = Check,
  });
  table.Add({
      .resource = "credit",
      .verb = "terms",
      .synopsis = "CUSTOMER [--limit AMOUNT] [--terms prepaid|netN|monthly|monthly+N]\n"
                  "      [--currency CNY] --reason R",
      .summary = "Set the credit limit and/or the payment terms (finance, admin).",
      .options = {{"limit"}, {"terms"}, {"currency"}, {"reason"}},
      .run = Terms,
  });
  table.Add({
      .resource = "credit",
      .verb = "hold",
      .synopsis = "CUSTOMER --reason R",
      .summary = "Put the account on hold by hand (never released automatically).",
      .options = {{"reason"}},
      .run = [](CliContext& ctx, const ParsedArgs& args) { return Hold(ctx, args, true); },
  });
  table.Add({
      .resource = "credit",
      .verb = "release",
      .synopsis = "CUSTOMER --reason R",
      .summary = "Release a hold.",
      .options = {{"reason"}},
      .run = [](CliContext& ctx, const ParsedArgs& args) { return Hold(ctx, args, false); },
  });
  table.Add({
      .resource = "credit",
      .verb = "apply",
      .synopsis = "CUSTOMER --limit AMOUNT --justification J\n"
                  "      [--terms prepaid|netN|monthly|monthly+N] [--currency CNY]",
      .summary = "Submit a credit-limit application (信用额度申请); prints it with the limit "
                 "suggested by the payment history.",
      .options = {{"limit"}, {"justification"}, {"terms"}, {"currency"}},
      .run = Apply,
  });
  table.Add({
      .resource = "credit",
      .verb = "decide",
      .synopsis = "APPLICATION_ID approve|approve-with AMOUNT|reject --reason R\n"
                  "      [--currency CNY]",
      .summary = "Decide a pending application (finance, manager, admin; not the applicant).",
      .options = {{"reason"}, {"currency"}},
      .run = Decide,
  });
  table.Add({
      .resource = "credit",
      .verb = "applications",
      .synopsis = absl::StrCat("[--customer CUSTOMER] [--state ",
                               EnumChoices(v1::ApplicationState_descriptor()),
                               "]\n      [--page-size N] [--page-token T] [--all]"),
      .summary = "List limit applications, newest first; --all follows the pages (JSON lines).",
      .options = WithPages({{"customer"}, {"state"}}),
      .run = Applications,
  });
  table.Add({
      .resource = "credit",
      .verb = "collections",
      .synopsis = "[--page-size N] [--page-token T] [--all]",
      .summary = "The collection list: customers with overdue items, oldest due date first.",
      .options = WithPages({}),
      .run = Collections,
  });
  table.Add({
      .resource = "credit",
      .verb = "policy",
      .synopsis = "",
      .summary = "Show the credit policy: rating weights and thresholds, hold and block rules, "
                 "default limit and terms.",
      .options = {},
      .run = Policy,
  });
  table.Add({
      .resource = "credit",
      .verb = "parked",
      .synopsis = "[--external-ref REF] [--page-size N] [--page-token T] [--all]",
      .summary = "List ERP events parked because their customer is not known yet (they are "
                 "applied once the profile service announces it).",
      .options = WithPages({{"external-ref"}}),
      .run = Parked,
  });
}

}  // namespace tierwise::cli
