// tierwise-classification-event-bench: the cost of the evaluation path in process, against the
// PostgreSQL and Redis of TIERWISE_TEST_PG_URI / TIERWISE_TEST_REDIS_ADDR (a fresh schema and
// prefix, dropped at the end). Prints, as tables with ratios:
//   1. per ledger event (one at a time, as OnLedgerEvent), wall and process CPU, for a customer
//      with 10 stored facts, one with 2,000 over five years, and one with 2,000 in the window;
//   2. a full reclassification of --customers customers (seeded by SQL: a profile, one order of
//      the last 300 days, a metrics row due for refresh): the first run (every metric computed,
//      every tier written) and a second one on unchanged data (stored metrics read, nothing
//      written), next to the plain SQL read of the same metrics sorted by revenue.
//
//   tierwise-classification-event-bench [customers=100000] [events=200]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/testing/service_harness.h"
#include "common/time/micros.h"
#include "services/classification/classification_server.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification {
namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

redis::StreamEntry Order(const std::string& customer, const std::string& event_id, int64_t amount,
                         Micros at) {
  events::v1::LedgerEvent e;
  e.set_event_id(event_id);
  e.set_customer_id(customer);
  e.set_kind(events::v1::LEDGER_EVENT_KIND_ORDER);
  e.set_document_no("O-" + event_id);
  e.mutable_amount()->set_minor_units(amount);
  e.mutable_amount()->set_currency("CNY");
  e.mutable_margin()->set_minor_units(amount / 5);
  e.mutable_margin()->set_currency("CNY");
  time::SetTimestamp(at, e.mutable_occurred_at());
  e.set_credit_rating("AA");
  e.set_on_time_payment_ratio(0.9);
  return {"1-0",
          {{"type", e.GetTypeName()}, {"event_id", event_id}, {"payload", e.SerializeAsString()}}};
}

std::string CustomerId(int n) { return absl::StrFormat("%08x-0000-4000-8000-%012x", 0x5eed, n); }

