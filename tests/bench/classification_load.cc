// tierwise-bench-classification: tier lookups, event-to-tier latency and full reclassification
// of a running classification service, with the profile and credit services feeding it.
//
// Setup: creates --customers customers through the profile service (BENCH-<run-id>-<i>, admin
// token) and waits until the credit and the classification services have learnt them from the
// CustomerChanged stream. The first --probe_customers of them never get an order (no revenue:
// they rank last, so no other customer's event re-evaluates them); the rest carry the load.
// Then, in --scenarios order:
//
//   get_tier    GetTier of the customers (cache warmed first; with --redis_addr the driver
//               checks that every one is in Redis), at each of --concurrency_levels calls in
//               flight, next to grpc.health.v1.Health/Check on the same server in the same run:
//               calls/s, p50/p99 and the ratio GetTier/health of calls/s.
//   event       For each of --rates (events/s): orders and payments of the loaded customers
//               through --streams IngestEvents streams, paced to the rate, for --rate_duration_s;
//               meanwhile --probe_rate RecordPayment calls per second for the probe customers.
//               A probe's latency runs from RecordPayment answered (the credit service has
//               committed the event) until GetTier (polled every --poll_ms) shows an evaluation
//               newer than the call. With --redis_addr and --redis_prefix the classification
//               consumer group on <prefix>:credit.ledger shows whether the rate was sustained:
//               the entries published and consumed during the window and the lag at its end.
//   reclassify  For each of --reclassify_sizes: customers inserted by SQL straight into the
//               classification schema (--pg_uri, --classification_schema; the service has no
//               bulk path) until it holds that many, each with one order of the last 300 days,
//               its metrics and the tier its rank gives; then StartFullReclassification and
//               GetJob until done. Next to it the plain SQL that reads the same metrics sorted
//               by revenue, and the SQL that sums the trailing-12-month orders per customer.
//
// Output: a table per scenario, and with --json one JSON object per row. Exit code: 0 every call
// succeeded, 1 some failed, 2 the run could not start.
//
// Example, against services started by run_classification_bench.sh:
//   tierwise-bench-classification --profile_addr=127.0.0.1:50051 --credit_addr=127.0.0.1:50053
//       --classification_addr=127.0.0.1:50054 --redis_addr=127.0.0.1:6379 --redis_prefix=bench
//       --pg_uri=$TIERWISE_PG_URI --classification_schema=classification

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"
#include "common/time/micros.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/bench/bench_common.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

ABSL_FLAG(std::string, profile_addr, "",
          "profile service host:port (default: $TIERWISE_PROFILE_ADDR, else 127.0.0.1:50051)");
ABSL_FLAG(std::string, credit_addr, "",
          "credit service host:port (default: $TIERWISE_CREDIT_ADDR, else 127.0.0.1:50053)");
ABSL_FLAG(std::string, classification_addr, "",
          "classification service host:port (default: $TIERWISE_CLASSIFICATION_ADDR, else "
          "127.0.0.1:50054)");
ABSL_FLAG(std::string, admin_token, "",
          "creates customers, reads tiers, starts reclassifications (default: "
          "$TIERWISE_ADMIN_TOKEN)");
ABSL_FLAG(std::string, erp_token, "",
          "ingests events (default: $TIERWISE_ERP_ADAPTER_TOKEN, else --admin_token)");
ABSL_FLAG(std::string, redis_addr, "",
          "Redis of the services, host:port: cache check and consumer lag (default: "
          "$TIERWISE_REDIS_ADDR; none: skipped)");
ABSL_FLAG(std::string, redis_prefix, "",
          "the services' key prefix (default: $TIERWISE_REDIS_PREFIX)");
ABSL_FLAG(std::string, pg_uri, "",
          "PostgreSQL of the classification service, for the reclassify scenario (default: "
          "$TIERWISE_PG_URI)");
ABSL_FLAG(std::string, classification_schema, "classification",
          "the classification service's schema (reclassify scenario)");
ABSL_FLAG(std::string, scenarios, "get_tier,event,reclassify",
          "comma-separated, run in this order: get_tier, event, reclassify");
ABSL_FLAG(int64_t, customers, 1000, "customers to create through the profile service");
ABSL_FLAG(int32_t, probe_customers, 20, "of those, customers without orders for the probes");
ABSL_FLAG(int32_t, seed_concurrency, 16, "CreateCustomer calls in flight while creating them");
ABSL_FLAG(double, known_timeout_s, 180,
          "wait at most this long for credit and classification to know the customers");
ABSL_FLAG(std::string, concurrency_levels, "1,8,32", "GetTier / health calls in flight");
ABSL_FLAG(int32_t, channels, 4, "channels (TCP connections) the unary calls are spread over");
ABSL_FLAG(double, duration_s, 10, "measured seconds per get_tier / health row");
ABSL_FLAG(double, warmup_s, 2, "unmeasured seconds before each get_tier / health row");
ABSL_FLAG(std::string, rates, "500,1000,2000", "event scenario: background events/s, in order");
ABSL_FLAG(double, rate_duration_s, 20, "event scenario: seconds per rate");
ABSL_FLAG(int32_t, streams, 4, "event scenario: IngestEvents streams for the background load");
ABSL_FLAG(double, probe_rate, 20, "event scenario: RecordPayment probes per second (at most)");
ABSL_FLAG(int32_t, poll_ms, 2, "event scenario: GetTier polling interval of a probe");
ABSL_FLAG(std::string, cpu_pids, "",
          "event scenario: name=PID,... of local processes whose CPU per accepted event is "
          "printed (a PostgreSQL postmaster counts its backends)");
ABSL_FLAG(double, drain_timeout_s, 120,
          "event scenario: wait at most this long for the consumer to catch up between rates");
ABSL_FLAG(std::string, reclassify_sizes, "100000,1000000",
          "reclassify scenario: customers in the schema for each full reclassification");
ABSL_FLAG(double, reclassify_timeout_s, 900,
          "reclassify scenario: give up waiting for one job (and skip larger sizes) after this");
ABSL_FLAG(int32_t, deadline_ms, 10000, "deadline of every unary call");
ABSL_FLAG(double, connect_timeout_s, 5, "give up when a server is not reachable by then");
ABSL_FLAG(bool, json, false, "also print one JSON object per row");

