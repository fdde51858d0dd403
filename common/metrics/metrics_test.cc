#include "common/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <latch>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/http_exporter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tierwise::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- Rendering ------------------------------------------------------------------------------

TEST(MetricsRenderTest, CounterWithLabels) {
  Registry registry;
  auto& rpcs =
      registry.RegisterCounter("tierwise_rpc_requests_total", "RPCs handled.", {"method", "code"});
  rpcs.WithLabels({"GetCustomer", "OK"}).Increment();
  rpcs.WithLabels({"GetCustomer", "OK"}).Increment(2);
  rpcs.WithLabels({"CreateCustomer", "INVALID_ARGUMENT"}).Increment();

  EXPECT_EQ(registry.Render(),
            "# HELP tierwise_rpc_requests_total RPCs handled.\n"
            "# TYPE tierwise_rpc_requests_total counter\n"
            R"(tierwise_rpc_requests_total{method="CreateCustomer",code="INVALID_ARGUMENT"} 1)"
            "\n"
            R"(tierwise_rpc_requests_total{method="GetCustomer",code="OK"} 3)"
            "\n");
}

TEST(MetricsRenderTest, UnlabelledCounterStartsAtZeroAndIgnoresNegativeAmounts) {
  Registry registry;
  auto& jobs = registry.RegisterCounter("jobs_total", "Jobs run.");
  EXPECT_EQ(registry.Render(),
            "# HELP jobs_total Jobs run.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 0\n");

  Counter& c = jobs.WithLabels({});
  c.Increment(0.5);
  c.Increment(0.25);
  c.Increment(2);
  c.Increment(-5);
  c.Increment(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(c.Value(), 2.75);
  EXPECT_THAT(registry.Render(), HasSubstr("\njobs_total 2.75\n"));
}

TEST(MetricsRenderTest, GaugeSetAndAdd) {
  Registry registry;
  auto& depth = registry.RegisterGauge("queue_depth", "Items waiting.", {"queue"});
  depth.WithLabels({"tiers"}).Set(3);
  depth.WithLabels({"tiers"}).Add(-1.5);
  depth.WithLabels({"events"}).Add(-4);

  EXPECT_EQ(registry.Render(),
            "# HELP queue_depth Items waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth{queue=\"events\"} -4\n"
            "queue_depth{queue=\"tiers\"} 1.5\n");
}

TEST(MetricsRenderTest, FamiliesInNameOrderAndEmptyLabelledFamiliesOmitted) {
  Registry registry;
  registry.RegisterGauge("b_gauge", "B.").WithLabels({}).Set(2);
  registry.RegisterCounter("a_total", "A.").WithLabels({}).Increment();
  registry.RegisterCounter("c_total", "Never used.", {"kind"});

  EXPECT_EQ(registry.Render(),
            "# HELP a_total A.\n"
            "# TYPE a_total counter\n"
            "a_total 1\n"
            "# HELP b_gauge B.\n"
            "# TYPE b_gauge gauge\n"
            "b_gauge 2\n");
}

TEST(MetricsRenderTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  auto& latency =
      registry.RegisterHistogram("rpc_seconds", "RPC latency.", {"method"}, {0.5, 1, 10});
  Histogram& h = latency.WithLabels({"GetCustomer"});
  h.Observe(0.25);
  h.Observe(0.5);  // upper bounds are inclusive
  h.Observe(2);
  h.Observe(20);                                        // above every bound: only +Inf
  h.Observe(std::numeric_limits<double>::quiet_NaN());  // dropped

  EXPECT_EQ(registry.Render(),
            "# HELP rpc_seconds RPC latency.\n"
            "# TYPE rpc_seconds histogram\n"
            R"(rpc_seconds_bucket{method="GetCustomer",le="0.5"} 2)"
            "\n"
            R"(rpc_seconds_bucket{method="GetCustomer",le="1"} 2)"
            "\n"
            R"(rpc_seconds_bucket{method="GetCustomer",le="10"} 3)"
            "\n"
            R"(rpc_seconds_bucket{method="GetCustomer",le="+Inf"} 4)"
            "\n"
            R"(rpc_seconds_sum{method="GetCustomer"} 22.75)"
            "\n"
            R"(rpc_seconds_count{method="GetCustomer"} 4)"
            "\n");
}

TEST(MetricsRenderTest, HistogramWithDefaultLatencyBuckets) {
  EXPECT_EQ(DefaultLatencyBuckets(), (std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}));
  Registry registry;
  registry.RegisterHistogram("op_seconds", "Op latency.").WithLabels({}).Observe(0.003);

  EXPECT_EQ(registry.Render(),
            "# HELP op_seconds Op latency.\n"
            "# TYPE op_seconds histogram\n"
            "op_seconds_bucket{le=\"0.0005\"} 0\n"
            "op_seconds_bucket{le=\"0.001\"} 0\n"
            "op_seconds_bucket{le=\"0.0025\"} 0\n"
            "op_seconds_bucket{le=\"0.005\"} 1\n"
            "op_seconds_bucket{le=\"0.01\"} 1\n"
            "op_seconds_bucket{le=\"0.025\"} 1\n"
            "op_seconds_bucket{le=\"0.05\"} 1\n"
            "op_seconds_bucket{le=\"0.1\"} 1\n"
            "op_seconds_bucket{le=\"0.25\"} 1\n"
            "op_seconds_bucket{le=\"0.5\"} 1\n"
            "op_seconds_bucket{le=\"1\"} 1\n"
            "op_seconds_bucket{le=\"2.5\"} 1\n"
            "op_seconds_bucket{le=\"5\"} 1\n"
            "op_seconds_bucket{le=\"10\"} 1\n"
            "op_seconds_bucket{le=\"+Inf\"} 1\n"
            "op_seconds_sum 0.003\n"
            "op_seconds_count 1\n");
}

