#include "common/config/config.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/macros.h"
#include "common/time/business_calendar.h"

namespace tierwise::config {
namespace {

absl::Status Problem(const std::string& name, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " (", ConfigParser::EnvName(name), "): ", what));
}

absl::Status CheckHostPort(const std::string& value) {
  const auto colon = value.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(value.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("must be host:port");
  }
  return absl::OkStatus();
}

absl::Status CheckIdentifier(const std::string& value) {
  if (value.empty() || value.size() > 48) return absl::InvalidArgumentError("1-48 characters");
  for (char c : value) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return absl::InvalidArgumentError("only a-z, 0-9 and _");
    }
  }
  if (absl::ascii_isdigit(value[0]))
    return absl::InvalidArgumentError("must not start with a digit");
  return absl::OkStatus();
}

absl::Status OneOf(const std::string& value, std::initializer_list<absl::string_view> allowed) {
  for (auto a : allowed) {
    if (value == a) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("must be one of ", absl::StrJoin(allowed, ", ")));
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string ConfigParser::EnvName(absl::string_view flag) {
  return absl::StrCat("TIERWISE_", absl::AsciiStrToUpper(flag));
}

void ConfigParser::AddString(std::string name, std::string* target, std::string default_value,
                             std::string help,
                             std::function<absl::Status(const std::string&)> check) {
  *target = default_value;
  Option o{name, std::move(help), default_value.empty() ? "\"\"" : default_value, false, {}};
  o.set = [target, check = std::move(check), name](const std::string& v) -> absl::Status {
    if (check) {
      if (absl::Status s = check(v); !s.ok()) return Problem(name, s.message());
    }
    *target = v;
    return absl::OkStatus();
  };
  options_.push_back(std::move(o));
}

void ConfigParser::AddInt(std::string name, int* target, int default_value, std::string help,
                          int min, int max) {
  *target = default_value;
  Option o{name, std::move(help), absl::StrCat(default_value), false, {}};
  o.set = [target, min, max, name](const std::string& v) -> absl::Status {
    int parsed = 0;
    if (!absl::SimpleAtoi(v, &parsed)) return Problem(name, "must be an integer");
    if (parsed < min || parsed > max) {
      return Problem(name, absl::StrCat("must be between ", min, " and ", max));
    }
    *target = parsed;
    return absl::OkStatus();
  };
  options_.push_back(std::move(o));
}

void ConfigParser::AddBool(std::string name, bool* target, bool default_value, std::string help) {
  *target = default_value;
  Option o{name, std::move(help), default_value ? "true" : "false", true, {}};
  o.set = [target, name](const std::string& v) -> absl::Status {
    const std::string lower = absl::AsciiStrToLower(v);
    if (lower == "1" || lower == "true" || lower == "yes") {
      *target = true;
    } else if (lower == "0" || lower == "false" || lower == "no") {
      *target = false;
    } else {
      return Problem(name, "must be true or false");
    }
    return absl::OkStatus();
  };
  options_.push_back(std::move(o));
}

absl::Status ConfigParser::Parse(const std::vector<std::string>& args, const EnvLookup& env,
                                 bool* help_requested) {
  if (help_requested != nullptr) *help_requested = false;
  // Flags first, remembered by name, so the environment only fills what flags left unset.
  std::vector<std::pair<Option*, std::string>> from_flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      if (help_requested != nullptr) *help_requested = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    Option* option = nullptr;
    for (Option& o : options_) {
      if (o.name == name) option = &o;
    }
    if (option == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value.has_value()) {
      if (option->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Problem(name, "needs a value");
      }
    }
    from_flags.emplace_back(option, *value);
  }
  for (Option& o : options_) {
    bool flagged = false;
    for (auto& [opt, v] : from_flags) flagged = flagged || opt == &o;
    if (flagged) continue;
    if (auto v = env(EnvName(o.name)); v.has_value()) {
      TW_RETURN_IF_ERROR(o.set(*v));
    }
  }
  for (auto& [opt, v] : from_flags) {
    TW_RETURN_IF_ERROR(opt->set(v));
  }
  return absl::OkStatus();
}

std::string ConfigParser::Usage() const {
  std::string out;
  for (const Option& o : options_) {
    absl::StrAppend(&out, "  --", o.name, " (", EnvName(o.name), ", default ", o.default_text,
                    ")\n      ", o.help, "\n");
  }
  return out;
}