int Run(int customers, int events) {
  testing::ServiceHarness h(Migrations(), "bench");
  auto calendar = time::BusinessCalendar::Load("Asia/Shanghai");
  if (!calendar.ok()) return 2;
  TierEngine engine(h.pool(), h.redis(),
                    {.redis_prefix = h.prefix(),
                     .clock = [] { return time::NowMicros(); },
                     .calendar = *calendar});
  if (!engine.Load().ok()) return 2;
  const Micros now = time::NowMicros();

  // ---- 1. per event, by stored history ----
  std::vector<redis::StreamEntry> seed;
  for (int i = 0; i < 200; ++i) {
    seed.push_back(Order(CustomerId(1000 + i), absl::StrCat("bg-", i), 100000 + i, now - kDay));
  }
  struct Profile {
    const char* name;
    std::string id;
    int facts;
    int days;  // spread over
  };
  std::vector<Profile> profiles = {{"10 facts", CustomerId(1), 10, 300},
                                   {"2000 facts over 5 years", CustomerId(2), 2000, 5 * 365},
                                   {"2000 facts in the window", CustomerId(3), 2000, 360}};
  for (const Profile& p : profiles) {
    for (int i = 0; i < p.facts; ++i) {
      seed.push_back(Order(
          p.id, absl::StrCat(p.id, "-seed-", i), 50000,
          now - static_cast<Micros>(1 + (static_cast<int64_t>(i) * p.days) / p.facts) * kDay));
    }
  }
  for (size_t i = 0; i < seed.size(); i += 500) {
    std::vector<redis::StreamEntry> batch(
        seed.begin() + static_cast<std::ptrdiff_t>(i),
        seed.begin() + static_cast<std::ptrdiff_t>(std::min(seed.size(), i + 500)));
    if (absl::Status s = engine.OnLedgerEvents(batch); !s.ok()) {
      std::fprintf(stderr, "seed: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("\n== event -> tier, one ledger event at a time (%d events each)\n", events);
  std::printf("%-28s %14s %14s %12s %12s\n", "customer", "wall us/event", "cpu us/event",
              "wall ratio", "cpu ratio");
  double base_wall = 0, base_cpu = 0;
  for (const Profile& p : profiles) {
    const double w0 = WallSeconds(), c0 = CpuSeconds();
    for (int i = 0; i < events; ++i) {
      if (absl::Status s =
              engine.OnLedgerEvent(Order(p.id, absl::StrCat(p.id, "-ev-", i), 1000, now));
          !s.ok()) {
        std::fprintf(stderr, "event: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    const double wall = (WallSeconds() - w0) * 1e6 / events;
    const double cpu = (CpuSeconds() - c0) * 1e6 / events;
    if (base_wall == 0) {
      base_wall = wall;
      base_cpu = cpu;
    }
    std::printf("%-28s %14.0f %14.0f %12.2f %12.2f\n", p.name, wall, cpu, wall / base_wall,
                cpu / base_cpu);
  }

  // ---- 2. full reclassification against the plain SQL read ----
  // In transactions of 100,000 customers each (a million at once passes the statement timeout).
  absl::Status s;
  for (int from = 1; s.ok() && from <= customers; from += 100000) {
    const int to = std::min(customers, from + 99999);
    s = h.pool().Transact([&](pqxx::work& tx) {
      tx.exec_params(
          "INSERT INTO customers (customer_id, since, profile_version)"
          " SELECT md5('bench' || g)::uuid, now() - interval '900 days', 1"
          " FROM generate_series($1::integer, $2::integer) g",
          from, to);
      tx.exec_params(
          "INSERT INTO ledger_entries (event_id, customer_id, kind, document_no, amount, margin,"
          " occurred_at) SELECT 'full-' || g, md5('bench' || g)::uuid, 1, 'O-full-' || g,"
          " 1000 + (g::bigint * 7919) % 1000000, 100, now() - ((g % 300) || ' days')::interval"
          " FROM generate_series($1::integer, $2::integer) g",
          from, to);
      // Metrics rows due now: the first run computes them all (as after an upgrade), the second
      // reads them as stored.
      tx.exec_params(
          "INSERT INTO customer_metrics (customer_id, next_window_exit)"
          " SELECT md5('bench' || g)::uuid, now() - interval '1 second'"
          " FROM generate_series($1::integer, $2::integer) g",
          from, to);
      return absl::OkStatus();
    });
  }
  if (!s.ok()) {
    std::fprintf(stderr, "seed: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("\n== full reclassification of %d customers (+%zu above)\n", customers,
              seed.size() / 10);
  double first = 0, second = 0, sql = 0;
  for (int run = 0; run < 2; ++run) {
    const double w0 = WallSeconds();
    absl::StatusOr<int64_t> changed = engine.ReclassifyAll("RECLASSIFY", nullptr);
    if (!changed.ok()) {
      std::fprintf(stderr, "reclassify: %s\n", changed.status().ToString().c_str());
      return 1;
    }
    (run == 0 ? first : second) = WallSeconds() - w0;
    std::printf("run %d: %.2f s, %lld tiers changed\n", run + 1, run == 0 ? first : second,
                static_cast<long long>(*changed));
  }
  {
    const double w0 = WallSeconds();
    int64_t rows = 0;
    s = h.pool().Transact([&](pqxx::work& tx) {
      for (const auto& r :
           tx.exec("SELECT customer_id::text, revenue_12m, margin_12m, orders_12m, renewal_permille"
                   " FROM customer_metrics ORDER BY revenue_12m DESC, customer_id")) {
        rows += r[1].as<int64_t>() >= 0 ? 1 : 0;
      }
      return absl::OkStatus();
    });
    sql = WallSeconds() - w0;
    std::printf("plain SQL read of the metrics sorted by revenue: %.2f s (%lld rows)\n", sql,
                static_cast<long long>(rows));
  }
  std::printf("ratio first run / SQL: %.1fx, unchanged run / SQL: %.1fx\n", first / sql,
              second / sql);
  return 0;
}

}  // namespace
}  // namespace tierwise::classification

int main(int argc, char** argv) {
  const int customers = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int events = argc > 2 ? std::atoi(argv[2]) : 200;
  return tierwise::classification::Run(customers, events);
}
