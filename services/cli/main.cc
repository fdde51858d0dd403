// tierwise: the command-line client of the Tierwise services. See `tierwise help`.
#include <iostream>
#include <string>
#include <vector>

#include "common/process/process_guard.h"
#include "services/cli/command.h"

int main(int argc, char** argv) {
  tierwise::process::InstallGuards("tierwise-cli");
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = tierwise::cli::RunCli(args, std::cout, std::cerr);
  std::cout.flush();
  return code;
}
