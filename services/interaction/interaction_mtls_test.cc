// interaction → classification under mutual TLS, both services in-process against the real
// PostgreSQL and Redis of ./tests/run.sh: classification serves on a port that requires a client
// certificate signed by the test's CA (as the prod overlay runs it), interaction reaches it with
// its own client certificate (--classification_cert/--classification_key). Certificates are made
// by the openssl CLI in a scratch directory for each test and removed afterwards.
#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/ids/ids.h"
#include "common/server/server_runner.h"
#include "common/testing/service_harness.h"
#include "common/time/micros.h"
#include "gtest/gtest.h"
#include "services/classification/classification_server.h"
#include "services/interaction/interaction_server.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::interaction {
namespace {

namespace fs = std::filesystem;
using H = testing::ServiceHarness;

constexpr Micros kNow = 1795392000LL * 1000000;  // 2026-11-22
constexpr Micros kDay = 86400LL * 1000000;

redis::StreamEntry CustomerCreated(const std::string& customer_id) {
  events::v1::CustomerChanged e;
  e.set_event_id(ids::NewUuid());
  e.set_customer_id(customer_id);
  e.set_external_ref(absl::StrCat("ERP-", customer_id.substr(0, 8)));
  e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
  e.set_owner("rep.zhang");
  e.set_lifecycle_stage(2);
  e.set_version(1);
  time::SetTimestamp(kNow - 900 * kDay, e.mutable_create_time());
  return {"1-0",
          {{"type", "tierwise.events.v1.CustomerChanged"},
           {"event_id", e.event_id()},
           {"payload", e.SerializeAsString()}}};
}

class InteractionMtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / testing::UniqueName("tierwise_mtls");
    fs::create_directories(dir_);
    // The deployment's CA, classification's server certificate (localhost, 127.0.0.1),
    // interaction's client certificate, and a client certificate from a CA nobody trusts.
    const std::string script = absl::StrCat(
        "cd '", dir_.string(), "' && ",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tierwise-test-ca "
        "-keyout ca.key -out ca.pem && ",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=tierwise-classification "
        "-keyout server.key -out server.csr && ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.pem && ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=tierwise-interaction "
        "-keyout client.key -out client.csr && ",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out client.pem && ",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue-ca "
        "-keyout rogue-ca.key -out rogue-ca.pem && ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=tierwise-interaction "
        "-keyout rogue.key -out rogue.csr && ",
        "openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial "
        "-days 2 -out rogue.pem");
    ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << "openssl failed";

    classification_ = std::make_unique<classification::ClassificationServer>(
        classification_harness_.deps(), [] { return kNow; });
    ASSERT_TRUE(classification_->engine.Load().ok());
    classification_host_ = std::make_unique<server::ServiceHost>(
        server::ServerOptions{.listen = "127.0.0.1:0",
                              .tls_cert = File("server.pem"),
                              .tls_key = File("server.key"),
                              .tls_client_ca = File("ca.pem")});
    classification_host_->AddService(
        &classification_->classification_service,
        classification::v1::ClassificationService::service_full_name());
    ASSERT_TRUE(classification_host_->Start().ok());
    classification_addr_ = absl::StrCat("localhost:", classification_host_->port());

