// The server runner over real sockets: TLS and mutual TLS with certificates made by openssl,
// and the health status following the readiness probe.
#include "common/server/server_runner.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace tierwise::server {
namespace {

namespace fs = std::filesystem;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("tierwise-tls-", getpid(), "-", rand());
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    // A CA, a server certificate for localhost/127.0.0.1 and a client certificate.
    const std::string script = absl::StrCat(
        "cd '", d, "' && ",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tierwise-test-ca "
        "-keyout ca.key -out ca.pem && ",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out "
        "server.csr && ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.pem && ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key -out client.csr "
        "&& ",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out client.pem");
    ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << "openssl failed";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string File(const std::string& name) { return (dir_ / name).string(); }

  HealthCheckResponse::ServingStatus Check(const client::ChannelOptions& options,
                                           grpc::Status* status) {
    auto stub = grpc::health::v1::Health::NewStub(client::MakeChannel(options));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    HealthCheckResponse response;
    *status = stub->Check(&ctx, HealthCheckRequest(), &response);
    return response.status();
  }

  fs::path dir_;
};

TEST_F(TlsTest, TlsServesClientsThatTrustTheCa) {
  ServiceHost host(
      {.listen = "127.0.0.1:0", .tls_cert = File("server.pem"), .tls_key = File("server.key")});
  ASSERT_TRUE(host.Start().ok());
  const std::string addr = absl::StrCat("localhost:", host.port());
  grpc::Status status;
  EXPECT_EQ(Check({.address = addr, .ca_file = File("ca.pem")}, &status),
            HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // A plaintext client gets nowhere.
  Check({.address = addr}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  host.Shutdown();
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificate) {
  ServiceHost host({.listen = "127.0.0.1:0",
                    .tls_cert = File("server.pem"),
                    .tls_key = File("server.key"),
                    .tls_client_ca = File("ca.pem")});
  ASSERT_TRUE(host.Start().ok());
  const std::string addr = absl::StrCat("localhost:", host.port());
  grpc::Status status;
  Check({.address = addr, .ca_file = File("ca.pem")}, &status);
  EXPECT_FALSE(status.ok()) << "no client certificate";
  EXPECT_EQ(Check({.address = addr,
                   .ca_file = File("ca.pem"),
                   .cert_file = File("client.pem"),
                   .key_file = File("client.key")},
                  &status),
            HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
  host.Shutdown();
}

TEST_F(TlsTest, MissingCertificateFileFailsToStart) {
  ServiceHost host(
      {.listen = "127.0.0.1:0", .tls_cert = File("nope.pem"), .tls_key = File("server.key")});
  EXPECT_EQ(host.Start().code(), absl::StatusCode::kNotFound);
}

TEST(ServiceHostTest, HealthFollowsTheReadinessProbe) {
  std::atomic<bool> ready{false};
  ServiceHost host({.listen = "127.0.0.1:0", .health_interval = std::chrono::milliseconds(50)});
  host.SetReadinessProbe([&] { return ready ? absl::OkStatus() : absl::UnavailableError("db"); });
  ASSERT_TRUE(host.Start().ok());
  auto stub = grpc::health::v1::Health::NewStub(
      client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host.port())}));
  auto status = [&] {
    grpc::ClientContext ctx;
    HealthCheckResponse r;
    EXPECT_TRUE(stub->Check(&ctx, HealthCheckRequest(), &r).ok());
    return r.status();
  };
  EXPECT_EQ(status(), HealthCheckResponse::NOT_SERVING);
  ready = true;
  for (int i = 0; i < 100 && status() != HealthCheckResponse::SERVING; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status(), HealthCheckResponse::SERVING);
  host.Shutdown();
  host.Shutdown();  // idempotent
}

}  // namespace
}  // namespace tierwise::server
