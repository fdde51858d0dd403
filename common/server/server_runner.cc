#include "common/server/server_runner.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log/log.h"
#include "common/server/rpc.h"
#include "common/status/macros.h"
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

// Server credentials over gRPC core's own, so that an auth metadata processor can be installed
// on plaintext ports too: grpc::InsecureServerCredentials() aborts in SetAuthMetadataProcessor
// (gRPC 1.51), while core's insecure credentials run the processor in the server auth filter
// like the TLS ones.
class CoreServerCredentials final : public grpc::ServerCredentials {
 public:
  // `make` runs after the base class has initialised the gRPC library.
  explicit CoreServerCredentials(const std::function<grpc_server_credentials*()>& make)
      : creds_(make()) {}
  ~CoreServerCredentials() override {
    if (creds_ != nullptr) grpc_server_credentials_release(creds_);
  }
  grpc_server_credentials* core() const { return creds_; }

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    // Not used: the gate below is installed on the core credentials directly.
    log::Error("server.auth_processor_unsupported");
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return creds_ == nullptr ? 0 : grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  grpc_server_credentials* creds_;
};

absl::string_view SliceView(const grpc_slice& slice) {
  return absl::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
                           GRPC_SLICE_LENGTH(slice));
}

// Methods any client may call without a token: probes and tooling.
bool OpenWithoutToken(absl::string_view path) {
  return absl::StartsWith(path, "/grpc.health.v1.Health/") ||
         absl::StartsWith(path, "/grpc.reflection.v1alpha.ServerReflection/") ||
         absl::StartsWith(path, "/grpc.reflection.v1.ServerReflection/");
}

// gRPC's server auth filter calls this with the call's initial metadata before the call reaches
// a handler (and before its request message is parsed); a failure ends the call with
// UNAUTHENTICATED. Non-blocking: the check is an in-memory digest lookup.
void ProcessAuthMetadata(void* state, grpc_auth_context* /*context*/, const grpc_metadata* md,
                         size_t num_md, grpc_process_auth_metadata_done_cb done, void* user_data) {
  const auto* tokens = static_cast<const auth::TokenStore*>(state);
  absl::string_view path;
  std::optional<absl::string_view> authorization;
  for (size_t i = 0; i < num_md; ++i) {
    const absl::string_view key = SliceView(md[i].key);
    if (key == ":path") {
      path = SliceView(md[i].value);
    } else if (key == "authorization") {
      authorization = SliceView(md[i].value);
    }
  }
  if (OpenWithoutToken(path)) {
    done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  absl::StatusOr<auth::Principal> principal = tokens->Authenticate(authorization);
  if (principal.ok()) {
    done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  // The method label is fixed: paths of rejected calls are the caller's choice, not ours.
  RpcRequests().WithLabels({ServiceName(), "-", "UNAUTHENTICATED"}).Increment();
  const std::string message(principal.status().message());
  done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_UNAUTHENTICATED, message.c_str());
}

absl::StatusOr<std::shared_ptr<CoreServerCredentials>> MakeCredentials(
    const ServerOptions& options) {
  std::string cert, key, ca;
  if (!options.tls_cert.empty()) {
    TW_ASSIGN_OR_RETURN(auto c, ReadPem(options.tls_cert));
    TW_ASSIGN_OR_RETURN(auto k, ReadPem(options.tls_key));
    cert = std::move(c);
    key = std::move(k);
    if (!options.tls_client_ca.empty()) {
      TW_ASSIGN_OR_RETURN(auto a, ReadPem(options.tls_client_ca));
      ca = std::move(a);
    }
  }
  auto creds = std::make_shared<CoreServerCredentials>([&]() -> grpc_server_credentials* {
    if (cert.empty()) return grpc_insecure_server_credentials_create();
    grpc_ssl_pem_key_cert_pair pair{key.c_str(), cert.c_str()};
    return grpc_ssl_server_credentials_create_ex(
        ca.empty() ? nullptr : ca.c_str(), &pair, 1,
        ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                   : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
        nullptr);
  });
  if (creds->core() == nullptr) {
    return absl::InvalidArgumentError("cannot create the server credentials");
  }
  if (options.tokens != nullptr) {
    // The store outlives the server: ServiceHost keeps options (and the shared_ptr) until after
    // the server has stopped.
    grpc_server_credentials_set_auth_metadata_processor(
        creds->core(),
        {ProcessAuthMetadata, nullptr, const_cast<auth::TokenStore*>(options.tokens.get())});
  }
  return creds;
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
  TW_ASSIGN_OR_RETURN(auto credentials, MakeCredentials(options_));
  grpc::EnableDefaultHealthCheckService(true);
  // Pulls health.proto's descriptor into the binary so reflection can describe the service.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, credentials, &port_);
  // Keepalive: detect dead peers behind load balancers, tolerate clients pinging every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 30 * 60 * 1000);
  builder.SetMaxReceiveMessageSize(8 * 1024 * 1024);
  // Limits: a client cannot open unbounded streams on one connection, gRPC's buffers cannot
  // take more memory than the quota, and calls beyond the thread limit get RESOURCE_EXHAUSTED
  // instead of a new thread each.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             std::max(1, options_.max_concurrent_streams));
  grpc::ResourceQuota quota(absl::StrCat("tierwise-", ServiceName()));
  if (options_.resource_quota_bytes > 0) quota.Resize(options_.resource_quota_bytes);
  if (options_.max_threads > 0) quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  int max_pollers = std::max(1, options_.max_pollers);
  if (options_.max_threads > 0) max_pollers = std::min(max_pollers, options_.max_threads);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              std::min(2, max_pollers));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, max_pollers);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  if (auto* health = server_->GetHealthCheckService(); health != nullptr) {
    health->SetServingStatus(kLivenessService, true);
  }
  SetServing(probe_ ? probe_().ok() : true);
  probe_thread_ = std::thread([this] { ProbeLoop(); });
  log::Info("server.started", {{"listen", options_.listen},
                               {"port", port_},
                               {"tls", !options_.tls_cert.empty()},
                               {"mtls", !options_.tls_client_ca.empty()},
                               {"early_auth", options_.tokens != nullptr},
                               {"max_concurrent_streams", options_.max_concurrent_streams},
                               {"resource_quota_bytes", options_.resource_quota_bytes},
                               {"max_threads", options_.max_threads},
                               {"max_pollers", max_pollers}});
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
  // Not SetServingStatus(bool): that would set kLivenessService too.
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
  if (auto* health = server_->GetHealthCheckService(); health != nullptr) {
    health->SetServingStatus(kLivenessService, false);
  }
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

