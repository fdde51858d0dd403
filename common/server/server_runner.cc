#include "common/server/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/server/rpc.h"
// Linked so that server reflection can describe the health service too.
#include "grpc/health/v1/health.pb.h"

namespace tierwise::server {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerOptions& options) {
  if (options.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadPem(options.tls_cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(options.tls_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca.empty()) {
    auto ca = ReadPem(options.tls_client_ca);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ServiceHost::ServiceHost(ServerOptions options) : options_(std::move(options)) {}

ServiceHost::~ServiceHost() { Shutdown(); }

void ServiceHost::AddService(grpc::Service* service, std::string full_name) {
  services_.emplace_back(service, std::move(full_name));
}

void ServiceHost::SetReadinessProbe(std::function<absl::Status()> probe) {
  probe_ = std::move(probe);
}

absl::Status ServiceHost::Start() {
  auto credentials = MakeCredentials(options_);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  // Pulls health.proto's descriptor into the binary so reflection can describe the service.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, *credentials, &port_);
  // Keepalive: detect dead peers behind load balancers, tolerate clients pinging every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 30 * 60 * 1000);
  builder.SetMaxReceiveMessageSize(8 * 1024 * 1024);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  SetServing(probe_ ? probe_().ok() : true);
  probe_thread_ = std::thread([this] { ProbeLoop(); });
  log::Info("server.started", {{"listen", options_.listen},
                               {"port", port_},
                               {"tls", !options_.tls_cert.empty()},
                               {"mtls", !options_.tls_client_ca.empty()}});
  return absl::OkStatus();
}

void ServiceHost::SetServing(bool serving) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) serving = false;
    serving_ = serving;
  }
  auto* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  health->SetServingStatus("", serving);
  for (auto& [service, name] : services_) health->SetServingStatus(name, serving);
}

void ServiceHost::ProbeLoop() {
  bool last = true;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, options_.health_interval, [&] { return stopping_; })) return;
    }
    const absl::Status probe = probe_ ? probe_() : absl::OkStatus();
    if (probe.ok() != last) {
      log::Warn("health.changed", {{"serving", probe.ok()}, {"probe", probe.ToString()}});
      last = probe.ok();
    }
    SetServing(probe.ok());
  }
}

void ServiceHost::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || server_ == nullptr) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (probe_thread_.joinable()) probe_thread_.join();
  SetServing(false);
  log::Info("server.draining", {{"drain_s", options_.drain.count()}});
  server_->Shutdown(std::chrono::system_clock::now() + options_.drain);
  server_->Wait();
  log::Info("server.stopped");
}

void ServiceHost::WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  log::Info("server.signal", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  Shutdown();
}

}  // namespace tierwise::server

namespace tierwise::server {

namespace {
std::string& MutableServiceName() {
  static auto* name = new std::string("tierwise");
  return *name;
}
}  // namespace

void SetServiceName(absl::string_view service) { MutableServiceName() = std::string(service); }
const std::string& ServiceName() { return MutableServiceName(); }

metrics::CounterFamily& RpcRequests() {
  static auto& family = metrics::Registry::Default().RegisterCounter(
      "tierwise_rpc_requests_total", "gRPC calls handled, by method and status code",
      {"service", "method", "code"});
  return family;
}

metrics::HistogramFamily& RpcLatency() {
  static auto& family = metrics::Registry::Default().RegisterHistogram(
      "tierwise_rpc_latency_seconds", "gRPC handler latency in seconds, by method",
      {"service", "method"});
  return family;
}

}  // namespace tierwise::server
