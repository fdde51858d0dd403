#include "common/testing/service_harness.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>

#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/postgres/audit.h"
#include "common/postgres/migrations.h"
#include "gtest/gtest.h"

namespace tierwise::testing {

ServiceHarness::ServiceHarness(std::vector<postgres::Migration> migrations,
                               absl::string_view schema_prefix)
    : schema_(schema_prefix, 8), redis_(NewRedisClient()), relay_(schema_.pool(), *redis_) {
  migrations.push_back(outbox::TableMigration());
  migrations.push_back(postgres::AuditMigration());
  absl::Status migrated = postgres::ApplyMigrations(schema_.pool(), migrations);
  EXPECT_TRUE(migrated.ok()) << migrated;
  config_.redis_prefix = UniqueName("tw");
  config_.redis_addr = RedisAddr();
  auto tokens = auth::TokenStore::FromText(
      absl::StrCat("admin admin ", kAdmin, "\nmanager.li manager ", kManager,
                   "\nrep.zhang sales_rep ", kRepZhang, "\nrep.chen sales_rep ", kRepChen,
                   "\nfinance.wang finance ", kFinance, "\nerp.adapter erp_adapter ", kErp,
                   "\nviewer viewer ", kViewer, "\n"),
      "");
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  deps_ = std::make_unique<server::ServiceDeps>(
      server::ServiceDeps{config_, schema_.pool(), *redis_, relay_, *tokens});
}

ServiceHarness::~ServiceHarness() { Stop(); }

void ServiceHarness::Start(const std::vector<std::pair<grpc::Service*, std::string>>& services) {
  host_ = std::make_unique<server::ServiceHost>(
      server::ServerOptions{.listen = "127.0.0.1:0",
                            .drain = std::chrono::seconds(2),
                            .health_interval = std::chrono::milliseconds(100),
                            .tokens = deps_->tokens});  // the early token check, as in production
  for (const auto& [service, name] : services) host_->AddService(service, name);
  host_->SetReadinessProbe([this] {
    return ready_ ? schema_.pool().Ping() : absl::UnavailableError("marked not ready");
  });
  absl::Status started = host_->Start();
  ASSERT_TRUE(started.ok()) << started;
  channel_ = client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host_->port())});
}

void ServiceHarness::Stop() {
  if (host_) host_->Shutdown();
}

std::unique_ptr<grpc::ClientContext> ServiceHarness::Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  client::Authorize(*ctx, token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

std::vector<redis::StreamEntry> ServiceHarness::DrainStream(const std::string& stream) {
  while (true) {
    absl::StatusOr<int> n = relay_.PublishOnce();
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) break;
  }
  auto entries = redis_->XRange(stream);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : std::vector<redis::StreamEntry>{};
}

std::vector<std::string> ServiceHarness::MethodsOpenWithoutToken(
    const std::string& service_full_name) const {
  return testing::MethodsOpenWithoutToken(channel_, service_full_name);
}

std::vector<std::string> MethodsOpenWithoutToken(const std::shared_ptr<grpc::Channel>& channel,
                                                 const std::string& service_full_name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_full_name);
  EXPECT_NE(service, nullptr) << service_full_name;
  std::vector<std::string> open;
  if (service == nullptr) return open;
  grpc::GenericStub generic(channel);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name = service->method(i)->name();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice empty_message("");  // every request message accepts zero bytes
    grpc::ByteBuffer request(&empty_message, 1), response;
    grpc::Status result;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    generic.UnaryCall(&ctx, absl::StrCat("/", service->full_name(), "/", name), grpc::StubOptions(),
                      &request, &response, [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        result = s;
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    if (result.error_code() != grpc::StatusCode::UNAUTHENTICATED) open.push_back(name);
  }
  return open;
}

int64_t ServiceHarness::CountRows(const std::string& table) {
  auto n = schema_.pool().Transact<int64_t>([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    return tx.exec("SELECT count(*) FROM " + tx.quote_name(table))[0][0].as<int64_t>();
  });
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : -1;
}

}  // namespace tierwise::testing
