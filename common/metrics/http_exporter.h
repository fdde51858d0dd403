#ifndef TIERWISE_COMMON_METRICS_HTTP_EXPORTER_H_
#define TIERWISE_COMMON_METRICS_HTTP_EXPORTER_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/metrics/metrics.h"

namespace tierwise::metrics {

struct HttpExporterOptions {
  // A connection that has not sent a full request (or taken the response) by then is closed.
  std::chrono::milliseconds io_timeout{2000};
  // Request line plus headers; larger requests get 431.
  size_t max_request_bytes = 8192;
};

// A minimal HTTP/1.1 server for Prometheus scrapes, on one background thread (POSIX sockets,
// poll()). Routes: GET|HEAD /metrics → 200 with registry.Render() as text format 0.0.4;
// GET|HEAD /healthz → 200 "ok"; other methods on those paths → 405; any other path → 404;
// a malformed request → 400. One request per connection (Connection: close); connections are
// served one after another, each bounded by io_timeout. Writes use MSG_NOSIGNAL, so a client
// that goes away never raises SIGPIPE.
//
// Start() and Stop() are safe to call from any thread; the registry must outlive the exporter.
//
//   HttpExporter exporter(Registry::Default());
//   if (auto s = exporter.Start("0.0.0.0:9464"); !s.ok()) ...;
//   ...
//   exporter.Stop();  // or let the destructor do it
class HttpExporter {
 public:
  explicit HttpExporter(Registry& registry, HttpExporterOptions options = {});
  ~HttpExporter();
  HttpExporter(const HttpExporter&) = delete;
  HttpExporter& operator=(const HttpExporter&) = delete;

  // Binds "host:port" (host may be a name, an IPv4 address or a bracketed IPv6 address; an
  // empty host means every interface; port 0 picks a free port) and starts serving.
  // Errors: INVALID_ARGUMENT for a malformed address, UNAVAILABLE when the socket cannot be
  // bound or listened on (e.g. port in use), FAILED_PRECONDITION when already started. An
  // exporter starts at most once.
  absl::Status Start(const std::string& listen);

  // The bound port after a successful Start(), else 0.
  int port() const;

  // Stops accepting, abandons the connection in progress and joins the thread; returns
  // promptly (it does not wait for io_timeout). Idempotent.
  void Stop();

 private:
  void Serve();
  void HandleConnection(int fd);
  // Waits for `events` on fd, or until the deadline or Stop(). False on timeout or stop.
  bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline);  // NOLINT

  Registry& registry_;
  const HttpExporterOptions options_;

  mutable std::mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int port_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
  // Owned by the serving thread while it runs; closed by Stop() after the join.
  int listen_fd_ = -1;
  int wake_read_fd_ = -1;  // readable once Stop() has been called
  int wake_write_fd_ = -1;
};

}  // namespace tierwise::metrics

#endif  // TIERWISE_COMMON_METRICS_HTTP_EXPORTER_H_