TEST(MetricsRenderTest, TrailingInfBucketIsImplicit) {
  Registry registry;
  auto& a = registry.RegisterHistogram("size_bytes", "Sizes.", {},
                                       {1024, std::numeric_limits<double>::infinity()});
  // Same family: the +Inf spelling does not make the buckets differ.
  EXPECT_EQ(&registry.RegisterHistogram("size_bytes", "Sizes.", {}, {1024}), &a);
  EXPECT_EQ(registry.Render(),
            "# HELP size_bytes Sizes.\n"
            "# TYPE size_bytes histogram\n"
            "size_bytes_bucket{le=\"1024\"} 0\n"
            "size_bytes_bucket{le=\"+Inf\"} 0\n"
            "size_bytes_sum 0\n"
            "size_bytes_count 0\n");
}

TEST(MetricsRenderTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.RegisterGauge("files", "Open files.\nPer path \\ kind.", {"path"})
      .WithLabels({"C:\\tmp\\\"x\"\nnext"})
      .Set(1);

  EXPECT_EQ(registry.Render(), R"(# HELP files Open files.\nPer path \\ kind.)"
                               "\n"
                               "# TYPE files gauge\n"
                               R"(files{path="C:\\tmp\\\"x\"\nnext"} 1)"
                               "\n");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b"), "a\\\"b");
}

TEST(MetricsRenderTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(1234567890123), "1234567890123");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");  // round-trips, not %g
  EXPECT_EQ(FormatValue(1e-7), "1e-07");
  EXPECT_EQ(FormatValue(1.5e300), "1.5e+300");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

// --- Callback gauges ------------------------------------------------------------------------

TEST(MetricsCallbackGaugeTest, ReadsValueAtRenderTimeUntilHandleIsReset) {
  Registry registry;
  double profile_in_use = 1;
  CallbackGaugeHandle profile =
      registry.RegisterCallbackGauge("db_pool_in_use", "Connections in use.", {{"pool", "profile"}},
                                     [&] { return profile_in_use; });
  CallbackGaugeHandle tier = registry.RegisterCallbackGauge("db_pool_in_use", "Connections in use.",
                                                            {{"pool", "tier"}}, [] { return 2.0; });
  profile_in_use = 7;

  EXPECT_EQ(registry.Render(),
            "# HELP db_pool_in_use Connections in use.\n"
            "# TYPE db_pool_in_use gauge\n"
            "db_pool_in_use{pool=\"profile\"} 7\n"
            "db_pool_in_use{pool=\"tier\"} 2\n");

  profile_in_use = 3;
  EXPECT_THAT(registry.Render(), HasSubstr("db_pool_in_use{pool=\"profile\"} 3\n"));

  // Moving keeps the series; resetting removes it.
  CallbackGaugeHandle moved = std::move(profile);
  EXPECT_THAT(registry.Render(), HasSubstr("db_pool_in_use{pool=\"profile\"} 3\n"));
  moved.Reset();
  tier.Reset();
  EXPECT_EQ(registry.Render(), "");

  // The series may be registered again once released.
  CallbackGaugeHandle again = registry.RegisterCallbackGauge(
      "db_pool_in_use", "Connections in use.", {{"pool", "profile"}}, [] { return 5.0; });
  EXPECT_THAT(registry.Render(), HasSubstr("db_pool_in_use{pool=\"profile\"} 5\n"));
}

