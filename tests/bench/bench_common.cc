#include "tests/bench/bench_common.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace tierwise::bench {
namespace {

namespace profile = ::tierwise::profile::v1;

// Keeps `slots` calls in flight on one completion queue until `stop` (or until `start` runs out
// of work), then waits for the calls still in flight; every call has a deadline, so this ends.
void DriveQueue(const StartFn& start, size_t channel, int slots, Clock::time_point measure_from,
                Clock::time_point stop, uint64_t seed, std::atomic<int64_t>& finished,
                LoadResult& out) {
  grpc::CompletionQueue cq;
  Rng rng(seed);
  int in_flight = 0;
  for (int i = 0; i < slots && start(channel, rng, cq); ++i) ++in_flight;
  while (in_flight > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;  // not reached: the queue is shut down below
    std::unique_ptr<PendingCall> call(static_cast<PendingCall*>(tag));
    --in_flight;
    const Clock::time_point now = Clock::now();
    call->Finished();
    if (call->start >= measure_from) out.Record(call->status, now - call->start);
    finished.fetch_add(1, std::memory_order_relaxed);
    if (now < stop && start(channel, rng, cq)) ++in_flight;
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// Seed data: a spread of places, trade words, industries and natures.
struct Place {
  const char* province;
  const char* city;
};
constexpr Place kPlaces[] = {
    {"北京市", "北京市"}, {"上海市", "上海市"},     {"天津市", "天津市"},
    {"重庆市", "重庆市"}, {"广东省", "广州市"},     {"广东省", "深圳市"},
    {"广东省", "东莞市"}, {"江苏省", "南京市"},     {"江苏省", "苏州市"},
    {"浙江省", "杭州市"}, {"浙江省", "宁波市"},     {"山东省", "济南市"},
    {"山东省", "青岛市"}, {"河南省", "郑州市"},     {"河北省", "石家庄市"},
    {"湖北省", "武汉市"}, {"湖南省", "长沙市"},     {"四川省", "成都市"},
    {"福建省", "福州市"}, {"福建省", "厦门市"},     {"安徽省", "合肥市"},
    {"陕西省", "西安市"}, {"辽宁省", "沈阳市"},     {"辽宁省", "大连市"},
    {"吉林省", "长春市"}, {"黑龙江省", "哈尔滨市"}, {"江西省", "南昌市"},
    {"云南省", "昆明市"}, {"贵州省", "贵阳市"},     {"广西壮族自治区", "南宁市"},
    {"山西省", "太原市"}, {"甘肃省", "兰州市"},
};
constexpr const char* kTradeWords[] = {"华信", "宏达", "金泰", "恒通", "瑞丰",   "中联",
                                       "鑫源", "天成", "广盛", "永安", "新世纪", "东方",
                                       "安泰", "博远", "嘉禾", "联创"};
constexpr const char* kBusinessWords[] = {"贸易", "科技", "实业", "物流", "建材",
                                          "电子", "医药", "食品", "机械", "化工"};
constexpr const char* kIndustries[] = {"retail",       "wholesale", "distribution", "manufacturing",
                                       "construction", "logistics", "healthcare",   "it"};
constexpr profile::Nature kNatures[] = {profile::NATURE_ENTERPRISE, profile::NATURE_ENTERPRISE,
                                        profile::NATURE_ENTERPRISE, profile::NATURE_TRADING_PARTNER,
                                        profile::NATURE_GOVERNMENT, profile::NATURE_INDIVIDUAL};

template <typename T, size_t N>
const T& Pick(const T (&items)[N], uint64_t& bits) {
  const T& item = items[bits % N];
  bits /= N;
  return item;
}

// utime, stime, cutime, cstime (fields 14..17) and ppid (field 4) of /proc/<pid>/stat.
struct ProcStat {
  pid_t ppid = 0;
  uint64_t ticks = 0;
};

bool ReadProcStat(pid_t pid, ProcStat& out) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  const std::vector<std::string> fields =
      absl::StrSplit(line.substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state).
  if (fields.size() < 15) return false;
  int64_t ppid = 0;
  if (!absl::SimpleAtoi(fields[1], &ppid)) return false;
  out.ppid = static_cast<pid_t>(ppid);
  out.ticks = 0;
  for (int field = 14; field <= 17; ++field) {
    uint64_t value = 0;
    if (!absl::SimpleAtoi(fields[field - 3], &value)) return false;
    out.ticks += value;
  }
  return true;
}

}  // namespace

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

std::string CodeName(grpc::StatusCode code) {
  // grpc::StatusCode and absl::StatusCode share their numbering.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, static_cast<char>(c)));
    } else if (c < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string Ms(double ms) { return std::isnan(ms) ? "-" : absl::StrFormat("%.3f", ms); }
std::string JsonMs(double ms) { return std::isnan(ms) ? "null" : absl::StrFormat("%.3f", ms); }

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string NewRunId() {
  return absl::StrCat(absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone()), "-",
                      absl::Hex(std::random_device{}() & 0xffff, absl::kZeroPad4));
}

void CallSettings::Apply(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline));
  client::Authorize(context, token);
}

