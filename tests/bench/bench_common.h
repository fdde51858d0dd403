#ifndef TIERWISE_TESTS_BENCH_BENCH_COMMON_H_
#define TIERWISE_TESTS_BENCH_BENCH_COMMON_H_

// What the gRPC load drivers share: a closed-loop async unary load generator (RunLoad), latency
// bookkeeping, channels on separate TCP connections, creating BENCH-* customers through the
// profile service, per-process CPU from /proc, and small output helpers.
//
//   std::vector<std::shared_ptr<grpc::Channel>> channels = OpenChannels("127.0.0.1:50051", 4);
//   auto stubs = ...;  // one stub per channel
//   LoadResult r = RunLoad([&](size_t ch, Rng&, grpc::CompletionQueue& cq) {
//     StartUnary(*stubs[ch], &Stub::PrepareAsyncGetCustomer, request, settings, cq);
//     return true;  // false: no more work
//   }, channels.size(), /*concurrency=*/16, absl::Seconds(2), absl::Seconds(10));
//
// Not thread-safe unless a function says so; RunLoad calls its StartFn (and the done callbacks of
// StartUnary) from one thread per channel at once.

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/client/channel.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::bench {

using Clock = std::chrono::steady_clock;
using Rng = std::mt19937_64;

// The environment variable `name`, or `fallback` when it is unset or empty.
std::string EnvOr(const char* name, const std::string& fallback);

// "NOT_FOUND" and so on.
std::string CodeName(grpc::StatusCode code);

// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);

// Milliseconds with three decimals; "-" (table) or "null" (JSON) for NaN.
std::string Ms(double ms);
std::string JsonMs(double ms);

// A 64-bit mix of `x` (SplitMix64): a cheap deterministic pseudo-random number from an index.
uint64_t SplitMix64(uint64_t x);

// A run id for external refs and scratch names: UTC time and 16 random bits, e.g.
// "20240501093015-a1b2". Only digits, lowercase hex and one '-'.
std::string NewRunId();

// Deadline and credentials of every call.
struct CallSettings {
  std::string token;
  absl::Duration deadline;

  void Apply(grpc::ClientContext& context) const;
};

// One call in flight; its address is the completion-queue tag.
struct PendingCall {
  virtual ~PendingCall() = default;
  // Runs on the queue's thread once the call has finished.
  virtual void Finished() {}
  grpc::ClientContext context;
  grpc::Status status;
  Clock::time_point start;
};

template <typename Request, typename Response>
struct UnaryCall : PendingCall {
  void Finished() override {
    if (done) done(status, response);
  }
  Request request;
  Response response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
  std::function<void(const grpc::Status&, const Response&)> done;
};

template <typename Stub, typename Request, typename Response>
using PrepareMethod = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (Stub::*)(
    grpc::ClientContext*, const Request&, grpc::CompletionQueue*);

// Starts `prepare` (a generated Stub::PrepareAsync<Method>) on `cq`. The completion is tagged
// with a heap-allocated PendingCall that the queue's reader owns from then on. `done`, when set,
// sees the status and the response on the queue's thread.
template <typename Stub, typename Request, typename Response>
void StartUnary(
    Stub& stub, PrepareMethod<Stub, Request, Response> prepare,
    std::type_identity_t<Request> request, const CallSettings& settings, grpc::CompletionQueue& cq,
    std::function<void(const grpc::Status&, const std::type_identity_t<Response>&)> done = {}) {
  auto* call = new UnaryCall<Request, Response>();
  call->request = std::move(request);
  call->done = std::move(done);
  settings.Apply(call->context);
  call->start = Clock::now();
  call->reader = (stub.*prepare)(&call->context, call->request, &cq);
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, call);
}

// Starts one call over channel `channel` on `cq`, or returns false when there is no more work.
// Called concurrently from one thread per channel.
using StartFn = std::function<bool(size_t channel, Rng& rng, grpc::CompletionQueue& cq)>;