void ServiceConfig::Register(ConfigParser& parser, absl::string_view service_name,
                             int default_port) {
  service = std::string(service_name);
  parser.AddString("listen", &listen, absl::StrCat("0.0.0.0:", default_port),
                   "gRPC listen address host:port", CheckHostPort);
  parser.AddString("pg_uri", &pg_uri, "", "PostgreSQL connection URI (required)");
  parser.AddString("pg_schema", &pg_schema, service, "PostgreSQL schema owned by this service",
                   CheckIdentifier);
  parser.AddInt("pg_pool_size", &pg_pool_size, 8, "PostgreSQL connections in the pool", 1, 256);
  parser.AddString("redis_addr", &redis_addr, "127.0.0.1:6379", "Redis host:port", CheckHostPort);
  parser.AddString("redis_password", &redis_password, "", "Redis AUTH password");
  parser.AddString("redis_prefix", &redis_prefix, "tierwise",
                   "prefix of every Redis key and stream", CheckIdentifier);
  parser.AddString("tokens_file", &tokens_file, "",
                   "file of '<name> <role> <token>' lines granting roles");
  parser.AddString("tokens", &tokens, "", "inline tokens 'name:role:token,...'");
  parser.AddString("tls_cert", &tls_cert, "", "server certificate chain (PEM); enables TLS");
  parser.AddString("tls_key", &tls_key, "", "server private key (PEM)");
  parser.AddString("tls_client_ca", &tls_client_ca, "",
                   "CA bundle for client certificates (PEM); enables mutual TLS");
  parser.AddString("log_level", &log_level, "info", "trace, debug, info, warn or error",
                   [](const std::string& v) {
                     return OneOf(v, {"trace", "debug", "info", "warn", "error"});
                   });
  parser.AddString("log_format", &log_format, "json", "json or text", [](const std::string& v) {
    return OneOf(v, {"json", "text"});
  });
  parser.AddInt("drain_seconds", &drain_seconds, 10, "grace period for in-flight RPCs on SIGTERM",
                0, 600);
  parser.AddInt("health_interval_ms", &health_interval_ms, 2000,
                "how often the database is probed for the health status", 50, 600000);
  parser.AddInt("outbox_poll_ms", &outbox_poll_ms, 200,
                "how often the outbox relay looks for unpublished events", 10, 60000);
  parser.AddString(
      "metrics_listen", &metrics_listen, absl::StrCat("0.0.0.0:", default_port + 1000),
      "Prometheus metrics over HTTP at /metrics (\"\" turns it off)",
      [](const std::string& v) { return v.empty() ? absl::OkStatus() : CheckHostPort(v); });
  parser.AddInt("max_concurrent_streams", &max_concurrent_streams, 100,
                "concurrent calls a client may have open on one connection", 1, 100000);
  parser.AddInt("resource_quota_mb", &resource_quota_mb, 256,
                "memory gRPC may use for its buffers, in MiB (0: no limit)", 0, 1 << 20);
  parser.AddInt("max_threads", &max_threads, 256,
                "threads serving gRPC calls; calls beyond get RESOURCE_EXHAUSTED", 8, 100000);
  parser.AddBool("migrate_only", &migrate_only, false, "apply database migrations and exit");
  parser.AddString("business_time_zone", &business_time_zone, "UTC",
                   "IANA time zone of the company's calendar days and months (e.g. Asia/Shanghai)",
                   [](const std::string& v) { return time::BusinessCalendar::Load(v).status(); });
}

absl::Status ServiceConfig::Validate() const {
  if (pg_uri.empty()) return Problem("pg_uri", "is required");
  if (tls_cert.empty() != tls_key.empty()) {
    return Problem("tls_key", "--tls_cert and --tls_key must be given together");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return Problem("tls_client_ca", "mutual TLS needs --tls_cert and --tls_key");
  }
  if (!migrate_only && tokens_file.empty() && tokens.empty()) {
    return Problem("tokens_file", "no tokens configured: every call would be rejected");
  }
  return absl::OkStatus();
}

ServiceConfig LoadServiceConfigOrDie(absl::string_view service_name, int default_port, int argc,
                                     char** argv, ConfigParser* parser) {
  ConfigParser local;
  ConfigParser& p = parser != nullptr ? *parser : local;
  ServiceConfig config;
  config.Register(p, service_name, default_port);
  std::vector<std::string> args(argv + 1, argv + argc);
  bool help = false;
  absl::Status s = p.Parse(args, ProcessEnv(), &help);
  if (help) {
    std::cout << "usage: tierwise-" << service_name << " [flags]\n" << p.Usage();
    std::exit(0);
  }
  if (s.ok()) s = config.Validate();
  if (!s.ok()) {
    std::cerr << "tierwise-" << service_name << ": configuration error: " << s.message() << "\n";
    std::exit(2);
  }
  return config;
}

}  // namespace tierwise::config
