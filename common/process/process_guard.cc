#include "common/process/process_guard.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <typeinfo>

#include "common/log/log.h"

namespace tierwise::process {
namespace {

// Set once by InstallGuards, before any thread; read by the handlers.
char g_program[64] = "tierwise";

void WriteAll(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDERR_FILENO, data, size);
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void WriteString(const char* s) { WriteAll(s, std::strlen(s)); }

const char* SignalName(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
  }
  return "signal";
}

// Only async-signal-safe calls here: write(2), signal(2), raise(3).
void OnFatalSignal(int signal) {
  WriteString("{\"level\":\"critical\",\"event\":\"process.fatal_signal\",\"service\":\"");
  WriteString(g_program);
  WriteString("\",\"signal\":\"");
  WriteString(SignalName(signal));
  WriteString("\"}\n");
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void OnTerminate() {
  std::string what = "no active exception";
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = std::string(typeid(e).name()) + ": " + e.what();
    } catch (...) {
      what = "exception of unknown type";
    }
  }
  // Through the logger first (its format and sink), then raw, in case the logger is the cause.
  log::Error("process.terminate", {{"service", g_program}, {"reason", what}});
  WriteString("{\"level\":\"critical\",\"event\":\"process.terminate\",\"service\":\"");
  WriteString(g_program);
  WriteString("\",\"reason\":");
  WriteString(log::JsonQuote(what).c_str());
  WriteString("}\n");
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

}  // namespace

void InstallGuards(absl::string_view program) {
  const size_t n = std::min(program.size(), sizeof(g_program) - 1);
  std::memcpy(g_program, program.data(), n);
  g_program[n] = '\0';
  std::signal(SIGPIPE, SIG_IGN);
  std::set_terminate(OnTerminate);
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = OnFatalSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(signal, &action, nullptr);
}

}  // namespace tierwise::process
