// What reaches stderr: one line per event, control characters escaped in both formats.
#include "common/log/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tierwise::log {
namespace {

// Runs `write` with stderr sent to a file; returns what was written.
template <typename Fn>
std::string CaptureStderr(Fn write) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/log_test_", getpid(), ".txt");
  fflush(stderr);
  const int saved = dup(2);
  const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  EXPECT_GE(fd, 0);
  dup2(fd, 2);
  close(fd);
  write();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path.c_str());
  return text.str();
}

// A value an attacker controls: a forged second log line, a carriage return and an ANSI escape
// sequence (red text, clear screen), DEL, and a C1 control (U+009B, CSI) in UTF-8.
const std::string kHostile =
    "x\nforged level=error event=rpc\rover\x1b[31mred\x1b[2J\x7f\xc2\x9b end";

void ExpectNoControlCharacters(const std::string& output) {
  ASSERT_FALSE(output.empty());
  ASSERT_EQ(output.back(), '\n');
  const std::string line = output.substr(0, output.size() - 1);
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    EXPECT_FALSE(c < 0x20 || c == 0x7f) << "control byte " << int(c) << " at " << i << ": " << line;
    EXPECT_FALSE(c == 0xc2 && i + 1 < line.size() && static_cast<unsigned char>(line[i + 1]) < 0xa0)
        << "C1 control at " << i;
  }
}

TEST(LogTest, JsonEscapesControlCharacters) {
  Init("info", "json", "test");
  const std::string out = CaptureStderr([] {
    Info("rpc", {{"request_id", kHostile}, {"k\x1b", "v"}});
  });
  ExpectNoControlCharacters(out);
  EXPECT_TRUE(
      absl::StrContains(out,
                        "\"request_id\":\"x\\nforged level=error event=rpc\\rover\\u001b[31mred"
                        "\\u001b[2J\\u007f\\u009b end\""))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "\"k\\u001b\":\"v\"")) << out;
}

TEST(LogTest, TextEscapesControlCharacters) {
  Init("info", "text", "test");
  const std::string out = CaptureStderr([] {
    Info("rpc", {{"request_id", kHostile}, {"plain", "abc-1"}, {"k\n", "v"}});
  });
  Init("info", "json", "test");
  ExpectNoControlCharacters(out);
  EXPECT_TRUE(absl::StrContains(out,
                                "request_id=\"x\\nforged level=error event=rpc\\rover\\u001b[31mred"
                                "\\u001b[2J\\u007f\\u009b end\""))
      << out;
  EXPECT_TRUE(absl::StrContains(out, " plain=abc-1")) << out;
  EXPECT_TRUE(absl::StrContains(out, " \"k\\n\"=v")) << out;
}

TEST(LogTest, InvalidUtf8StaysValidJson) {
  EXPECT_EQ(JsonQuote("a\xff"
                      "b\xe4\xb8\xad"),
            "\"a\\ufffdb\xe4\xb8\xad\"");
  EXPECT_EQ(JsonQuote("\xe4\xb8"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonQuote("\"\\\t"), "\"\\\"\\\\\\t\"");
}

TEST(LogTest, EnabledFollowsTheLevel) {
  Init("warn", "text", "test");
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  EXPECT_TRUE(Enabled(Level::kError));
  Init("debug", "text", "test");
  EXPECT_TRUE(Enabled(Level::kDebug));
  const std::string out = CaptureStderr([] { Debug("rpc", {{"method", "Get"}}); });
  EXPECT_TRUE(absl::StrContains(out, "rpc method=Get")) << out;
  Init("info", "json", "test");
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_TRUE(Enabled(Level::kInfo));
}

}  // namespace
}  // namespace tierwise::log
