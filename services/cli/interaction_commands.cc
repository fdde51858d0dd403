// `tierwise interactions ...`: the interaction log of the interaction service (沟通信息 /
// 跟进记录): logging, reading and correcting contact records, the follow-ups due and overdue per
// owner, and complaints with their SLA. Where a CUSTOMER is expected, an ERP customer code
// (external ref) works as well: anything that is not a UUID is resolved through the profile
// service's GetCustomerByExternalRef first.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status/macros.h"
#include "services/cli/commands.h"
#include "services/cli/ledger_text.h"
#include "services/cli/list_pages.h"
#include "services/cli/message_fields.h"
#include "services/cli/output.h"
#include "tierwise/interaction/v1/interaction.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::interaction::v1;
using ::tierwise::type::v1::Date;

// ListDueFollowUps without --to: this many days from --from.
constexpr int kDefaultDueDays = 30;
// The service's limit on a due range (to_date inclusive).
constexpr int kMaxDueDays = 366;

std::unique_ptr<v1::InteractionService::Stub> InteractionStub(CliContext& ctx) {
  ctx.set_primary_service(Service::kInteraction);
  return v1::InteractionService::NewStub(ctx.Channel(Service::kInteraction));
}

std::optional<std::string> Resolve(CliContext& ctx, const std::string& customer) {
  return ResolveCustomer(ctx, customer, Service::kInteraction);
}

const std::vector<OptionSpec>& kPageOptions = PageOptions();

std::vector<OptionSpec> WithPages(std::vector<OptionSpec> options) {
  options.insert(options.end(), kPageOptions.begin(), kPageOptions.end());
  return options;
}

absl::CivilDay Today(const CliContext& ctx) {
  return absl::ToCivilDay(absl::Now(), ctx.business_zone());
}

Date ToDate(absl::CivilDay day) {
  Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// A calendar date YYYY-MM-DD (a real one: 2026-02-30 is refused). The message names `option`.
absl::StatusOr<absl::CivilDay> ParseDay(absl::string_view option, absl::string_view text) {
  absl::CivilDay day;
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.size() != 10 || !absl::ParseCivilTime(trimmed, &day) || day.year() < 2000 ||
      day.year() > 2099) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " needs a date YYYY-MM-DD, got '", text, "'"));
  }
  return day;
}

absl::StatusOr<google::protobuf::Timestamp> ParseTime(const CliContext& ctx,
                                                      absl::string_view option,
                                                      absl::string_view text) {
  absl::StatusOr<google::protobuf::Timestamp> time = ParseTimestamp(text, ctx.business_zone());
  if (!time.ok())
    return absl::InvalidArgumentError(absl::StrCat(option, ": ", time.status().message()));
  return time;
}

google::protobuf::Timestamp Now() {
  google::protobuf::Timestamp now;
  now.set_seconds(absl::ToUnixSeconds(absl::Now()));
  return now;
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnum(const google::protobuf::EnumDescriptor* type,
                               absl::string_view option, absl::string_view text) {
  absl::StatusOr<int> number = ParseEnumValue(type, text);
  if (!number.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": ", number.status().message()));
  }
  return static_cast<Enum>(*number);
}

// --owner, repeated and/or comma-separated: "--owner a,b --owner c" is a, b, c.
std::vector<std::string> Owners(const ParsedArgs& args) {
  std::vector<std::string> owners;
  for (const std::string& value : args.GetAll("owner")) {
    for (absl::string_view owner : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      owners.emplace_back(absl::StripAsciiWhitespace(owner));
    }
  }
  return owners;
}

// The record options of `log` and `correct`. The flags --intent/--executive can only say yes;
// `correct` also takes --no-intent/--no-executive.
const std::vector<OptionSpec>& RecordOptions() {
  static const auto* const kOptions = new std::vector<OptionSpec>{
      {"channel"},        {"occurred-at"},   {"summary"},          {"contact"},
      {"contact-role"},   {"satisfaction"},  {"conclusion"},       {"special-items"},
      {"next-follow-up"}, {"intent", false}, {"executive", false}, {"owner"}};
  return *kOptions;
}

