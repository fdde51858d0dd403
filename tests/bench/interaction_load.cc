// tierwise-bench-interaction: a gRPC load driver for a running interaction service, with the
// profile and classification services it learns from.
//
// Setup, once per run (each run creates its own customers):
//   1. creates --customers customers owned by --owner through the profile service
//      (external_ref BENCH-<run-id>-<i>, admin token);
//   2. waits until the classification service (GetTier) and the interaction service
//      (ListInteractions of the customer, as the owner) know every one of them: both learn them
//      from <prefix>:profile.customer_changed;
//   3. pins --pin_a_percent of them to tier A and --pin_b_percent to B (classification PinTier,
//      admin; the others keep what classification gave them, C without revenue) and waits until
//      the interaction service's plan shows the pinned tiers
//      (<prefix>:classification.tier_changed);
//   4. logs --history_per_customer interactions per customer spread over the last 365 days
//      (admin, owner --owner, recorded_at back-filled; channels as each tier's policy asks, some
//      executive contacts, purchase intent and agreed follow-up dates, a few late entries), so
//      that the follow-up plans have a realistic contact history.
//
// Then, against the same interaction server, --warmup_s unmeasured and --duration_s measured each,
// --concurrency calls in flight (async client, one completion queue and TCP connection per
// channel):
//
//   health_check         grpc.health.v1.Health/Check on the interaction server: the baseline
//   log_interaction      LogInteraction as the owner (a sales rep) for a random customer of
//                        theirs, contact in the last hours; the service asks classification for
//                        the tier (GetTier) and writes record, contact state, audit and outbox in
//                        one transaction
//   list_due_follow_ups  ListDueFollowUps of the owner for today .. today + --due_days - 1
//                        (UTC), first page of --page_size: one index page of the stored plans
//   list_due_everyone    the same for everyone (no owners, as admin)
//   list_due_other_owner the same for --other_owner (as admin), e.g. an owner with 20,000
//                        customers seeded by run_interaction_bench.sh --bulk_customers: its
//                        calls/s next to list_due_follow_ups' (2,000 customers) shows whether
//                        the cost grows with the owner's book
//
// With --cpu_pids, the scenarios start once the probed servers are idle again (--settle_timeout_s).
//
// Output: the setup steps with their rates, the size of the due list, then a table per scenario
// (calls, errors, calls/s, p50/p90/p99/max latency of successful calls in ms, calls/s relative to
// health_check), errors by status code, with --cpu_pids=name=PID,... the CPU each local process
// (with its descendants: a postmaster counts with its backends) used per call, and with --json
// one JSON object per scenario. Exit code: 0 every call succeeded, 1 some failed, 2 the run could
// not start or its setup failed.
//
// Example, against the local stack (./deploy/local/up.sh: rep.zhang is TIERWISE_SALES_REP_TOKEN),
// or through run_interaction_bench.sh, which starts a stack of its own:
//   TIERWISE_ADMIN_TOKEN=... TIERWISE_SALES_REP_TOKEN=... tierwise-bench-interaction
//       --owner=rep.zhang --customers=2000 --duration_s=10

#include <grpcpp/grpcpp.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
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
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/bench/bench_common.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"
#include "tierwise/interaction/v1/interaction.grpc.pb.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

ABSL_FLAG(std::string, profile_addr, "",
          "profile service host:port (default: $TIERWISE_PROFILE_ADDR, else 127.0.0.1:50051)");
ABSL_FLAG(std::string, classification_addr, "",
          "classification service host:port (default: $TIERWISE_CLASSIFICATION_ADDR, else "
          "127.0.0.1:50054)");
ABSL_FLAG(std::string, interaction_addr, "",
          "interaction service host:port (default: $TIERWISE_INTERACTION_ADDR, else "
          "127.0.0.1:50052)");
ABSL_FLAG(std::string, admin_token, "",
          "creates the customers, pins tiers, logs the history (default: $TIERWISE_ADMIN_TOKEN)");
ABSL_FLAG(std::string, rep_token, "",
          "token of the sales rep --owner: LogInteraction and ListDueFollowUps (default: "
          "$TIERWISE_SALES_REP_TOKEN)");
ABSL_FLAG(std::string, owner, "rep.zhang",
          "principal name of the sales rep who owns the customers (the --rep_token's)");
ABSL_FLAG(int64_t, customers, 2000, "customers to create for --owner");
ABSL_FLAG(int32_t, seed_concurrency, 16, "calls in flight while setting up");
ABSL_FLAG(double, known_timeout_s, 120,
          "wait at most this long for classification and interaction to know the customers, and "
          "for interaction to know their pinned tiers");
ABSL_FLAG(int32_t, pin_a_percent, 10, "share of the customers pinned to tier A");
ABSL_FLAG(int32_t, pin_b_percent, 30, "share of the customers pinned to tier B");
ABSL_FLAG(int32_t, history_per_customer, 12,
          "interactions per customer logged over the last 365 days before measuring (0: none)");
ABSL_FLAG(double, history_timeout_s, 900, "stop logging the history after this many seconds");
ABSL_FLAG(std::string, scenarios,
          "health_check,log_interaction,list_due_follow_ups,list_due_everyone",
          "comma-separated scenarios to run, in this order");
ABSL_FLAG(std::string, other_owner, "rep.big",
          "owner listed by the list_due_other_owner scenario (as admin)");
