#ifndef TIERWISE_SERVICES_CLI_COMMANDS_H_
#define TIERWISE_SERVICES_CLI_COMMANDS_H_

#include "services/cli/command.h"

// One registration function per resource file (<resource>_commands.cc). A new resource adds a
// file and a line here and in BuildCommandTable().
namespace tierwise::cli {

void RegisterCustomerCommands(CommandTable& table);  // customer_commands.cc
void RegisterSystemCommands(CommandTable& table);    // system_commands.cc: health, services
void RegisterCreditCommands(CommandTable& table);    // credit_commands.cc
void RegisterImportCommands(CommandTable& table);    // import_commands.cc: import
void RegisterDemoCommands(CommandTable& table);      // demo_commands.cc
void RegisterTierCommands(CommandTable& table);      // tier_commands.cc

void RegisterInteractionCommands(CommandTable& table);  // interaction_commands.cc
// demo_interaction_commands.cc: demo interactions
void RegisterDemoInteractionCommands(CommandTable& table);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_COMMANDS_H_
