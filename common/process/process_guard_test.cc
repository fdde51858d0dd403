#include "common/process/process_guard.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace tierwise::process {
namespace {

struct ChildResult {
  int status = 0;
  std::string err;  // what the child wrote to stderr
};

// Runs `body` in a forked child with stderr captured; the child exits with body's value.
template <typename Body>
ChildResult RunChild(Body body) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::_exit(body());
  }
  ::close(pipe_fds[1]);
  ChildResult result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0;)
    result.err.append(buffer, n);
  ::close(pipe_fds[0]);
  ::waitpid(pid, &result.status, 0);
  return result;
}

// Writes to a pipe whose reader is gone: what a Redis socket closed by a restart looks like.
int WriteToClosedPipe() {
  int fds[2];
  if (::pipe(fds) != 0) return 10;
  ::close(fds[0]);
  const ssize_t n = ::write(fds[1], "x", 1);
  return n < 0 && errno == EPIPE ? 0 : 11;
}

TEST(ProcessGuardTest, WithoutGuardsAWriteOnAClosedSocketKillsSilently) {
  ChildResult r = RunChild([] { return WriteToClosedPipe(); });
  ASSERT_TRUE(WIFSIGNALED(r.status));
  EXPECT_EQ(WTERMSIG(r.status), SIGPIPE);
  EXPECT_EQ(r.err, "") << "the failure this guard exists for";
}

TEST(ProcessGuardTest, WithGuardsTheWriteFailsWithEpipeAndTheProcessLives) {
  ChildResult r = RunChild([] {
    InstallGuards("test");
    return WriteToClosedPipe();
  });
  ASSERT_TRUE(WIFEXITED(r.status)) << r.err;
  EXPECT_EQ(WEXITSTATUS(r.status), 0);
}

TEST(ProcessGuardTest, UncaughtExceptionLeavesALineNamingIt) {
  ChildResult r = RunChild([] {
    InstallGuards("svc-under-test");
    std::thread([] { throw std::runtime_error("pool exploded"); }).join();
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(r.status));
  EXPECT_EQ(WTERMSIG(r.status), SIGABRT);
  EXPECT_NE(r.err.find("process.terminate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pool exploded"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("svc-under-test"), std::string::npos) << r.err;
}

TEST(ProcessGuardTest, CrashLeavesALineAndKeepsTheSignal) {
  ChildResult r = RunChild([] {
    InstallGuards("svc-under-test");
    std::raise(SIGSEGV);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(r.status));
  EXPECT_EQ(WTERMSIG(r.status), SIGSEGV) << "default action after the line";
  EXPECT_NE(r.err.find("process.fatal_signal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SIGSEGV"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tierwise::process
