#ifndef TIERWISE_COMMON_PROCESS_PROCESS_GUARD_H_
#define TIERWISE_COMMON_PROCESS_PROCESS_GUARD_H_

#include "absl/strings/string_view.h"

// What every Tierwise binary does first thing in main(), before any thread starts:
//  - SIGPIPE is ignored. A write on a socket the peer closed (Redis restarted, a client went
//    away) then fails with EPIPE, which the caller handles, instead of ending the process
//    without a word.
//  - std::terminate (an exception nobody caught, in any thread) writes one structured line to
//    stderr naming the exception, then aborts.
//  - SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT write one line to stderr (async-signal-safe)
//    and then take their default action, so a crash leaves a core and a log line.
// `program` names the binary in those lines ("credit", "tierwise-cli"). Idempotent.
namespace tierwise::process {

void InstallGuards(absl::string_view program);

}  // namespace tierwise::process

#endif  // TIERWISE_COMMON_PROCESS_PROCESS_GUARD_H_