    // One customer both services know; classification evaluates it on the event.
    customer_ = ids::NewUuid();
    absl::Status s = classification_->engine.OnCustomerChanged(CustomerCreated(customer_));
    ASSERT_TRUE(s.ok()) << s;
  }

  void TearDown() override {
    if (interaction_ != nullptr) interaction_harness_.Stop();
    classification_host_->Shutdown();
    fs::remove_all(dir_);
  }

  std::string File(const std::string& name) const { return (dir_ / name).string(); }

  // Starts interaction with a directory over `channel` and tells it about the customer, with
  // `last_known` as the last TierChanged it saw (the fallback stamp).
  void StartInteraction(std::shared_ptr<grpc::Channel> channel, const std::string& last_known) {
    auto directory = std::make_shared<ClassificationDirectory>(
        std::move(channel),
        DirectoryOptions{.token = H::kViewer, .deadline = std::chrono::milliseconds(3000)});
    interaction_ = std::make_unique<InteractionServer>(interaction_harness_.deps(), directory,
                                                       [] { return kNow; });
    interaction_harness_.Start(
        {{&interaction_->service, v1::InteractionService::service_full_name()}});
    stub_ = v1::InteractionService::NewStub(interaction_harness_.channel());
    absl::Status s = interaction_->desk.OnCustomerChanged(CustomerCreated(customer_));
    ASSERT_TRUE(s.ok()) << s;
    events::v1::TierChanged tier;
    tier.set_event_id(ids::NewUuid());
    tier.set_customer_id(customer_);
    tier.set_tier(last_known);
    time::SetTimestamp(kNow - 30 * kDay, tier.mutable_changed_at());
    s = interaction_->desk.OnTierChanged(
        {"1-0",
         {{"type", "tierwise.events.v1.TierChanged"}, {"payload", tier.SerializeAsString()}}});
    ASSERT_TRUE(s.ok()) << s;
  }

  v1::Interaction LogOne() {
    v1::LogInteractionRequest request;
    v1::Interaction* in = request.mutable_interaction();
    in->set_customer_id(customer_);
    time::SetTimestamp(kNow - 3600LL * 1000000, in->mutable_occurred_at());
    in->set_channel(v1::CHANNEL_PHONE);
    in->set_summary("确认交付时间");
    in->set_satisfaction(4);
    v1::Interaction out;
    grpc::Status s = stub_->LogInteraction(H::Context(H::kRepZhang).get(), request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // The tier classification gives the customer, asked directly with interaction's certificate.
  std::string ClassificationTier() {
    auto channel = client::OpenChannel({.address = classification_addr_,
                                        .ca_file = File("ca.pem"),
                                        .cert_file = File("client.pem"),
                                        .key_file = File("client.key")});
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return "";
    auto stub = classification::v1::ClassificationService::NewStub(*channel);
    classification::v1::GetTierRequest request;
    request.set_customer_id(customer_);
    classification::v1::Tier tier;
    grpc::Status s = stub->GetTier(H::Context(H::kViewer).get(), request, &tier);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return tier.tier();
  }

  // A tier the fallback stamps, different from classification's answer.
  std::string OtherThan(const std::string& tier) { return tier == "B" ? "C" : "B"; }

  fs::path dir_;
  H classification_harness_{classification::Migrations(), "classification"};
  H interaction_harness_{Migrations(), "interaction"};
  std::unique_ptr<classification::ClassificationServer> classification_;
  std::unique_ptr<server::ServiceHost> classification_host_;
  std::string classification_addr_;
  std::string customer_;
  std::unique_ptr<InteractionServer> interaction_;
  std::unique_ptr<v1::InteractionService::Stub> stub_;
};

TEST_F(InteractionMtlsTest, ClientCertificateGetsTheTierFromClassification) {
  const std::string tier = ClassificationTier();
  ASSERT_FALSE(tier.empty());
  auto channel = client::OpenChannel({.address = classification_addr_,
                                      .ca_file = File("ca.pem"),
                                      .cert_file = File("client.pem"),
                                      .key_file = File("client.key")});
  ASSERT_TRUE(channel.ok()) << channel.status();
  StartInteraction(*channel, OtherThan(tier));
  const v1::Interaction logged = LogOne();
  EXPECT_EQ(logged.tier_source(), v1::TIER_SOURCE_CLASSIFICATION);
  EXPECT_EQ(logged.tier(), tier);
}

TEST_F(InteractionMtlsTest, WithoutClientCertificateTheCallFailsAndTheLastKnownTierIsStamped) {
  const std::string tier = ClassificationTier();
  ASSERT_FALSE(tier.empty());
  // TLS that trusts the CA, but no certificate of its own: classification refuses the handshake.
  auto channel = client::OpenChannel({.address = classification_addr_, .ca_file = File("ca.pem")});
  ASSERT_TRUE(channel.ok()) << channel.status();
  {
    auto stub = classification::v1::ClassificationService::NewStub(*channel);
    classification::v1::GetTierRequest request;
    request.set_customer_id(customer_);
    classification::v1::Tier answer;
    grpc::Status s = stub->GetTier(H::Context(H::kViewer).get(), request, &answer);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  StartInteraction(*channel, OtherThan(tier));
  const v1::Interaction logged = LogOne();
  EXPECT_EQ(logged.tier_source(), v1::TIER_SOURCE_LAST_KNOWN);
  EXPECT_EQ(logged.tier(), OtherThan(tier));
}

TEST_F(InteractionMtlsTest, CertificateFromAnotherCaIsRefused) {
  const std::string tier = ClassificationTier();
  ASSERT_FALSE(tier.empty());
  auto channel = client::OpenChannel({.address = classification_addr_,
                                      .ca_file = File("ca.pem"),
                                      .cert_file = File("rogue.pem"),
                                      .key_file = File("rogue.key")});
  ASSERT_TRUE(channel.ok()) << channel.status();
  StartInteraction(*channel, OtherThan(tier));
  const v1::Interaction logged = LogOne();
  EXPECT_EQ(logged.tier_source(), v1::TIER_SOURCE_LAST_KNOWN);
  EXPECT_EQ(logged.tier(), OtherThan(tier));
}

// The flags as the binary registers and parses them: a missing or unreadable file, or half a
// key pair, stops the build of the service with a message that names the flag.
TEST_F(InteractionMtlsTest, BadClientCertificateFlagsStopTheServiceAtStart) {
  std::ofstream(File("empty.pem")).close();
  struct Case {
    std::vector<std::string> args;
    absl::StatusCode code;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"--classification_cert=" + File("missing.pem"),
        "--classification_key=" + File("client.key")},
       absl::StatusCode::kNotFound,
       "--classification_cert (TIERWISE_CLASSIFICATION_CERT)"},
      {{"--classification_cert=" + File("client.pem"), "--classification_key=" + File("empty.pem")},
       absl::StatusCode::kNotFound,
       "--classification_key (TIERWISE_CLASSIFICATION_KEY)"},
      {{"--classification_cert=" + File("client.pem")},
       absl::StatusCode::kInvalidArgument,
       "--classification_key (TIERWISE_CLASSIFICATION_KEY)"},
  };
  for (const Case& c : cases) {
    server::ServiceDefinition definition = InteractionDefinition();
    config::ConfigParser parser;
    definition.register_flags(parser);
    std::vector<std::string> args = {"--classification_addr=" + classification_addr_,
                                     "--classification_ca_file=" + File("ca.pem"),
                                     "--classification_token=svc-token-0001"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ASSERT_TRUE(parser.Parse(args, [](const std::string&) { return std::nullopt; }).ok());
    absl::StatusOr<server::ServiceBundle> built = definition.build(interaction_harness_.deps());
    ASSERT_FALSE(built.ok()) << c.names;
    EXPECT_EQ(built.status().code(), c.code) << built.status();
    EXPECT_NE(built.status().message().find(c.names), std::string::npos) << built.status();
  }
}

// The binary itself, given the files by environment: it exits non-zero at start and says which
// flag's file is missing.
TEST_F(InteractionMtlsTest, BinaryWithAMissingCertificateExitsNamingTheFlag) {
  const char* build_dir = std::getenv("TIERWISE_BUILD_DIR");
  if (build_dir == nullptr) GTEST_SKIP() << "TIERWISE_BUILD_DIR is not set";
  const fs::path binary = fs::path(build_dir) / "services/interaction/tierwise-interaction";
  ASSERT_TRUE(fs::exists(binary)) << binary;
  const std::string command = absl::StrCat(
      "TIERWISE_CLASSIFICATION_TOKEN=svc-token-0001 TIERWISE_CLASSIFICATION_CA_FILE='",
      File("ca.pem"), "' TIERWISE_CLASSIFICATION_CERT='", File("missing.pem"),
      "' TIERWISE_CLASSIFICATION_KEY='", File("client.key"), "' timeout 60 '", binary.string(),
      "' --listen=127.0.0.1:0 --metrics_listen= --log_format=text --pg_uri='", testing::PgUri(),
      "' --pg_schema=", interaction_harness_.schema(), " --redis_addr=", testing::RedisAddr(),
      " --redis_prefix=", interaction_harness_.prefix(),
      " --tokens=svc.interaction:viewer:svc-token-0001 2>&1; echo \"exit=$?\"");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  pclose(pipe);
  EXPECT_NE(output.find("exit=1"), std::string::npos) << output;
  EXPECT_NE(output.find("--classification_cert (TIERWISE_CLASSIFICATION_CERT)"), std::string::npos)
      << output;
  EXPECT_NE(output.find("missing.pem"), std::string::npos) << output;
}

}  // namespace
}  // namespace tierwise::interaction