namespace tierwise::bench {
namespace {

namespace classification = ::tierwise::classification::v1;
namespace credit = ::tierwise::credit::v1;
namespace health = ::grpc::health::v1;
namespace profile = ::tierwise::profile::v1;

std::atomic<bool> g_interrupted{false};

extern "C" void OnSignal(int) { g_interrupted.store(true); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t NowMicros() { return time::NowMicros(); }

std::optional<std::vector<int64_t>> ParseList(const std::string& text) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(part, &v) || v <= 0) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Connections and setup
// ---------------------------------------------------------------------------------------------

struct Stubs {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<classification::ClassificationService::Stub>> tiers;
  std::vector<std::unique_ptr<health::Health::Stub>> health;
};

// The consumer group "classification" on the ledger stream, and the cached tiers, in Redis.
class RedisProbe {
 public:
  RedisProbe(const std::string& address, std::string prefix) : prefix_(std::move(prefix)) {
    auto options = redis::ParseRedisAddress(address);
    if (options.ok()) client_ = std::make_unique<redis::RedisClient>(*options);
  }
  bool ok() const { return client_ != nullptr; }

  // XLEN of the ledger stream, and the entries the group has handled: read (entries-read) less
  // those still pending (known = false when unavailable).
  struct Progress {
    bool known = false;
    int64_t length = 0;
    int64_t read = 0;
  };
  Progress LedgerProgress() {
    const std::string stream = prefix_ + ":credit.ledger";
    auto length = client_->Command({"XLEN", stream});
    auto groups = client_->Command({"XINFO", "GROUPS", stream});
    if (!length.ok() || !groups.ok() || groups->type != redis::Reply::Type::kArray) return {};
    for (const redis::Reply& group : groups->elements) {
      bool ours = false;
      int64_t read = -1, pending = 0;
      for (size_t i = 0; i + 1 < group.elements.size(); i += 2) {
        const std::string& key = group.elements[i].str;
        if (key == "name") ours = group.elements[i + 1].str == "classification";
        if (key == "entries-read") read = group.elements[i + 1].integer;
        if (key == "pending") pending = group.elements[i + 1].integer;
      }
      if (ours && read >= 0) return {true, length->integer, read - pending};
    }
    return {};
  }

  // How many of `ids` have a cached tier.
  int64_t Cached(const std::vector<std::string>& ids) {
    int64_t n = 0;
    for (const std::string& id : ids) {
      auto r = client_->Command({"HEXISTS", absl::StrCat(prefix_, ":tier:", id), "p"});
      if (r.ok() && r->integer == 1) ++n;
    }
    return n;
  }

