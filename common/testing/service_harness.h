#ifndef TIERWISE_COMMON_TESTING_SERVICE_HARNESS_H_
#define TIERWISE_COMMON_TESTING_SERVICE_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/outbox/outbox.h"
#include "common/server/server_runner.h"
#include "common/server/service_main.h"
#include "common/testing/test_env.h"

// Everything an integration test needs to run a service in-process on a free port against
// the real PostgreSQL and Redis: a fresh schema with the service's migrations (and the
// outbox), a Redis key prefix of its own, tokens for every role, and a channel to call it.
//
//   ServiceHarness h(Migrations());
//   MyServer server(h.deps(), clock);
//   h.Start({{&server.service, "tierwise.x.v1.XService"}});
//   auto stub = XService::NewStub(h.channel());
//   stub->Get(h.Context(ServiceHarness::kAdmin).get(), req, &resp);
namespace tierwise::testing {

class ServiceHarness {
 public:
  // Principal names: admin, manager.li, rep.zhang, rep.chen, finance.wang, erp.adapter, viewer.
  static constexpr char kAdmin[] = "admin-token-0001";
  static constexpr char kManager[] = "manager-token-01";
  static constexpr char kRepZhang[] = "rep-zhang-token1";
  static constexpr char kRepChen[] = "rep-chen-token01";
  static constexpr char kFinance[] = "finance-token-01";
  static constexpr char kErp[] = "erp-adapter-tok1";
  static constexpr char kViewer[] = "viewer-token-001";

  explicit ServiceHarness(std::vector<postgres::Migration> migrations,
                          absl::string_view schema_prefix = "svc");
  ~ServiceHarness();

  server::ServiceDeps& deps() { return *deps_; }
  postgres::PgPool& pool() { return schema_.pool(); }
  redis::RedisClient& redis() { return *redis_; }
  outbox::Relay& relay() { return relay_; }
  const std::string& prefix() const { return config_.redis_prefix; }
  const std::string& schema() const { return schema_.name(); }

  // Starts the gRPC host with the standard health service; the readiness probe pings the pool
  // unless `ready` is set to false.
  void Start(const std::vector<std::pair<grpc::Service*, std::string>>& services);
  void Stop();
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::atomic<bool>& ready() { return ready_; }

  // A client context carrying the token (none when empty) and a 10 s deadline.
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token);

  // MethodsOpenWithoutToken (below) on this harness's channel.
  std::vector<std::string> MethodsOpenWithoutToken(const std::string& service_full_name) const;

  // Publishes every outbox row, then returns the stream's entries.
  std::vector<redis::StreamEntry> DrainStream(const std::string& stream);
  int64_t CountRows(const std::string& table);

 private:
  TestSchema schema_;
  std::unique_ptr<redis::RedisClient> redis_;
  outbox::Relay relay_;
  config::ServiceConfig config_;
  std::unique_ptr<server::ServiceDeps> deps_;
  std::unique_ptr<server::ServiceHost> host_;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<bool> ready_{true};
};

// Calls every method of the service over `channel` with an empty request and no token; returns
// the names of the methods that did not answer UNAUTHENTICATED (a test expects none).
std::vector<std::string> MethodsOpenWithoutToken(const std::shared_ptr<grpc::Channel>& channel,
                                                 const std::string& service_full_name);

}  // namespace tierwise::testing

#endif  // TIERWISE_COMMON_TESTING_SERVICE_HARNESS_H_