void LoadResult::Record(const grpc::Status& status, Clock::duration latency) {
  ++calls;
  if (status.ok()) {
    ok_latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count());
    return;
  }
  ++errors;
  if (error_codes[status.error_code()]++ == 0) {
    first_error[status.error_code()] = status.error_message();
  }
}

void LoadResult::Merge(LoadResult&& other) {
  calls += other.calls;
  errors += other.errors;
  ok_latency_ns.insert(ok_latency_ns.end(), other.ok_latency_ns.begin(), other.ok_latency_ns.end());
  for (const auto& [code, count] : other.error_codes) error_codes[code] += count;
  for (auto& [code, message] : other.first_error) first_error.try_emplace(code, message);
}

void LoadResult::Finish() { std::sort(ok_latency_ns.begin(), ok_latency_ns.end()); }

double LoadResult::PercentileMs(double q) const {
  if (ok_latency_ns.empty()) return std::nan("");
  const auto n = static_cast<double>(ok_latency_ns.size());
  size_t rank = static_cast<size_t>(std::ceil(q * n));
  rank = std::clamp<size_t>(rank, 1, ok_latency_ns.size());
  return static_cast<double>(ok_latency_ns[rank - 1]) / 1e6;
}

double LoadResult::CallsPerSecond() const {
  return elapsed_s > 0 ? static_cast<double>(calls) / elapsed_s : 0;
}

LoadResult RunLoad(const StartFn& start, size_t channels, int concurrency, absl::Duration warmup,
                   absl::Duration duration, const std::string& progress_label) {
  const size_t queues = std::min<size_t>(channels, static_cast<size_t>(concurrency));
  const Clock::time_point begin = Clock::now();
  const Clock::time_point measure_from = begin + absl::ToChronoNanoseconds(warmup);
  const Clock::time_point stop = measure_from + absl::ToChronoNanoseconds(duration);

  std::vector<LoadResult> results(queues);
  std::vector<Clock::time_point> finished_at(queues);
  std::vector<std::thread> threads;
  std::atomic<int64_t> finished{0};
  std::atomic<size_t> running{queues};
  std::random_device random_device;
  for (size_t q = 0; q < queues; ++q) {
    const int slots = concurrency / static_cast<int>(queues) +
                      (q < static_cast<size_t>(concurrency) % queues ? 1 : 0);
    const uint64_t seed = (static_cast<uint64_t>(random_device()) << 32) ^ random_device();
    threads.emplace_back([&, q, slots, seed] {
      DriveQueue(start, q, slots, measure_from, stop, seed, finished, results[q]);
      finished_at[q] = Clock::now();
      running.fetch_sub(1);
    });
  }
  Clock::time_point next_report = Clock::now() + std::chrono::seconds(10);
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!progress_label.empty() && Clock::now() >= next_report) {
      const double s = std::chrono::duration<double>(Clock::now() - begin).count();
      std::fprintf(stderr, "%s: %lld calls finished after %.0f s\n", progress_label.c_str(),
                   static_cast<long long>(finished.load()), s);
      next_report += std::chrono::seconds(10);
    }
  }
  for (std::thread& thread : threads) thread.join();

  LoadResult total;
  for (LoadResult& result : results) total.Merge(std::move(result));
  total.Finish();
  const Clock::time_point last = *std::max_element(finished_at.begin(), finished_at.end());
  total.elapsed_s = std::max(0.0, std::chrono::duration<double>(last - measure_from).count());
  return total;
}

