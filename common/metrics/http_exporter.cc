#include "common/metrics/http_exporter.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tierwise::metrics {
namespace {

using Clock = std::chrono::steady_clock;

constexpr absl::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr absl::string_view kTextContentType = "text/plain; charset=utf-8";
// After the response, how long to drain what the client still sends so that closing does not
// reset the connection before the client has read the response.
constexpr std::chrono::milliseconds kLingerTime{200};

std::string ErrnoText(absl::string_view what, int err) {
  return absl::StrCat(what, ": ", std::strerror(err));
}

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

struct Address {
  std::string host;  // empty: every interface
  std::string port;
};

absl::StatusOr<Address> ParseListen(absl::string_view listen) {
  Address address;
  absl::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos || close + 1 >= listen.size() ||
        listen[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad listen address '", listen, "'"));
    }
    address.host = std::string(listen.substr(1, close - 1));
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address '", listen, "' is not host:port"));
    }
    address.host = std::string(listen.substr(0, colon));
    port = listen.substr(colon + 1);
  }
  int number = -1;
  if (port.empty() || !absl::SimpleAtoi(port, &number) || number < 0 || number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in listen address '", listen, "'"));
  }
  address.port = absl::StrCat(number);
  return address;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

struct Response {
  int code = 200;
  absl::string_view reason = "OK";
  absl::string_view content_type = kTextContentType;
  std::string body;
  std::string extra_headers;
  bool head = false;  // send the headers only
};

Response Route(absl::string_view method, absl::string_view path, const Registry& registry) {
  Response r;
  const bool metrics = path == "/metrics";
  if (!metrics && path != "/healthz") {
    r.code = 404;
    r.reason = "Not Found";
    r.body = "not found\n";
    return r;
  }
  if (method != "GET" && method != "HEAD") {
    r.code = 405;
    r.reason = "Method Not Allowed";
    r.body = "method not allowed\n";
    r.extra_headers = "Allow: GET, HEAD\r\n";
    return r;
  }
  r.head = method == "HEAD";
  if (metrics) {
    r.content_type = kMetricsContentType;
    r.body = registry.Render();
  } else {
    r.body = "ok";
  }
  return r;
}

Response Error(int code, absl::string_view reason) {
  Response r;
  r.code = code;
  r.reason = reason;
  r.body = absl::StrCat(code, " ", reason, "\n");
  return r;
}

}  // namespace

HttpExporter::HttpExporter(Registry& registry, HttpExporterOptions options)
    : registry_(registry), options_(options) {}

HttpExporter::~HttpExporter() { Stop(); }

absl::Status HttpExporter::Start(const std::string& listen) {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || stopped_) return absl::FailedPreconditionError("exporter already started");
  absl::StatusOr<Address> address = ParseListen(listen);
  if (!address.ok()) return address.status();

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const int gai = ::getaddrinfo(address->host.empty() ? nullptr : address->host.c_str(),
                                address->port.c_str(), &hints, &results);
  if (gai != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve listen address '", listen, "': ", ::gai_strerror(gai)));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = ErrnoText("socket", errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last_error = ErrnoText("bind", errno);
    } else if (::listen(fd, 64) != 0) {
      last_error = ErrnoText("listen", errno);
    } else {
      break;
    }
    CloseFd(&fd);
  }
  ::freeaddrinfo(results);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics exporter cannot listen on '", listen, "': ", last_error));
  }

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    const int err = errno;
    CloseFd(&fd);
    return absl::UnavailableError(ErrnoText("pipe2", err));
  }
  listen_fd_ = fd;
  wake_read_fd_ = wake[0];
  wake_write_fd_ = wake[1];
  port_ = BoundPort(fd);
  started_ = true;
  thread_ = std::thread([this] { Serve(); });
  return absl::OkStatus();
}

int HttpExporter::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

void HttpExporter::Stop() {
  // The serving thread never takes mu_, so joining under it cannot deadlock; it makes a
  // concurrent Stop() wait until the thread is gone.
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  // The pipe stays readable from now on, which wakes every poll() of the serving thread.
  while (::write(wake_write_fd_, "x", 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  CloseFd(&listen_fd_);
  CloseFd(&wake_read_fd_);
  CloseFd(&wake_write_fd_);
}

bool HttpExporter::WaitFor(int fd, short events,  // NOLINT(runtime/int)
                           Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_read_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left, 60'000)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;  // ready, or an error / hang-up the caller will see
  }
}

void HttpExporter::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Not expected (EFAULT/EINVAL/ENOMEM); back off rather than spin, still stoppable.
      pollfd wake{wake_read_fd_, POLLIN, 0};
      ::poll(&wake, 1, 100);
      continue;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the pending connection stays queued, so wait a little
        // instead of spinning on it.
        pollfd wake{wake_read_fd_, POLLIN, 0};
        ::poll(&wake, 1, 100);
      }
      continue;  // EAGAIN, ECONNABORTED, EINTR: nothing to serve
    }
    HandleConnection(fd);
    ::close(fd);
  }
}

void HttpExporter::HandleConnection(int fd) {
  const Clock::time_point deadline = Clock::now() + options_.io_timeout;
  const size_t limit = options_.max_request_bytes;

  // Read until the end of the headers; the request line is all we use, and a body is ignored.
  std::string request;
  size_t request_end = std::string::npos;  // just past the blank line ending the headers
  char buf[4096];
  while (true) {
    if (const size_t crlf = request.find("\r\n\r\n"); crlf != std::string::npos) {
      request_end = crlf + 4;
    } else if (const size_t lf = request.find("\n\n"); lf != std::string::npos) {
      request_end = lf + 2;  // bare LF line ends, tolerated
    }
    if (request_end != std::string::npos || request.size() > limit) break;
    if (!WaitFor(fd, POLLIN, deadline)) return;  // timed out or stopping: just close
    const ssize_t n = ::recv(fd, buf, std::min(sizeof(buf), limit + 1 - request.size()), 0);
    if (n == 0) return;  // the client gave up
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return;
    }
    request.append(buf, static_cast<size_t>(n));
  }

  Response response;
  if (request_end == std::string::npos || request_end > limit) {
    response = Error(431, "Request Header Fields Too Large");
  } else {
    absl::string_view line(request.data(), request.find('\n'));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == absl::string_view::npos || sp1 == 0 || sp2 == sp1 + 1 ||
        line.find(' ', sp2 + 1) != absl::string_view::npos || line.substr(sp2 + 1, 5) != "HTTP/") {
      response = Error(400, "Bad Request");
    } else {
      absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      target = target.substr(0, target.find('?'));
      response = Route(line.substr(0, sp1), target, registry_);
    }
  }

  std::string out = absl::StrCat("HTTP/1.1 ", response.code, " ", response.reason,
                                 "\r\nContent-Type: ", response.content_type,
                                 "\r\nContent-Length: ", response.body.size(),
                                 "\r\nConnection: close\r\n", response.extra_headers, "\r\n");
  if (!response.head) out += response.body;

  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLOUT, deadline)) return;
    } else {
      return;  // EPIPE, ECONNRESET: the client is gone
    }
  }

  // Half-close, then read until the client closes (briefly): closing with unread input would
  // send a reset that can destroy the response before the client has read it.
  ::shutdown(fd, SHUT_WR);
  const Clock::time_point linger_end = std::min(deadline, Clock::now() + kLingerTime);
  while (WaitFor(fd, POLLIN, linger_end)) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
  }
}

}  // namespace tierwise::metrics
