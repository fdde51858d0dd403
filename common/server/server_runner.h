#ifndef TIERWISE_COMMON_SERVER_SERVER_RUNNER_H_
#define TIERWISE_COMMON_SERVER_SERVER_RUNNER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/auth/auth.h"

namespace tierwise::server {

// The health service name that answers SERVING while the process runs, whatever its
// dependencies do: the liveness probe's. The overall "" and the per-service names follow the
// readiness probe.
inline constexpr char kLivenessService[] = "tierwise.liveness";

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // port 0 picks a free port (tests)
  std::string tls_cert;                // PEM files; TLS when set
  std::string tls_key;
  std::string tls_client_ca;  // mutual TLS when set: clients must present a certificate
  std::chrono::seconds drain{10};
  std::chrono::milliseconds health_interval{2000};
  // When set, a call without a known bearer token is rejected with UNAUTHENTICATED in gRPC's
  // auth filter, before any handler runs or any request message is parsed (health checks and
  // reflection stay open). The per-method role check stays with auth::Authorizer.
  std::shared_ptr<const auth::TokenStore> tokens;
  int max_concurrent_streams = 100;  // per connection (HTTP/2 SETTINGS)
  size_t resource_quota_bytes = 0;   // memory for gRPC's buffers; 0: no limit
  int max_threads = 0;               // threads serving calls; 0: no limit
  // Threads kept waiting for calls. gRPC's sync server ends a thread that finishes a call while
  // this many already wait and starts a new one when too few do: with its default of 2, every
  // call that blocks (on PostgreSQL) costs a thread start and exit under load. Keep it above the
  // calls in flight (bounded by max_threads when that is set).
  int max_pollers = 64;
};

// Hosts the gRPC services of one binary with the standard health service (SERVING only while
// the readiness probe passes, e.g. the database answers; kLivenessService SERVING until
// shutdown), server reflection, keepalive settings, TLS/mTLS, an early token check and resource
// limits. Thread-safe after Start().
//
//   ServiceHost host(options);
//   host.AddService(&profile_service);
//   host.SetReadinessProbe([&] { return pool.Ping(); });
//   if (auto s = host.Start(); !s.ok()) ...;
//   host.WaitForTerminationSignal();  // SIGTERM / SIGINT, then drains and returns
class ServiceHost {
 public:
  explicit ServiceHost(ServerOptions options);
  ~ServiceHost();
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // Before Start(): services must outlive the host.
  void AddService(grpc::Service* service, std::string full_name);
  void SetReadinessProbe(std::function<absl::Status()> probe);

  absl::Status Start();
  int port() const { return port_; }

  // Marks every service NOT_SERVING, lets in-flight calls finish within the drain period,
  // then stops. Idempotent.
  void Shutdown();

  // Blocks until SIGTERM or SIGINT, then Shutdown(). Call BlockTerminationSignals() first
  // thing in main(), before any thread starts, so that no other thread takes the signal.
  void WaitForTerminationSignal();

 private:
  void ProbeLoop();
  void SetServing(bool serving);

  const ServerOptions options_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::function<absl::Status()> probe_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  std::thread probe_thread_;
};

void BlockTerminationSignals();

}  // namespace tierwise::server

#endif  // TIERWISE_COMMON_SERVER_SERVER_RUNNER_H_