std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(const std::string& address, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

bool WaitConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const std::string& address, absl::Duration timeout) {
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout);
  for (const auto& channel : channels) {
    if (!channel->WaitForConnected(deadline)) {
      std::fprintf(stderr, "error: cannot connect to %s within %s\n", address.c_str(),
                   absl::FormatDuration(timeout).c_str());
      return false;
    }
  }
  return true;
}

profile::CreateCustomerRequest SeedCustomer(const std::string& run_id, int64_t i) {
  uint64_t bits = SplitMix64(static_cast<uint64_t>(i));
  const Place& place = Pick(kPlaces, bits);
  const char* trade = Pick(kTradeWords, bits);
  const char* business = Pick(kBusinessWords, bits);
  profile::CreateCustomerRequest request;
  profile::Customer& customer = *request.mutable_customer();
  customer.set_external_ref(absl::StrCat("BENCH-", run_id, "-", i));
  customer.set_legal_name(
      absl::StrCat(place.city, trade, business, "有限公司 BENCH-", run_id, "-", i));
  customer.set_short_name(absl::StrCat(trade, business));
  customer.set_nature(Pick(kNatures, bits));
  customer.set_industry(Pick(kIndustries, bits));
  customer.mutable_region()->set_province(place.province);
  customer.mutable_region()->set_city(place.city);
  customer.set_lifecycle_stage(bits % 3 == 0 ? profile::LIFECYCLE_STAGE_PROSPECT
                                             : profile::LIFECYCLE_STAGE_ACTIVE);
  customer.add_tags("bench");
  customer.set_data_consent(true);
  return request;
}

SeedOutcome SeedCustomers(const std::vector<profile::CustomerProfileService::Stub*>& stubs,
                          const CallSettings& settings, const std::string& run_id, int64_t count,
                          int concurrency, absl::Duration timeout) {
  SeedOutcome outcome;
  outcome.requested = count;
  if (count <= 0 || stubs.empty()) return outcome;
  const Clock::time_point begin = Clock::now();
  std::fprintf(stderr, "seeding %lld customers (external_ref BENCH-%s-<i>), %d in flight\n",
               static_cast<long long>(count), run_id.c_str(), concurrency);
  {
    grpc::ClientContext context;
    settings.Apply(context);
    profile::Customer created;
    const grpc::Status status =
        stubs[0]->CreateCustomer(&context, SeedCustomer(run_id, 0), &created);
    if (!status.ok()) {
      std::printf("seeding     failed: CreateCustomer: %s: %s\n",
                  CodeName(status.error_code()).c_str(), status.error_message().c_str());
      return outcome;
    }
    outcome.created.push_back({0, created.id(), created.external_ref()});
  }
  std::mutex mu;
  std::atomic<int64_t> next{1};
  const StartFn start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
    const int64_t i = next.fetch_add(1);
    if (i >= count) return false;
    StartUnary(*stubs[channel], &profile::CustomerProfileService::Stub::PrepareAsyncCreateCustomer,
               SeedCustomer(run_id, i), settings, cq,
               [&, i](const grpc::Status& status, const profile::Customer& customer) {
                 if (!status.ok()) return;
                 std::lock_guard<std::mutex> lock(mu);
                 outcome.created.push_back({i, customer.id(), customer.external_ref()});
               });
    return true;
  };
  outcome.calls =
      RunLoad(start, stubs.size(), concurrency, absl::ZeroDuration(), timeout, "seeding");
  const LoadResult& result = outcome.calls;
  const auto created = static_cast<int64_t>(outcome.created.size());
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - begin).count();
  std::printf("seeding     %lld created in %.1f s (%.0f/s), %lld errors, p50 %s ms, p99 %s ms\n",
              static_cast<long long>(created), elapsed_s, static_cast<double>(created) / elapsed_s,
              static_cast<long long>(result.errors), Ms(result.PercentileMs(0.5)).c_str(),
              Ms(result.PercentileMs(0.99)).c_str());
  for (const auto& [code, n] : result.error_codes) {
    std::printf("  seeding: %lld x %s (first: %s)\n", static_cast<long long>(n),
                CodeName(code).c_str(), JsonString(result.first_error.at(code)).c_str());
  }
  if (1 + result.calls < count) {
    std::printf("  seeding stopped after %s with %lld not attempted\n",
                absl::FormatDuration(timeout).c_str(),
                static_cast<long long>(count - 1 - result.calls));
  }
  return outcome;
}

