#ifndef TIERWISE_SERVICES_CLI_ARGS_H_
#define TIERWISE_SERVICES_CLI_ARGS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tierwise::cli {

// One option a command accepts: `--name VALUE` / `--name=VALUE` when it takes a value, a bare
// `--name` flag otherwise. A repeated option may be given several times (`--tag a --tag b`).
struct OptionSpec {
  std::string name;  // without the leading dashes
  bool takes_value = true;
  bool repeated = false;
};

// The positional arguments and options of one command, in command-line order.
class ParsedArgs {
 public:
  bool Has(absl::string_view name) const;
  // The value of a single-valued option, or nullopt when it was not given.
  std::optional<std::string> Get(absl::string_view name) const;
  // Every value of a repeated option, in order.
  std::vector<std::string> GetAll(absl::string_view name) const;
  // An integer option: `fallback` when absent, InvalidArgument when not an integer.
  absl::StatusOr<int> GetInt(absl::string_view name, int fallback) const;

  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                              const std::vector<OptionSpec>& specs);
  std::vector<std::string> positional_;
  std::vector<std::pair<std::string, std::string>> options_;  // name -> value ("" for flags)
};

// Parses a command's arguments against its option specs. Everything after a bare `--` is
// positional. Errors (InvalidArgument, message fit for a usage error): an unknown option, a
// missing value, a value given to a flag, a single-valued option given twice.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& specs);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_ARGS_H_