// Sets the fields of `record` that the record options name; returns how many were given.
// InvalidArgument names the option.
absl::StatusOr<int> ApplyRecordOptions(const CliContext& ctx, const ParsedArgs& args,
                                       v1::Interaction* record) {
  int given = 0;
  if (std::optional<std::string> text = args.Get("channel"); text.has_value()) {
    TW_ASSIGN_OR_RETURN(v1::Channel channel,
                        ParseEnum<v1::Channel>(v1::Channel_descriptor(), "--channel", *text));
    record->set_channel(channel);
    ++given;
  }
  if (std::optional<std::string> text = args.Get("occurred-at"); text.has_value()) {
    TW_ASSIGN_OR_RETURN(google::protobuf::Timestamp time, ParseTime(ctx, "--occurred-at", *text));
    *record->mutable_occurred_at() = time;
    ++given;
  }
  if (std::optional<std::string> text = args.Get("summary"); text.has_value()) {
    if (absl::StripAsciiWhitespace(*text).empty()) {
      return absl::InvalidArgumentError("--summary must not be empty");
    }
    record->set_summary(*text);
    ++given;
  }
  if (std::optional<std::string> text = args.Get("contact"); text.has_value()) {
    record->set_contact_name(*text);
    ++given;
  }
  if (std::optional<std::string> text = args.Get("contact-role"); text.has_value()) {
    if (text->empty()) {
      record->clear_contact_role();
    } else {
      TW_ASSIGN_OR_RETURN(
          v1::DecisionRole role,
          ParseEnum<v1::DecisionRole>(v1::DecisionRole_descriptor(), "--contact-role", *text));
      record->set_contact_role(role);
    }
    ++given;
  }
  if (std::optional<std::string> text = args.Get("satisfaction"); text.has_value()) {
    int satisfaction = 0;
    if (!absl::SimpleAtoi(*text, &satisfaction) || satisfaction < 0 || satisfaction > 5) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--satisfaction needs a number from 1 to 5 (0: not asked), got '", *text, "'"));
    }
    record->set_satisfaction(satisfaction);
    ++given;
  }
  if (std::optional<std::string> text = args.Get("conclusion"); text.has_value()) {
    record->set_conclusion(*text);
    ++given;
  }
  if (std::optional<std::string> text = args.Get("special-items"); text.has_value()) {
    record->set_special_items(*text);
    ++given;
  }
  if (std::optional<std::string> text = args.Get("next-follow-up"); text.has_value()) {
    if (text->empty()) {
      record->clear_next_follow_up_date();
    } else {
      TW_ASSIGN_OR_RETURN(absl::CivilDay day, ParseDay("--next-follow-up", *text));
      *record->mutable_next_follow_up_date() = ToDate(day);
    }
    ++given;
  }
  if (args.Has("intent") && args.Has("no-intent")) {
    return absl::InvalidArgumentError("--intent and --no-intent contradict each other");
  }
  if (args.Has("executive") && args.Has("no-executive")) {
    return absl::InvalidArgumentError("--executive and --no-executive contradict each other");
  }
  if (args.Has("intent") || args.Has("no-intent")) {
    record->set_purchase_intent(args.Has("intent"));
    ++given;
  }
  if (args.Has("executive") || args.Has("no-executive")) {
    record->set_executive_contact(args.Has("executive"));
    ++given;
  }
  if (std::optional<std::string> text = args.Get("owner"); text.has_value()) {
    record->set_owner(*text);
    ++given;
  }
  return given;
}

int Log(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  v1::LogInteractionRequest request;
  v1::Interaction* record = request.mutable_interaction();
  absl::StatusOr<int> given = ApplyRecordOptions(ctx, args, record);
  if (!given.ok()) return ctx.UsageError(given.status().message());
  if (!args.Has("channel")) {
    return ctx.UsageError(
        absl::StrCat("--channel is required (", EnumChoices(v1::Channel_descriptor()), ")"));
  }
  if (!args.Has("summary")) return ctx.UsageError("--summary is required");
  if (!record->has_occurred_at()) *record->mutable_occurred_at() = Now();
  if (std::optional<std::string> text = args.Get("recorded-at"); text.has_value()) {
    absl::StatusOr<google::protobuf::Timestamp> time = ParseTime(ctx, "--recorded-at", *text);
    if (!time.ok()) return ctx.UsageError(time.status().message());
    *record->mutable_recorded_at() = *time;
  }
  request.set_request_id(args.Get("request-id").value_or(""));
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  record->set_customer_id(*id);
  auto stub = InteractionStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Interaction response;
  return ctx.Finish(stub->LogInteraction(&call, request, &response), response);
}

int Get(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one interaction ID");
  v1::GetInteractionRequest request;
  request.set_id(args.positional()[0]);
  auto stub = InteractionStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Interaction response;
  return ctx.Finish(stub->GetInteraction(&call, request, &response), response);
}

