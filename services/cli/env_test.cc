#include "services/cli/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/cli/cli_context.h"

namespace tierwise::cli {
namespace {

Environment::Getenv FakeEnv(std::map<std::string, std::string> values) {
  return [values](const std::string& key) -> std::optional<std::string> {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ParseEnvFileTest, ParsesTheUsualShapes) {
  absl::StatusOr<std::map<std::string, std::string>> values = ParseEnvFile(
      "# written by deploy/local\n"
      "\n"
      "TIERWISE_PROFILE_ADDR=127.0.0.1:6001\n"
      "export TIERWISE_ADMIN_TOKEN = abc123  # trailing comment\n"
      "TIERWISE_VIEWER_TOKEN=\"with # hash and spaces\"\n"
      "EMPTY=\n"
      "QUOTED='x=y'\r\n");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->at("TIERWISE_PROFILE_ADDR"), "127.0.0.1:6001");
  EXPECT_EQ(values->at("TIERWISE_ADMIN_TOKEN"), "abc123");
  EXPECT_EQ(values->at("TIERWISE_VIEWER_TOKEN"), "with # hash and spaces");
  EXPECT_EQ(values->at("EMPTY"), "");
  EXPECT_EQ(values->at("QUOTED"), "x=y");
  EXPECT_EQ(values->size(), 5u);
}

TEST(ParseEnvFileTest, RejectsGarbageWithLineNumber) {
  absl::StatusOr<std::map<std::string, std::string>> values = ParseEnvFile("A=1\nnot a pair\n");
  ASSERT_FALSE(values.ok());
  EXPECT_NE(values.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(ParseEnvFile("1A=x\n").ok());
  EXPECT_FALSE(ParseEnvFile("A=\"open\n").ok());
}

TEST(EnvironmentTest, ProcessEnvironmentBeatsTheFile) {
  Environment env({{"A", "file"}, {"B", "file"}}, FakeEnv({{"A", "process"}}));
  EXPECT_EQ(env.Get("A"), "process");
  EXPECT_EQ(env.Get("B"), "file");
  EXPECT_FALSE(env.Get("C").has_value());
  EXPECT_EQ(env.GetOr("C", "fallback"), "fallback");
}

class EnvFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("tierwise-env-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_ / ".tierwise");
    std::filesystem::create_directories(root_ / "a" / "b");
    std::ofstream(root_ / ".tierwise" / "local.env") << "TIERWISE_ADMIN_TOKEN=from-found\n";
    std::ofstream(root_ / "explicit.env") << "TIERWISE_ADMIN_TOKEN=from-explicit\n";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::filesystem::path root_;
};

TEST_F(EnvFileTest, FindsTheNearestLocalEnvUpward) {
  std::optional<std::filesystem::path> found = FindEnvFile(root_ / "a" / "b");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, root_ / ".tierwise" / "local.env");
}

TEST_F(EnvFileTest, ExplicitThenVariableThenSearch) {
  absl::StatusOr<Environment> env =
      Environment::Load((root_ / "explicit.env").string(), FakeEnv({}));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->Get("TIERWISE_ADMIN_TOKEN"), "from-explicit");

  env = Environment::Load(std::nullopt,
                          FakeEnv({{"TIERWISE_ENV_FILE", (root_ / "explicit.env").string()}}));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->Get("TIERWISE_ADMIN_TOKEN"), "from-explicit");
  EXPECT_EQ(env->file(), (root_ / "explicit.env").string());

  std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(root_ / "a");
  env = Environment::Load(std::nullopt, FakeEnv({}));
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->Get("TIERWISE_ADMIN_TOKEN"), "from-found");
}

TEST_F(EnvFileTest, AMissingExplicitFileIsAnError) {
  EXPECT_FALSE(Environment::Load((root_ / "nope.env").string(), FakeEnv({})).ok());
}

TEST(CliContextTest, ResolvesTokenAndAddresses) {
  std::ostringstream out;
  std::ostringstream err;
  Environment env({{"TIERWISE_ADMIN_TOKEN", "adm"},
                   {"TIERWISE_SALES_REP_TOKEN", "rep"},
                   {"TIERWISE_CREDIT_ADDR", "10.0.0.1:7"}},
                  FakeEnv({}));
  GlobalOptions options;
  CliContext admin(options, env, out, err);
  EXPECT_EQ(admin.token(), "adm");
  EXPECT_EQ(admin.Address(Service::kProfile), "127.0.0.1:50051");
  EXPECT_EQ(admin.Address(Service::kInteraction), "127.0.0.1:50052");
  EXPECT_EQ(admin.Address(Service::kCredit), "10.0.0.1:7");
  EXPECT_EQ(admin.Address(Service::kClassification), "127.0.0.1:50054");

  options.role = "sales-rep";
  EXPECT_EQ(CliContext(options, env, out, err).token(), "rep");
  options.role = "viewer";  // no token configured: send none
  EXPECT_EQ(CliContext(options, env, out, err).token(), "");
  options.token = "explicit";
  options.addr = "h:9";
  CliContext explicit_ctx(options, env, out, err);
  EXPECT_EQ(explicit_ctx.token(), "explicit");
  EXPECT_EQ(explicit_ctx.Address(Service::kCredit), "h:9");
}

}  // namespace
}  // namespace tierwise::cli