TEST(MetricsCallbackGaugeTest, ThrowingCallbackIsSkipped) {
  Registry registry;
  CallbackGaugeHandle bad =
      registry.RegisterCallbackGauge("outbox_backlog", "Unpublished rows.", {{"service", "a"}},
                                     []() -> double { throw std::runtime_error("db down"); });
  CallbackGaugeHandle good = registry.RegisterCallbackGauge(
      "outbox_backlog", "Unpublished rows.", {{"service", "b"}}, [] { return 12.0; });

  EXPECT_EQ(registry.Render(),
            "# HELP outbox_backlog Unpublished rows.\n"
            "# TYPE outbox_backlog gauge\n"
            "outbox_backlog{service=\"b\"} 12\n");
}

// --- Registration ---------------------------------------------------------------------------

TEST(MetricsRegistryTest, SameNameTypeAndLabelsReturnsSameFamily) {
  Registry registry;
  auto& first = registry.RegisterCounter("calls_total", "Calls.", {"method"});
  auto& second = registry.RegisterCounter("calls_total", "Calls.", {"method"});
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(first.name(), "calls_total");
  EXPECT_EQ(first.label_names(), std::vector<std::string>{"method"});

  auto& h1 = registry.RegisterHistogram("lat_seconds", "Latency.", {"method"});
  auto& h2 = registry.RegisterHistogram("lat_seconds", "Latency.", {"method"});
  EXPECT_EQ(&h1, &h2);
}

TEST(MetricsRegistryTest, ChildReferencesStayValid) {
  Registry registry;
  auto& family = registry.RegisterCounter("stable_total", "Stable.", {"key"});
  Counter& cached = family.WithLabels({"k0"});
  cached.Increment(5);
  for (int i = 1; i < 1000; ++i) family.WithLabels({absl::StrCat("k", i)}).Increment();

  EXPECT_EQ(&family.WithLabels({"k0"}), &cached);
  EXPECT_EQ(&family.WithLabels(std::vector<std::string>{"k0"}), &cached);
  EXPECT_EQ(cached.Value(), 5);
  EXPECT_EQ(family.WithLabels({"k999"}).Value(), 1);
}

TEST(MetricsRegistryDeathTest, ConflictingRegistrationAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  registry.RegisterCounter("dup_total", "Dup.", {"a"});
  EXPECT_DEATH(registry.RegisterGauge("dup_total", "Dup.", {"a"}),
               "metric dup_total registered as a counter, now as a gauge");
  EXPECT_DEATH(registry.RegisterCounter("dup_total", "Dup.", {"b"}),
               "metric dup_total registered with labels dup_total\\{a\\}, now with "
               "dup_total\\{b\\}");
  registry.RegisterHistogram("h_seconds", "H.", {}, {1, 2});
  EXPECT_DEATH(registry.RegisterHistogram("h_seconds", "H.", {}, {1, 3}),
               "histogram h_seconds registered with buckets");
}

TEST(MetricsRegistryDeathTest, InvalidNamesAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  EXPECT_DEATH(registry.RegisterCounter("1st_total", "Bad."), "invalid metric name '1st_total'");
  EXPECT_DEATH(registry.RegisterCounter("a-b", "Bad."), "invalid metric name 'a-b'");
  EXPECT_DEATH(registry.RegisterCounter("", "Bad."), "invalid metric name ''");
  EXPECT_DEATH(registry.RegisterCounter("ok_total", "Bad.", {"__x"}), "invalid label name '__x'");
  EXPECT_DEATH(registry.RegisterCounter("ok_total", "Bad.", {"a:b"}), "invalid label name 'a:b'");
  EXPECT_DEATH(registry.RegisterCounter("ok_total", "Bad.", {"x", "x"}), "label 'x' appears twice");
  EXPECT_DEATH(registry.RegisterHistogram("ok_seconds", "Bad.", {"le"}), "'le' is reserved");
  EXPECT_DEATH(registry.RegisterHistogram("ok_seconds", "Bad.", {}, {2, 1}), "strictly increasing");
  // Colons are fine in metric names (recording rules), names may start with _ or :.
  registry.RegisterCounter("ns:rpc_total", "Fine.");
  registry.RegisterCounter("_private_total", "Fine.");
  EXPECT_THAT(registry.Render(), HasSubstr("\nns:rpc_total 0\n"));
}

