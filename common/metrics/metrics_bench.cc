// Cost of the metric hot paths next to a bare atomic increment, and of a scrape.
//
//   tierwise_metrics_bench [--benchmark_filter=...]
//
// Multi-threaded runs update one shared child from every thread, the worst case: the cache
// line holding it bounces between cores.

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/metrics/metrics.h"

namespace tierwise::metrics {
namespace {

Registry& BenchRegistry() {
  static Registry* const registry = new Registry();
  return *registry;
}

Counter& SharedCounter() {
  static Counter& c = BenchRegistry()
                          .RegisterCounter("bench_requests_total", "Bench.", {"method", "code"})
                          .WithLabels({"GetCustomer", "OK"});
  return c;
}

Histogram& SharedHistogram() {
  static Histogram& h = BenchRegistry()
                            .RegisterHistogram("bench_rpc_seconds", "Bench.", {"method"})
                            .WithLabels({"GetCustomer"});
  return h;
}

std::atomic<uint64_t> baseline{0};

void BM_AtomicFetchAddBaseline(benchmark::State& state) {
  for (auto _ : state) baseline.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_AtomicFetchAddBaseline)->Threads(1)->Threads(2);

void BM_CounterIncrement(benchmark::State& state) {
  Counter& c = SharedCounter();
  for (auto _ : state) c.Increment();
}
BENCHMARK(BM_CounterIncrement)->Threads(1)->Threads(2);

// Non-integral amounts take the compare-and-swap path.
void BM_CounterIncrementFractional(benchmark::State& state) {
  Counter& c = SharedCounter();
  for (auto _ : state) c.Increment(0.5);
}
BENCHMARK(BM_CounterIncrementFractional)->Threads(1)->Threads(2);

void BM_HistogramObserve(benchmark::State& state) {
  Histogram& h = SharedHistogram();
  // Spread over the default buckets like real latencies would be.
  static constexpr double kValues[] = {0.0007, 0.003, 0.012, 0.04, 0.2, 0.7, 3.0, 12.0};
  size_t i = static_cast<size_t>(state.thread_index());
  for (auto _ : state) h.Observe(kValues[i++ & 7]);
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2);

// What a call site pays when it does not cache the child.
void BM_WithLabelsLookup(benchmark::State& state) {
  auto& family =
      BenchRegistry().RegisterCounter("bench_requests_total", "Bench.", {"method", "code"});
  for (auto _ : state) benchmark::DoNotOptimize(&family.WithLabels({"GetCustomer", "OK"}));
}
BENCHMARK(BM_WithLabelsLookup)->Threads(1)->Threads(2);

// A registry with 100 series: 60 counters, 30 gauges and 10 histograms (default buckets, so
// 17 lines each), roughly what one Tierwise service exposes.
void BM_Render100Series(benchmark::State& state) {
  Registry registry;
  auto& rpcs =
      registry.RegisterCounter("tierwise_rpc_requests_total", "RPCs handled.", {"method", "code"});
  for (int i = 0; i < 60; ++i) {
    rpcs.WithLabels({absl::StrCat("Method", i % 10), absl::StrCat("CODE_", i / 10)})
        .Increment(i * 1000 + 7);
  }
  auto& gauges = registry.RegisterGauge("tierwise_queue_depth", "Queue depth.", {"queue"});
  for (int i = 0; i < 30; ++i) gauges.WithLabels({absl::StrCat("queue_", i)}).Set(i * 0.25);
  auto& latency =
      registry.RegisterHistogram("tierwise_rpc_duration_seconds", "RPC latency.", {"method"});
  for (int i = 0; i < 10; ++i) {
    Histogram& h = latency.WithLabels({absl::StrCat("Method", i)});
    for (int j = 0; j < 100; ++j) h.Observe(0.0001 * (j * j + i));
  }
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = registry.Render();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_Render100Series);

}  // namespace
}  // namespace tierwise::metrics

BENCHMARK_MAIN();
