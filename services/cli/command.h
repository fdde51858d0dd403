#ifndef TIERWISE_SERVICES_CLI_COMMAND_H_
#define TIERWISE_SERVICES_CLI_COMMAND_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "services/cli/args.h"
#include "services/cli/cli_context.h"
#include "services/cli/env.h"

namespace tierwise::cli {

// One CLI command: `tierwise <resource> [<verb>] ...`. Handlers return an exit code (kExitOk,
// kExitFailed after printing the error, or ctx.UsageError(...)).
struct Command {
  std::string resource;  // first word, e.g. "customer" or "health"
  std::string verb;      // second word, e.g. "create"; empty for one-word commands; may be
                         // several words ("complaint open")
  std::string synopsis;  // what follows the words, for usage, e.g. "ID [--full]"
  std::string summary;   // one line
  std::vector<OptionSpec> options;
  std::function<int(CliContext& ctx, const ParsedArgs& args)> run;

  std::string words() const { return verb.empty() ? resource : resource + " " + verb; }
};

class CommandTable {
 public:
  void Add(Command command);

  // The command named by the leading words of `words` (the resource and the verb's words), or
  // nullptr. `*consumed` says how many words named it.
  const Command* Find(const std::vector<std::string>& words, size_t* consumed) const;
  // Every command of a resource, in registration order.
  std::vector<const Command*> ForResource(const std::string& resource) const;
  const std::vector<Command>& commands() const { return commands_; }

 private:
  std::vector<Command> commands_;
};

// Every command of the CLI. Each resource file registers its commands; see commands.h.
CommandTable BuildCommandTable();

// The full usage text, and the usage of one command.
std::string Usage(const CommandTable& table);
std::string CommandUsage(const Command& command);

// Runs the CLI on `args` (argv without the program name) and returns the process exit code:
// kExitOk, kExitFailed (a call failed), kExitUsage (bad command line or configuration).
// `getenv` replaces the process environment (tests); nullptr uses the real one.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           Environment::Getenv getenv = nullptr);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_COMMAND_H_
