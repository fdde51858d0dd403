// The server runner over real sockets: TLS and mutual TLS with certificates made by openssl,
// the health status following the readiness probe (liveness apart), the token check before any
// handler, the stream limit and the idle deadline of streaming calls.
#include "common/server/server_runner.h"

#include <grpcpp/test/server_context_test_spouse.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/server/rpc.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

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

// A service whose handler counts the calls that reach it.
class CountingProfile final : public profile::v1::CustomerProfileService::Service {
 public:
  grpc::Status GetCustomer(grpc::ServerContext*, const profile::v1::GetCustomerRequest* request,
                           profile::v1::Customer*) override {
    ++calls;
    last_id_size = request->id().size();
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such customer");
  }
  std::atomic<int> calls{0};
  std::atomic<size_t> last_id_size{0};
};

TEST(ServiceHostTest, LivenessIgnoresTheReadinessProbe) {
  std::atomic<bool> ready{true};
  CountingProfile profile;
  ServiceHost host({.listen = "127.0.0.1:0", .health_interval = std::chrono::milliseconds(50)});
  host.AddService(&profile, "tierwise.test.v1.Thing");
  host.SetReadinessProbe([&] { return ready ? absl::OkStatus() : absl::UnavailableError("db"); });
  ASSERT_TRUE(host.Start().ok());
  auto stub = grpc::health::v1::Health::NewStub(
      client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host.port())}));
  auto status = [&](const std::string& service) {
    grpc::ClientContext ctx;
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse r;
    grpc::Status s = stub->Check(&ctx, request, &r);
    EXPECT_TRUE(s.ok()) << service << ": " << s.error_message();
    return r.status();
  };
  EXPECT_EQ(status(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(status(kLivenessService), HealthCheckResponse::SERVING);
  ready = false;  // the database goes away
  for (int i = 0; i < 100 && status("") != HealthCheckResponse::NOT_SERVING; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(status("tierwise.test.v1.Thing"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(status(kLivenessService), HealthCheckResponse::SERVING);
  ready = true;
  for (int i = 0; i < 100 && status("") != HealthCheckResponse::SERVING; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(status(kLivenessService), HealthCheckResponse::SERVING);
  host.Shutdown();
}

std::shared_ptr<const auth::TokenStore> TestTokens() {
  auto tokens = auth::TokenStore::FromText(
      absl::StrCat("viewer viewer ", auth::HashToken("viewer-token-0001"), "\n"), "");
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  return *tokens;
}

TEST(ServiceHostTest, UnauthenticatedCallsStopBeforeTheHandler) {
  CountingProfile profile;
  ServiceHost host({.listen = "127.0.0.1:0", .tokens = TestTokens()});
  host.AddService(&profile, profile::v1::CustomerProfileService::service_full_name());
  ASSERT_TRUE(host.Start().ok());
  const std::string addr = absl::StrCat("127.0.0.1:", host.port());
  auto stub = profile::v1::CustomerProfileService::NewStub(client::MakeChannel({.address = addr}));
  auto call = [&](const std::string& token, size_t id_size) {
    grpc::ClientContext ctx;
    if (!token.empty()) client::Authorize(ctx, token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    profile::v1::GetCustomerRequest request;
    request.set_id(std::string(id_size, 'x'));
    profile::v1::Customer customer;
    return stub->GetCustomer(&ctx, request, &customer);
  };

  // A 7 MB body without a token, or with an unknown one: UNAUTHENTICATED, the handler never
  // runs (and so the body is never parsed into a request).
  const auto start = std::chrono::steady_clock::now();
  grpc::Status missing = call("", 7 << 20);
  grpc::Status unknown = call("not-a-known-token", 7 << 20);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED) << missing.error_message();
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED) << unknown.error_message();
  EXPECT_EQ(profile.calls.load(), 0);
  EXPECT_LT(elapsed, std::chrono::seconds(10));

  // A known token reaches the handler, which sees the whole request.
  grpc::Status known = call("viewer-token-0001", 1 << 20);
  EXPECT_EQ(known.error_code(), grpc::StatusCode::NOT_FOUND) << known.error_message();
  EXPECT_EQ(profile.calls.load(), 1);
  EXPECT_EQ(profile.last_id_size.load(), size_t{1} << 20);

  // Probes and tooling need no token.
  auto health = grpc::health::v1::Health::NewStub(client::MakeChannel({.address = addr}));
  grpc::ClientContext ctx;
  HealthCheckRequest request;
  request.set_service(kLivenessService);
  HealthCheckResponse response;
  grpc::Status checked = health->Check(&ctx, request, &response);
  EXPECT_TRUE(checked.ok()) << checked.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  host.Shutdown();
}

// A service whose handler runs in the standard frame (auth, request id, logging).
class FramedProfile final : public profile::v1::CustomerProfileService::Service {
 public:
  explicit FramedProfile(std::shared_ptr<const auth::TokenStore> tokens)
      : authorizer_(std::move(tokens), {{"GetCustomer", auth::Roles::All()}}) {}
  grpc::Status GetCustomer(grpc::ServerContext* context, const profile::v1::GetCustomerRequest*,
                           profile::v1::Customer*) override {
    return RunRpc(authorizer_, context, "GetCustomer", [&](const auth::CallContext& call) {
      last_request_id = call.request_id;
      return absl::NotFoundError("no such customer");
    });
  }
  std::string last_request_id;

 private:
  auth::Authorizer authorizer_;
};

TEST(ServiceHostTest, RequestIdsOutsideTheAllowedSetAreRejected) {
  FramedProfile profile(TestTokens());
  ServiceHost host({.listen = "127.0.0.1:0", .tokens = TestTokens()});
  host.AddService(&profile, profile::v1::CustomerProfileService::service_full_name());
  ASSERT_TRUE(host.Start().ok());
  auto stub = profile::v1::CustomerProfileService::NewStub(
      client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host.port())}));
  auto call = [&](const std::string& request_id) {
    grpc::ClientContext ctx;
    client::Authorize(ctx, "viewer-token-0001", request_id);
    profile::v1::GetCustomerRequest request;
    profile::v1::Customer customer;
    return stub->GetCustomer(&ctx, request, &customer);
  };
  grpc::Status ok = call("req-1.a_B");
  EXPECT_EQ(ok.error_code(), grpc::StatusCode::NOT_FOUND) << ok.error_message();
  EXPECT_EQ(profile.last_request_id, "req-1.a_B");
  // What a client can put in a header value but a log line or a peer should not get.
  for (const std::string& bad : {std::string("two words"), std::string("a;b=c"),
                                 std::string(129, 'x'), std::string("quote\"d")}) {
    profile.last_request_id.clear();
    grpc::Status s = call(bad);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("x-request-id"), std::string::npos) << s.error_message();
    EXPECT_EQ(profile.last_request_id, "") << "the handler body ran for " << bad;
  }
  host.Shutdown();
}

