#include "services/cli/command.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "services/cli/commands.h"

namespace tierwise::cli {
namespace {

constexpr char kGlobalOptionsHelp[] =
    "Global options (before or after the command):\n"
    "  --env FILE        env file of KEY=value lines (default: $TIERWISE_ENV_FILE, else\n"
    "                    .tierwise/local.env in the working directory or above); the process\n"
    "                    environment overrides it\n"
    "  --addr HOST:PORT  address of the command's service (default: TIERWISE_<SERVICE>_ADDR,\n"
    "                    else 127.0.0.1:50051 profile, 50052 interaction, 50053 credit,\n"
    "                    50054 classification); credit, tiers and interactions commands find\n"
    "                    the profile service, which resolves external refs, at\n"
    "                    TIERWISE_PROFILE_ADDR still (demo interactions: the profile and\n"
    "                    classification services)\n"
    "  --token TOKEN     bearer token; --token '' sends none\n"
    "  --role ROLE       use TIERWISE_<ROLE>_TOKEN (default admin; import and demo ledger:\n"
    "                    erp_adapter when TIERWISE_ERP_ADAPTER_TOKEN is set)\n"
    "  --ca FILE         CA certificate: use TLS\n"
    "  --cert FILE --key FILE  client certificate and key (mutual TLS)\n"
    "  --timeout SECONDS per-call deadline (default 10); import and demo ledger: the longest\n"
    "                    wait for the answer to a batch\n"
    "  -h, --help        this text, or a command's usage\n"
    "\n"
    "Output is JSON on stdout. A failed call prints {\"code\",\"message\",\"details\"} on\n"
    "stderr and exits 1; a usage error exits 2; import and demo ledger exit 3 when rows were\n"
    "rejected.\n";

// `text` broken into lines of at most `width` columns (at spaces), each line indented.
std::string Wrap(absl::string_view text, size_t width, absl::string_view indent) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, indent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, indent, line, "\n");
  return out;
}

}  // namespace

void CommandTable::Add(Command command) { commands_.push_back(std::move(command)); }

const Command* CommandTable::Find(const std::vector<std::string>& words, size_t* consumed) const {
  if (words.empty()) return nullptr;
  for (const Command& command : commands_) {
    if (command.resource != words[0]) continue;
    if (command.verb.empty()) {
      *consumed = 1;
      return &command;
    }
    // A verb may be several words ("complaint open").
    std::vector<absl::string_view> verb = absl::StrSplit(command.verb, ' ');
    if (words.size() < 1 + verb.size()) continue;
    if (std::equal(verb.begin(), verb.end(), words.begin() + 1)) {
      *consumed = 1 + verb.size();
      return &command;
    }
  }
  return nullptr;
}

std::vector<const Command*> CommandTable::ForResource(const std::string& resource) const {
  std::vector<const Command*> found;
  for (const Command& command : commands_) {
    if (command.resource == resource) found.push_back(&command);
  }
  return found;
}

CommandTable BuildCommandTable() {
  CommandTable table;
  RegisterCustomerCommands(table);
  RegisterSystemCommands(table);
  RegisterCreditCommands(table);
  RegisterTierCommands(table);
  RegisterInteractionCommands(table);
  RegisterImportCommands(table);
  RegisterDemoCommands(table);
  RegisterDemoInteractionCommands(table);
  return table;
}

std::string CommandUsage(const Command& command) {
  return absl::StrCat("usage: tierwise ", command.words(), command.synopsis.empty() ? "" : " ",
                      command.synopsis, "\n", Wrap(command.summary, 90, "  "));
}

std::string Usage(const CommandTable& table) {
  std::string text =
      "usage: tierwise [global options] <command> [options]\n"
      "\n"
      "Commands:\n";
  for (const Command& command : table.commands()) {
    absl::StrAppend(&text, "  ", command.words(), command.synopsis.empty() ? "" : " ",
                    command.synopsis, "\n", Wrap(command.summary, 86, "      "));
  }
  absl::StrAppend(&text, "  help [COMMAND]\n      Show this text or a command's usage.\n\n",
                  kGlobalOptionsHelp);
  return text;
}

int RunCli(const std::vector<std::string>& raw_args, std::ostream& out, std::ostream& err,
           Environment::Getenv getenv) {
  CommandTable table = BuildCommandTable();
  std::vector<std::string> args = raw_args;
  absl::StatusOr<GlobalOptions> options = ExtractGlobalOptions(&args);
  if (!options.ok()) {
    err << "tierwise: " << options.status().message() << "\n" << Usage(table);
    return kExitUsage;
  }

  bool help = options->help;
  if (!args.empty() && args[0] == "help") {
    help = true;
    args.erase(args.begin());
  }
  if (args.empty()) {
    if (help) {
      out << Usage(table);
      return kExitOk;
    }
    err << Usage(table);
    return kExitUsage;
  }

  size_t consumed = 0;
  const Command* command = table.Find(args, &consumed);
  if (command == nullptr) {
    std::vector<const Command*> of_resource = table.ForResource(args[0]);
    if (of_resource.empty()) {
      err << "tierwise: unknown command '" << args[0] << "'\n" << Usage(table);
      return kExitUsage;
    }
    std::ostream& stream = help && args.size() == 1 ? out : err;
    if (args.size() > 1)
      stream << "tierwise: unknown command '" << args[0] << " " << args[1] << "'\n";
    for (const Command* candidate : of_resource) stream << CommandUsage(*candidate);
    return help && args.size() == 1 ? kExitOk : kExitUsage;
  }
  if (help) {
    out << CommandUsage(*command);
    return kExitOk;
  }

  absl::StatusOr<ParsedArgs> parsed = ParseArgs(
      std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(consumed), args.end()),
      command->options);
  if (!parsed.ok()) {
    err << "tierwise: " << parsed.status().message() << "\n" << CommandUsage(*command);
    return kExitUsage;
  }
  absl::StatusOr<Environment> env = Environment::Load(options->env_file, std::move(getenv));
  if (!env.ok()) {
    err << "tierwise: " << env.status().message() << "\n";
    return kExitUsage;
  }
  const std::string zone_name = env->GetOr("TIERWISE_BUSINESS_TIME_ZONE", "UTC");
  absl::TimeZone business_zone;
  if (!absl::LoadTimeZone(zone_name, &business_zone)) {
    err << "tierwise: TIERWISE_BUSINESS_TIME_ZONE: unknown IANA time zone '" << zone_name
        << "' (e.g. Asia/Shanghai)\n";
    return kExitUsage;
  }
  CliContext ctx(*std::move(options), *std::move(env), out, err);
  ctx.set_business_zone(business_zone);
  ctx.set_command_usage(CommandUsage(*command));
  return command->run(ctx, *parsed);
}

}  // namespace tierwise::cli
