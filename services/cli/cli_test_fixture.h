#ifndef TIERWISE_SERVICES_CLI_CLI_TEST_FIXTURE_H_
#define TIERWISE_SERVICES_CLI_CLI_TEST_FIXTURE_H_

// What the CLI tests that run whole commands against in-process fake services share: starting a
// fake on a free loopback port, an env file naming the fakes, running the CLI with it, and
// reading its JSON output back. For tests only.
//
//   class FooCliTest : public CliFixture {
//    protected:
//     void SetUp() override {
//       server_ = StartFakeServer({&fake_}, &address_);
//       WriteEnvFile("foo", {{"TIERWISE_FOO_ADDR", address_}});
//     }
//   };
//   TEST_F(FooCliTest, Get) { ASSERT_EQ(Run({"foo", "get", "x"}), kExitOk) << err_; }

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/cli/command.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {

// Starts `services` on 127.0.0.1 at a free port; `*address` is where. nullptr on failure.
inline std::unique_ptr<grpc::Server> StartFakeServer(std::vector<grpc::Service*> services,
                                                     std::string* address) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  *address = absl::StrCat("127.0.0.1:", port);
  return server;
}

// The authorization header a fake received, "<none>" without one.
inline std::string Authorization(const grpc::ServerContext* context) {
  auto it = context->client_metadata().find("authorization");
  return it == context->client_metadata().end() ? "<none>"
                                                : std::string(it->second.data(), it->second.size());
}

// The CLI's JSON output as a message; a parse failure fails the test.
template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok()) << json;
  return message;
}

// The profile service as far as the CLI's external-ref resolution needs it: knows one customer,
// NOT_FOUND "no such customer" for any other ref. Derive to fake more of the service.
class FakeRefResolver : public tierwise::profile::v1::CustomerProfileService::Service {
 public:
  FakeRefResolver(std::string external_ref, std::string id)
      : external_ref_(std::move(external_ref)), id_(std::move(id)) {}

  grpc::Status GetCustomerByExternalRef(
      grpc::ServerContext*, const tierwise::profile::v1::GetCustomerByExternalRefRequest* request,
      tierwise::profile::v1::Customer* response) override {
    if (request->external_ref() != external_ref_) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such customer");
    }
    response->set_id(id_);
    response->set_external_ref(external_ref_);
    return grpc::Status::OK;
  }

 private:
  const std::string external_ref_;
  const std::string id_;
};

// A test's own directory with an env file, and Run() for the CLI.
class CliFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Creates the test's directory and its env file: `values` plus
  // TIERWISE_ADMIN_TOKEN=admin-token and TIERWISE_VIEWER_TOKEN=viewer-token (unless `values`
  // names them). `name` keeps the directories of different suites apart.
  void WriteEnvFile(const std::string& name, std::map<std::string, std::string> values) {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("tierwise-", name, "-cli-test-", ::getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    env_file_ = dir_ / "test.env";
    values.emplace("TIERWISE_ADMIN_TOKEN", "admin-token");
    values.emplace("TIERWISE_VIEWER_TOKEN", "viewer-token");
    std::ofstream file(env_file_);
    for (const auto& [key, value] : values) file << key << "=" << value << "\n";
  }

  // Runs `tierwise args...` with TIERWISE_ENV_FILE naming the env file, plus `process_env`;
  // returns the exit code and keeps stdout and stderr in out_ and err_.
  int Run(std::vector<std::string> args, std::map<std::string, std::string> process_env = {}) {
    process_env.emplace("TIERWISE_ENV_FILE", env_file_.string());
    std::ostringstream out;
    std::ostringstream err;
    int code =
        RunCli(args, out, err, [process_env](const std::string& key) -> std::optional<std::string> {
          auto it = process_env.find(key);
          if (it == process_env.end()) return std::nullopt;
          return it->second;
        });
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  std::vector<std::string> OutLines() const {
    return absl::StrSplit(out_, '\n', absl::SkipEmpty());
  }

  std::filesystem::path dir_;
  std::filesystem::path env_file_;
  std::string out_;
  std::string err_;
};

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_CLI_TEST_FIXTURE_H_