TEST(ServiceHostTest, EarlyTokenCheckWorksUnderTls) {
  const auto dir = fs::temp_directory_path() / absl::StrCat("tierwise-tls-auth-", getpid());
  fs::create_directories(dir);
  const std::string d = dir.string();
  ASSERT_EQ(std::system(absl::StrCat("(cd '", d,
                                     "' && printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
                                     "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
                                     "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
                                     "-keyout server.key -out server.pem) >/dev/null 2>&1")
                            .c_str()),
            0);
  CountingProfile profile;
  ServiceHost host({.listen = "127.0.0.1:0",
                    .tls_cert = d + "/server.pem",
                    .tls_key = d + "/server.key",
                    .tokens = TestTokens()});
  host.AddService(&profile, profile::v1::CustomerProfileService::service_full_name());
  ASSERT_TRUE(host.Start().ok());
  auto stub = profile::v1::CustomerProfileService::NewStub(client::MakeChannel(
      {.address = absl::StrCat("localhost:", host.port()), .ca_file = d + "/server.pem"}));
  for (const std::string token : {"", "viewer-token-0001"}) {
    grpc::ClientContext ctx;
    if (!token.empty()) client::Authorize(ctx, token);
    profile::v1::GetCustomerRequest request;
    profile::v1::Customer customer;
    grpc::Status s = stub->GetCustomer(&ctx, request, &customer);
    EXPECT_EQ(s.error_code(),
              token.empty() ? grpc::StatusCode::UNAUTHENTICATED : grpc::StatusCode::NOT_FOUND)
        << s.error_message();
  }
  EXPECT_EQ(profile.calls.load(), 1);
  host.Shutdown();
  fs::remove_all(dir);
}

TEST(ServiceHostTest, ConcurrentStreamsPerConnectionAreCapped) {
  ServiceHost host({.listen = "127.0.0.1:0", .max_concurrent_streams = 1});
  ASSERT_TRUE(host.Start().ok());
  auto stub = grpc::health::v1::Health::NewStub(
      client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host.port())}));
  // One open Watch takes the connection's only stream ...
  grpc::ClientContext watch_ctx;
  auto watch = stub->Watch(&watch_ctx, HealthCheckRequest());
  HealthCheckResponse first;
  ASSERT_TRUE(watch->Read(&first));
  // ... so a second call on the same connection waits for it and runs out of time.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    HealthCheckResponse r;
    EXPECT_EQ(stub->Check(&ctx, HealthCheckRequest(), &r).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  watch_ctx.TryCancel();
  watch->Finish();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse r;
  grpc::Status s = stub->Check(&ctx, HealthCheckRequest(), &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  host.Shutdown();
}

// An ingest stream with the idle deadline, as credit's IngestEvents has it.
class IdleIngest final : public credit::v1::LedgerIngestService::Service {
 public:
  grpc::Status IngestEvents(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<credit::v1::IngestEventsResponse, credit::v1::IngestEventsRequest>*
          stream) override {
    StreamIdleDeadline idle(context, std::chrono::milliseconds(300), "no message for 0.3 s");
    credit::v1::IngestEventsRequest request;
    while (idle.Read(stream, &request)) {
      // Time spent on a message does not count against the deadline.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      stream->Write(credit::v1::IngestEventsResponse());
    }
    ended_by_deadline = idle.expired();
    if (idle.expired()) return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, idle.message());
    return grpc::Status::OK;
  }
  std::atomic<bool> ended_by_deadline{false};
};

