#ifndef TIERWISE_SERVICES_CLI_CLI_CONTEXT_H_
#define TIERWISE_SERVICES_CLI_CLI_CONTEXT_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/cli/env.h"

namespace tierwise::cli {

// Exit codes of the CLI.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // a call failed (or, for health, not SERVING)
inline constexpr int kExitUsage = 2;     // bad command line or configuration
inline constexpr int kExitRejected = 3;  // import, demo ledger: some rows were rejected

// The Tierwise services the CLI talks to.
enum class Service { kProfile, kInteraction, kCredit, kClassification };

// "profile", "interaction", "credit", "classification".
absl::string_view ServiceName(Service service);
absl::StatusOr<Service> ParseServiceName(absl::string_view name);

// Options that apply to every command; they may stand before or after the command words.
struct GlobalOptions {
  std::optional<std::string> env_file;  // --env
  std::optional<std::string> addr;      // --addr: overrides the service's address
  std::optional<std::string> token;     // --token: set (even to "") beats --role
  std::string role = "admin";           // --role: picks TIERWISE_<ROLE>_TOKEN
  bool role_given = false;              // --role was on the command line
  std::string ca_file;                  // --ca
  std::string cert_file;                // --cert
  std::string key_file;                 // --key
  double timeout_seconds = 10;          // --timeout, per call
  bool help = false;                    // --help / -h
};

// Removes the global options from `args`, wherever they are (up to a bare `--`), and returns
// them. InvalidArgument for a missing or bad value.
absl::StatusOr<GlobalOptions> ExtractGlobalOptions(std::vector<std::string>* args);

// What a command handler works with: the resolved configuration, one channel per service
// (made on first use), and the output streams. Not thread-safe; one per CLI run.
class CliContext {
 public:
  CliContext(GlobalOptions options, Environment env, std::ostream& out, std::ostream& err);

  const GlobalOptions& options() const { return options_; }
  const Environment& env() const { return env_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // The bearer token sent with calls: --token if given, else TIERWISE_<ROLE>_TOKEN from the
  // environment or env file, else "" (no authorization header at all).
  const std::string& token() const { return token_; }
  // The token of another role (e.g. for a command that acts as two roles), "" when unknown.
  std::string TokenForRole(absl::string_view role) const;

  // A command whose natural caller is another role than admin (the ERP import: erp_adapter)
  // switches to TIERWISE_<ROLE>_TOKEN when neither --token nor --role was given and that token
  // is known; otherwise the token stays as it was.
  void PreferRole(absl::string_view role);

  // The service the running command talks to: --addr applies to it alone, so that a command
  // that also asks another service (credit commands resolving an external ref through the
  // profile service) finds that one at its usual address. Unset, --addr applies to every
  // service.
  void set_primary_service(Service service) { primary_service_ = service; }

  // --addr if given (and `service` is the primary service, when one is set), else
  // TIERWISE_<SERVICE>_ADDR, else the local default (127.0.0.1:5005x).
  std::string Address(Service service) const;
  std::shared_ptr<grpc::Channel> Channel(Service service);

  // Sets the deadline (--timeout), a request id, and the bearer token unless `authorize` is
  // false (health checks go without).
  void PrepareCall(grpc::ClientContext* context, bool authorize = true) const;
  // The same with an explicit token.
  void PrepareCallWithToken(grpc::ClientContext* context, const std::string& token) const;

  // Prints `message` as JSON on out() and returns kExitOk.
  int PrintMessage(const google::protobuf::Message& message);
  // Prints the status as a JSON error object on err() and returns kExitFailed.
  int PrintError(const grpc::Status& status);
  // PrintMessage(response) when `status` is OK, else PrintError(status).
  int Finish(const grpc::Status& status, const google::protobuf::Message& response);
  // Prints "tierwise: <message>" and the usage of the running command on err(); returns
  // kExitUsage.
  int UsageError(absl::string_view message);

  // The company's calendar (TIERWISE_BUSINESS_TIME_ZONE, UTC when unset): a bare date on the
  // command line or in an import file is that day from its local midnight, and "today" is the
  // local day. Set by the dispatcher.
  const absl::TimeZone& business_zone() const { return business_zone_; }
  void set_business_zone(absl::TimeZone zone) { business_zone_ = zone; }

  // Set by the dispatcher: the usage text of the command being run.
  void set_command_usage(std::string usage) { command_usage_ = std::move(usage); }

 private:
  GlobalOptions options_;
  Environment env_;
  std::ostream& out_;
  std::ostream& err_;
  std::string token_;
  std::string command_usage_;
  absl::TimeZone business_zone_ = absl::UTCTimeZone();
  std::optional<Service> primary_service_;
  std::map<Service, std::shared_ptr<grpc::Channel>> channels_;
};

// Errors that will not go away for the next item of a bulk run either (credentials, a service
// that is down or lacks the method, a deadline): the demo loaders stop at them instead of
// repeating them for every customer.
bool IsFatalForRun(grpc::StatusCode code);

// The customer id CUSTOMER stands for: itself when it looks like a UUID, else the id of the
// customer with that external ref, asked of the profile service. `primary` is the service of
// the running command (see set_primary_service: --addr applies to it, not to the profile
// service). On failure prints the error and returns nullopt.
std::optional<std::string> ResolveCustomer(CliContext& ctx, const std::string& customer,
                                           Service primary);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_CLI_CONTEXT_H_
