#ifndef TIERWISE_COMMON_SERVER_RPC_H_
#define TIERWISE_COMMON_SERVER_RPC_H_

#include <grpcpp/server_context.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/auth.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/status/status.h"

namespace tierwise::server {

// RPC counts and latencies, labelled by method and code, for every service of the process.
// Labels: service (SetServiceName, once at start-up), method, code.
metrics::CounterFamily& RpcRequests();
metrics::HistogramFamily& RpcLatency();
void SetServiceName(absl::string_view service);
const std::string& ServiceName();

namespace internal {

// The metric children of one method of ServiceName(): looked up in the families once per
// method (and code), then updated without any lookup or lock.
class MethodMetrics {
 public:
  MethodMetrics(std::string service, std::string method);
  MethodMetrics(const MethodMetrics&) = delete;
  MethodMetrics& operator=(const MethodMetrics&) = delete;

  bool Matches(absl::string_view method) const {
    return method == method_ && service_ == ServiceName();
  }
  // Counts a call with `code` and observes its latency.
  void Record(absl::StatusCode code, int64_t micros);

 private:
  static constexpr int kCodes = 17;  // absl::StatusCode values 0..16
  const std::string service_;
  const std::string method_;
  metrics::Histogram& latency_;
  std::atomic<metrics::Counter*> by_code_[kCodes] = {};
};

// The MethodMetrics of (ServiceName(), method), created on first use and kept for the
// process's life.
MethodMetrics& MetricsFor(absl::string_view method);

// Logs the call (an internal error with its detail, anything else at debug level) and maps
// its status to what the caller gets: an internal error without its detail.
grpc::Status FinishRpc(grpc::ServerContext* context, absl::string_view method,
                       const absl::StatusOr<auth::CallContext>& call, const absl::Status& status,
                       int64_t micros);

}  // namespace internal

// The frame of every unary handler: authorize, run the body, log one line, map the status.
// Internal errors are logged with their detail and returned to the caller without it.
//
//   grpc::Status Svc::GetThing(grpc::ServerContext* ctx, const Req* req, Thing* out) {
//     return RunRpc(authorizer_, ctx, "GetThing", [&](const auth::CallContext& call) {
//       return logic_.GetThing(call, req->id(), out);
//     });
//   }
template <typename Body>
grpc::Status RunRpc(const auth::Authorizer& authorizer, grpc::ServerContext* context,
                    absl::string_view method, Body&& body) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<auth::CallContext> call = authorizer.Authorize(*context, method);
  absl::Status status = call.ok() ? absl::Status(body(*call)) : call.status();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  // One cache slot per call site (each Body is a distinct type), checked against the method
  // and service in case a site serves several.
  static std::atomic<internal::MethodMetrics*> cached{nullptr};
  internal::MethodMetrics* metrics = cached.load(std::memory_order_acquire);
  if (metrics == nullptr || !metrics->Matches(method)) {
    metrics = &internal::MetricsFor(method);
    cached.store(metrics, std::memory_order_release);
  }
  metrics->Record(status.code(), micros);
  return internal::FinishRpc(context, method, call, status, micros);
}

// RunRpc for a body that returns absl::StatusOr<T>: the value is moved into *response.
//
//   return ServeRpc(authorizer_, ctx, "GetThing", response,
//                   [&](const auth::CallContext& call) { return logic_.Get(call, *req); });
template <typename Response, typename Body>
grpc::Status ServeRpc(const auth::Authorizer& authorizer, grpc::ServerContext* context,
                      absl::string_view method, Response* response, Body&& body) {
  return RunRpc(authorizer, context, method, [&](const auth::CallContext& call) -> absl::Status {
    auto result = body(call);
    if (!result.ok()) return result.status();
    *response = std::move(*result);
    return absl::OkStatus();
  });
}

// An idle deadline for a streaming handler: when the client sends nothing for `timeout` while
// the handler waits in Read, the call is ended with DEADLINE_EXCEEDED and `message` (which the
// client receives), and the pending Read returns false. Time the handler spends on a message
// does not count. One watcher thread per call, joined by the destructor; use from the handler's
// thread only.
//
//   StreamIdleDeadline idle(context, std::chrono::seconds(60), "no message for 60 s");
//   while (idle.Read(stream, &request)) { ... }
//   if (idle.expired()) return absl::DeadlineExceededError(idle.message());
class StreamIdleDeadline {
 public:
  StreamIdleDeadline(grpc::ServerContext* context, std::chrono::milliseconds timeout,
                     std::string message);
  ~StreamIdleDeadline();
  StreamIdleDeadline(const StreamIdleDeadline&) = delete;
  StreamIdleDeadline& operator=(const StreamIdleDeadline&) = delete;

  // stream->Read(message) under the deadline; false at the end of the stream or on expiry.
  template <typename Stream, typename Message>
  bool Read(Stream* stream, Message* message) {
    Arm(true);
    const bool ok = stream->Read(message);
    Arm(false);
    return ok && !expired();
  }

  bool expired() const;
  const std::string& message() const { return message_; }

 private:
  void Arm(bool waiting);
  void Watch();

  grpc::ServerContext* const context_;
  const std::chrono::milliseconds timeout_;
  const std::string message_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // counts Arm(true) calls
  bool expired_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace tierwise::server

#endif  // TIERWISE_COMMON_SERVER_RPC_H_