TEST(MetricsRegistryDeathTest, WrongLabelCountAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  auto& family = registry.RegisterCounter("pairs_total", "Pairs.", {"method", "code"});
  EXPECT_DEATH(family.WithLabels({"GetCustomer"}),
               "metric pairs_total\\{method,code\\} takes 2 label values, got 1");
}

TEST(MetricsRegistryDeathTest, DuplicateCallbackSeriesAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  CallbackGaugeHandle h =
      registry.RegisterCallbackGauge("pool_size", "Size.", {{"pool", "a"}}, [] { return 1.0; });
  EXPECT_DEATH(
      {
        CallbackGaugeHandle again = registry.RegisterCallbackGauge(
            "pool_size", "Size.", {{"pool", "a"}}, [] { return 1.0; });
      },
      "callback gauge pool_size\\{a\\} is already registered");
  EXPECT_DEATH(
      {
        CallbackGaugeHandle other =
            registry.RegisterCallbackGauge("pool_size", "Size.", {{"db", "a"}}, [] { return 1.0; });
      },
      "registered with labels");
}

// --- Concurrency ----------------------------------------------------------------------------

TEST(MetricsConcurrencyTest, ThreadsIncrementingOneChildGiveExactTotal) {
  Registry registry;
  auto& family = registry.RegisterCounter("hits_total", "Hits.", {"route"});
  auto& latency = registry.RegisterHistogram("hit_seconds", "Latency.", {"route"}, {1});
  constexpr int kThreads = 8;
  constexpr int kIterations = 500'000;

  std::latch start(kThreads);  // all threads update at once, maximising contention
  std::atomic<bool> done{false};
  std::thread renderer([&] {  // renders race with updates and with child creation
    while (!done.load()) registry.Render();
  });
  std::vector<Counter*> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread looks the child up itself, racing its creation.
      Counter& c = family.WithLabels({"shared"});
      Histogram& h = latency.WithLabels({"shared"});
      seen[t] = &c;
      start.arrive_and_wait();
      for (int i = 0; i < kIterations; ++i) {
        c.Increment();
        h.Observe(i % 2 == 0 ? 0.5 : 2.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  renderer.join();

  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[0]);
  EXPECT_EQ(family.WithLabels({"shared"}).Value(), kThreads * kIterations);
  const Histogram::Snapshot s = latency.WithLabels({"shared"}).Collect();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kIterations);
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{uint64_t{kThreads} * kIterations / 2,
                                                 uint64_t{kThreads} * kIterations}));
  EXPECT_EQ(s.sum,
            kThreads * kIterations / 2 * 2.5);  // exact: every partial sum is a multiple of 0.5
  EXPECT_THAT(registry.Render(), HasSubstr("hits_total{route=\"shared\"} 4000000\n"));
}

TEST(MetricsConcurrencyTest, FractionalIncrementsFromThreadsAreNotLost) {
  Counter c;
  constexpr int kThreads = 4;
  constexpr int kIterations = 1'000'000;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kIterations; ++i) c.Increment(0.5);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), kThreads * kIterations * 0.5);
}

// --- HTTP exporter --------------------------------------------------------------------------

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};  // never hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the server closes the connection (or 5 s pass).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends `parts` one after another (pausing between them) and returns the whole response.
std::string Exchange(int port, const std::vector<std::string>& parts,
                     std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
  const int fd = Connect(port);
  if (fd < 0) {
    ADD_FAILURE() << "cannot connect to port " << port;
    return "";
  }
  for (const std::string& part : parts) {
    if (!SendAll(fd, part)) ADD_FAILURE() << "send failed";
    std::this_thread::sleep_for(pause);
  }
  std::string response = ReadAll(fd);
  ::close(fd);
  return response;
}

std::string Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "<no header end>" : response.substr(end + 4);
}

class HttpExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.RegisterCounter("test_requests_total", "Requests.").WithLabels({}).Increment(3);
  }
  Registry registry_;
};

TEST_F(HttpExporterTest, ServesMetricsInTextFormat) {
  HttpExporter exporter(registry_);
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());
  ASSERT_GT(exporter.port(), 0);

  const std::string response =
      Exchange(exporter.port(), {"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"});
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response,
              HasSubstr("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(response, HasSubstr("\r\nConnection: close\r\n"));
  const std::string body = Body(response);
  EXPECT_EQ(body, registry_.Render());
  EXPECT_THAT(body, HasSubstr("\ntest_requests_total 3\n"));
  EXPECT_THAT(response, HasSubstr(absl::StrCat("\r\nContent-Length: ", body.size(), "\r\n")));
}

