#include "services/cli/cli_context.h"

#include <chrono>
#include <cmath>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/client/channel.h"
#include "common/ids/ids.h"
#include "services/cli/output.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {
namespace {

struct ServiceInfo {
  Service service;
  absl::string_view name;
  absl::string_view default_address;
};

constexpr ServiceInfo kServices[] = {
    {Service::kProfile, "profile", "127.0.0.1:50051"},
    {Service::kInteraction, "interaction", "127.0.0.1:50052"},
    {Service::kCredit, "credit", "127.0.0.1:50053"},
    {Service::kClassification, "classification", "127.0.0.1:50054"},
};

const ServiceInfo& Info(Service service) {
  for (const ServiceInfo& info : kServices) {
    if (info.service == service) return info;
  }
  return kServices[0];
}

// "sales-rep" -> "SALES_REP", so `--role sales-rep` and `--role sales_rep` both work.
std::string EnvKeyPart(absl::string_view name) {
  return absl::AsciiStrToUpper(absl::StrReplaceAll(name, {{"-", "_"}}));
}

std::string NewRequestId() {
  static std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("cli-%016x", rng());
}

}  // namespace

absl::string_view ServiceName(Service service) { return Info(service).name; }

absl::StatusOr<Service> ParseServiceName(absl::string_view name) {
  for (const ServiceInfo& info : kServices) {
    if (info.name == name) return info.service;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown service '", name, "' (profile, interaction, credit or classification)"));
}

absl::StatusOr<GlobalOptions> ExtractGlobalOptions(std::vector<std::string>* args) {
  GlobalOptions options;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& arg = (*args)[i];
    if (arg == "--") {
      rest.insert(rest.end(), args->begin() + i, args->end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); absl::StartsWith(arg, "--") && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    static constexpr absl::string_view kValued[] = {"--env", "--addr", "--token", "--role",
                                                    "--ca",  "--cert", "--key",   "--timeout"};
    bool is_global = false;
    for (absl::string_view known : kValued) is_global = is_global || name == known;
    if (!is_global) {
      rest.push_back(arg);
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args->size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = (*args)[++i];
    }
    if (name == "--env") {
      options.env_file = *value;
    } else if (name == "--addr") {
      options.addr = *value;
    } else if (name == "--token") {
      options.token = *value;
    } else if (name == "--role") {
      if (value->empty()) return absl::InvalidArgumentError("--role needs a role name");
      options.role = *value;
      options.role_given = true;
    } else if (name == "--ca") {
      options.ca_file = *value;
    } else if (name == "--cert") {
      options.cert_file = *value;
    } else if (name == "--key") {
      options.key_file = *value;
    } else if (name == "--timeout") {
      double seconds = 0;
      if (!absl::SimpleAtod(*value, &seconds) || !std::isfinite(seconds) || seconds <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--timeout needs a positive number of seconds, got '", *value, "'"));
      }
      options.timeout_seconds = seconds;
    }
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("--cert and --key go together");
  }
  if (!options.cert_file.empty() && options.ca_file.empty()) {
    return absl::InvalidArgumentError("--cert/--key need --ca (mutual TLS)");
  }
  *args = std::move(rest);
  return options;
}

CliContext::CliContext(GlobalOptions options, Environment env, std::ostream& out, std::ostream& err)
    : options_(std::move(options)), env_(std::move(env)), out_(out), err_(err) {
  token_ = options_.token.has_value() ? *options_.token : TokenForRole(options_.role);
}

std::string CliContext::TokenForRole(absl::string_view role) const {
  return env_.GetOr(absl::StrCat("TIERWISE_", EnvKeyPart(role), "_TOKEN"), "");
}

void CliContext::PreferRole(absl::string_view role) {
  if (options_.token.has_value() || options_.role_given) return;
  std::string token = TokenForRole(role);
  if (!token.empty()) token_ = std::move(token);
}

std::string CliContext::Address(Service service) const {
  if (options_.addr.has_value() &&
      (!primary_service_.has_value() || *primary_service_ == service)) {
    return *options_.addr;
  }
  const ServiceInfo& info = Info(service);
  return env_.GetOr(absl::StrCat("TIERWISE_", EnvKeyPart(info.name), "_ADDR"),
                    info.default_address);
}

std::shared_ptr<grpc::Channel> CliContext::Channel(Service service) {
  std::shared_ptr<grpc::Channel>& channel = channels_[service];
  if (channel == nullptr) {
    client::ChannelOptions channel_options;
    channel_options.address = Address(service);
    channel_options.ca_file = options_.ca_file;
    channel_options.cert_file = options_.cert_file;
    channel_options.key_file = options_.key_file;
    channel = client::MakeChannel(channel_options);
  }
  return channel;
}

void CliContext::PrepareCall(grpc::ClientContext* context, bool authorize) const {
  PrepareCallWithToken(context, authorize ? token_ : "");
}

void CliContext::PrepareCallWithToken(grpc::ClientContext* context,
                                      const std::string& token) const {
  auto timeout = std::chrono::milliseconds(
      static_cast<int64_t>(std::llround(options_.timeout_seconds * 1000)));
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  client::Authorize(*context, token, NewRequestId());
}

int CliContext::PrintMessage(const google::protobuf::Message& message) {
  out_ << MessageToJson(message) << "\n";
  return kExitOk;
}

int CliContext::PrintError(const grpc::Status& status) {
  err_ << StatusToJson(status) << "\n";
  return kExitFailed;
}

int CliContext::Finish(const grpc::Status& status, const google::protobuf::Message& response) {
  return status.ok() ? PrintMessage(response) : PrintError(status);
}

int CliContext::UsageError(absl::string_view message) {
  err_ << "tierwise: " << message << "\n";
  if (!command_usage_.empty()) err_ << command_usage_;
  return kExitUsage;
}

bool IsFatalForRun(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
         code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::UNIMPLEMENTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

std::optional<std::string> ResolveCustomer(CliContext& ctx, const std::string& customer,
                                           Service primary) {
  namespace profile = ::tierwise::profile::v1;
  if (ids::IsUuid(customer)) return customer;
  ctx.set_primary_service(primary);
  auto stub = profile::CustomerProfileService::NewStub(ctx.Channel(Service::kProfile));
  profile::GetCustomerByExternalRefRequest request;
  request.set_external_ref(customer);
  request.set_view(profile::CUSTOMER_VIEW_BASIC);
  grpc::ClientContext call;
  ctx.PrepareCall(&call);
  profile::Customer response;
  grpc::Status status = stub->GetCustomerByExternalRef(&call, request, &response);
  if (!status.ok()) {
    ctx.PrintError(grpc::Status(
        status.error_code(),
        absl::StrCat("resolving external ref '", customer, "' at the profile service (",
                     ctx.Address(Service::kProfile), "): ", status.error_message()),
        status.error_details()));
    return std::nullopt;
  }
  return response.id();
}

}  // namespace tierwise::cli
