#include "services/classification/classification_server.h"

#include <unistd.h>

#include <algorithm>
#include <tuple>

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

namespace {

std::unique_ptr<redis::TrackedCache> StartLocalCache(const server::ServiceDeps& deps, int entries) {
  if (entries <= 0) return nullptr;
  auto cache = std::make_unique<redis::TrackedCache>(
      deps.redis.options(), absl::StrCat(deps.config.redis_prefix, ":tier:"),
      static_cast<size_t>(entries));
  cache->Start();
  return cache;
}

}  // namespace

ClassificationServer::ClassificationServer(server::ServiceDeps& deps, std::function<Micros()> clock,
                                           int cache_read_connections, int local_cache_entries)
    : cache_reads(deps.redis.options(), cache_read_connections),
      local_tiers(StartLocalCache(deps, local_cache_entries)),
      engine(deps.pool, deps.redis,
             {.redis_prefix = deps.config.redis_prefix,
              .clock = clock,
              .published = [&relay = deps.relay] { relay.Wake(); },
              .cache_reads = &cache_reads,
              .local_cache = local_tiers.get()}),
      jobs(deps.pool, engine, clock),
      rule_set_authorizer(deps.tokens, RuleSetRoleTable()),
      tier_authorizer(deps.tokens, ClassificationRoleTable()),
      report_authorizer(deps.tokens, ReportRoleTable()),
      rule_set_service(engine, deps.pool, rule_set_authorizer),
      classification_service(engine, jobs, deps.pool, tier_authorizer, clock),
      report_service(deps.pool, report_authorizer, clock) {}

std::vector<StreamInput> StreamInputs(std::shared_ptr<TierEngine> engine,
                                      const redis::RedisOptions& redis, const std::string& prefix,
                                      const std::string& consumer,
                                      const redis::ConsumerOptions& base) {
  using Handler = absl::Status (TierEngine::*)(const redis::StreamEntry&);
  using BatchHandler = absl::Status (TierEngine::*)(const std::vector<redis::StreamEntry>&);
  // Ledger and interaction events carry the load: a batch read goes into one transaction (a
  // larger one for the ledger, spreading its fixed statements over more events in a backlog).
  const std::tuple<const char*, Handler, BatchHandler, int> kInputs[] = {
      {":profile.customer_changed", &TierEngine::OnCustomerChanged, nullptr, 0},
      {":credit.ledger", nullptr, &TierEngine::OnLedgerEvents, 500},
      {":interaction.events", nullptr, &TierEngine::OnInteractionEvents, 0},
  };
  std::vector<StreamInput> out;
  for (const auto& [suffix, handler, batch_handler, batch_size] : kInputs) {
    redis::ConsumerOptions options = base;
    options.stream = absl::StrCat(prefix, suffix);
    options.group = "classification";
    options.consumer = consumer;
    options.dead_letter_stream = absl::StrCat(prefix, ":classification.dead_letter");
    options.batch_size = std::max(options.batch_size, batch_size);
    if (batch_handler != nullptr) {
      out.push_back({options.stream, std::make_shared<redis::StreamConsumer>(
                                         redis, options,
                                         [engine, batch_handler = batch_handler](
                                             const std::vector<redis::StreamEntry>& entries) {
                                           return ((*engine).*batch_handler)(entries);
                                         })});
      continue;
    }
    out.push_back({options.stream,
                   std::make_shared<redis::StreamConsumer>(
                       redis, options, [engine, handler = handler](const redis::StreamEntry& e) {
                         return ((*engine).*handler)(e);
                       })});
  }
  return out;
}