// Outcomes and latencies of a set of calls (or of batches).
struct LoadResult {
  int64_t calls = 0;  // calls started inside the measured window
  int64_t errors = 0;
  std::vector<int64_t> ok_latency_ns;  // sorted by Finish()
  std::map<grpc::StatusCode, int64_t> error_codes;
  std::map<grpc::StatusCode, std::string> first_error;
  double elapsed_s = 0;  // from the start of the window until the last call finished

  void Record(const grpc::Status& status, Clock::duration latency);
  void Merge(LoadResult&& other);
  void Finish();  // sorts the latencies

  // Nearest-rank percentile in milliseconds; NaN when no call succeeded.
  double PercentileMs(double q) const;
  double CallsPerSecond() const;
};

// Runs `start` with `concurrency` calls in flight over `channels` completion queues (one thread
// each): `warmup` unmeasured, then `duration` measured; the calls still in flight then finish
// (each has a deadline). With a non-empty `progress_label`, prints progress to stderr every 10 s.
LoadResult RunLoad(const StartFn& start, size_t channels, int concurrency, absl::Duration warmup,
                   absl::Duration duration, const std::string& progress_label = "");

// `count` plaintext channels to `address`, each with its own subchannel pool and hence its own
// TCP connection, so that load is not funnelled through a single HTTP/2 connection.
std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(const std::string& address, int count);

// Returns false (after saying why on stderr) when a channel cannot connect within `timeout`.
bool WaitConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const std::string& address, absl::Duration timeout);

// A customer with external_ref BENCH-<run_id>-<i> and a spread of regions, industries and natures
// (so filters have realistic selectivity) and names that do not sort in insertion order.
profile::v1::CreateCustomerRequest SeedCustomer(const std::string& run_id, int64_t i);

struct SeededCustomer {
  int64_t index = 0;  // the i of BENCH-<run_id>-<i>
  std::string id;
  std::string external_ref;
};

struct SeedOutcome {
  int64_t requested = 0;
  std::vector<SeededCustomer> created;  // in no particular order
  LoadResult calls;                     // all but the first, lone call
};

// Creates customers 0..count-1 of `run_id` through CreateCustomer (admin token), `concurrency`
// in flight over `stubs` (one per channel), for at most `timeout`, and prints a summary line to
// stdout. One call goes first, alone, so that a token without the admin role costs one error
// rather than `count`.
SeedOutcome SeedCustomers(const std::vector<profile::v1::CustomerProfileService::Stub*>& stubs,
                          const CallSettings& settings, const std::string& run_id, int64_t count,
                          int concurrency, absl::Duration timeout);

// CPU seconds (user + system) used so far by process `pid` and all its descendants, living or
// reaped: for a PostgreSQL postmaster that includes every backend. Linux /proc only; -1 when the
// process cannot be read.
double ProcessTreeCpuSeconds(pid_t pid);

// A process whose CPU a driver reports per call, by the name it is shown under.
struct CpuProbe {
  std::string name;
  pid_t pid = 0;
};

// "credit=1234,postgres=987" (the --cpu_pids flag) plus this driver as "driver"; empty for an
// empty text; nullopt when malformed.
std::optional<std::vector<CpuProbe>> ParseCpuProbes(const std::string& text);

// CPU seconds of every probe now (ProcessTreeCpuSeconds, in probe order).
std::vector<double> SampleCpu(const std::vector<CpuProbe>& probes);

// to - from per probe; -1 where either sample could not be read.
std::vector<double> CpuDelta(const std::vector<double>& from, const std::vector<double>& to);

// One row of a "CPU µs per call" table: per probe, " %15s" of the µs per call and the share of
// one core over `elapsed_s` ("?" where a probe's figure is unknown, -1).
std::string CpuCells(const std::vector<double>& cpu_s, int64_t calls, double elapsed_s);

// A driver's main(): parses the flags (after absl::SetProgramUsageMessage), refuses stray
// arguments (exit 2), then runs `driver` and returns its exit code.
int RunDriver(int argc, char** argv, int (*driver)());

}  // namespace tierwise::bench

#endif  // TIERWISE_TESTS_BENCH_BENCH_COMMON_H_