int List(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  v1::ListInteractionsRequest request;
  std::optional<std::string> customer = args.Get("customer");
  std::optional<std::string> owner = args.Get("owner");
  if (!customer.has_value() && !owner.has_value()) {
    return ctx.UsageError("give --customer, --owner or both");
  }
  if (std::optional<std::string> text = args.Get("from"); text.has_value()) {
    absl::StatusOr<google::protobuf::Timestamp> time = ParseTime(ctx, "--from", *text);
    if (!time.ok()) return ctx.UsageError(time.status().message());
    *request.mutable_from_time() = *time;
  }
  if (std::optional<std::string> text = args.Get("to"); text.has_value()) {
    absl::StatusOr<google::protobuf::Timestamp> time = ParseTime(ctx, "--to", *text);
    if (!time.ok()) return ctx.UsageError(time.status().message());
    // A bare date is the whole day: up to the next midnight (the request's bound is exclusive).
    if (absl::StripAsciiWhitespace(*text).size() == 10) time->set_seconds(time->seconds() + 86400);
    *request.mutable_to_time() = *time;
  }
  if (request.has_from_time() && request.has_to_time() &&
      request.to_time().seconds() <= request.from_time().seconds()) {
    return ctx.UsageError("--to must be after --from");
  }
  if (std::optional<std::string> text = args.Get("channel"); text.has_value()) {
    absl::StatusOr<v1::Channel> channel =
        ParseEnum<v1::Channel>(v1::Channel_descriptor(), "--channel", *text);
    if (!channel.ok()) return ctx.UsageError(channel.status().message());
    request.set_channel(*channel);
  }
  request.set_include_superseded(args.Has("all-versions"));
  request.set_owner(owner.value_or(""));
  if (customer.has_value()) {
    std::optional<std::string> id = Resolve(ctx, *customer);
    if (!id.has_value()) return kExitFailed;
    request.set_customer_id(*id);
  }
  auto stub = InteractionStub(ctx);
  return ListPages<v1::ListInteractionsRequest, v1::ListInteractionsResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListInteractionsRequest& r,
          v1::ListInteractionsResponse* response) {
        return stub->ListInteractions(call, r, response);
      },
      [](const v1::ListInteractionsResponse& r) -> const auto& { return r.interactions(); });
}

// Fetches the version ID, applies the options to it and sends the whole record back as the
// correction (the service takes the full corrected record, never a patch).
int Correct(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one interaction ID");
  std::optional<std::string> reason = args.Get("reason");
  if (!reason.has_value() || absl::StripAsciiWhitespace(*reason).empty()) {
    return ctx.UsageError("--reason is required");
  }
  v1::Interaction changes;
  absl::StatusOr<int> given = ApplyRecordOptions(ctx, args, &changes);
  if (!given.ok()) return ctx.UsageError(given.status().message());
  if (*given == 0) return ctx.UsageError("nothing to correct: give at least one field option");

  auto stub = InteractionStub(ctx);
  v1::Interaction current;
  {
    v1::GetInteractionRequest request;
    request.set_id(args.positional()[0]);
    grpc::ClientContext call;
    ctx.PrepareCall(&call);
    grpc::Status status = stub->GetInteraction(&call, request, &current);
    if (!status.ok()) return ctx.PrintError(status);
  }
  v1::CorrectInteractionRequest request;
  request.set_id(args.positional()[0]);
  request.set_reason(*reason);
  v1::Interaction* record = request.mutable_interaction();
  *record = current;
  // What the server keeps or derives itself.
  record->clear_id();
  record->clear_recorded_at();
  record->clear_late_entry();
  record->clear_tier();
  record->clear_tier_source();
  record->clear_corrects();
  record->clear_superseded_by();
  record->clear_root_id();
  record->clear_version();
  record->clear_recorded_by();
  record->clear_correction_reason();
  // Applied again onto the fetched record, so that an option given as "" clears the field.
  absl::StatusOr<int> applied = ApplyRecordOptions(ctx, args, record);
  if (!applied.ok()) return ctx.UsageError(applied.status().message());
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Interaction response;
  return ctx.Finish(stub->CorrectInteraction(&call, request, &response), response);
}