server::ServiceDefinition ClassificationDefinition() {
  static int reclassify_interval_s = 3600;
  static int redis_read_connections = ClassificationServer::kDefaultCacheReadConnections;
  static int local_cache_entries = ClassificationServer::kDefaultLocalCacheEntries;
  return {
      .name = "classification",
      .default_port = 50054,
      .migrations = Migrations(),
      .build = [](server::ServiceDeps& deps) -> absl::StatusOr<server::ServiceBundle> {
        auto svc = std::make_shared<ClassificationServer>(deps, Now, redis_read_connections,
                                                          local_cache_entries);
        if (absl::Status s = svc->engine.Load(); !s.ok()) return s;
        auto redis = redis::ParseRedisAddress(deps.config.redis_addr);
        if (!redis.ok()) return redis.status();
        redis->password = deps.config.redis_password;
        char host[128] = {0};
        gethostname(host, sizeof(host) - 1);
        const std::string consumer = absl::StrCat(host, "-", getpid());
        // The consumers share the server's ownership of the engine (aliasing pointer).
        std::vector<StreamInput> inputs =
            StreamInputs(std::shared_ptr<TierEngine>(svc, &svc->engine), *redis,
                         deps.config.redis_prefix, consumer);
        std::vector<std::shared_ptr<void>> consumer_metrics;
        for (const StreamInput& input : inputs) {
          input.consumer->Start();
          consumer_metrics.push_back(server::ExportConsumerMetrics(
              "classification", input.stream, "classification", input.consumer));
        }
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
        std::vector<std::shared_ptr<void>> local_gauges;
        if (redis::TrackedCache* local = svc->local_tiers.get(); local != nullptr) {
          const char* help = "tier lookups so far answered in process (hit) or not (miss)";
          local_gauges.push_back(
              std::make_shared<metrics::CallbackGaugeHandle>(registry.RegisterCallbackGauge(
                  "tierwise_tier_local_cache_requests", help, {{"result", "hit"}},
                  [svc, local] { return static_cast<double>(local->hits()); })));
          local_gauges.push_back(
              std::make_shared<metrics::CallbackGaugeHandle>(registry.RegisterCallbackGauge(
                  "tierwise_tier_local_cache_requests", help, {{"result", "miss"}},
                  [svc, local] { return static_cast<double>(local->misses()); })));
          local_gauges.push_back(
              std::make_shared<metrics::CallbackGaugeHandle>(registry.RegisterCallbackGauge(
                  "tierwise_tier_local_cache_coherent",
                  "1 while Redis tracks the in-process tier cache (else it is bypassed)", {},
                  [svc, local] { return local->coherent() ? 1.0 : 0.0; })));
        }
        server::ServiceBundle bundle;
        bundle.services.emplace_back(&svc->rule_set_service,
                                     v1::RuleSetService::service_full_name());
        bundle.services.emplace_back(&svc->classification_service,
                                     v1::ClassificationService::service_full_name());
        bundle.services.emplace_back(&svc->report_service, v1::ReportService::service_full_name());
        // Consumers, tasks and gauges hold the engine by shared_ptr, so it outlives them.
        bundle.keep_alive.push_back(svc);
        for (const StreamInput& input : inputs) bundle.keep_alive.push_back(input.consumer);
        bundle.keep_alive.push_back(maintain);
        if (full) bundle.keep_alive.push_back(full);
        for (auto& handle : consumer_metrics) bundle.keep_alive.push_back(std::move(handle));
        for (auto& handle : local_gauges) bundle.keep_alive.push_back(std::move(handle));
        return bundle;
      },
      .register_flags =
          [](config::ConfigParser& parser) {
            parser.AddInt("reclassify_interval_s", &reclassify_interval_s, 3600,
                          "seconds between full reclassifications that correct drift (0 = never)",
                          0, 7 * 86400);
            parser.AddInt("redis_read_connections", &redis_read_connections,
                          ClassificationServer::kDefaultCacheReadConnections,
                          "Redis connections for GetTier's cache reads (lookups in parallel)", 1,
                          256);
            parser.AddInt("tier_cache_entries", &local_cache_entries,
                          ClassificationServer::kDefaultLocalCacheEntries,
                          "tiers kept in process, coherent through Redis client tracking"
                          " (0 = every GetTier reads Redis)",
                          0, 10000000);
          }};
}

}  // namespace tierwise::classification