ABSL_FLAG(int32_t, due_days, 30, "days in the ListDueFollowUps range, today included (1..367)");
ABSL_FLAG(int32_t, page_size, 100, "ListDueFollowUps page size (1..1000)");
ABSL_FLAG(int32_t, concurrency, 16, "calls in flight");
ABSL_FLAG(int32_t, channels, 4, "channels (TCP connections) the calls are spread over");
ABSL_FLAG(double, duration_s, 10, "measured seconds per scenario");
ABSL_FLAG(double, warmup_s, 2, "unmeasured seconds before each scenario");
ABSL_FLAG(int32_t, deadline_ms, 5000, "deadline of every call");
ABSL_FLAG(double, connect_timeout_s, 5, "give up when a server is not reachable by then");
ABSL_FLAG(std::string, health_service, "", "service name sent in Health/Check");
ABSL_FLAG(std::string, cpu_pids, "",
          "name=pid,... of local processes whose CPU (with their descendants) is shown per "
          "measured call, e.g. interaction=1234,classification=1240,postgres=987 (the "
          "postmaster)");
ABSL_FLAG(double, settle_timeout_s, 180,
          "with --cpu_pids: before measuring, wait at most this long until the probed processes "
          "are idle (stream consumers caught up with the setup: below 5% of a core together over "
          "2 s)");
ABSL_FLAG(bool, json, false, "also print one JSON object per scenario");

