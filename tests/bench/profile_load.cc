// tierwise-bench-profile: a gRPC load driver for a running profile service.
//
// It keeps --concurrency unary calls in flight (async client, one completion queue and one
// thread per channel, each channel on its own TCP connection) and runs these scenarios one after
// another against the same server, --warmup_s unmeasured and then --duration_s measured each:
//
//   health_check      grpc.health.v1.Health/Check, the baseline every other row is compared to
//   get_customer      GetCustomer (BASIC view) of a random id from a sample of the table
//   list_first_page   ListCustomers, first page, no filter
//   list_deep_page    ListCustomers from a random page_token collected while paging through the
//                     whole table: keyset pagination in the middle of the table
//   list_by_province  ListCustomers filtered by the province of a random sampled customer
//
// Before the scenarios it pages through ListCustomers once (bounded by --collect_s) to count the
// customers and to sample ids, provinces and page tokens. With --seed_customers=N (or
// --seed_up_to=N) it first creates customers with external_ref BENCH-<run-id>-<i>; that needs an
// admin token.
//
// Output: a table per scenario (calls, errors, calls/s, p50/p90/p99/max latency of successful
// calls in ms, calls/s relative to health_check), errors by status code, with
// --cpu_pids=name=PID,... the CPU each local process (with its descendants) used per call, and with
// --json the same as one JSON object per line. Exit code: 0 all calls succeeded, 1 some calls (or
// some seeding) failed, 2 the run could not start (bad flags, server unreachable).
//
// Example, against the local stack (see run_profile_bench.sh):
//   tierwise-bench-profile --addr=127.0.0.1:50051 --token=$TIERWISE_ADMIN_TOKEN
//       --seed_up_to=100000 --concurrency=16 --duration_s=10

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/bench/bench_common.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

ABSL_FLAG(std::string, addr, "",
          "profile service host:port (default: $TIERWISE_PROFILE_ADDR, else 127.0.0.1:50051)");
ABSL_FLAG(std::string, token, "",
          "bearer token (default: $TIERWISE_VIEWER_TOKEN, else $TIERWISE_ADMIN_TOKEN)");
ABSL_FLAG(std::string, seed_token, "",
          "token for seeding, must be admin (default: --token if given, else "
          "$TIERWISE_ADMIN_TOKEN, else the read token)");
ABSL_FLAG(int32_t, concurrency, 16, "calls in flight");
ABSL_FLAG(int32_t, channels, 4, "channels (TCP connections) the calls are spread over");
ABSL_FLAG(double, duration_s, 10, "measured seconds per scenario");
ABSL_FLAG(double, warmup_s, 2, "unmeasured seconds before each scenario");
ABSL_FLAG(int32_t, deadline_ms, 5000, "deadline of every call");
ABSL_FLAG(double, connect_timeout_s, 5, "give up when the server is not reachable by then");
ABSL_FLAG(int64_t, seed_customers, 0, "first create this many customers (admin token)");
ABSL_FLAG(int64_t, seed_up_to, 0,
          "first create customers until the table holds at least this many (admin token)");
ABSL_FLAG(int32_t, seed_concurrency, 64, "CreateCustomer calls in flight while seeding");
ABSL_FLAG(double, seed_timeout_s, 1200, "stop seeding after this many seconds");
ABSL_FLAG(std::string, cpu_pids, "",
          "name=PID,... of local processes (a postmaster counts with its backends) whose CPU per "
          "call is printed for each scenario, e.g. profile=1234,postgres=987");
ABSL_FLAG(int32_t, page_size, 100, "page size of the ListCustomers scenarios (1..500)");
ABSL_FLAG(double, collect_s, 120, "time limit for paging through the table to sample it");
ABSL_FLAG(std::string, scenarios,
          "health_check,get_customer,list_first_page,list_deep_page,list_by_province",
          "comma-separated scenarios to run, in this order");
ABSL_FLAG(std::string, health_service, "", "service name sent in Health/Check");
ABSL_FLAG(bool, json, false, "also print one JSON object per scenario");

