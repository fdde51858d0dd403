#include "services/classification/classification_server.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/postgres/leader_lease.h"
#include "common/redis/stream_consumer.h"
#include "common/redis/stream_names.h"
#include "common/server/consumer_metrics.h"
#include "common/server/consumers.h"
#include "common/server/periodic_task.h"
#include "common/status/macros.h"
#include "common/time/micros.h"

namespace tierwise::classification {
namespace {

Micros Now() { return time::NowMicros(); }

constexpr char kServiceName[] = "classification";

}  // namespace

namespace {

std::unique_ptr<redis::TrackedCache> StartLocalCache(const server::ServiceDeps& deps, int entries) {
  if (entries <= 0) return nullptr;
  auto cache = std::make_unique<redis::TrackedCache>(
      deps.redis.options(), cache_keys::TierPrefix(deps.config.redis_prefix),
      static_cast<size_t>(entries));
  cache->Start();
  return cache;
}

}  // namespace

ClassificationServer::ClassificationServer(server::ServiceDeps& deps, std::function<Micros()> clock,
                                           int cache_read_connections, int local_cache_entries,
                                           std::function<bool()> leading)
    : cache_reads(deps.redis.options(), cache_read_connections),
      local_tiers(StartLocalCache(deps, local_cache_entries)),
      engine(deps.pool, deps.redis,
             {.redis_prefix = deps.config.redis_prefix,
              .clock = clock,
              .published = [&relay = deps.relay] { relay.Wake(); },
              .calendar = deps.calendar,
              .cache_reads = &cache_reads,
              .local_cache = local_tiers.get()}),
      jobs(deps.pool, engine, clock),
      writer(deps.pool, engine, jobs,
             leading != nullptr ? std::move(leading) : std::function<bool()>([] { return true; })),
      rule_set_authorizer(deps.tokens, RuleSetRoleTable()),
      tier_authorizer(deps.tokens, ClassificationRoleTable()),
      report_authorizer(deps.tokens, ReportRoleTable()),
      rule_set_service(engine, writer, deps.pool, rule_set_authorizer),
      classification_service(engine, writer, jobs, deps.pool, tier_authorizer, clock),
      report_service(deps.pool, report_authorizer, clock, deps.calendar) {}

std::vector<StreamInput> StreamInputs(std::shared_ptr<TierEngine> engine,
                                      const redis::RedisOptions& redis, const std::string& prefix,
                                      const std::string& consumer,
                                      const redis::ConsumerOptions& base) {
  using Handler = absl::Status (TierEngine::*)(const redis::StreamEntry&);
  using BatchHandler = absl::Status (TierEngine::*)(const std::vector<redis::StreamEntry>&);
  // Ledger and interaction events carry the load: a batch read goes into one transaction (a
  // larger one for the ledger, spreading its fixed statements over more events in a backlog).
  const std::tuple<std::string, Handler, BatchHandler, int> kInputs[] = {
      {streams::CustomerChanged(prefix), &TierEngine::OnCustomerChanged, nullptr, 0},
      {streams::Ledger(prefix), nullptr, &TierEngine::OnLedgerEvents, 500},
      {streams::InteractionEvents(prefix), nullptr, &TierEngine::OnInteractionEvents, 0},
  };
  std::vector<StreamInput> out;
  for (const auto& [stream, handler, batch_handler, batch_size] : kInputs) {
    redis::ConsumerOptions options = base;
    options.stream = stream;
    options.group = kServiceName;
    options.consumer = consumer;
    options.dead_letter_stream = streams::DeadLetter(prefix, kServiceName);
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

namespace {

// The lease's connection notices a vanished server within about five seconds (the pool's
// defaults allow half a minute), so a writer cut off from PostgreSQL steps down before the server
// drops its session (see LeaderLeaseOptions) and a standby takes over. The operator's own values
// in the URI win.
std::string LeaseConnectionInfo(const std::string& uri) {
  static constexpr std::pair<const char*, const char*> kFast[] = {{"keepalives_idle", "2"},
                                                                  {"keepalives_interval", "1"},
                                                                  {"keepalives_count", "2"},
                                                                  {"tcp_user_timeout", "4000"}};
  const bool is_uri =
      absl::StartsWith(uri, "postgresql://") || absl::StartsWith(uri, "postgres://");
  std::string out = uri;
  bool has_query = is_uri && uri.find('?') != std::string::npos;
  for (const auto& [key, value] : kFast) {
    if (absl::StrContains(uri, absl::StrCat(key, "="))) continue;
    if (is_uri) {
      absl::StrAppend(&out, has_query ? "&" : "?", key, "=", value);
      has_query = true;
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  }
  return postgres::WithConnectionDefaults(out);
}

// The writer's side of a replica: what it starts when elected and stops when it steps down.
class WriterRole {
 public:
  // `redis`, `consumer`: server::ConsumerSettings' (the consumer named "writer" here, so that a
  // new writer takes over its predecessor's pending entries).
  WriterRole(server::ServiceDeps& deps, redis::RedisOptions redis, redis::ConsumerOptions consumer,
             std::string holder)
      : deps_(deps),
        redis_(std::move(redis)),
        consumer_(std::move(consumer)),
        holder_(std::move(holder)) {}

  void set_server(std::shared_ptr<ClassificationServer> svc) { svc_ = std::move(svc); }
  bool leading() const { return leading_.load(); }

  // Elected: a new term (fencing the previous writer's late transactions), state fresh from
  // PostgreSQL, then the consumers.
  absl::Status Elect() {
    int64_t epoch = 0;
    TW_RETURN_IF_ERROR(deps_.pool.Transact([&](pqxx::work& tx) {
      epoch = store::BumpWriterEpoch(tx, holder_);
      return absl::OkStatus();
    }));
    svc_->engine.set_writer_epoch(epoch);
    TW_RETURN_IF_ERROR(svc_->engine.Load());
    // Full runs the previous writer left unfinished fail (an activation's run is taken over by
    // the write-request poll, which applies a rule set activated meanwhile within its interval).
    TW_RETURN_IF_ERROR(svc_->jobs.FailInterrupted().status());
    std::lock_guard<std::mutex> lock(mu_);
    inputs_ = StreamInputs(std::shared_ptr<TierEngine>(svc_, &svc_->engine), redis_,
                           deps_.config.redis_prefix, "writer", consumer_);
    for (const StreamInput& input : inputs_) {
      input.consumer->Start();
      consumer_metrics_.push_back(
          server::ExportConsumerMetrics(kServiceName, input.stream, kServiceName, input.consumer));
    }
    leading_ = true;
    log::Info("classification.writer_elected", {{"epoch", epoch}, {"holder", holder_}});
    return absl::OkStatus();
  }

  void StepDown() {
    leading_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    for (const StreamInput& input : inputs_) input.consumer->Stop();
    consumer_metrics_.clear();
    inputs_.clear();
    log::Info("classification.writer_stepped_down", {{"holder", holder_}});
  }

 private:
  server::ServiceDeps& deps_;
  const redis::RedisOptions redis_;
  const redis::ConsumerOptions consumer_;
  const std::string holder_;
  std::shared_ptr<ClassificationServer> svc_;
  std::atomic<bool> leading_{false};
  std::mutex mu_;
  std::vector<StreamInput> inputs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<void>> consumer_metrics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

server::ServiceDefinition ClassificationDefinition() {
  static int reclassify_interval_s = 3600;
  static int redis_read_connections = ClassificationServer::kDefaultCacheReadConnections;
  static int local_cache_entries = ClassificationServer::kDefaultLocalCacheEntries;
  static int writer_poll_ms = 100;
  return {
      .name = kServiceName,
      .default_port = 50054,
      .migrations = Migrations(),
      .build = [](server::ServiceDeps& deps) -> absl::StatusOr<server::ServiceBundle> {
        // The connection and consumer settings every service's consumers use; StreamInputs sets
        // each stream's name and batch size.
        TW_ASSIGN_OR_RETURN(
            auto settings,
            server::ConsumerSettings(deps, kServiceName,
                                     {.stream = streams::Ledger(deps.config.redis_prefix),
                                      .batch_handler = [](const std::vector<redis::StreamEntry>&) {
                                        return absl::OkStatus();
                                      }}));
        auto role = std::make_shared<WriterRole>(deps, settings.first, settings.second,
                                                 server::ConsumerName());
        auto svc = std::make_shared<ClassificationServer>(deps, Now, redis_read_connections,
                                                          local_cache_entries,
                                                          [role] { return role->leading(); });
        role->set_server(svc);
        auto lease = std::make_shared<postgres::LeaderLease>(
            [conninfo = LeaseConnectionInfo(
                 deps.config.pg_uri)]() -> absl::StatusOr<std::unique_ptr<pqxx::connection>> {
              try {
                return std::make_unique<pqxx::connection>(conninfo);
              } catch (const std::exception& e) {
                return postgres::StatusFromException(e);
              }
            },
            postgres::LeaderLeaseOptions{
                .name = kServiceName,
                .key = postgres::LeaderLease::KeyOf("tierwise.classification.writer",
                                                    deps.config.pg_schema)},
            [role] { return role->Elect(); }, [role] { role->StepDown(); });
        // Only the writer evaluates; the tasks idle on a standby.
        auto maintain = std::make_shared<server::PeriodicTask>(
            "classification.maintain", std::chrono::seconds(60), [svc, role]() -> absl::Status {
              if (!role->leading()) return absl::OkStatus();
              absl::StatusOr<int64_t> changed = svc->engine.Maintain();
              return changed.ok() ? absl::OkStatus() : changed.status();
            });
        auto apply = std::make_shared<server::PeriodicTask>(
            "classification.write_requests", std::chrono::milliseconds(writer_poll_ms),
            [svc]() { return svc->writer.ApplyPending(); });
        std::shared_ptr<server::PeriodicTask> full;
        if (reclassify_interval_s > 0) {
          full = std::make_shared<server::PeriodicTask>(
              "classification.full", std::chrono::seconds(reclassify_interval_s),
              [svc, role]() -> absl::Status {
                if (!role->leading()) return absl::OkStatus();
                absl::StatusOr<int64_t> changed = svc->engine.ReclassifyAll("RECLASSIFY", nullptr);
                return changed.ok() ? absl::OkStatus() : changed.status();
              });
        }
        auto& registry = metrics::Registry::Default();
        std::vector<std::shared_ptr<void>> local_gauges;
        local_gauges.push_back(
            std::make_shared<metrics::CallbackGaugeHandle>(registry.RegisterCallbackGauge(
                "tierwise_classification_leader",
                "1 while this replica is the classification writer (evaluates), 0 on a standby", {},
                [role] { return role->leading() ? 1.0 : 0.0; })));
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
        lease->Start();
        server::ServiceBundle bundle;
        bundle.services.emplace_back(&svc->rule_set_service,
                                     v1::RuleSetService::service_full_name());
        bundle.services.emplace_back(&svc->classification_service,
                                     v1::ClassificationService::service_full_name());
        bundle.services.emplace_back(&svc->report_service, v1::ReportService::service_full_name());
        // The lease, tasks and gauges hold the server by shared_ptr, so it outlives them; the
        // lease goes first (stepping down stops the consumers).
        bundle.keep_alive.push_back(lease);
        bundle.keep_alive.push_back(svc);
        bundle.keep_alive.push_back(maintain);
        bundle.keep_alive.push_back(apply);
        if (full) bundle.keep_alive.push_back(full);
        for (auto& handle : local_gauges) bundle.keep_alive.push_back(std::move(handle));
        return bundle;
      },
      .register_flags =
          [](config::ConfigParser& parser) {
            parser.AddInt("reclassify_interval_s", &reclassify_interval_s, 3600,
                          "seconds between full reclassifications that correct drift (0 = never)",
                          0, 7 * 86400);
            parser.AddInt("writer_poll_ms", &writer_poll_ms, 100,
                          "how often the writer looks for requests and rule sets committed by"
                          " standbys",
                          10, 10000);
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