double ProcessTreeCpuSeconds(pid_t pid) {
  ProcStat root;
  if (!ReadProcStat(pid, root)) return -1;
  std::map<pid_t, std::vector<std::pair<pid_t, uint64_t>>> children;
  if (DIR* dir = opendir("/proc"); dir != nullptr) {
    while (const dirent* entry = readdir(dir)) {
      int64_t child = 0;
      ProcStat stat;
      if (absl::SimpleAtoi(entry->d_name, &child) && child != pid &&
          ReadProcStat(static_cast<pid_t>(child), stat)) {
        children[stat.ppid].emplace_back(static_cast<pid_t>(child), stat.ticks);
      }
    }
    closedir(dir);
  }
  // Each living process counts its own time and that of the children it reaped, so summing over
  // the living tree counts every tick once.
  uint64_t ticks = root.ticks;
  std::vector<pid_t> todo = {pid};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    for (const auto& [child, child_ticks] : children[parent]) {
      ticks += child_ticks;
      todo.push_back(child);
    }
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<std::vector<CpuProbe>> ParseCpuProbes(const std::string& text) {
  std::vector<CpuProbe> probes;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    int pid = 0;
    if (kv.size() != 2 || kv[0].empty() || !absl::SimpleAtoi(kv[1], &pid) || pid <= 0) {
      return std::nullopt;
    }
    probes.push_back({kv[0], static_cast<pid_t>(pid)});
  }
  if (!probes.empty()) probes.push_back({"driver", getpid()});
  return probes;
}

std::string CpuCells(const std::vector<double>& cpu_s, int64_t calls, double elapsed_s) {
  std::string out;
  for (double s : cpu_s) {
    absl::StrAppendFormat(
        &out, " %15s",
        s < 0 || calls == 0 ? "?"
                            : absl::StrFormat("%.1f (%.0f%%)", s * 1e6 / static_cast<double>(calls),
                                              elapsed_s > 0 ? 100 * s / elapsed_s : 0));
  }
  return out;
}

std::vector<double> SampleCpu(const std::vector<CpuProbe>& probes) {
  std::vector<double> out;
  out.reserve(probes.size());
  for (const CpuProbe& probe : probes) out.push_back(ProcessTreeCpuSeconds(probe.pid));
  return out;
}

std::vector<double> CpuDelta(const std::vector<double>& from, const std::vector<double>& to) {
  std::vector<double> out;
  for (size_t i = 0; i < from.size() && i < to.size(); ++i) {
    out.push_back(from[i] < 0 || to[i] < 0 ? -1 : to[i] - from[i]);
  }
  return out;
}

int RunDriver(int argc, char** argv, int (*driver)()) {
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "error: unexpected argument %s\n", rest[1]);
    return 2;
  }
  return driver();
}

}  // namespace tierwise::bench