 private:
  std::string prefix_;
  std::unique_ptr<redis::RedisClient> client_;
};

// Waits until `known` answers something but NOT_FOUND for every id; returns the ids that never
// did within `timeout`.
std::vector<std::string> WaitKnown(const std::vector<std::string>& ids,
                                   const std::function<grpc::Status(const std::string&)>& known,
                                   absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  std::vector<std::string> missing;
  for (const std::string& id : ids) {
    while (true) {
      const grpc::Status s = known(id);
      if (s.ok()) break;
      if (s.error_code() != grpc::StatusCode::NOT_FOUND || absl::Now() > give_up ||
          g_interrupted.load()) {
        missing.push_back(id);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// get_tier
// ---------------------------------------------------------------------------------------------

struct LookupRow {
  std::string scenario;  // health_check, get_tier
  int concurrency = 0;
  LoadResult result;
};

std::vector<LookupRow> RunLookups(Stubs& stubs, const CallSettings& settings,
                                  const std::vector<std::string>& ids,
                                  const std::vector<int64_t>& levels) {
  std::vector<LookupRow> rows;
  const absl::Duration warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_s));
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  for (int64_t level : levels) {
    for (const std::string name : {"health_check", "get_tier"}) {
      if (g_interrupted.load()) return rows;
      std::fprintf(stderr, "running %s at %lld in flight\n", name.c_str(),
                   static_cast<long long>(level));
      StartFn start;
      if (name == "health_check") {
        start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
          StartUnary(*stubs.health[channel], &health::Health::Stub::PrepareAsyncCheck,
                     health::HealthCheckRequest(), settings, cq);
          return !g_interrupted.load();
        };
      } else {
        start = [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
          std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
          classification::GetTierRequest request;
          request.set_customer_id(ids[pick(rng)]);
          StartUnary(*stubs.tiers[channel],
                     &classification::ClassificationService::Stub::PrepareAsyncGetTier,
                     std::move(request), settings, cq);
          return !g_interrupted.load();
        };
      }
      LookupRow row{name, static_cast<int>(level)};
      row.result = RunLoad(start, stubs.channels.size(), static_cast<int>(level), warmup, duration);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

void PrintLookups(const std::vector<LookupRow>& rows) {
  std::printf("%-13s %8s %9s %7s %10s %9s %9s %9s %10s\n", "lookup", "inflight", "calls", "errors",
              "calls/s", "p50 ms", "p99 ms", "max ms", "vs health");
  for (const LookupRow& row : rows) {
    const LoadResult& r = row.result;
    double health_rate = 0;
    for (const LookupRow& h : rows) {
      if (h.scenario == "health_check" && h.concurrency == row.concurrency) {
        health_rate = h.result.CallsPerSecond();
      }
    }
    const std::string ratio =
        health_rate > 0 ? absl::StrFormat("%.3f", r.CallsPerSecond() / health_rate) : "-";
    std::printf("%-13s %8d %9lld %7lld %10.1f %9s %9s %9s %10s\n", row.scenario.c_str(),
                row.concurrency, static_cast<long long>(r.calls), static_cast<long long>(r.errors),
                r.CallsPerSecond(), Ms(r.PercentileMs(0.50)).c_str(),
                Ms(r.PercentileMs(0.99)).c_str(), Ms(r.PercentileMs(1.0)).c_str(), ratio.c_str());
    for (const auto& [code, count] : r.error_codes) {
      std::printf("  %s: %lld x %s (first: %s)\n", row.scenario.c_str(),
                  static_cast<long long>(count), CodeName(code).c_str(),
                  JsonString(r.first_error.at(code)).c_str());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// event
// ---------------------------------------------------------------------------------------------

// Orders and payments for random customers: a customer's events alternate order, payment of that
// order, order, ... Thread-safe.
class EventSource {
 public:
  EventSource(std::string run_id, std::vector<std::string> customers)
      : run_id_(std::move(run_id)),
        customers_(std::move(customers)),
        sequence_(std::make_unique<std::atomic<int64_t>[]>(customers_.size())) {}

  credit::LedgerEventInput Next(Rng& rng) {
    std::uniform_int_distribution<size_t> pick(0, customers_.size() - 1);
    const size_t c = pick(rng);
    const int64_t s = sequence_[c].fetch_add(1, std::memory_order_relaxed);
    const int64_t n = next_id_.fetch_add(1, std::memory_order_relaxed);
    const int64_t order = s / 2;
    const uint64_t bits = SplitMix64((static_cast<uint64_t>(c) << 40) ^ order);
    const int64_t amount = 1000 + static_cast<int64_t>(bits % 5000000);  // 10.00 .. 50,009.99
    const std::string order_no = absl::StrCat("SO-", run_id_, "-", c, "-", order);
    credit::LedgerEventInput input;
    if (s % 2 == 0) {
      credit::OrderEvent& o = *input.mutable_order();
      o.set_event_id(absl::StrCat("BE-", run_id_, "-", n));
      o.set_customer_id(customers_[c]);
      o.set_order_no(order_no);
      o.mutable_amount()->set_minor_units(amount);
      o.mutable_amount()->set_currency("CNY");
      o.mutable_margin()->set_minor_units(amount / 5);
      o.mutable_margin()->set_currency("CNY");
      time::SetTimestamp(NowMicros(), o.mutable_occurred_at());
    } else {
      credit::PaymentEvent& p = *input.mutable_payment();
      p.set_event_id(absl::StrCat("BE-", run_id_, "-", n));
      p.set_customer_id(customers_[c]);
      p.set_payment_no(absl::StrCat("RC-", run_id_, "-", c, "-", order));
      p.mutable_amount()->set_minor_units(amount);
      p.mutable_amount()->set_currency("CNY");
      p.set_order_no(order_no);
      time::SetTimestamp(NowMicros(), p.mutable_occurred_at());
    }
    return input;
  }

 private:
  const std::string run_id_;
  const std::vector<std::string> customers_;
  std::unique_ptr<std::atomic<int64_t>[]> sequence_;
  std::atomic<int64_t> next_id_{0};
};

struct SenderTally {
  int64_t sent = 0;
  int64_t applied = 0;
  int64_t not_applied = 0;
  std::string first_problem;
  grpc::Status status;
};

// One IngestEvents stream offering `rate` events/s until `stop`, as an ERP adapter with a queue
// would: every 10 ms it sends what has come due since the last batch (at most 1,000 per
// message), so that a slow answer makes the next batch larger instead of lowering the rate.
void RunSender(credit::LedgerIngestService::Stub& stub, const std::string& token,
               EventSource& source, double rate, Clock::time_point stop, uint64_t seed,
               SenderTally& out) {
  grpc::ClientContext context;
  client::Authorize(context, token);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           stop - Clock::now() + std::chrono::seconds(60)));
  auto stream = stub.IngestEvents(&context);
  Rng rng(seed);
  constexpr int64_t kMaxBatch = 1000;
  constexpr auto kInterval = std::chrono::milliseconds(10);
  const Clock::time_point start = Clock::now();
  int64_t offered = 0;
  bool broken = false;
  while (Clock::now() < stop && !g_interrupted.load()) {
    const double elapsed = Seconds(Clock::now() - start);
    const int64_t due = static_cast<int64_t>(rate * elapsed) - offered;
    if (due <= 0) {
      std::this_thread::sleep_for(kInterval);
      continue;
    }
    const int64_t batch = std::min(due, kMaxBatch);
    offered += batch;
    credit::IngestEventsRequest request;
    for (int64_t i = 0; i < batch; ++i) *request.add_events() = source.Next(rng);
    credit::IngestEventsResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) {
      broken = true;
      break;
    }
    out.sent += batch;
    for (const credit::IngestResult& r : response.results()) {
      if (r.outcome() == credit::INGEST_OUTCOME_APPLIED && !r.duplicate()) {
        ++out.applied;
      } else {
        ++out.not_applied;
        if (out.first_problem.empty()) {
          out.first_problem = absl::StrCat(credit::IngestOutcome_Name(r.outcome()), " ",
                                           r.error_field(), " ", r.error_message());
        }
      }
    }
    std::this_thread::sleep_for(kInterval);
  }
  if (!broken) stream->WritesDone();
  out.status = stream->Finish();
  if (broken && out.status.ok()) {
    out.status = grpc::Status(grpc::StatusCode::UNKNOWN, "stream ended without a response");
  }
}

struct ProbeTally {
  int64_t attempts = 0;
  int64_t timeouts = 0;
  LoadResult latency;  // accepted → new evaluation visible
  std::string first_problem;
};

// Sends RecordPayment probes for the probe customers, round robin, at most `rate` per second,
// until `stop`; measures each until GetTier shows an evaluation newer than the call.
void RunProbes(credit::LedgerIngestService::Stub& ingest,
               classification::ClassificationService::Stub& tiers, const std::string& erp_token,
               const CallSettings& read, const std::vector<std::string>& customers,
               const std::string& run_id, double rate, Clock::time_point stop, ProbeTally& out) {
  const CallSettings write{erp_token, read.deadline};
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto poll = std::chrono::milliseconds(absl::GetFlag(FLAGS_poll_ms));
  static std::atomic<int64_t> sequence{0};
  Clock::time_point next = Clock::now();
  size_t i = 0;
  while (Clock::now() < stop && !g_interrupted.load()) {
    const std::string& customer = customers[i++ % customers.size()];
    const int64_t n = sequence.fetch_add(1);
    credit::PaymentEvent payment;
    payment.set_event_id(absl::StrCat("BP-", run_id, "-", n));
    payment.set_customer_id(customer);
    payment.set_payment_no(absl::StrCat("BP-", run_id, "-", n));
    payment.mutable_amount()->set_minor_units(100);
    payment.mutable_amount()->set_currency("CNY");
    const int64_t sent_us = NowMicros();
    time::SetTimestamp(sent_us, payment.mutable_occurred_at());
    credit::IngestResult result;
    grpc::ClientContext context;
    write.Apply(context);
    const grpc::Status status = ingest.RecordPayment(&context, payment, &result);
    ++out.attempts;
    if (!status.ok() || result.outcome() != credit::INGEST_OUTCOME_APPLIED) {
      out.latency.Record(status.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN,
                                                    credit::IngestOutcome_Name(result.outcome()))
                                     : status,
                         Clock::duration::zero());
      continue;
    }
    const Clock::time_point accepted = Clock::now();
    const Clock::time_point give_up = accepted + std::chrono::seconds(10);
    bool seen = false;
    while (Clock::now() < give_up && !g_interrupted.load()) {
      classification::GetTierRequest request;
      request.set_customer_id(customer);
      classification::Tier tier;
      grpc::ClientContext get;
      read.Apply(get);
      if (tiers.GetTier(&get, request, &tier).ok() &&
          time::ToMicros(tier.evaluated_at()) >= sent_us) {
        out.latency.Record(grpc::Status::OK, Clock::now() - accepted);
        seen = true;
        break;
      }
      std::this_thread::sleep_for(poll);
    }
    if (!seen) ++out.timeouts;
    next += interval;
    if (next > Clock::now()) std::this_thread::sleep_until(next);
  }
}

struct EventRow {
  int64_t target = 0;
  double seconds = 0;
  SenderTally sent;
  ProbeTally probes;
  std::optional<int64_t> published, consumed, lag_end;
  double drained_s = -1;      // after the window, until the consumer caught up (-1: unknown)
  std::vector<double> cpu_s;  // per --cpu_pids probe, window plus drain (-1: unknown)

  double AcceptedPerSecond() const {
    return seconds > 0 ? static_cast<double>(sent.applied) / seconds : 0;
  }
  bool Sustained() const {
    // Within one second's worth of events of the published ones when the window closed.
    return lag_end.has_value() && *lag_end <= std::max<int64_t>(target, 100) &&
           AcceptedPerSecond() >= 0.95 * static_cast<double>(target);
  }
};

// CPU per accepted event of each probed process, over the window and the drain after it.
void PrintEventCpu(const std::vector<EventRow>& rows, const std::vector<CpuProbe>& probes) {
  if (probes.empty()) return;
  std::printf("\nCPU ms per accepted event (window and drain)\n%-8s", "events/s");
  for (const CpuProbe& probe : probes) std::printf(" %14s", probe.name.c_str());
  std::printf(" %14s\n", "total");
  for (const EventRow& row : rows) {
    std::printf("%-8lld", static_cast<long long>(row.target));
    double total = 0;
    for (double s : row.cpu_s) {
      if (s < 0 || row.sent.applied == 0) {
        std::printf(" %14s", "-");
        continue;
      }
      const double ms = s * 1e3 / static_cast<double>(row.sent.applied);
      total += ms;
      std::printf(" %14.3f", ms);
    }
    std::printf(" %14.3f\n", total);
  }
}

void PrintEvents(const std::vector<EventRow>& rows) {
  std::printf("%-8s %9s %9s %9s %8s %9s %7s %9s %9s %9s %8s\n", "events/s", "accepted/s",
              "published", "consumed", "lag end", "sustained", "probes", "p50 ms", "p99 ms",
              "max ms", "drain s");
  for (const EventRow& row : rows) {
    const auto opt = [](const std::optional<int64_t>& v) {
      return v.has_value() ? absl::StrCat(*v) : std::string("-");
    };
    std::printf("%-8lld %10.1f %9s %9s %8s %9s %7lld %9s %9s %9s %8s\n",
                static_cast<long long>(row.target), row.AcceptedPerSecond(),
                opt(row.published).c_str(), opt(row.consumed).c_str(), opt(row.lag_end).c_str(),
                row.lag_end.has_value() ? (row.Sustained() ? "yes" : "NO") : "?",
                static_cast<long long>(row.probes.latency.ok_latency_ns.size()),
                Ms(row.probes.latency.PercentileMs(0.50)).c_str(),
                Ms(row.probes.latency.PercentileMs(0.99)).c_str(),
                Ms(row.probes.latency.PercentileMs(1.0)).c_str(),
                row.drained_s < 0 ? "-" : absl::StrFormat("%.1f", row.drained_s).c_str());
    if (row.sent.not_applied > 0 || !row.sent.status.ok()) {
      std::printf("  %lld events: %lld not applied (first: %s), stream: %s\n",
                  static_cast<long long>(row.target), static_cast<long long>(row.sent.not_applied),
                  JsonString(row.sent.first_problem).c_str(),
                  row.sent.status.ok() ? "OK" : row.sent.status.error_message().c_str());
    }
    if (row.probes.timeouts > 0 || row.probes.latency.errors > 0) {
      std::printf("  %lld events: %lld probes not seen within 10 s, %lld failed\n",
                  static_cast<long long>(row.target), static_cast<long long>(row.probes.timeouts),
                  static_cast<long long>(row.probes.latency.errors));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// reclassify
// ---------------------------------------------------------------------------------------------

struct ReclassifyRow {
  int64_t customers = 0;
  int64_t seeded = 0;
  double seed_s = 0;
  std::string note;  // why not measured
  double job_s = 0;  // from the job's start to its end (server times)
  double wall_s = 0;
  int64_t changed = 0;
  double sql_metrics_s = 0;
  int64_t sql_metrics_rows = 0;
  double sql_ledger_s = 0;
  int64_t sql_ledger_rows = 0;
};

std::unique_ptr<pqxx::connection> Connect(const std::string& uri, const std::string& schema) {
  auto conn = std::make_unique<pqxx::connection>(uri);
  pqxx::nontransaction tx(*conn);
  tx.exec("SET search_path TO " + tx.quote_name(schema));
  return conn;
}

int64_t CountCustomers(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec("SELECT count(*) FROM customers")[0][0].as<int64_t>();
}

// Customers BENCHSQL-<run>-<i> for i in [from, to): one order each (a spread of amounts, dated
// within the last 300 days), their metrics, and the tier their rank gives (by count, 5 % / 20 %)
// as a Tier payload of just customer_id and tier, so that the first reclassification finds the
// tiers in place as it would in a running system.
void SeedBySql(pqxx::connection& conn, const std::string& run_id, int64_t from, int64_t to) {
  // Per i: id md5('bench-<run>-' || i), amount 10.00 .. 500,009.99, dated 0..299 days ago.
  const std::string key = absl::StrCat(run_id, "-");
  const std::string rows =
      "SELECT g, md5('bench-' || $1 || g)::uuid AS id,"
      " 1000 + (hashint8(g)::bigint & 2147483647) % 50000000 AS amount,"
      " now() - make_interval(days => (g % 300)::int, hours => 1) AS at"
      " FROM generate_series($2::bigint, $3::bigint - 1) g";
  constexpr int64_t kChunk = 100000;
  for (int64_t start = from; start < to && !g_interrupted.load(); start += kChunk) {
    const int64_t end = std::min(to, start + kChunk);
    pqxx::work tx(conn);
    tx.exec_params(absl::StrCat("INSERT INTO customers (customer_id, external_ref, since,"
                                " profile_version) SELECT id, 'BENCHSQL-' || $1 || g,"
                                " now() - interval '800 days', 1 FROM (",
                                rows, ") s"),
                   key, start, end);
    tx.exec_params(absl::StrCat("INSERT INTO ledger_entries (event_id, customer_id, kind,"
                                " document_no, amount, margin, occurred_at)"
                                " SELECT 'bsql-' || $1 || g, id, 1, 'SO-' || $1 || g, amount,"
                                " amount / 5, at FROM (",
                                rows, ") s"),
                   key, start, end);
    tx.exec_params(
        absl::StrCat("INSERT INTO customer_metrics (customer_id, revenue_12m, margin_12m,"
                     " orders_12m, revenue_prev_6m, revenue_last_6m, renewal_permille,"
                     " first_order_at, last_order_at, next_window_exit, credit_rating)"
                     " SELECT id, amount, amount / 5, 1,"
                     " CASE WHEN at <= now() - interval '182 days' THEN amount ELSE 0 END,"
                     " CASE WHEN at > now() - interval '182 days' THEN amount ELSE 0 END,"
                     " 83, at, at, at + interval '365 days', 'AA' FROM (",
                     rows, ") s"),
        key, start, end);
    tx.commit();
  }
  // The tier by rank of everyone without one yet (their payload holds customer_id and tier).
  pqxx::work tx(conn);
  tx.exec(
      "WITH ranked AS ("
      "  SELECT m.customer_id, m.revenue_12m,"
      "         row_number() OVER (ORDER BY m.revenue_12m DESC, m.customer_id::text COLLATE \"C\")"
      "           AS rank,"
      "         count(*) OVER () AS n"
      "  FROM customer_metrics m JOIN customers c USING (customer_id) WHERE NOT c.removed),"
      " tiered AS ("
      "  SELECT customer_id, CASE WHEN revenue_12m <= 0 THEN 'C'"
      "    WHEN rank <= ceil(n * 5 / 100.0) THEN 'A'"
      "    WHEN rank <= ceil(n * 20 / 100.0) THEN 'B' ELSE 'C' END AS tier FROM ranked)"
      " INSERT INTO tiers (customer_id, tier, score, gate, payload, rule_set_version,"
      " evaluated_at)"
      " SELECT customer_id, tier, 0, '',"
      "   '\\x0a24'::bytea || convert_to(customer_id::text, 'UTF8') || '\\x1201'::bytea"
      "   || convert_to(tier, 'UTF8'), 1, now()"
      " FROM tiered ON CONFLICT (customer_id) DO NOTHING");
  tx.commit();
  pqxx::nontransaction analyze(conn);
  analyze.exec(
      "ANALYZE customers; ANALYZE ledger_entries; ANALYZE customer_metrics; ANALYZE tiers");
}

// Seconds of running `sql` and reading every row it returns; sets *rows.
double TimeQuery(pqxx::connection& conn, const std::string& sql, int64_t* rows) {
  const Clock::time_point start = Clock::now();
  pqxx::nontransaction tx(conn);
  const pqxx::result r = tx.exec(sql);
  int64_t n = 0;
  for (const auto& row : r) {
    n += row[0].size() > 0 ? 1 : 0;  // touch each row
  }
  *rows = n;
  return Seconds(Clock::now() - start);
}

ReclassifyRow RunReclassify(pqxx::connection& conn,
                            classification::ClassificationService::Stub& tiers,
                            const CallSettings& admin, const std::string& run_id, int64_t size,
                            double timeout_s) {
  ReclassifyRow row;
  row.customers = size;
  const int64_t have = CountCustomers(conn);
  if (have < size) {
    std::fprintf(stderr, "reclassify: seeding %lld customers by SQL\n",
                 static_cast<long long>(size - have));
    const Clock::time_point start = Clock::now();
    // Continue the numbering after what earlier sizes of this run seeded.
    int64_t seeded_before = 0;
    {
      pqxx::nontransaction tx(conn);
      seeded_before = tx.exec_params1("SELECT count(*) FROM customers WHERE external_ref LIKE $1",
                                      absl::StrCat("BENCHSQL-", run_id, "-%"))[0]
                          .as<int64_t>();
    }
    SeedBySql(conn, run_id, seeded_before, seeded_before + (size - have));
    row.seeded = size - have;
    row.seed_s = Seconds(Clock::now() - start);
  }
  row.customers = CountCustomers(conn);
  std::fprintf(stderr, "reclassify: full reclassification of %lld customers\n",
               static_cast<long long>(row.customers));
  classification::Job job;
  {
    grpc::ClientContext context;
    admin.Apply(context);
    const grpc::Status s = tiers.StartFullReclassification(
        &context, classification::StartFullReclassificationRequest(), &job);
    if (!s.ok()) {
      row.note = absl::StrCat("StartFullReclassification: ", CodeName(s.error_code()), ": ",
                              s.error_message());
      return row;
    }
  }
  const Clock::time_point start = Clock::now();
  Clock::time_point next_report = start + std::chrono::seconds(30);
  while (job.state() == "running" && !g_interrupted.load()) {
    if (Seconds(Clock::now() - start) > timeout_s) {
      row.note = absl::StrFormat("not done after %.0f s (%lld of %lld processed)", timeout_s,
                                 static_cast<long long>(job.processed()),
                                 static_cast<long long>(job.total()));
      return row;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    classification::GetJobRequest request;
    request.set_id(job.id());
    grpc::ClientContext context;
    admin.Apply(context);
    const grpc::Status s = tiers.GetJob(&context, request, &job);
    if (!s.ok()) {
      row.note = absl::StrCat("GetJob: ", CodeName(s.error_code()), ": ", s.error_message());
      return row;
    }
    if (Clock::now() >= next_report) {
      std::fprintf(stderr, "reclassify: %lld of %lld after %.0f s\n",
                   static_cast<long long>(job.processed()), static_cast<long long>(job.total()),
                   Seconds(Clock::now() - start));
      next_report += std::chrono::seconds(30);
    }
  }
  row.wall_s = Seconds(Clock::now() - start);
  if (job.state() != "done") {
    row.note = absl::StrCat("job ", job.state(), ": ", job.error());
    return row;
  }
  row.job_s =
      static_cast<double>(time::ToMicros(job.end_time()) - time::ToMicros(job.start_time())) / 1e6;
  row.changed = job.changed();
  row.sql_metrics_s =
      TimeQuery(conn,
                "SELECT customer_id, revenue_12m, margin_12m, orders_12m, revenue_prev_6m,"
                " revenue_last_6m, renewal_permille, first_order_at, last_order_at, credit_rating,"
                " on_time_permille FROM customer_metrics ORDER BY revenue_12m DESC, customer_id",
                &row.sql_metrics_rows);
  row.sql_ledger_s =
      TimeQuery(conn,
                "SELECT customer_id, sum(amount) AS revenue_12m, sum(margin) AS margin_12m,"
                " count(*) AS orders_12m FROM ledger_entries WHERE kind = 1"
                " AND occurred_at > now() - interval '365 days' GROUP BY customer_id"
                " ORDER BY revenue_12m DESC, customer_id",
                &row.sql_ledger_rows);
  return row;
}

void PrintReclassify(const std::vector<ReclassifyRow>& rows) {
  std::printf("%-10s %9s %8s %10s %8s %13s %13s %10s\n", "customers", "seeded", "seed s",
              "full run s", "changed", "SQL sorted s", "SQL ledger s", "full/SQL");
  for (const ReclassifyRow& row : rows) {
    if (!row.note.empty()) {
      std::printf("%-10lld %9lld %8.1f %s\n", static_cast<long long>(row.customers),
                  static_cast<long long>(row.seeded), row.seed_s, row.note.c_str());
      continue;
    }
    std::printf("%-10lld %9lld %8.1f %10.2f %8lld %13.3f %13.3f %10.1f\n",
                static_cast<long long>(row.customers), static_cast<long long>(row.seeded),
                row.seed_s, row.job_s, static_cast<long long>(row.changed), row.sql_metrics_s,
                row.sql_ledger_s, row.sql_metrics_s > 0 ? row.job_s / row.sql_metrics_s : 0);
  }
}

// ---------------------------------------------------------------------------------------------

std::string Flag(const std::string& value, const char* env, const std::string& fallback) {
  return !value.empty() ? value : EnvOr(env, fallback);
}

int Main() {
  const std::string profile_addr =
      Flag(absl::GetFlag(FLAGS_profile_addr), "TIERWISE_PROFILE_ADDR", "127.0.0.1:50051");
  const std::string credit_addr =
      Flag(absl::GetFlag(FLAGS_credit_addr), "TIERWISE_CREDIT_ADDR", "127.0.0.1:50053");
  const std::string classification_addr = Flag(absl::GetFlag(FLAGS_classification_addr),
                                               "TIERWISE_CLASSIFICATION_ADDR", "127.0.0.1:50054");
  const std::string admin_token =
      Flag(absl::GetFlag(FLAGS_admin_token), "TIERWISE_ADMIN_TOKEN", "");
  const std::string erp_token =
      Flag(absl::GetFlag(FLAGS_erp_token), "TIERWISE_ERP_ADAPTER_TOKEN", admin_token);
  const std::string redis_addr = Flag(absl::GetFlag(FLAGS_redis_addr), "TIERWISE_REDIS_ADDR", "");
  const std::string redis_prefix =
      Flag(absl::GetFlag(FLAGS_redis_prefix), "TIERWISE_REDIS_PREFIX", "tierwise");
  const std::string pg_uri = Flag(absl::GetFlag(FLAGS_pg_uri), "TIERWISE_PG_URI", "");
  const std::vector<std::string> scenarios =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipWhitespace());
  for (const std::string& s : scenarios) {
    if (s != "get_tier" && s != "event" && s != "reclassify") {
      std::fprintf(stderr, "error: unknown scenario %s (known: get_tier,event,reclassify)\n",
                   s.c_str());
      return 2;
    }
  }
  const std::optional<std::vector<CpuProbe>> parsed_probes =
      ParseCpuProbes(absl::GetFlag(FLAGS_cpu_pids));
  if (!parsed_probes) {
    std::fprintf(stderr, "error: --cpu_pids must look like credit=1234,postgres=987\n");
    return 2;
  }
  const std::vector<CpuProbe>& cpu_probes = *parsed_probes;
  const auto levels = ParseList(absl::GetFlag(FLAGS_concurrency_levels));
  const auto rates = ParseList(absl::GetFlag(FLAGS_rates));
  const auto sizes = ParseList(absl::GetFlag(FLAGS_reclassify_sizes));
  const int64_t customers = absl::GetFlag(FLAGS_customers);
  const int probe_customers = absl::GetFlag(FLAGS_probe_customers);
  if (!levels || !rates || !sizes || customers < 2 || probe_customers < 1 ||
      probe_customers >= customers || absl::GetFlag(FLAGS_channels) < 1 ||
      absl::GetFlag(FLAGS_streams) < 1 || absl::GetFlag(FLAGS_probe_rate) <= 0) {
    std::fprintf(stderr,
                 "error: --concurrency_levels, --rates, --reclassify_sizes are lists of positive "
                 "numbers; need 1 <= --probe_customers < --customers, --channels, --streams >= "
                 "1, --probe_rate > 0\n");
    return 2;
  }
  if (admin_token.empty()) {
    std::fprintf(stderr, "error: no admin token (--admin_token or $TIERWISE_ADMIN_TOKEN)\n");
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  const std::string run_id = NewRunId();
  const CallSettings admin{admin_token, absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms))};
  std::printf("run         %s (%u CPUs here)\n", run_id.c_str(),
              std::thread::hardware_concurrency());
  std::printf("servers     profile %s, credit %s, classification %s\n", profile_addr.c_str(),
              credit_addr.c_str(), classification_addr.c_str());
  std::fflush(stdout);

  const absl::Duration connect = absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s));
  auto profile_channels = OpenChannels(profile_addr, absl::GetFlag(FLAGS_channels));
  auto credit_channels = OpenChannels(credit_addr, absl::GetFlag(FLAGS_streams) + 1);
  Stubs stubs;
  stubs.channels = OpenChannels(classification_addr, absl::GetFlag(FLAGS_channels));
  if (!WaitConnected(profile_channels, profile_addr, connect) ||
      !WaitConnected(credit_channels, credit_addr, connect) ||
      !WaitConnected(stubs.channels, classification_addr, connect)) {
    return 2;
  }
  for (const auto& channel : stubs.channels) {
    stubs.tiers.push_back(classification::ClassificationService::NewStub(channel));
    stubs.health.push_back(health::Health::NewStub(channel));
  }
  std::vector<std::unique_ptr<profile::CustomerProfileService::Stub>> profile_stubs;
  std::vector<profile::CustomerProfileService::Stub*> profile_ptrs;
  for (const auto& channel : profile_channels) {
    profile_stubs.push_back(profile::CustomerProfileService::NewStub(channel));
    profile_ptrs.push_back(profile_stubs.back().get());
  }
  std::vector<std::unique_ptr<credit::LedgerIngestService::Stub>> ingest;
  for (const auto& channel : credit_channels) {
    ingest.push_back(credit::LedgerIngestService::NewStub(channel));
  }
  auto credit_accounts = credit::CreditService::NewStub(credit_channels[0]);
  std::unique_ptr<RedisProbe> redis;
  if (!redis_addr.empty()) {
    redis = std::make_unique<RedisProbe>(redis_addr, redis_prefix);
    if (!redis->ok()) {
      std::fprintf(stderr, "error: bad --redis_addr %s\n", redis_addr.c_str());
      return 2;
    }
  }
  bool failed = false;

  std::vector<std::string> ids;
  const bool needs_customers =
      std::find(scenarios.begin(), scenarios.end(), "get_tier") != scenarios.end() ||
      std::find(scenarios.begin(), scenarios.end(), "event") != scenarios.end();
  if (needs_customers) {
    const SeedOutcome seeded =
        SeedCustomers(profile_ptrs, admin, run_id, customers, absl::GetFlag(FLAGS_seed_concurrency),
                      absl::Seconds(600));
    for (const SeededCustomer& c : seeded.created) ids.push_back(c.id);
    if (static_cast<int64_t>(ids.size()) <= probe_customers) return 2;
    failed = static_cast<int64_t>(ids.size()) < customers;
    const absl::Duration known_timeout = absl::Seconds(absl::GetFlag(FLAGS_known_timeout_s));
    const Clock::time_point wait_start = Clock::now();
    std::vector<std::string> unknown = WaitKnown(
        ids,
        [&](const std::string& id) {
          classification::GetTierRequest request;
          request.set_customer_id(id);
          classification::Tier tier;
          grpc::ClientContext context;
          admin.Apply(context);
          return stubs.tiers[0]->GetTier(&context, request, &tier);
        },
        known_timeout);
    std::vector<std::string> unknown_credit = WaitKnown(
        ids,
        [&](const std::string& id) {
          credit::GetCreditAccountRequest request;
          request.set_customer_id(id);
          credit::CreditAccount account;
          grpc::ClientContext context;
          admin.Apply(context);
          return credit_accounts->GetCreditAccount(&context, request, &account);
        },
        known_timeout);
    std::printf("known       classification %zu, credit %zu of %zu customers after %.1f s\n",
                ids.size() - unknown.size(), ids.size() - unknown_credit.size(), ids.size(),
                Seconds(Clock::now() - wait_start));
    if (!unknown.empty() || !unknown_credit.empty()) {
      std::fprintf(stderr, "error: the services do not know all customers; same --redis_prefix?\n");
      return 2;
    }
  }
  const std::vector<std::string> probes(
      ids.begin(), ids.begin() + std::min<size_t>(ids.size(), probe_customers));
  const std::vector<std::string> loaded(ids.begin() + std::min<size_t>(ids.size(), probe_customers),
                                        ids.end());

  std::vector<LookupRow> lookup_rows;
  std::vector<EventRow> event_rows;
  std::vector<ReclassifyRow> reclassify_rows;
  for (const std::string& scenario : scenarios) {
    if (g_interrupted.load()) break;
    if (scenario == "get_tier") {
      // Every customer read once: a miss fills the cache.
      for (const std::string& id : ids) {
        classification::GetTierRequest request;
        request.set_customer_id(id);
        classification::Tier tier;
        grpc::ClientContext context;
        admin.Apply(context);
        (void)stubs.tiers[0]->GetTier(&context, request, &tier);
      }
      if (redis) {
        std::printf("cache       %lld of %zu customers' tiers are in Redis\n",
                    static_cast<long long>(redis->Cached(ids)), ids.size());
      }
      lookup_rows = RunLookups(stubs, admin, ids, *levels);
    } else if (scenario == "event") {
      EventSource source(run_id, loaded);
      for (int64_t rate : *rates) {
        if (g_interrupted.load()) break;
        std::fprintf(stderr, "event: %lld events/s for %g s\n", static_cast<long long>(rate),
                     absl::GetFlag(FLAGS_rate_duration_s));
        EventRow row;
        row.target = rate;
        const RedisProbe::Progress before =
            redis ? redis->LedgerProgress() : RedisProbe::Progress();
        const std::vector<double> cpu_from = SampleCpu(cpu_probes);
        const Clock::time_point start = Clock::now();
        const Clock::time_point stop =
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(absl::GetFlag(FLAGS_rate_duration_s)));
        const int streams = absl::GetFlag(FLAGS_streams);
        std::vector<SenderTally> tallies(static_cast<size_t>(streams));
        std::vector<std::thread> threads;
        std::random_device random_device;
        for (int s = 0; s < streams; ++s) {
          const uint64_t seed = (static_cast<uint64_t>(random_device()) << 32) ^ random_device();
          threads.emplace_back([&, s, seed] {
            RunSender(*ingest[static_cast<size_t>(s)], erp_token, source,
                      static_cast<double>(rate) / streams, stop, seed,
                      tallies[static_cast<size_t>(s)]);
          });
        }
        std::thread prober([&] {
          RunProbes(*ingest.back(), *stubs.tiers[0], erp_token, admin, probes, run_id,
                    absl::GetFlag(FLAGS_probe_rate), stop, row.probes);
        });
        // The window ends with the senders; a probe still waiting for its tier may run on.
        for (std::thread& t : threads) t.join();
        row.seconds = Seconds(Clock::now() - start);
        const RedisProbe::Progress after = redis ? redis->LedgerProgress() : RedisProbe::Progress();
        prober.join();
        for (SenderTally& t : tallies) {
          row.sent.sent += t.sent;
          row.sent.applied += t.applied;
          row.sent.not_applied += t.not_applied;
          if (row.sent.first_problem.empty()) row.sent.first_problem = t.first_problem;
          if (row.sent.status.ok()) row.sent.status = t.status;
        }
        row.probes.latency.Finish();
        if (before.known && after.known) {
          row.published = after.length - before.length;
          row.consumed = after.read - before.read;
          row.lag_end = after.length - after.read;
          // Let the consumer catch up before the next rate, and say how long it took.
          const Clock::time_point drain_start = Clock::now();
          while (Seconds(Clock::now() - drain_start) < absl::GetFlag(FLAGS_drain_timeout_s) &&
                 !g_interrupted.load()) {
            const RedisProbe::Progress now = redis->LedgerProgress();
            if (now.known && now.length == now.read) {
              row.drained_s = Seconds(Clock::now() - drain_start);
              break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
        }
        row.cpu_s = CpuDelta(cpu_from, SampleCpu(cpu_probes));
        failed = failed || row.sent.not_applied > 0 || !row.sent.status.ok() ||
                 row.probes.timeouts > 0 || row.probes.latency.errors > 0;
        event_rows.push_back(std::move(row));
      }
    } else if (scenario == "reclassify") {
      if (pg_uri.empty()) {
        std::fprintf(stderr, "reclassify: skipped, no --pg_uri\n");
        continue;
      }
      std::unique_ptr<pqxx::connection> conn;
      try {
        conn = Connect(pg_uri, absl::GetFlag(FLAGS_classification_schema));
        for (int64_t size : *sizes) {
          if (g_interrupted.load()) break;
          ReclassifyRow row = RunReclassify(*conn, *stubs.tiers[0], admin, run_id, size,
                                            absl::GetFlag(FLAGS_reclassify_timeout_s));
          const bool gave_up = !row.note.empty();
          reclassify_rows.push_back(std::move(row));
          if (gave_up) {
            failed = true;
            break;
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "reclassify: %s\n", e.what());
        failed = true;
      }
    }
  }

  std::printf("\n");
  if (!lookup_rows.empty()) {
    std::printf(
        "GetTier from the cache vs health Check on the classification server: %g s per row "
        "after %g s warm-up, %zu customers, %d channels\n",
        absl::GetFlag(FLAGS_duration_s), absl::GetFlag(FLAGS_warmup_s), ids.size(),
        absl::GetFlag(FLAGS_channels));
    PrintLookups(lookup_rows);
    std::printf("\n");
  }
  if (!event_rows.empty()) {
    std::printf(
        "event to tier: orders+payments over %d IngestEvents streams for %g s per rate; "
        "probes = RecordPayment answered -> GetTier shows a newer evaluation "
        "(polled every %d ms)\n",
        absl::GetFlag(FLAGS_streams), absl::GetFlag(FLAGS_rate_duration_s),
        absl::GetFlag(FLAGS_poll_ms));
    PrintEvents(event_rows);
    PrintEventCpu(event_rows, cpu_probes);
    std::printf("\n");
  }
  if (!reclassify_rows.empty()) {
    std::printf(
        "full reclassification (StartFullReclassification -> GetJob done; customers "
        "seeded by SQL) vs plain SQL reading the metrics sorted by revenue / summing "
        "the ledger\n");
    PrintReclassify(reclassify_rows);
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("\n");
    for (const LookupRow& r : lookup_rows) {
      std::printf(
          "{\"scenario\":%s,\"concurrency\":%d,\"calls\":%lld,\"errors\":%lld,"
          "\"calls_per_s\":%.1f,\"p50_ms\":%s,\"p99_ms\":%s}\n",
          JsonString(r.scenario).c_str(), r.concurrency, static_cast<long long>(r.result.calls),
          static_cast<long long>(r.result.errors), r.result.CallsPerSecond(),
          JsonMs(r.result.PercentileMs(0.5)).c_str(), JsonMs(r.result.PercentileMs(0.99)).c_str());
    }
    for (const EventRow& r : event_rows) {
      std::printf(
          "{\"scenario\":\"event\",\"target_per_s\":%lld,\"accepted_per_s\":%.1f,"
          "\"lag_end\":%s,\"sustained\":%s,\"probes\":%zu,\"p50_ms\":%s,\"p99_ms\":%s}\n",
          static_cast<long long>(r.target), r.AcceptedPerSecond(),
          r.lag_end ? absl::StrCat(*r.lag_end).c_str() : "null",
          r.lag_end ? (r.Sustained() ? "true" : "false") : "null",
          r.probes.latency.ok_latency_ns.size(), JsonMs(r.probes.latency.PercentileMs(0.5)).c_str(),
          JsonMs(r.probes.latency.PercentileMs(0.99)).c_str());
    }
    for (const ReclassifyRow& r : reclassify_rows) {
      std::printf(
          "{\"scenario\":\"reclassify\",\"customers\":%lld,\"full_s\":%.3f,"
          "\"changed\":%lld,\"sql_sorted_s\":%.3f,\"sql_ledger_s\":%.3f,\"note\":%s}\n",
          static_cast<long long>(r.customers), r.job_s, static_cast<long long>(r.changed),
          r.sql_metrics_s, r.sql_ledger_s, JsonString(r.note).c_str());
    }
  }
  for (const LookupRow& r : lookup_rows) failed = failed || r.result.errors > 0;
  std::fflush(stdout);
  if (g_interrupted.load()) {
    std::fprintf(stderr, "interrupted\n");
    return 1;
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace tierwise::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures GetTier against the health check, event-to-tier latency under load and full "
      "reclassification of a running Tierwise classification service.\nExample: "
      "tierwise-bench-classification --redis_addr=127.0.0.1:6379 --redis_prefix=bench "
      "--pg_uri=$TIERWISE_PG_URI");
  return tierwise::bench::RunDriver(argc, argv, tierwise::bench::Main);
}