namespace tierwise::bench {
namespace {

namespace classification = ::tierwise::classification::v1;
namespace health = ::grpc::health::v1;
namespace interaction = ::tierwise::interaction::v1;
namespace profile = ::tierwise::profile::v1;

constexpr int kMaxPlanPage = 1000;  // the service's ListDueFollowUps page limit

// The stubs of one channel per server.
struct Connection {
  std::unique_ptr<health::Health::Stub> health;  // on the interaction server
  std::unique_ptr<interaction::InteractionService::Stub> interaction;
  std::unique_ptr<profile::CustomerProfileService::Stub> profile;
  std::unique_ptr<classification::ClassificationService::Stub> classification;
};

struct BenchCustomer {
  int64_t index = 0;  // the i of BENCH-<run_id>-<i>
  std::string id;
  std::string pinned;  // "A", "B" or "" (not pinned)
  std::string tier;    // the tier GetTier answered before pinning
};

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return ts;
}

type::v1::Date ToDate(absl::CivilDay day) {
  type::v1::Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

absl::CivilDay Today() { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }

std::string Ratio(double a, double b) { return b > 0 ? absl::StrFormat("%.3f", a / b) : "-"; }

void PrintErrors(const std::string& label, const LoadResult& result) {
  for (const auto& [code, n] : result.error_codes) {
    std::printf("  %s: %lld x %s (first: %s)\n", label.c_str(), static_cast<long long>(n),
                CodeName(code).c_str(), JsonString(result.first_error.at(code)).c_str());
  }
}

// One line per setup step: how many calls, how fast, and their latency.
void PrintStep(const std::string& label, const std::string& what, const LoadResult& result,
               double elapsed_s) {
  std::printf("%-11s %s in %.1f s (%.0f calls/s), %lld errors, p50 %s ms, p99 %s ms\n",
              label.c_str(), what.c_str(), elapsed_s,
              elapsed_s > 0 ? static_cast<double>(result.calls) / elapsed_s : 0.0,
              static_cast<long long>(result.errors), Ms(result.PercentileMs(0.5)).c_str(),
              Ms(result.PercentileMs(0.99)).c_str());
  PrintErrors(label, result);
  std::fflush(stdout);
}

// Starts the call for item `item` over `channel` on `cq`.
using ItemFn = std::function<void(size_t channel, size_t item, grpc::CompletionQueue& cq)>;

// Runs `start` once for each of `items` items, `concurrency` in flight over `channels` queues,
// starting none after `timeout`.
LoadResult ForEach(size_t items, size_t channels, int concurrency, absl::Duration timeout,
                   const std::string& progress_label, const ItemFn& start) {
  std::atomic<size_t> next{0};
  return RunLoad(
      [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
        const size_t item = next.fetch_add(1);
        if (item >= items) return false;
        start(channel, item, cq);
        return true;
      },
      channels, concurrency, absl::ZeroDuration(), timeout, progress_label);
}

// CreateCustomer for BENCH-<run_id>-0 .. count-1, each owned by `owner`.
std::vector<BenchCustomer> SeedOwned(std::vector<Connection>& connections,
                                     const CallSettings& admin, const std::string& run_id,
                                     int64_t count, const std::string& owner, int concurrency,
                                     LoadResult& result, double& elapsed_s) {
  std::mutex mu;
  std::vector<BenchCustomer> created;
  const Clock::time_point begin = Clock::now();
  std::fprintf(stderr, "seeding %lld customers of %s (external_ref BENCH-%s-<i>)\n",
               static_cast<long long>(count), owner.c_str(), run_id.c_str());
  result =
      ForEach(static_cast<size_t>(count), connections.size(), concurrency, absl::Hours(1),
              "seeding", [&](size_t channel, size_t item, grpc::CompletionQueue& cq) {
                const auto i = static_cast<int64_t>(item);
                profile::CreateCustomerRequest request = SeedCustomer(run_id, i);
                request.mutable_customer()->set_owner(owner);
                StartUnary(*connections[channel].profile,
                           &profile::CustomerProfileService::Stub::PrepareAsyncCreateCustomer,
                           std::move(request), admin, cq,
                           [&, i](const grpc::Status& status, const profile::Customer& customer) {
                             if (!status.ok()) return;
                             std::lock_guard<std::mutex> lock(mu);
                             created.push_back({i, customer.id(), "", ""});
                           });
              });
  elapsed_s = std::chrono::duration<double>(Clock::now() - begin).count();
  std::sort(created.begin(), created.end(),
            [](const BenchCustomer& a, const BenchCustomer& b) { return a.index < b.index; });
  return created;
}

// Asks `ask` about every customer until none answers NOT_FOUND any more or `timeout` passes.
// The services learn the customers roughly in creation order, so each round asks only the first
// kWaitBatch customers not known yet and pauses when some still are not: polling must not slow
// down the consumers it waits for. `ask` starts the call for customer `item` and reports its
// status through `done`. Returns the calls of all rounds; `unknown` counts the customers still
// NOT_FOUND at the end and `fatal` is the first status other than OK / NOT_FOUND (which stops
// the wait).
using AskFn = std::function<void(size_t channel, size_t item, grpc::CompletionQueue& cq,
                                 std::function<void(const grpc::Status&)> done)>;

constexpr size_t kWaitBatch = 64;

LoadResult WaitKnown(size_t customers, size_t channels, int concurrency, absl::Duration timeout,
                     const AskFn& ask, size_t& unknown, grpc::Status& fatal) {
  std::vector<uint8_t> known(customers, 0);
  std::mutex mu;
  LoadResult all;
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    std::vector<size_t> pending;
    for (size_t i = 0; i < customers; ++i) {
      if (known[i] == 0) pending.push_back(i);
    }
    unknown = pending.size();
    if (pending.empty() || !fatal.ok() || absl::Now() >= give_up) break;
    pending.resize(std::min(pending.size(), kWaitBatch));
    std::atomic<size_t> missing{0};
    LoadResult round = ForEach(pending.size(), channels, concurrency, timeout, "",
                               [&](size_t channel, size_t item, grpc::CompletionQueue& cq) {
                                 const size_t c = pending[item];
                                 ask(channel, c, cq, [&, c](const grpc::Status& status) {
                                   if (status.ok()) {
                                     known[c] = 1;
                                   } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
                                     missing.fetch_add(1);
                                   } else {
                                     std::lock_guard<std::mutex> lock(mu);
                                     if (fatal.ok()) fatal = status;
                                   }
                                 });
                               });
    all.Merge(std::move(round));
    if (missing.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  all.Finish();
  return all;
}

// The owner's follow-ups due from `from` to `to` (inclusive), all pages.
grpc::Status ListAllDue(interaction::InteractionService::Stub& stub, const CallSettings& rep,
                        const std::string& owner, absl::CivilDay from, absl::CivilDay to,
                        std::vector<interaction::FollowUp>& out, int64_t& pages) {
  out.clear();
  pages = 0;
  std::string token;
  do {
    interaction::ListDueFollowUpsRequest request;
    request.add_owners(owner);
    *request.mutable_from_date() = ToDate(from);
    *request.mutable_to_date() = ToDate(to);
    request.set_page_size(kMaxPlanPage);
    request.set_page_token(token);
    interaction::ListFollowUpsResponse response;
    grpc::ClientContext context;
    rep.Apply(context);
    grpc::Status status = stub.ListDueFollowUps(&context, request, &response);
    if (!status.ok()) return status;
    ++pages;
    for (interaction::FollowUp& f : *response.mutable_follow_ups()) out.push_back(std::move(f));
    token = response.next_page_token();
  } while (!token.empty());
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

constexpr const char* kTopics[] = {
    "季度回访，了解库存与补货计划", "新品推介，客户索取报价单",   "对账确认，核对上月发票",
    "交付进度沟通，确认到货时间",   "技术交流，讨论替代型号",     "年度框架协议续签洽谈",
    "售后问题跟进，客户反馈已解决", "节日问候，顺带了解采购预算", "竞品比较，客户关注价格与账期"};
constexpr const char* kConclusions[] = {"客户满意，按计划跟进", "需提供报价，三日内回复",
                                        "暂无采购计划", "意向明确，安排样品",
                                        "需上级审批，等待答复"};
constexpr const char* kContacts[] = {"王经理", "李总", "陈工", "刘主任", "赵采购", "孙会计"};

// A channel the tier's policy would have the rep use, mostly.
interaction::Channel ChannelFor(const std::string& tier, uint64_t bits) {
  const int roll = static_cast<int>(bits % 10);
  if (tier == "A" || tier == "K") {
    return roll < 6   ? interaction::CHANNEL_ON_SITE_VISIT
           : roll < 9 ? interaction::CHANNEL_PHONE
                      : interaction::CHANNEL_CUSTOMER_VISIT;
  }
  if (tier == "B") {
    return roll < 6   ? interaction::CHANNEL_PHONE
           : roll < 8 ? interaction::CHANNEL_EMAIL_IM
                      : interaction::CHANNEL_ON_SITE_VISIT;
  }
  return roll < 5   ? interaction::CHANNEL_MAIL
         : roll < 8 ? interaction::CHANNEL_EMAIL_IM
         : roll < 9 ? interaction::CHANNEL_PHONE
                    : interaction::CHANNEL_EXHIBITION;
}

// The fields both the history and the measured calls fill in.
void FillRecord(interaction::Interaction& in, const BenchCustomer& c, uint64_t bits,
                const std::string& run_id) {
  const std::string& tier = c.pinned.empty() ? c.tier : c.pinned;
  in.set_customer_id(c.id);
  in.set_channel(ChannelFor(tier, bits));
  bits /= 10;
  in.set_summary(absl::StrCat(kTopics[bits % std::size(kTopics)], " (BENCH-", run_id, ")"));
  bits /= std::size(kTopics);
  in.set_conclusion(kConclusions[bits % std::size(kConclusions)]);
  bits /= std::size(kConclusions);
  in.set_contact_name(kContacts[bits % std::size(kContacts)]);
  bits /= std::size(kContacts);
  in.set_contact_role(static_cast<interaction::DecisionRole>(1 + bits % 6));
  bits /= 6;
  in.set_satisfaction(static_cast<int32_t>(bits % 6));  // 0 = not asked
  bits /= 6;
  in.set_purchase_intent(bits % 10 < 3);
}

// Record `slot` of `per_customer` of customer `c`'s last year, oldest first: admin back-fills
// recorded_at (a few entries late), the newest half the time agrees a next follow-up date.
interaction::LogInteractionRequest HistoryRecord(const BenchCustomer& c, int slot, int per_customer,
                                                 const std::string& owner,
                                                 const std::string& run_id, absl::Time now) {
  uint64_t bits = SplitMix64((static_cast<uint64_t>(c.index) << 20) ^ static_cast<uint64_t>(slot));
  interaction::LogInteractionRequest request;
  interaction::Interaction& in = *request.mutable_interaction();
  FillRecord(in, c, bits, run_id);
  bits = SplitMix64(bits);
  // Slot k of n covers days [365 (n - k) / n, 365 (n - k - 1) / n) before now, at a random point.
  const double span_h = 365.0 * 24 / per_customer;
  const double hours_ago = span_h * (per_customer - slot - 1) +
                           span_h * (0.05 + 0.9 * static_cast<double>(bits % 1000) / 1000);
  const absl::Time occurred = now - absl::Hours(std::max(hours_ago, 2.0));
  bits /= 1000;
  *in.mutable_occurred_at() = ToProto(occurred);
  const bool late = bits % 20 == 0;
  bits /= 20;
  const absl::Time recorded = std::min(
      occurred + (late ? absl::Hours(30 + static_cast<double>(bits % 72)) : absl::Minutes(20)),
      now - absl::Minutes(1));
  bits /= 72;
  *in.mutable_recorded_at() = ToProto(recorded);
  in.set_owner(owner);
  const std::string& tier = c.pinned.empty() ? c.tier : c.pinned;
  in.set_executive_contact((tier == "A" || tier == "K") && slot % 3 == 0);
  if (slot == per_customer - 1 && bits % 2 == 0) {
    *in.mutable_next_follow_up_date() = ToDate(absl::ToCivilDay(occurred, absl::UTCTimeZone()) + 7 +
                                               static_cast<int>((bits / 2) % 50));
  }
  return request;
}

// ---------------------------------------------------------------------------------------------
// CPU of local processes
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

struct Row {
  std::string scenario;
  LoadResult result;
  std::vector<double> cpu_s;  // per probe over the measured window; -1 unknown
};

double HealthRate(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    if (row.scenario == "health_check") return row.result.CallsPerSecond();
  }
  return 0;
}

void PrintTable(const std::vector<Row>& rows, const std::vector<CpuProbe>& probes) {
  const double health_rate = HealthRate(rows);
  std::printf("%-20s %9s %7s %10s %9s %9s %9s %9s %9s\n", "scenario", "calls", "errors", "calls/s",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "vs health");
  for (const Row& row : rows) {
    const LoadResult& r = row.result;
    std::printf("%-20s %9lld %7lld %10.1f %9s %9s %9s %9s %9s\n", row.scenario.c_str(),
                static_cast<long long>(r.calls), static_cast<long long>(r.errors),
                r.CallsPerSecond(), Ms(r.PercentileMs(0.50)).c_str(),
                Ms(r.PercentileMs(0.90)).c_str(), Ms(r.PercentileMs(0.99)).c_str(),
                Ms(r.PercentileMs(1.0)).c_str(), Ratio(r.CallsPerSecond(), health_rate).c_str());
  }
  for (const Row& row : rows) PrintErrors(row.scenario, row.result);
  if (probes.empty()) return;
  std::printf("\n%-20s", "CPU µs per call");
  for (const CpuProbe& probe : probes) std::printf(" %15s", probe.name.c_str());
  std::printf("   (and %% of one core)\n");
  for (const Row& row : rows) {
    if (row.result.calls == 0) continue;
    std::printf("%-20s", row.scenario.c_str());
    std::printf("%s\n", CpuCells(row.cpu_s, row.result.calls, row.result.elapsed_s).c_str());
  }
}

struct RunInfo {
  std::string run_id;
  std::string address;
  std::string owner;
  int64_t customers = 0;
  int64_t history = 0;
  int64_t due_in_range = 0;
  int concurrency = 0;
  int channels = 0;
  double duration_s = 0;
  double warmup_s = 0;
  int due_days = 0;
  int page_size = 0;
};

void PrintJson(const std::vector<Row>& rows, const std::vector<CpuProbe>& probes,
               const RunInfo& info) {
  const double health_rate = HealthRate(rows);
  for (const Row& row : rows) {
    const LoadResult& r = row.result;
    std::vector<std::string> codes;
    for (const auto& [code, count] : r.error_codes) {
      codes.push_back(absl::StrCat(JsonString(CodeName(code)), ":", count));
    }
    std::vector<std::string> cpu;
    for (size_t i = 0; i < probes.size() && i < row.cpu_s.size(); ++i) {
      cpu.push_back(absl::StrCat(
          JsonString(probes[i].name), ":",
          row.cpu_s[i] < 0 || r.calls == 0
              ? "null"
              : absl::StrFormat("%.1f", row.cpu_s[i] * 1e6 / static_cast<double>(r.calls))));
    }
    std::printf(
        "%s\n",
        absl::StrCat(
            "{\"scenario\":", JsonString(row.scenario), ",\"run_id\":", JsonString(info.run_id),
            ",\"addr\":", JsonString(info.address), ",\"owner\":", JsonString(info.owner),
            ",\"customers\":", info.customers, ",\"history_records\":", info.history,
            ",\"due_in_range\":", info.due_in_range, ",\"due_days\":", info.due_days,
            ",\"page_size\":", info.page_size, ",\"concurrency\":", info.concurrency,
            ",\"channels\":", info.channels, ",\"duration_s\":", info.duration_s,
            ",\"warmup_s\":", info.warmup_s, ",\"calls\":", r.calls, ",\"errors\":", r.errors,
            ",\"calls_per_s\":", absl::StrFormat("%.1f", r.CallsPerSecond()), ",\"p50_ms\":",
            JsonMs(r.PercentileMs(0.50)), ",\"p90_ms\":", JsonMs(r.PercentileMs(0.90)),
            ",\"p99_ms\":", JsonMs(r.PercentileMs(0.99)),
            ",\"max_ms\":", JsonMs(r.PercentileMs(1.0)), ",\"vs_health\":",
            health_rate > 0 ? absl::StrFormat("%.3f", r.CallsPerSecond() / health_rate) : "null",
            ",\"cpu_us_per_call\":{", absl::StrJoin(cpu, ","), "}", ",\"error_codes\":{",
            absl::StrJoin(codes, ","), "}}")
            .c_str());
  }
}

std::string AddressFlag(const std::string& flag, const char* env, const char* fallback) {
  return !flag.empty() ? flag : EnvOr(env, fallback);
}

int Main() {
  const std::string profile_addr =
      AddressFlag(absl::GetFlag(FLAGS_profile_addr), "TIERWISE_PROFILE_ADDR", "127.0.0.1:50051");
  const std::string classification_addr = AddressFlag(
      absl::GetFlag(FLAGS_classification_addr), "TIERWISE_CLASSIFICATION_ADDR", "127.0.0.1:50054");
  const std::string interaction_addr = AddressFlag(absl::GetFlag(FLAGS_interaction_addr),
                                                   "TIERWISE_INTERACTION_ADDR", "127.0.0.1:50052");
  const std::string admin_token = !absl::GetFlag(FLAGS_admin_token).empty()
                                      ? absl::GetFlag(FLAGS_admin_token)
                                      : EnvOr("TIERWISE_ADMIN_TOKEN", "");
  const std::string rep_token = !absl::GetFlag(FLAGS_rep_token).empty()
                                    ? absl::GetFlag(FLAGS_rep_token)
                                    : EnvOr("TIERWISE_SALES_REP_TOKEN", "");
  const std::string owner = absl::GetFlag(FLAGS_owner);
  const int64_t customer_count = absl::GetFlag(FLAGS_customers);
  const int seed_concurrency = absl::GetFlag(FLAGS_seed_concurrency);
  const int pin_a = absl::GetFlag(FLAGS_pin_a_percent);
  const int pin_b = absl::GetFlag(FLAGS_pin_b_percent);
  const int history_per_customer = absl::GetFlag(FLAGS_history_per_customer);
  const int due_days = absl::GetFlag(FLAGS_due_days);
  const int page_size = absl::GetFlag(FLAGS_page_size);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int channels = absl::GetFlag(FLAGS_channels);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  const double warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const absl::Duration known_timeout = absl::Seconds(absl::GetFlag(FLAGS_known_timeout_s));
  const std::vector<std::string> scenarios =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipWhitespace());

  const std::vector<std::string> known_scenarios = {"health_check", "log_interaction",
                                                    "list_due_follow_ups", "list_due_everyone",
                                                    "list_due_other_owner"};
  for (const std::string& scenario : scenarios) {
    if (std::find(known_scenarios.begin(), known_scenarios.end(), scenario) ==
        known_scenarios.end()) {
      std::fprintf(stderr, "error: unknown scenario %s (known: %s)\n", scenario.c_str(),
                   absl::StrJoin(known_scenarios, ",").c_str());
      return 2;
    }
  }
  if (customer_count < 1 || seed_concurrency < 1 || concurrency < 1 || channels < 1 ||
      duration_s <= 0 || warmup_s < 0 || pin_a < 0 || pin_b < 0 || pin_a + pin_b > 100 ||
      history_per_customer < 0 || due_days < 1 || due_days > 367 || page_size < 1 ||
      page_size > kMaxPlanPage || absl::GetFlag(FLAGS_deadline_ms) < 1 || owner.empty()) {
    std::fprintf(stderr,
                 "error: need --customers, --seed_concurrency, --concurrency, --channels, "
                 "--deadline_ms >= 1, --duration_s > 0, --warmup_s >= 0, --pin_*_percent >= 0 "
                 "summing to <= 100, --history_per_customer >= 0, --due_days in 1..367, "
                 "--page_size in 1..1000, a non-empty --owner\n");
    return 2;
  }
  if (admin_token.empty() || rep_token.empty()) {
    std::fprintf(stderr,
                 "error: need an admin token (--admin_token or $TIERWISE_ADMIN_TOKEN) and the "
                 "owner's sales_rep token (--rep_token or $TIERWISE_SALES_REP_TOKEN)\n");
    return 2;
  }
  const std::optional<std::vector<CpuProbe>> parsed_probes =
      ParseCpuProbes(absl::GetFlag(FLAGS_cpu_pids));
  if (!parsed_probes) {
    std::fprintf(stderr, "error: --cpu_pids must look like interaction=1234,postgres=987\n");
    return 2;
  }
  const std::vector<CpuProbe>& probes = *parsed_probes;

  const absl::Duration deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  const CallSettings admin{admin_token, deadline};
  const CallSettings rep{rep_token, deadline};
  const std::string run_id = NewRunId();

  std::printf("servers     interaction %s, classification %s, profile %s\n",
              interaction_addr.c_str(), classification_addr.c_str(), profile_addr.c_str());
  std::printf(
      "load        %d calls in flight over %d channels, %g s per scenario after %g s warm-up, "
      "deadline %s; hardware threads here: %u\n",
      concurrency, channels, duration_s, warmup_s, absl::FormatDuration(deadline).c_str(),
      std::thread::hardware_concurrency());
  std::fflush(stdout);

  std::vector<Connection> connections(static_cast<size_t>(channels));
  {
    auto interaction_channels = OpenChannels(interaction_addr, channels);
    auto profile_channels = OpenChannels(profile_addr, channels);
    auto classification_channels = OpenChannels(classification_addr, channels);
    const absl::Duration connect = absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s));
    if (!WaitConnected(interaction_channels, interaction_addr, connect) ||
        !WaitConnected(profile_channels, profile_addr, connect) ||
        !WaitConnected(classification_channels, classification_addr, connect)) {
      return 2;
    }
    for (size_t i = 0; i < connections.size(); ++i) {
      connections[i].health = health::Health::NewStub(interaction_channels[i]);
      connections[i].interaction =
          interaction::InteractionService::NewStub(interaction_channels[i]);
      connections[i].profile = profile::CustomerProfileService::NewStub(profile_channels[i]);
      connections[i].classification =
          classification::ClassificationService::NewStub(classification_channels[i]);
    }
  }
  const size_t queues = connections.size();

  // 1. Customers.
  LoadResult seed_calls;
  double elapsed_s = 0;
  std::vector<BenchCustomer> customers = SeedOwned(connections, admin, run_id, customer_count,
                                                   owner, seed_concurrency, seed_calls, elapsed_s);
  PrintStep("seeding", absl::StrCat(customers.size(), " customers of ", owner, " created"),
            seed_calls, elapsed_s);
  if (customers.empty()) return 2;
  bool failed = static_cast<int64_t>(customers.size()) < customer_count;

  // 2. Wait until classification and interaction know them.
  for (const std::string service : {"classification", "interaction"}) {
    const Clock::time_point begin = Clock::now();
    size_t unknown = 0;
    grpc::Status fatal;
    AskFn ask;
    if (service == "classification") {
      ask = [&](size_t channel, size_t item, grpc::CompletionQueue& cq,
                std::function<void(const grpc::Status&)> done) {
        classification::GetTierRequest request;
        request.set_customer_id(customers[item].id);
        StartUnary(*connections[channel].classification,
                   &classification::ClassificationService::Stub::PrepareAsyncGetTier,
                   std::move(request), admin, cq,
                   [&, item, done](const grpc::Status& status, const classification::Tier& tier) {
                     if (status.ok()) customers[item].tier = tier.tier();
                     done(status);
                   });
      };
    } else {
      ask = [&](size_t channel, size_t item, grpc::CompletionQueue& cq,
                std::function<void(const grpc::Status&)> done) {
        interaction::ListInteractionsRequest request;
        request.set_customer_id(customers[item].id);
        request.set_page_size(1);
        StartUnary(*connections[channel].interaction,
                   &interaction::InteractionService::Stub::PrepareAsyncListInteractions,
                   std::move(request), rep, cq,
                   [done](const grpc::Status& status,
                          const interaction::ListInteractionsResponse&) { done(status); });
      };
    }
    const LoadResult calls =
        WaitKnown(customers.size(), queues, seed_concurrency, known_timeout, ask, unknown, fatal);
    const double s = std::chrono::duration<double>(Clock::now() - begin).count();
    std::printf("%-11s knows %zu of %zu customers after %.1f s (%lld calls)\n", service.c_str(),
                customers.size() - unknown, customers.size(), s,
                static_cast<long long>(calls.calls));
    if (!fatal.ok()) {
      std::printf("  %s: %s: %s%s\n", service.c_str(), CodeName(fatal.error_code()).c_str(),
                  fatal.error_message().c_str(),
                  fatal.error_code() == grpc::StatusCode::PERMISSION_DENIED
                      ? " (is the --rep_token the token of --owner, a sales_rep?)"
                      : "");
      return 2;
    }
    if (unknown > 0) {
      std::fprintf(stderr,
                   "error: %s does not know %zu customers after %s; does it share "
                   "--redis_prefix with the profile service?\n",
                   service.c_str(), unknown, absl::FormatDuration(known_timeout).c_str());
      return 2;
    }
  }
  {
    std::map<std::string, int64_t> by_tier;
    for (const BenchCustomer& c : customers) ++by_tier[c.tier.empty() ? "none" : c.tier];
    std::vector<std::string> parts;
    for (const auto& [tier, n] : by_tier) parts.push_back(absl::StrCat(tier, " ", n));
    std::printf("tiers       from classification before pinning: %s\n",
                absl::StrJoin(parts, ", ").c_str());
  }

  // 3. Pin a share of them to A and B so that the plans mix the tiers' policies.
  std::vector<size_t> pinned;
  for (size_t i = 0; i < customers.size(); ++i) {
    const uint64_t roll = SplitMix64(static_cast<uint64_t>(customers[i].index) ^ 0xA5A5) % 100;
    if (roll < static_cast<uint64_t>(pin_a)) {
      customers[i].pinned = "A";
    } else if (roll < static_cast<uint64_t>(pin_a + pin_b)) {
      customers[i].pinned = "B";
    }
    if (!customers[i].pinned.empty()) pinned.push_back(i);
  }
  if (!pinned.empty()) {
    const Clock::time_point begin = Clock::now();
    const google::protobuf::Timestamp expire = ToProto(absl::Now() + absl::Hours(24 * 30));
    const LoadResult pin_calls =
        ForEach(pinned.size(), queues, seed_concurrency, absl::Hours(1), "pinning",
                [&](size_t channel, size_t item, grpc::CompletionQueue& cq) {
                  const BenchCustomer& c = customers[pinned[item]];
                  classification::PinTierRequest request;
                  request.set_customer_id(c.id);
                  request.set_tier(c.pinned);
                  request.set_reason(absl::StrCat("interaction bench ", run_id));
                  *request.mutable_expire_time() = expire;
                  StartUnary(*connections[channel].classification,
                             &classification::ClassificationService::Stub::PrepareAsyncPinTier,
                             std::move(request), admin, cq);
                });
    PrintStep("pinning",
              absl::StrCat(pin_calls.calls - pin_calls.errors, " customers pinned to A or B"),
              pin_calls, std::chrono::duration<double>(Clock::now() - begin).count());
    if (pin_calls.errors > 0) return 2;

    // Before any contact each customer's regular follow-up is due on the day its plan started
    // (today, UTC), carrying the tier the interaction service has for it.
    const absl::Time give_up = absl::Now() + known_timeout;
    size_t mismatched = pinned.size();
    std::vector<interaction::FollowUp> plan;
    while (true) {
      int64_t pages = 0;
      const grpc::Status status =
          ListAllDue(*connections[0].interaction, rep, owner, Today() - 7, Today(), plan, pages);
      if (!status.ok()) {
        std::printf("  ListDueFollowUps: %s: %s\n", CodeName(status.error_code()).c_str(),
                    status.error_message().c_str());
        return 2;
      }
      std::map<std::string, std::string> tier_of;
      for (const interaction::FollowUp& f : plan) {
        if (f.kind() == interaction::FOLLOW_UP_KIND_REGULAR) tier_of[f.customer_id()] = f.tier();
      }
      mismatched = 0;
      for (size_t i : pinned) {
        if (tier_of[customers[i].id] != customers[i].pinned) ++mismatched;
      }
      if (mismatched == 0 || absl::Now() >= give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::printf("tiers       interaction plans %zu of %zu pinned customers with their new tier\n",
                pinned.size() - mismatched, pinned.size());
    if (mismatched > 0) {
      std::fprintf(stderr,
                   "warning: interaction did not learn %zu pinned tiers within %s (is it reading "
                   "<prefix>:classification.tier_changed?)\n",
                   mismatched, absl::FormatDuration(known_timeout).c_str());
      failed = true;
    }
  }

  // 4. A year of contacts.
  int64_t history_logged = 0;
  if (history_per_customer > 0) {
    const Clock::time_point begin = Clock::now();
    const absl::Time now = absl::Now();
    std::atomic<int64_t> logged{0};
    const LoadResult history_calls = ForEach(
        customers.size() * static_cast<size_t>(history_per_customer), queues, seed_concurrency,
        absl::Seconds(absl::GetFlag(FLAGS_history_timeout_s)), "history",
        [&](size_t channel, size_t item, grpc::CompletionQueue& cq) {
          const BenchCustomer& c = customers[item / static_cast<size_t>(history_per_customer)];
          const int slot = static_cast<int>(item % static_cast<size_t>(history_per_customer));
          StartUnary(*connections[channel].interaction,
                     &interaction::InteractionService::Stub::PrepareAsyncLogInteraction,
                     HistoryRecord(c, slot, history_per_customer, owner, run_id, now), admin, cq,
                     [&](const grpc::Status& status, const interaction::Interaction&) {
                       if (status.ok()) logged.fetch_add(1, std::memory_order_relaxed);
                     });
        });
    history_logged = logged.load();
    PrintStep("history",
              absl::StrCat(history_logged, " interactions over the last 365 days logged (",
                           history_per_customer, " per customer, LogInteraction as admin)"),
              history_calls, std::chrono::duration<double>(Clock::now() - begin).count());
    failed = failed || history_calls.errors > 0;
  }

  // The setup leaves work behind (classification consumes an event per logged interaction);
  // measure once the servers are quiet again.
  if (!probes.empty()) {
    const absl::Time begin = absl::Now();
    const absl::Time give_up = begin + absl::Seconds(absl::GetFlag(FLAGS_settle_timeout_s));
    constexpr absl::Duration kWindow = absl::Seconds(2);
    double busy = 0;  // cores used by the servers over the last window
    do {
      const std::vector<double> from = SampleCpu(probes);
      absl::SleepFor(kWindow);
      const std::vector<double> to = SampleCpu(probes);
      busy = 0;
      for (size_t i = 0; i < probes.size(); ++i) {
        if (probes[i].pid != getpid() && from[i] >= 0 && to[i] >= 0) {
          busy += (to[i] - from[i]) / absl::ToDoubleSeconds(kWindow);
        }
      }
    } while (busy >= 0.05 && absl::Now() < give_up);
    std::printf("settle      servers %s after %.0f s (%.0f%% of a core)\n",
                busy < 0.05 ? "idle" : "still busy", absl::ToDoubleSeconds(absl::Now() - begin),
                100 * busy);
  }

  // What the measured ListDueFollowUps looks at.
  const absl::CivilDay due_from = Today();
  const absl::CivilDay due_to = due_from + (due_days - 1);
  int64_t due_in_range = 0;
  {
    std::vector<interaction::FollowUp> plan;
    int64_t pages = 0;
    const grpc::Status status =
        ListAllDue(*connections[0].interaction, rep, owner, due_from, due_to, plan, pages);
    if (!status.ok()) {
      std::printf("  ListDueFollowUps: %s: %s\n", CodeName(status.error_code()).c_str(),
                  status.error_message().c_str());
      return 2;
    }
    std::map<std::string, int64_t> by_kind;
    std::map<std::string, int64_t> customers_due;
    for (const interaction::FollowUp& f : plan) {
      ++by_kind[interaction::FollowUpKind_Name(f.kind())];
      ++customers_due[f.customer_id()];
    }
    std::vector<std::string> parts;
    for (const auto& [kind, n] : by_kind) parts.push_back(absl::StrCat(kind, " ", n));
    due_in_range = static_cast<int64_t>(plan.size());
    std::printf(
        "due list    %s .. %s (%d days): %lld follow-ups of %zu customers (%s); each call "
        "returns the first %d\n",
        absl::FormatCivilTime(due_from).c_str(), absl::FormatCivilTime(due_to).c_str(), due_days,
        static_cast<long long>(due_in_range), customers_due.size(),
        parts.empty() ? "none" : absl::StrJoin(parts, ", ").c_str(),
        std::min<int>(page_size, static_cast<int>(due_in_range)));
  }
  std::printf("\n");
  std::fflush(stdout);

  // The scenarios.
  const absl::Duration warmup = absl::Seconds(warmup_s);
  const absl::Duration duration = absl::Seconds(duration_s);
  const std::string health_service = absl::GetFlag(FLAGS_health_service);
  std::vector<Row> rows;
  for (const std::string& scenario : scenarios) {
    StartFn start;
    if (scenario == "health_check") {
      start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
        health::HealthCheckRequest request;
        request.set_service(health_service);
        StartUnary(*connections[channel].health, &health::Health::Stub::PrepareAsyncCheck,
                   std::move(request), rep, cq);
        return true;
      };
    } else if (scenario == "log_interaction") {
      start = [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
        std::uniform_int_distribution<size_t> pick(0, customers.size() - 1);
        std::uniform_int_distribution<int64_t> seconds_ago(60, 8 * 3600);
        const uint64_t bits = rng();
        interaction::LogInteractionRequest request;
        interaction::Interaction& in = *request.mutable_interaction();
        FillRecord(in, customers[pick(rng)], bits, run_id);
        *in.mutable_occurred_at() = ToProto(absl::Now() - absl::Seconds(seconds_ago(rng)));
        StartUnary(*connections[channel].interaction,
                   &interaction::InteractionService::Stub::PrepareAsyncLogInteraction,
                   std::move(request), rep, cq);
        return true;
      };
    } else if (scenario == "list_due_everyone" || scenario == "list_due_other_owner") {
      const std::string other = absl::GetFlag(FLAGS_other_owner);
      const bool everyone = scenario == "list_due_everyone";
      start = [&, other, everyone](size_t channel, Rng&, grpc::CompletionQueue& cq) {
        interaction::ListDueFollowUpsRequest request;
        if (!everyone) request.add_owners(other);
        *request.mutable_from_date() = ToDate(due_from);
        *request.mutable_to_date() = ToDate(due_to);
        request.set_page_size(page_size);
        StartUnary(*connections[channel].interaction,
                   &interaction::InteractionService::Stub::PrepareAsyncListDueFollowUps,
                   std::move(request), admin, cq);
        return true;
      };
    } else {  // list_due_follow_ups
      start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
        interaction::ListDueFollowUpsRequest request;
        request.add_owners(owner);
        *request.mutable_from_date() = ToDate(due_from);
        *request.mutable_to_date() = ToDate(due_to);
        request.set_page_size(page_size);
        StartUnary(*connections[channel].interaction,
                   &interaction::InteractionService::Stub::PrepareAsyncListDueFollowUps,
                   std::move(request), rep, cq);
        return true;
      };
    }
    std::fprintf(stderr, "running %s\n", scenario.c_str());
    Row row;
    row.scenario = scenario;
    // CPU over the measured window: sampled when the warm-up ends and after the last call.
    std::vector<double> cpu_from;
    std::thread sampler([&] {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(warmup));
      cpu_from = SampleCpu(probes);
    });
    row.result = RunLoad(start, queues, concurrency, warmup, duration);
    sampler.join();
    const std::vector<double> cpu_to = SampleCpu(probes);
    for (size_t i = 0; i < probes.size(); ++i) {
      row.cpu_s.push_back(cpu_from[i] < 0 || cpu_to[i] < 0 ? -1 : cpu_to[i] - cpu_from[i]);
    }
    rows.push_back(std::move(row));
  }

  PrintTable(rows, probes);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("\n");
    PrintJson(rows, probes,
              RunInfo{run_id, interaction_addr, owner, static_cast<int64_t>(customers.size()),
                      history_logged, due_in_range, concurrency, channels, duration_s, warmup_s,
                      due_days, page_size});
  }
  std::fflush(stdout);
  for (const Row& row : rows) {
    if (row.result.errors > 0) failed = true;
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace tierwise::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures LogInteraction and ListDueFollowUps of a running Tierwise interaction service "
      "next to its gRPC health check, after creating an owner's customers and a year of their "
      "contacts.\nExample: TIERWISE_ADMIN_TOKEN=... TIERWISE_SALES_REP_TOKEN=... "
      "tierwise-bench-interaction --owner=rep.zhang --customers=2000");
  return tierwise::bench::RunDriver(argc, argv, tierwise::bench::Main);
}