TEST_F(HttpExporterTest, HealthzNotFoundAndBadMethods) {
  HttpExporter exporter(registry_);
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());
  const int port = exporter.port();

  const std::string health = Exchange(port, {"GET /healthz HTTP/1.1\r\n\r\n"});
  EXPECT_THAT(health, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(health), "ok");

  EXPECT_THAT(Exchange(port, {"GET /metricsx HTTP/1.1\r\n\r\n"}),
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_THAT(Exchange(port, {"GET / HTTP/1.0\r\n\r\n"}), StartsWith("HTTP/1.1 404 Not Found\r\n"));
  const std::string post =
      Exchange(port, {"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"});
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("\r\nAllow: GET, HEAD\r\n"));
  EXPECT_THAT(Exchange(port, {"garbage\r\n\r\n"}), StartsWith("HTTP/1.1 400 Bad Request\r\n"));

  // A query string does not change the route; HEAD gets the headers only.
  EXPECT_THAT(Body(Exchange(port, {"GET /metrics?x=1 HTTP/1.1\r\n\r\n"})),
              HasSubstr("test_requests_total 3\n"));
  const std::string head = Exchange(port, {"HEAD /metrics HTTP/1.1\r\n\r\n"});
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(head), "");
  EXPECT_THAT(head, HasSubstr(absl::StrCat("Content-Length: ", registry_.Render().size())));
}

TEST_F(HttpExporterTest, RequestArrivingInPiecesIsServed) {
  HttpExporter exporter(registry_);
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());
  const std::string response =
      Exchange(exporter.port(), {"GE", "T /met", "rics HTTP/1.1\r\nHo", "st: x\r\n", "\r\n"},
               std::chrono::milliseconds(30));
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(Body(response), HasSubstr("test_requests_total 3\n"));
}

TEST_F(HttpExporterTest, OversizedRequestIsRejected) {
  HttpExporter exporter(registry_);
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());
  const std::string big =
      absl::StrCat("GET /metrics HTTP/1.1\r\nX-Filler: ", std::string(9000, 'a'), "\r\n\r\n");
  EXPECT_THAT(Exchange(exporter.port(), {big}),
              StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));

  // Just under the limit is fine.
  const std::string head = "GET /metrics HTTP/1.1\r\nX-Filler: ";
  const std::string fits = absl::StrCat(head, std::string(8192 - head.size() - 4, 'a'), "\r\n\r\n");
  ASSERT_EQ(fits.size(), 8192u);
  EXPECT_THAT(Exchange(exporter.port(), {fits}), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(HttpExporterTest, SilentClientIsDroppedAfterTimeoutAndOthersAreServed) {
  HttpExporterOptions options;
  options.io_timeout = std::chrono::milliseconds(200);
  HttpExporter exporter(registry_, options);
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());

  const int idle = Connect(exporter.port());
  ASSERT_GE(idle, 0);
  const auto start = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(::recv(idle, &c, 1, 0), 0);  // closed by the server, not by our 5 s timeout
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  ::close(idle);

  EXPECT_THAT(Exchange(exporter.port(), {"GET /healthz HTTP/1.1\r\n\r\n"}),
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(HttpExporterTest, StopIsPromptEvenWithAnIdleConnection) {
  HttpExporter exporter(registry_);  // io_timeout 2 s
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());
  const int port = exporter.port();
  const int idle = Connect(port);
  ASSERT_GE(idle, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server is reading it now

  const auto start = std::chrono::steady_clock::now();
  exporter.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  exporter.Stop();  // idempotent
  ::close(idle);

  EXPECT_EQ(Connect(port), -1);  // nothing listens any more
  EXPECT_EQ(exporter.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(HttpExporterTest, StartErrors) {
  HttpExporter exporter(registry_);
  EXPECT_EQ(exporter.port(), 0);
  EXPECT_EQ(exporter.Start("no-port").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(exporter.Start("127.0.0.1:70000").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(exporter.Start("127.0.0.1:http").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(exporter.Start("[::1:80").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(exporter.Start("127.0.0.1:0").ok());
  EXPECT_EQ(exporter.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);

  HttpExporter second(registry_);
  const absl::Status in_use = second.Start(absl::StrCat("127.0.0.1:", exporter.port()));
  EXPECT_EQ(in_use.code(), absl::StatusCode::kUnavailable) << in_use;
  EXPECT_THAT(std::string(in_use.message()), HasSubstr("bind"));
}

}  // namespace
}  // namespace tierwise::metrics