namespace internal {

MethodMetrics::MethodMetrics(std::string service, std::string method)
    : service_(std::move(service)),
      method_(std::move(method)),
      latency_(RpcLatency().WithLabels({service_, method_})) {}

void MethodMetrics::Record(absl::StatusCode code, int64_t micros) {
  const int c = static_cast<int>(code);
  metrics::Counter* counter = nullptr;
  if (c >= 0 && c < kCodes) counter = by_code_[c].load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &RpcRequests().WithLabels({service_, method_, absl::StatusCodeToString(code)});
    if (c >= 0 && c < kCodes) by_code_[c].store(counter, std::memory_order_release);
  }
  counter->Increment();
  latency_.Observe(static_cast<double>(micros) / 1e6);
}

MethodMetrics& MetricsFor(absl::string_view method) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* const by_name =
      new absl::flat_hash_map<std::pair<std::string, std::string>, std::unique_ptr<MethodMetrics>>;
  absl::MutexLock lock(&mu);
  const std::string& service = ServiceName();
  auto& slot = (*by_name)[std::make_pair(service, std::string(method))];
  if (slot == nullptr) slot = std::make_unique<MethodMetrics>(service, std::string(method));
  return *slot;
}

grpc::Status FinishRpc(grpc::ServerContext* context, absl::string_view method,
                       const absl::StatusOr<auth::CallContext>& call, const absl::Status& status,
                       int64_t micros) {
  const bool internal =
      status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kUnknown;
  if (!internal && !log::Enabled(log::Level::kDebug)) return status::ToGrpcStatus(status);
  const absl::string_view code = absl::StatusCodeToString(status.code());
  const absl::string_view who = call.ok() ? absl::string_view(call->principal.name) : "-";
  const absl::string_view request_id = call.ok() ? absl::string_view(call->request_id) : "-";
  if (internal) {
    log::Error("rpc", {{"method", method},
                       {"code", code},
                       {"principal", who},
                       {"request_id", request_id},
                       {"us", micros},
                       {"error", status.message()}});
    context->AddTrailingMetadata("x-request-id", std::string(request_id));
    return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                        absl::StrCat("internal error; see server log for request ", request_id));
  }
  log::Debug("rpc", {{"method", method},
                     {"code", code},
                     {"principal", who},
                     {"request_id", request_id},
                     {"us", micros}});
  return status::ToGrpcStatus(status);
}

}  // namespace internal

StreamIdleDeadline::StreamIdleDeadline(grpc::ServerContext* context,
                                       std::chrono::milliseconds timeout, std::string message)
    : context_(context), timeout_(timeout), message_(std::move(message)) {
  watcher_ = std::thread([this] { Watch(); });
}

StreamIdleDeadline::~StreamIdleDeadline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  watcher_.join();
}

bool StreamIdleDeadline::expired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return expired_;
}

void StreamIdleDeadline::Arm(bool waiting) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_ = waiting;
    if (waiting) ++generation_;
  }
  cv_.notify_all();
}

void StreamIdleDeadline::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!done_ && !expired_) {
    if (!waiting_) {
      cv_.wait(lock, [&] { return done_ || waiting_; });
      continue;
    }
    const uint64_t generation = generation_;
    if (cv_.wait_for(lock, timeout_,
                     [&] { return done_ || !waiting_ || generation_ != generation; })) {
      continue;
    }
    expired_ = true;
    // Ends the call with this status on the wire (a trailers-only response), which also makes
    // the pending Read return false. ServerContext::TryCancel would say only CANCELLED.
    grpc_call_cancel_with_status(context_->c_call(), GRPC_STATUS_DEADLINE_EXCEEDED,
                                 message_.c_str(), nullptr);
  }
}

}  // namespace tierwise::server
