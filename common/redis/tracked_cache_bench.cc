// Cost of a TrackedCache hit next to the Redis GET it saves, and the memory an entry takes.
//
//   TIERWISE_REDIS_ADDR=127.0.0.1:6379 tierwise_tracked_cache_bench [--benchmark_filter=...]
//
// Needs a Redis 7 it may write keys under "tierwise-bench:" to (deleted at the end). The GET
// baseline reads the same 200-byte value over one connection; the hit reads it in process. The
// memory benchmark fills the cache with tier-sized values and reports the resident memory it
// grew by per entry (counter bytes_per_entry).

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/redis/redis_client.h"
#include "common/redis/tracked_cache.h"

namespace tierwise::redis {
namespace {

constexpr char kPrefix[] = "tierwise-bench:";
const std::string kValue(200, 'v');  // about a serialized Tier

RedisOptions Options() {
  const char* addr = std::getenv("TIERWISE_REDIS_ADDR");
  absl::StatusOr<RedisOptions> options = ParseRedisAddress(addr != nullptr ? addr : "");
  if (addr == nullptr || !options.ok()) {
    std::fprintf(stderr, "set TIERWISE_REDIS_ADDR=host:port of a Redis to use\n");
    std::exit(2);
  }
  return *options;
}

RedisClient& Client() {
  static RedisClient* const client = new RedisClient(Options());
  return *client;
}

// A started cache that Redis tracks, with `key` filled in.
TrackedCache& WarmCache(const std::string& key) {
  static TrackedCache* const cache = [] {
    auto* c = new TrackedCache(Options(), kPrefix, 1000000);
    c->Start();
    for (int i = 0; i < 500 && !c->coherent(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return c;
  }();
  if (!cache->Lookup(key).has_value()) {
    const uint64_t ticket = cache->Reserve(key);
    cache->Fill(key, ticket, kValue);
  }
  return *cache;
}

// Resident set size of this process, in bytes.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

void BM_RedisGetBaseline(benchmark::State& state) {
  const std::string key = absl::StrCat(kPrefix, "get");
  if (!Client().Command({"SET", key, kValue}).ok()) {
    state.SkipWithError("Redis is not reachable");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<Reply> r = Client().Command({"GET", key});
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RedisGetBaseline);

void BM_TrackedCacheHit(benchmark::State& state) {
  const std::string key = absl::StrCat(kPrefix, "hit-", state.thread_index());
  TrackedCache& cache = WarmCache(key);
  if (!cache.coherent() || !cache.Lookup(key).has_value()) {
    state.SkipWithError("the cache is not tracked by Redis");
    return;
  }
  for (auto _ : state) {
    std::optional<std::string> v = cache.Lookup(key);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_TrackedCacheHit)->Threads(1)->Threads(8)->Threads(32);

void BM_TrackedCacheMemory(benchmark::State& state) {
  const int64_t entries = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    auto cache = std::make_unique<TrackedCache>(Options(), kPrefix, static_cast<size_t>(entries));
    cache->Start();
    for (int i = 0; i < 500 && !cache->coherent(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const int64_t before = ResidentBytes();
    state.ResumeTiming();
    for (int64_t i = 0; i < entries; ++i) {
      // Keys as the classification service names them: prefix, ":tier:", a UUID.
      const std::string key =
          absl::StrCat(kPrefix, "tier:00000000-0000-4000-8000-", 100000000000 + i);
      cache->Fill(key, cache->Reserve(key), kValue);
    }
    state.PauseTiming();
    state.counters["entries"] = static_cast<double>(cache->size());
    state.counters["bytes_per_entry"] =
        static_cast<double>(ResidentBytes() - before) / static_cast<double>(entries);
    cache.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_TrackedCacheMemory)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tierwise::redis

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  (void)tierwise::redis::Client().Command({"DEL", absl::StrCat(tierwise::redis::kPrefix, "get")});
  return 0;
}
