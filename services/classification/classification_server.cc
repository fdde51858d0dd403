#include "services/classification/classification_server.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/redis/stream_consumer.h"
#include "common/server/consumer_metrics.h"
#include "common/server/periodic_task.h"
#include "common/time/micros.h"

namespace tierwise::classification {
namespace {

Micros Now() { return time::NowMicros(); }

}  // namespace

ClassificationServer::ClassificationServer(server::ServiceDeps& deps, std::function<Micros()> clock)
    : engine(deps.pool, deps.redis,
             {.redis_prefix = deps.config.redis_prefix,
              .clock = clock,
              .published = [&relay = deps.relay] { relay.Wake(); }}),
      jobs(deps.pool, engine, clock),
      rule_set_authorizer(deps.tokens, RuleSetRoleTable()),
      tier_authorizer(deps.tokens, ClassificationRoleTable()),
      report_authorizer(deps.tokens, ReportRoleTable()),
      rule_set_service(engine, deps.pool, rule_set_authorizer),
      classification_service(engine, jobs, deps.pool, tier_authorizer, clock),
      report_service(deps.pool, report_authorizer, clock) {}

server::ServiceDefinition ClassificationDefinition() {
  static int reclassify_interval_s = 3600;
  return {
      .name = "classification",
      .default_port = 50054,
      .migrations = Migrations(),
      .build = [](server::ServiceDeps& deps) -> absl::StatusOr<server::ServiceBundle> {
        auto svc = std::make_shared<ClassificationServer>(deps, Now);
        if (absl::Status s = svc->engine.Load(); !s.ok()) return s;
        auto redis = redis::ParseRedisAddress(deps.config.redis_addr);
        if (!redis.ok()) return redis.status();
        redis->password = deps.config.redis_password;
        char host[128] = {0};
        gethostname(host, sizeof(host) - 1);
        const std::string consumer = absl::StrCat(host, "-", getpid());
        const std::string& prefix = deps.config.redis_prefix;
        const std::string dead = absl::StrCat(prefix, ":classification.dead_letter");
        auto customers = std::make_shared<redis::StreamConsumer>(
            *redis,
            redis::ConsumerOptions{.stream = absl::StrCat(prefix, ":profile.customer_changed"),
                                   .group = "classification",
                                   .consumer = consumer,
                                   .dead_letter_stream = dead},
            [svc](const redis::StreamEntry& e) { return svc->engine.OnCustomerChanged(e); });
        auto ledger = std::make_shared<redis::StreamConsumer>(
            *redis,
            redis::ConsumerOptions{.stream = absl::StrCat(prefix, ":credit.ledger"),
                                   .group = "classification",
                                   .consumer = consumer,
                                   .dead_letter_stream = dead},
            [svc](const redis::StreamEntry& e) { return svc->engine.OnLedgerEvent(e); });
        customers->Start();
        ledger->Start();
        auto customers_metrics = server::ExportConsumerMetrics(
            "classification", absl::StrCat(prefix, ":profile.customer_changed"), "classification",
            customers);
        auto ledger_metrics = server::ExportConsumerMetrics(
            "classification", absl::StrCat(prefix, ":credit.ledger"), "classification", ledger);
        auto maintain = std::make_shared<server::PeriodicTask>(
            "classification.maintain", std::chrono::seconds(60), [svc]() -> absl::Status {
              absl::StatusOr<int64_t> changed = svc->engine.Maintain();
              return changed.ok() ? absl::OkStatus() : changed.status();
            });
        std::shared_ptr<server::PeriodicTask> full;
        if (reclassify_interval_s > 0) {
          full = std::make_shared<server::PeriodicTask>(
              "classification.full", std::chrono::seconds(reclassify_interval_s),
              [svc]() -> absl::Status {
                absl::StatusOr<int64_t> changed = svc->engine.ReclassifyAll("RECLASSIFY", nullptr);
                return changed.ok() ? absl::OkStatus() : changed.status();
              });
        }
        auto& registry = metrics::Registry::Default();
        auto hits = std::make_shared<metrics::CallbackGaugeHandle>(registry.RegisterCallbackGauge(
            "tierwise_tier_cache_requests",
            "tier lookups served from Redis (hit) or PostgreSQL (miss)", {{"result", "hit"}},
            [svc] { return static_cast<double>(svc->engine.cache_hits()); }));
        auto misses = std::make_shared<metrics::CallbackGaugeHandle>(registry.RegisterCallbackGauge(
            "tierwise_tier_cache_requests",
            "tier lookups served from Redis (hit) or PostgreSQL (miss)", {{"result", "miss"}},
            [svc] { return static_cast<double>(svc->engine.cache_misses()); }));
        server::ServiceBundle bundle;
        bundle.services.emplace_back(&svc->rule_set_service,
                                     v1::RuleSetService::service_full_name());
        bundle.services.emplace_back(&svc->classification_service,
                                     v1::ClassificationService::service_full_name());
        bundle.services.emplace_back(&svc->report_service, v1::ReportService::service_full_name());
        // Consumers, tasks and gauges hold the engine by shared_ptr, so it outlives them.
        bundle.keep_alive.push_back(svc);
        bundle.keep_alive.push_back(customers);
        bundle.keep_alive.push_back(ledger);
        bundle.keep_alive.push_back(maintain);
        if (full) bundle.keep_alive.push_back(full);
        bundle.keep_alive.push_back(hits);
        bundle.keep_alive.push_back(misses);
        bundle.keep_alive.push_back(customers_metrics);
        bundle.keep_alive.push_back(ledger_metrics);
        return bundle;
      },
      .register_flags =
          [](config::ConfigParser& parser) {
            parser.AddInt("reclassify_interval_s", &reclassify_interval_s, 3600,
                          "seconds between full reclassifications that correct drift (0 = never)",
                          0, 7 * 86400);
          }};
}

}  // namespace tierwise::classification