int Due(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  absl::CivilDay from = Today(ctx);
  if (std::optional<std::string> text = args.Get("from"); text.has_value()) {
    absl::StatusOr<absl::CivilDay> day = ParseDay("--from", *text);
    if (!day.ok()) return ctx.UsageError(day.status().message());
    from = *day;
  }
  absl::CivilDay to = from + kDefaultDueDays;
  if (std::optional<std::string> text = args.Get("to"); text.has_value()) {
    absl::StatusOr<absl::CivilDay> day = ParseDay("--to", *text);
    if (!day.ok()) return ctx.UsageError(day.status().message());
    to = *day;
  }
  if (to < from) return ctx.UsageError("--to must not be before --from");
  if (to - from > kMaxDueDays) {
    return ctx.UsageError(absl::StrCat("--to may be at most ", kMaxDueDays, " days after --from"));
  }
  v1::ListDueFollowUpsRequest request;
  for (const std::string& owner : Owners(args)) request.add_owners(owner);
  *request.mutable_from_date() = ToDate(from);
  *request.mutable_to_date() = ToDate(to);
  auto stub = InteractionStub(ctx);
  return ListPages<v1::ListDueFollowUpsRequest, v1::ListFollowUpsResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListDueFollowUpsRequest& r,
          v1::ListFollowUpsResponse* response) {
        return stub->ListDueFollowUps(call, r, response);
      },
      [](const v1::ListFollowUpsResponse& r) -> const auto& { return r.follow_ups(); });
}

int Overdue(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  v1::ListOverdueFollowUpsRequest request;
  for (const std::string& owner : Owners(args)) request.add_owners(owner);
  if (std::optional<std::string> text = args.Get("as-of"); text.has_value()) {
    absl::StatusOr<absl::CivilDay> day = ParseDay("--as-of", *text);
    if (!day.ok()) return ctx.UsageError(day.status().message());
    *request.mutable_as_of() = ToDate(*day);
  }
  auto stub = InteractionStub(ctx);
  return ListPages<v1::ListOverdueFollowUpsRequest, v1::ListFollowUpsResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListOverdueFollowUpsRequest& r,
          v1::ListFollowUpsResponse* response) {
        return stub->ListOverdueFollowUps(call, r, response);
      },
      [](const v1::ListFollowUpsResponse& r) -> const auto& { return r.follow_ups(); });
}

int Complaints(CliContext& ctx, const ParsedArgs& args) {
  if (!args.positional().empty()) return ctx.UsageError("no positional arguments expected");
  v1::ListComplaintsRequest request;
  if (std::optional<std::string> text = args.Get("filter"); text.has_value()) {
    if (absl::AsciiStrToLower(*text) != "all") {
      absl::StatusOr<v1::ComplaintFilter> filter =
          ParseEnum<v1::ComplaintFilter>(v1::ComplaintFilter_descriptor(), "--filter", *text);
      if (!filter.ok()) return ctx.UsageError(filter.status().message());
      request.set_filter(*filter);
    }
  }
  request.set_owner(args.Get("owner").value_or(""));
  if (std::optional<std::string> customer = args.Get("customer"); customer.has_value()) {
    std::optional<std::string> id = Resolve(ctx, *customer);
    if (!id.has_value()) return kExitFailed;
    request.set_customer_id(*id);
  }
  auto stub = InteractionStub(ctx);
  return ListPages<v1::ListComplaintsRequest, v1::ListComplaintsResponse>(
      ctx, args, request,
      [&](grpc::ClientContext* call, const v1::ListComplaintsRequest& r,
          v1::ListComplaintsResponse* response) { return stub->ListComplaints(call, r, response); },
      [](const v1::ListComplaintsResponse& r) -> const auto& { return r.complaints(); });
}

int ComplaintOpen(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one CUSTOMER");
  std::optional<std::string> subject = args.Get("subject");
  if (!subject.has_value() || absl::StripAsciiWhitespace(*subject).empty()) {
    return ctx.UsageError("--subject is required");
  }
  v1::OpenComplaintRequest request;
  v1::Complaint* complaint = request.mutable_complaint();
  complaint->set_subject(*subject);
  complaint->set_description(args.Get("description").value_or(""));
  if (std::optional<std::string> text = args.Get("received-at"); text.has_value()) {
    absl::StatusOr<google::protobuf::Timestamp> time = ParseTime(ctx, "--received-at", *text);
    if (!time.ok()) return ctx.UsageError(time.status().message());
    *complaint->mutable_received_at() = *time;
  }
  request.set_request_id(args.Get("request-id").value_or(""));
  std::optional<std::string> id = Resolve(ctx, args.positional()[0]);
  if (!id.has_value()) return kExitFailed;
  complaint->set_customer_id(*id);
  auto stub = InteractionStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Complaint response;
  return ctx.Finish(stub->OpenComplaint(&call, request, &response), response);
}