namespace tierwise::bench {
namespace {

namespace health = ::grpc::health::v1;
namespace profile = ::tierwise::profile::v1;

constexpr int kMaxSampledIds = 10000;
constexpr int kMaxSampledTokens = 10000;

// The stubs of one channel.
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<health::Health::Stub> health;
  std::unique_ptr<profile::CustomerProfileService::Stub> profile;
};

std::vector<Connection> Connect(const std::string& address, int count) {
  std::vector<Connection> connections;
  for (std::shared_ptr<grpc::Channel>& channel : OpenChannels(address, count)) {
    Connection connection;
    connection.health = health::Health::NewStub(channel);
    connection.profile = profile::CustomerProfileService::NewStub(channel);
    connection.channel = std::move(channel);
    connections.push_back(std::move(connection));
  }
  return connections;
}

// What paging once through the table (unfiltered, --page_size) found.
struct TableSample {
  int64_t customers = 0;
  int64_t pages = 0;
  bool complete = false;                 // reached the last page
  grpc::Status error;                    // why paging stopped early, if it did
  std::vector<std::string> ids;          // uniform sample of customer ids
  std::vector<std::string> provinces;    // province of a uniform sample of customers (non-empty)
  std::vector<std::string> page_tokens;  // uniform sample of next_page_tokens
};

// Reservoir sampling: after `seen` items, each has the same chance to be in `pool`.
void Offer(std::vector<std::string>& pool, size_t cap, int64_t seen, const std::string& item,
           Rng& rng) {
  if (pool.size() < cap) {
    pool.push_back(item);
    return;
  }
  std::uniform_int_distribution<int64_t> pick(0, seen - 1);
  const int64_t slot = pick(rng);
  if (slot < static_cast<int64_t>(cap)) pool[static_cast<size_t>(slot)] = item;
}

TableSample SampleTable(profile::CustomerProfileService::Stub& stub, const CallSettings& settings,
                        int page_size, absl::Duration budget) {
  TableSample sample;
  Rng rng(std::random_device{}());
  const absl::Time give_up = absl::Now() + budget;
  int64_t with_province = 0;
  std::string token;
  while (absl::Now() < give_up) {
    profile::ListCustomersRequest request;
    request.set_page_size(page_size);
    request.set_page_token(token);
    profile::ListCustomersResponse response;
    grpc::ClientContext context;
    settings.Apply(context);
    grpc::Status status = stub.ListCustomers(&context, request, &response);
    if (!status.ok()) {
      sample.error = std::move(status);
      return sample;
    }
    ++sample.pages;
    for (const profile::Customer& customer : response.customers()) {
      ++sample.customers;
      Offer(sample.ids, kMaxSampledIds, sample.customers, customer.id(), rng);
      if (!customer.region().province().empty()) {
        Offer(sample.provinces, kMaxSampledIds, ++with_province, customer.region().province(), rng);
      }
    }
    token = response.next_page_token();
    if (token.empty()) {
      sample.complete = true;
      return sample;
    }
    Offer(sample.page_tokens, kMaxSampledTokens, sample.pages, token, rng);
  }
  return sample;
}

// Seed data: a spread of regions, industries and natures so that the filtered scenario has
// realistic selectivity, and names that do not sort in insertion order.
struct Row {
  std::string scenario;
  bool skipped = false;
  std::string note;  // why skipped
  LoadResult result;
  std::vector<double> cpu_s;  // per probe over the measured window, -1 when unknown
};

double HealthRate(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    if (row.scenario == "health_check" && !row.skipped) return row.result.CallsPerSecond();
  }
  return 0;
}

void PrintTable(const std::vector<Row>& rows, const std::vector<CpuProbe>& probes) {
  const double health_rate = HealthRate(rows);
  std::printf("%-18s %9s %7s %10s %9s %9s %9s %9s %9s\n", "scenario", "calls", "errors", "calls/s",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "vs health");
  for (const Row& row : rows) {
    if (row.skipped) {
      std::printf("%-18s skipped: %s\n", row.scenario.c_str(), row.note.c_str());
      continue;
    }
    const LoadResult& r = row.result;
    const std::string ratio =
        health_rate > 0 ? absl::StrFormat("%.3f", r.CallsPerSecond() / health_rate) : "-";
    std::printf("%-18s %9lld %7lld %10.1f %9s %9s %9s %9s %9s\n", row.scenario.c_str(),
                static_cast<long long>(r.calls), static_cast<long long>(r.errors),
                r.CallsPerSecond(), Ms(r.PercentileMs(0.50)).c_str(),
                Ms(r.PercentileMs(0.90)).c_str(), Ms(r.PercentileMs(0.99)).c_str(),
                Ms(r.PercentileMs(1.0)).c_str(), ratio.c_str());
  }
  for (const Row& row : rows) {
    for (const auto& [code, count] : row.result.error_codes) {
      std::printf("  %s: %lld x %s (first: %s)\n", row.scenario.c_str(),
                  static_cast<long long>(count), CodeName(code).c_str(),
                  JsonString(row.result.first_error.at(code)).c_str());
    }
  }
  if (probes.empty()) return;
  std::printf("\n%-18s", "CPU µs per call");
  for (const CpuProbe& probe : probes) std::printf(" %15s", probe.name.c_str());
  std::printf("   (and %% of one core)\n");
  for (const Row& row : rows) {
    if (row.skipped || row.result.calls == 0) continue;
    std::printf("%-18s", row.scenario.c_str());
    std::printf("%s\n", CpuCells(row.cpu_s, row.result.calls, row.result.elapsed_s).c_str());
  }
}

