#ifndef TIERWISE_COMMON_CONFIG_CONFIG_H_
#define TIERWISE_COMMON_CONFIG_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tierwise::config {

// Looks up an environment variable; std::nullopt when unset. Injected so tests need no setenv.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Typed options from `--name=value` / `--name value` flags with an environment fallback
// (TIERWISE_<NAME>): a flag wins over the environment, the environment over the default.
// Every value is validated; the first problem is returned as INVALID_ARGUMENT naming the flag
// and its variable, so a binary fails fast at start-up. Not thread-safe; use during start-up.
//
//   ConfigParser parser;
//   int port = 0;
//   parser.AddInt("port", &port, 8080, "listen port", 1, 65535);
//   absl::Status s = parser.Parse(args, ProcessEnv());
class ConfigParser {
 public:
  void AddString(std::string name, std::string* target, std::string default_value, std::string help,
                 std::function<absl::Status(const std::string&)> check = {});
  void AddInt(std::string name, int* target, int default_value, std::string help, int min, int max);
  void AddBool(std::string name, bool* target, bool default_value, std::string help);

  // Parses args (without argv[0]). Sets *help_requested when --help is given.
  absl::Status Parse(const std::vector<std::string>& args, const EnvLookup& env,
                     bool* help_requested = nullptr);

  // One line per option: flag, environment variable, default, help.
  std::string Usage() const;

  static std::string EnvName(absl::string_view flag);

 private:
  struct Option {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<absl::Status(const std::string&)> set;  // parses, validates and stores
  };
  std::vector<Option> options_;
};

// The settings every Tierwise service shares. Services with more settings register them on the
// same parser before Parse().
struct ServiceConfig {
  std::string service;  // "profile", "credit", ...
  std::string listen;
  std::string pg_uri;
  std::string pg_schema;
  int pg_pool_size = 8;
  std::string redis_addr;
  std::string redis_password;
  std::string redis_prefix;
  std::string tokens_file;
  std::string tokens;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string log_level;
  std::string log_format;
  int drain_seconds = 10;
  int health_interval_ms = 2000;
  int outbox_poll_ms = 200;
  std::string metrics_listen;
  // gRPC limits: concurrent streams per connection, memory for gRPC's buffers (MiB, 0 = no
  // limit) and threads serving calls.
  int max_concurrent_streams = 100;
  int resource_quota_mb = 256;
  int max_threads = 256;
  bool migrate_only = false;
  // The IANA time zone of the company's calendar (overdue days, month ends, follow-up days,
  // dates without a time). See common/time/business_calendar.h.
  std::string business_time_zone;

  // Registers the shared options with defaults for this service.
  void Register(ConfigParser& parser, absl::string_view service_name, int default_port);
  // Cross-field checks after parsing (e.g. TLS key without certificate).
  absl::Status Validate() const;
};

// Convenience for main(): registers, parses argv and the process environment, validates.
// On --help prints usage and exits 0; on error prints it and exits 2.
ServiceConfig LoadServiceConfigOrDie(absl::string_view service_name, int default_port, int argc,
                                     char** argv, ConfigParser* parser = nullptr);

}  // namespace tierwise::config

#endif  // TIERWISE_COMMON_CONFIG_CONFIG_H_