TEST(ServiceHostTest, IdleStreamsEndWithDeadlineExceeded) {
  IdleIngest ingest;
  ServiceHost host({.listen = "127.0.0.1:0"});
  host.AddService(&ingest, credit::v1::LedgerIngestService::service_full_name());
  ASSERT_TRUE(host.Start().ok());
  auto stub = credit::v1::LedgerIngestService::NewStub(
      client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host.port())}));

  // A client that keeps sending (every 0.1 s, each answered after 0.5 s) is not cut off; one
  // that finishes gets OK.
  {
    grpc::ClientContext ctx;
    auto stream = stub->IngestEvents(&ctx);
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(stream->Write(credit::v1::IngestEventsRequest()));
      credit::v1::IngestEventsResponse response;
      ASSERT_TRUE(stream->Read(&response)) << "message " << i;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(ingest.ended_by_deadline.load());
  }
  // A client that goes silent gets DEADLINE_EXCEEDED with the server's reason.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto stream = stub->IngestEvents(&ctx);
    ASSERT_TRUE(stream->Write(credit::v1::IngestEventsRequest()));
    credit::v1::IngestEventsResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_FALSE(stream->Read(&response));  // ends without another message from us
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
    EXPECT_EQ(s.error_message(), "no message for 0.3 s");
    // The status is on the wire before the handler's Read returns: wait for the handler.
    for (int i = 0; i < 200 && !ingest.ended_by_deadline.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(ingest.ended_by_deadline.load());
  }
  host.Shutdown();
}

// One call site of the frame serving several methods (as a shared helper would): each call is
// counted under its own method and code, whatever the site served before.
grpc::Status CallFramed(const auth::Authorizer& authorizer, absl::string_view method,
                        const absl::Status& result) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  spouse.AddClientMetadata("authorization", "Bearer viewer-token-0001");
  return RunRpc(authorizer, &context, method, [&](const auth::CallContext&) { return result; });
}

TEST(RpcFrameTest, CountsEachMethodAndCodeOfOneCallSite) {
  const auth::Authorizer authorizer(
      TestTokens(), {{"FrameA", auth::Roles::All()}, {"FrameB", auth::Roles::All()}});
  const auto count = [](absl::string_view method, absl::string_view code) {
    return RpcRequests().WithLabels({ServiceName(), method, code}).Value();
  };
  const auto observed = [](absl::string_view method) {
    return RpcLatency().WithLabels({ServiceName(), method}).Collect().count;
  };
  const double a_ok = count("FrameA", "OK");
  const double a_not_found = count("FrameA", "NOT_FOUND");
  const double b_ok = count("FrameB", "OK");
  const double c_denied = count("FrameC", "PERMISSION_DENIED");
  const uint64_t a_observed = observed("FrameA");

  EXPECT_TRUE(CallFramed(authorizer, "FrameA", absl::OkStatus()).ok());
  EXPECT_TRUE(CallFramed(authorizer, "FrameB", absl::OkStatus()).ok());
  EXPECT_EQ(CallFramed(authorizer, "FrameA", absl::NotFoundError("gone")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(CallFramed(authorizer, "FrameA", absl::OkStatus()).ok());
  EXPECT_EQ(CallFramed(authorizer, "FrameC", absl::OkStatus()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_EQ(count("FrameA", "OK"), a_ok + 2);
  EXPECT_EQ(count("FrameA", "NOT_FOUND"), a_not_found + 1);
  EXPECT_EQ(count("FrameB", "OK"), b_ok + 1);
  EXPECT_EQ(count("FrameC", "PERMISSION_DENIED"), c_denied + 1);
  EXPECT_EQ(observed("FrameA"), a_observed + 3);

  // A new service name (set at start-up) labels the calls after it.
  const std::string service = ServiceName();
  SetServiceName("frame-test-other");
  EXPECT_TRUE(CallFramed(authorizer, "FrameA", absl::OkStatus()).ok());
  EXPECT_EQ(RpcRequests().WithLabels({"frame-test-other", "FrameA", "OK"}).Value(), 1);
  SetServiceName(service);
  EXPECT_EQ(count("FrameA", "OK"), a_ok + 2);
}

TEST(RpcFrameTest, InternalErrorsReachTheCallerWithoutTheirDetail) {
  const auth::Authorizer authorizer(TestTokens(), {{"FrameA", auth::Roles::All()}});
  const grpc::Status status =
      CallFramed(authorizer, "FrameA", absl::InternalError("connection to db-7 refused"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message().find("db-7"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("internal error; see server log for request "),
            std::string::npos)
      << status.error_message();
}

}  // namespace
}  // namespace tierwise::server