struct RunInfo {
  std::string address;
  int concurrency;
  int channels;
  double duration_s;
  double warmup_s;
  int page_size;
  int64_t customers;
  bool customers_complete;
};

void PrintJson(const std::vector<Row>& rows, const RunInfo& info) {
  const double health_rate = HealthRate(rows);
  for (const Row& row : rows) {
    const LoadResult& r = row.result;
    std::vector<std::string> codes;
    for (const auto& [code, count] : r.error_codes) {
      codes.push_back(absl::StrCat(JsonString(CodeName(code)), ":", count));
    }
    std::string line = absl::StrCat(
        "{\"scenario\":", JsonString(row.scenario), ",\"addr\":", JsonString(info.address),
        ",\"concurrency\":", info.concurrency, ",\"channels\":", info.channels,
        ",\"duration_s\":", info.duration_s, ",\"warmup_s\":", info.warmup_s,
        ",\"page_size\":", info.page_size, ",\"customers\":", info.customers,
        ",\"customers_complete\":", info.customers_complete ? "true" : "false");
    if (row.skipped) {
      absl::StrAppend(&line, ",\"skipped\":", JsonString(row.note), "}");
    } else {
      absl::StrAppend(
          &line, ",\"calls\":", r.calls, ",\"errors\":", r.errors,
          ",\"calls_per_s\":", absl::StrFormat("%.1f", r.CallsPerSecond()),
          ",\"p50_ms\":", JsonMs(r.PercentileMs(0.50)),
          ",\"p90_ms\":", JsonMs(r.PercentileMs(0.90)),
          ",\"p99_ms\":", JsonMs(r.PercentileMs(0.99)), ",\"max_ms\":", JsonMs(r.PercentileMs(1.0)),
          ",\"vs_health\":",
          health_rate > 0 ? absl::StrFormat("%.3f", r.CallsPerSecond() / health_rate) : "null",
          ",\"error_codes\":{", absl::StrJoin(codes, ","), "}}");
    }
    std::printf("%s\n", line.c_str());
  }
}

// Returns false (after saying why) when a channel cannot connect within `timeout`.
// Creates `count` customers of a new run id; returns how many were created.
int64_t Seed(std::vector<Connection>& connections, const CallSettings& settings, int64_t count,
             int concurrency, absl::Duration timeout) {
  std::vector<profile::CustomerProfileService::Stub*> stubs;
  for (Connection& connection : connections) stubs.push_back(connection.profile.get());
  const SeedOutcome outcome =
      SeedCustomers(stubs, settings, NewRunId(), count, concurrency, timeout);
  return static_cast<int64_t>(outcome.created.size());
}

void PrintSample(const TableSample& sample, absl::Duration budget) {
  std::printf("customers   %s%lld seen over %lld pages",
              sample.complete ? "" : ">= ", static_cast<long long>(sample.customers),
              static_cast<long long>(sample.pages));
  if (!sample.error.ok()) {
    std::printf(" (ListCustomers failed: %s: %s)", CodeName(sample.error.error_code()).c_str(),
                sample.error.error_message().c_str());
  } else if (!sample.complete) {
    std::printf(" (stopped paging after %s)", absl::FormatDuration(budget).c_str());
  }
  std::printf("\n");
}

template <typename T>
const T& RandomItem(const std::vector<T>& items, Rng& rng) {
  std::uniform_int_distribution<size_t> pick(0, items.size() - 1);
  return items[pick(rng)];
}