// respond (--response) or resolve (--resolution).
int ComplaintAnswer(CliContext& ctx, const ParsedArgs& args, bool resolve) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one complaint ID");
  const char* option = resolve ? "resolution" : "response";
  std::optional<std::string> text = args.Get(option);
  if (!text.has_value() || absl::StripAsciiWhitespace(*text).empty()) {
    return ctx.UsageError(absl::StrCat("--", option, " is required"));
  }
  auto stub = InteractionStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Complaint response;
  if (resolve) {
    v1::ResolveComplaintRequest request;
    request.set_id(args.positional()[0]);
    request.set_resolution(*text);
    return ctx.Finish(stub->ResolveComplaint(&call, request, &response), response);
  }
  v1::RespondToComplaintRequest request;
  request.set_id(args.positional()[0]);
  request.set_response(*text);
  return ctx.Finish(stub->RespondToComplaint(&call, request, &response), response);
}

int ComplaintGet(CliContext& ctx, const ParsedArgs& args) {
  if (args.positional().size() != 1) return ctx.UsageError("give exactly one complaint ID");
  v1::GetComplaintRequest request;
  request.set_id(args.positional()[0]);
  auto stub = InteractionStub(ctx);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  v1::Complaint response;
  return ctx.Finish(stub->GetComplaint(&call, request, &response), response);
}

}  // namespace

