#ifndef TIERWISE_SERVICES_CLI_ENV_H_
#define TIERWISE_SERVICES_CLI_ENV_H_

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tierwise::cli {

// Parses an env file: `KEY=value` lines. Blank lines and `#` comments are skipped, an
// `export ` prefix is allowed, a value in single or double quotes is taken verbatim, and an
// unquoted value ends at ` #`. InvalidArgument (with the line number) for a line without `=`
// or with a bad key.
absl::StatusOr<std::map<std::string, std::string>> ParseEnvFile(absl::string_view content);

// The nearest `.tierwise/local.env` in `start` or one of its ancestors, if any.
std::optional<std::filesystem::path> FindEnvFile(const std::filesystem::path& start);

// Looks settings up in the process environment first, then in the env file's values, so that
// `TIERWISE_PROFILE_ADDR=... tierwise ...` beats what the file says.
class Environment {
 public:
  using Getenv = std::function<std::optional<std::string>(const std::string&)>;

  // `getenv` defaults to the real process environment.
  explicit Environment(std::map<std::string, std::string> file_values = {},
                       Getenv getenv = nullptr);

  // Reads the env file to use: `explicit_path` when given, else $TIERWISE_ENV_FILE, else the
  // nearest .tierwise/local.env upward from the working directory, else none (only the process
  // environment then). An explicitly named file that cannot be read or parsed is an error.
  static absl::StatusOr<Environment> Load(const std::optional<std::string>& explicit_path,
                                          Getenv getenv = nullptr);

  std::optional<std::string> Get(const std::string& key) const;
  std::string GetOr(const std::string& key, absl::string_view fallback) const;

  // The env file that was read, empty when none.
  const std::string& file() const { return file_; }

 private:
  std::map<std::string, std::string> file_values_;
  Getenv getenv_;
  std::string file_;
};

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_ENV_H_