int Main() {
  const std::string address = !absl::GetFlag(FLAGS_addr).empty()
                                  ? absl::GetFlag(FLAGS_addr)
                                  : EnvOr("TIERWISE_PROFILE_ADDR", "127.0.0.1:50051");
  const std::string explicit_token = absl::GetFlag(FLAGS_token);
  const std::string read_token =
      !explicit_token.empty() ? explicit_token
                              : EnvOr("TIERWISE_VIEWER_TOKEN", EnvOr("TIERWISE_ADMIN_TOKEN", ""));
  std::string seed_token = absl::GetFlag(FLAGS_seed_token);
  if (seed_token.empty()) {
    seed_token =
        !explicit_token.empty() ? explicit_token : EnvOr("TIERWISE_ADMIN_TOKEN", read_token);
  }
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int channels = absl::GetFlag(FLAGS_channels);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  const double warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const int page_size = absl::GetFlag(FLAGS_page_size);
  const std::optional<std::vector<CpuProbe>> parsed_probes =
      ParseCpuProbes(absl::GetFlag(FLAGS_cpu_pids));
  if (!parsed_probes) {
    std::fprintf(stderr, "error: --cpu_pids must look like profile=1234,postgres=987\n");
    return 2;
  }
  const std::vector<CpuProbe>& probes = *parsed_probes;
  const int64_t seed_customers = absl::GetFlag(FLAGS_seed_customers);
  const int64_t seed_up_to = absl::GetFlag(FLAGS_seed_up_to);
  const absl::Duration collect_budget = absl::Seconds(absl::GetFlag(FLAGS_collect_s));
  const std::vector<std::string> scenarios =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipWhitespace());

  const std::vector<std::string> known = {"health_check", "get_customer", "list_first_page",
                                          "list_deep_page", "list_by_province"};
  for (const std::string& scenario : scenarios) {
    if (std::find(known.begin(), known.end(), scenario) == known.end()) {
      std::fprintf(stderr, "error: unknown scenario %s (known: %s)\n", scenario.c_str(),
                   absl::StrJoin(known, ",").c_str());
      return 2;
    }
  }
  if (concurrency < 1 || channels < 1 || duration_s <= 0 || warmup_s < 0 || page_size < 1 ||
      page_size > 500 || seed_customers < 0 || seed_up_to < 0 ||
      absl::GetFlag(FLAGS_seed_concurrency) < 1 || absl::GetFlag(FLAGS_deadline_ms) < 1) {
    std::fprintf(stderr,
                 "error: need --concurrency, --channels, --seed_concurrency, --deadline_ms >= 1, "
                 "--duration_s > 0, --warmup_s >= 0, --page_size in 1..500, seeding counts >= 0\n");
    return 2;
  }
  if (seed_customers > 0 && seed_up_to > 0) {
    std::fprintf(stderr, "error: give --seed_customers or --seed_up_to, not both\n");
    return 2;
  }

  const absl::Duration deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  const CallSettings read_settings{read_token, deadline};
  const CallSettings seed_settings{seed_token, deadline};

  std::printf("server      %s\n", address.c_str());
  std::printf(
      "load        %d calls in flight over %d channels, %g s per scenario after %g s "
      "warm-up, deadline %s\n",
      concurrency, channels, duration_s, warmup_s, absl::FormatDuration(deadline).c_str());
  std::fflush(stdout);

  std::vector<Connection> connections = Connect(address, channels);
  std::vector<std::shared_ptr<grpc::Channel>> channel_list;
  for (const Connection& connection : connections) channel_list.push_back(connection.channel);
  if (!WaitConnected(channel_list, address,
                     absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s)))) {
    return 2;
  }

  TableSample sample;
  bool sampled = false;
  int64_t to_create = seed_customers;
  if (seed_up_to > 0) {
    sample = SampleTable(*connections[0].profile, read_settings, page_size, collect_budget);
    sampled = true;
    PrintSample(sample, collect_budget);
    if (!sample.complete) {
      std::fprintf(stderr, "warning: could not count the customers; not seeding\n");
    } else if (sample.customers < seed_up_to) {
      to_create = seed_up_to - sample.customers;
    }
  }
  bool seed_failed = false;
  if (to_create > 0) {
    seed_failed = Seed(connections, seed_settings, to_create, absl::GetFlag(FLAGS_seed_concurrency),
                       absl::Seconds(absl::GetFlag(FLAGS_seed_timeout_s))) < to_create;
    sampled = false;
  }
  if (!sampled) {
    sample = SampleTable(*connections[0].profile, read_settings, page_size, collect_budget);
    PrintSample(sample, collect_budget);
  }
  std::printf("\n");
  std::fflush(stdout);

  const absl::Duration warmup = absl::Seconds(warmup_s);
  const absl::Duration duration = absl::Seconds(duration_s);
  const std::string health_service = absl::GetFlag(FLAGS_health_service);
  std::vector<Row> rows;
  for (const std::string& scenario : scenarios) {
    Row row;
    row.scenario = scenario;
    StartFn start;
    if (scenario == "health_check") {
      start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
        health::HealthCheckRequest request;
        request.set_service(health_service);
        StartUnary(*connections[channel].health, &health::Health::Stub::PrepareAsyncCheck,
                   std::move(request), read_settings, cq);
        return true;
      };
    } else if (scenario == "get_customer") {
      if (sample.ids.empty()) row.note = "no customer ids sampled";
      start = [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
        profile::GetCustomerRequest request;
        request.set_id(RandomItem(sample.ids, rng));
        request.set_view(profile::CUSTOMER_VIEW_BASIC);
        StartUnary(*connections[channel].profile,
                   &profile::CustomerProfileService::Stub::PrepareAsyncGetCustomer,
                   std::move(request), read_settings, cq);
        return true;
      };
    } else if (scenario == "list_first_page") {
      start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
        profile::ListCustomersRequest request;
        request.set_page_size(page_size);
        StartUnary(*connections[channel].profile,
                   &profile::CustomerProfileService::Stub::PrepareAsyncListCustomers,
                   std::move(request), read_settings, cq);
        return true;
      };
    } else if (scenario == "list_deep_page") {
      if (sample.page_tokens.empty()) row.note = "the table has a single page";
      start = [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
        profile::ListCustomersRequest request;
        request.set_page_size(page_size);
        request.set_page_token(RandomItem(sample.page_tokens, rng));
        StartUnary(*connections[channel].profile,
                   &profile::CustomerProfileService::Stub::PrepareAsyncListCustomers,
                   std::move(request), read_settings, cq);
        return true;
      };
    } else if (scenario == "list_by_province") {
      if (sample.provinces.empty()) row.note = "no customer with a province sampled";
      start = [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
        profile::ListCustomersRequest request;
        request.set_page_size(page_size);
        request.set_province(RandomItem(sample.provinces, rng));
        StartUnary(*connections[channel].profile,
                   &profile::CustomerProfileService::Stub::PrepareAsyncListCustomers,
                   std::move(request), read_settings, cq);
        return true;
      };
    }
    if (!row.note.empty()) {
      row.skipped = true;
    } else {
      std::fprintf(stderr, "running %s\n", scenario.c_str());
      // CPU over the measured window: sampled when the warm-up ends and after the last call.
      std::vector<double> cpu_from;
      std::thread sampler([&] {
        std::this_thread::sleep_for(absl::ToChronoNanoseconds(warmup));
        cpu_from = SampleCpu(probes);
      });
      row.result = RunLoad(start, connections.size(), concurrency, warmup, duration);
      sampler.join();
      const std::vector<double> cpu_to = SampleCpu(probes);
      for (size_t i = 0; i < probes.size(); ++i) {
        row.cpu_s.push_back(cpu_from[i] < 0 || cpu_to[i] < 0 ? -1 : cpu_to[i] - cpu_from[i]);
      }
    }
    rows.push_back(std::move(row));
  }

  PrintTable(rows, probes);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("\n");
    PrintJson(rows, RunInfo{address, concurrency, channels, duration_s, warmup_s, page_size,
                            sample.customers, sample.complete});
  }
  if (seed_failed) return 1;
  for (const Row& row : rows) {
    if (row.result.errors > 0) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tierwise::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Puts a running Tierwise profile service under gRPC load and prints latency and "
      "throughput per scenario.\nExample: tierwise-bench-profile --addr=127.0.0.1:50051 "
      "--token=$TIERWISE_ADMIN_TOKEN --seed_up_to=100000");
  return tierwise::bench::RunDriver(argc, argv, tierwise::bench::Main);
}