void RegisterInteractionCommands(CommandTable& table) {
  const std::string customer_note =
      " CUSTOMER is a customer id or an ERP customer code (external ref, resolved through the "
      "profile service).";
  const std::string channels = EnumChoices(v1::Channel_descriptor());
  const std::string roles = EnumChoices(v1::DecisionRole_descriptor());
  std::vector<OptionSpec> log_options = RecordOptions();
  log_options.push_back({"recorded-at"});
  log_options.push_back({"request-id"});
  std::vector<OptionSpec> correct_options = RecordOptions();
  correct_options.push_back({"no-intent", false});
  correct_options.push_back({"no-executive", false});
  correct_options.push_back({"reason"});

  table.Add({
      .resource = "interactions",
      .verb = "log",
      .synopsis = "CUSTOMER --channel CHANNEL --summary TEXT [--occurred-at TIME]\n"
                  "      [--contact NAME] [--contact-role ROLE] [--satisfaction 1-5]\n"
                  "      [--conclusion TEXT] [--special-items TEXT] [--next-follow-up YYYY-MM-DD]\n"
                  "      [--intent] [--executive] [--owner NAME] [--recorded-at TIME]\n"
                  "      [--request-id ID]",
      .summary = absl::StrCat(
          "Log a contact with the customer (沟通记录): how it happened, with whom, what was "
          "said (summary, special items, conclusion), the satisfaction, the agreed next "
          "follow-up date, whether the customer showed purchase intent and whether it was an "
          "executive-level contact. TIME is RFC 3339 (2026-03-05T10:00:00+08:00) or a date "
          "(00:00 UTC); --occurred-at defaults to now. The service stamps the customer's tier "
          "and flags entries made more than 24 h after the contact. --contact-role is the "
          "contact's part in the buying decision (--role still picks the caller's token). "
          "--owner defaults to the "
          "caller; --recorded-at back-fills a paper record (admin only); --request-id makes a "
          "retry return the first result. CHANNEL: ",
          channels, "; ROLE: ", roles, ".", customer_note),
      .options = log_options,
      .run = Log,
  });
  table.Add({
      .resource = "interactions",
      .verb = "get",
      .synopsis = "ID",
      .summary = "Show one version of a record, with its tier, late-entry flag and version links "
                 "(corrects, superseded_by, root_id).",
      .options = {},
      .run = Get,
  });
  table.Add({
      .resource = "interactions",
      .verb = "list",
      .synopsis = "[--customer CUSTOMER] [--owner NAME] [--from TIME] [--to TIME]\n"
                  "      [--channel CHANNEL] [--all-versions] [--page-size N] [--page-token T]\n"
                  "      [--all]",
      .summary = "List records of a customer and/or an owner (one of them is required), newest "
                 "contact first. --from is inclusive, --to exclusive; a bare date for --to "
                 "includes that whole day. --all-versions also lists replaced versions; --all "
                 "follows the pages (JSON lines). CHANNEL as for log.",
      .options = WithPages(
          {{"customer"}, {"owner"}, {"from"}, {"to"}, {"channel"}, {"all-versions", false}}),
      .run = List,
  });
  table.Add({
      .resource = "interactions",
      .verb = "correct",
      .synopsis = "ID --reason TEXT [--channel CHANNEL] [--occurred-at TIME]\n"
                  "      [--summary TEXT] [--contact NAME] [--contact-role ROLE]\n"
                  "      [--satisfaction 0-5] [--conclusion TEXT] [--special-items TEXT]\n"
                  "      [--next-follow-up YYYY-MM-DD|\"\"] [--intent|--no-intent]\n"
                  "      [--executive|--no-executive] [--owner NAME]",
      .summary = "Correct a record: the current version ID is fetched, the given fields are "
                 "changed (an empty value clears a text field or the follow-up date) and the "
                 "result is stored as a new version that points to the old one; nothing is "
                 "overwritten. Prints the new version. CHANNEL and ROLE as for log.",
      .options = correct_options,
      .run = Correct,
  });
  table.Add({
      .resource = "interactions",
      .verb = "due",
      .synopsis = "[--owner NAME[,NAME...]]... [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
                  "      [--page-size N] [--page-token T] [--all]",
      .summary = "Follow-ups due in a date range (default: today to 30 days on, UTC; --to "
                 "inclusive, at most 366 days after --from), earliest first: the tier policy's "
                 "regular and executive contacts and the dates agreed on the last record, with "
                 "the channel the policy asks for. --owner may be repeated or a comma list (a "
                 "team); without it, the caller's own (sales rep) or everyone's.",
      .options = WithPages({{"owner", true, true}, {"from"}, {"to"}}),
      .run = Due,
  });
  table.Add({
      .resource = "interactions",
      .verb = "overdue",
      .synopsis = "[--owner NAME[,NAME...]]... [--as-of YYYY-MM-DD]\n"
                  "      [--page-size N] [--page-token T] [--all]",
      .summary = "Follow-ups past their due date as of --as-of (default: today, server clock, "
                 "UTC), with the days overdue.",
      .options = WithPages({{"owner", true, true}, {"as-of"}}),
      .run = Overdue,
  });
  table.Add({
      .resource = "interactions",
      .verb = "complaints",
      .synopsis = "[--filter all|open|response-breached|resolution-breached]\n"
                  "      [--owner NAME] [--customer CUSTOMER] [--page-size N] [--page-token T]\n"
                  "      [--all]",
      .summary = "List complaints, newest first: all (default), the open ones (not resolved), or "
                 "those whose response or resolution SLA was breached.",
      .options = WithPages({{"filter"}, {"owner"}, {"customer"}}),
      .run = Complaints,
  });
  table.Add({
      .resource = "interactions",
      .verb = "complaint open",
      .synopsis = "CUSTOMER --subject TEXT [--description TEXT]\n"
                  "      [--received-at TIME] [--request-id ID]",
      .summary = absl::StrCat(
          "Open a complaint. The SLA clocks (first response, solution; 24 h / 48 h unless the "
          "tier's policy says otherwise) run from --received-at, when the customer complained "
          "(default: now); the customer needs attention until it is resolved.",
          customer_note),
      .options = {{"subject"}, {"description"}, {"received-at"}, {"request-id"}},
      .run = ComplaintOpen,
  });
  table.Add({
      .resource = "interactions",
      .verb = "complaint respond",
      .synopsis = "ID --response TEXT",
      .summary = "Record the first response to a complaint (a late one records the breach).",
      .options = {{"response"}},
      .run = [](CliContext& ctx,
                const ParsedArgs& args) { return ComplaintAnswer(ctx, args, /*resolve=*/false); },
  });
  table.Add({
      .resource = "interactions",
      .verb = "complaint resolve",
      .synopsis = "ID --resolution TEXT",
      .summary = "Resolve a complaint; this clears the customer's needs-attention flag.",
      .options = {{"resolution"}},
      .run = [](CliContext& ctx,
                const ParsedArgs& args) { return ComplaintAnswer(ctx, args, /*resolve=*/true); },
  });
  table.Add({
      .resource = "interactions",
      .verb = "complaint get",
      .synopsis = "ID",
      .summary = "Show a complaint with its SLA deadlines and breaches.",
      .options = {},
      .run = ComplaintGet,
  });
}

}  // namespace tierwise::cli
