#include "common/server/service_main.h"

#include <signal.h>

#include <algorithm>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/log/log.h"
#include "common/metrics/http_exporter.h"
#include "common/metrics/metrics.h"
#include "common/postgres/audit.h"
#include "common/process/process_guard.h"
#include "common/server/rpc.h"
#include "common/server/server_runner.h"

namespace tierwise::server {

namespace {

// Waits up to `timeout` for SIGTERM/SIGINT (blocked in every thread); true when one came.
bool TerminationRequestedWithin(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec wait{.tv_sec = static_cast<time_t>(timeout.count() / 1000),
                .tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000)};
  return sigtimedwait(&set, nullptr, &wait) > 0;
}

// Applies the migrations, waiting for PostgreSQL as long as it takes (a fresh pod starts before
// its database, a failover takes minutes): one log line per attempt, backing off to 10 s.
// Returns OK, the first non-transient error, or CANCELLED on SIGTERM/SIGINT.
absl::Status MigrateWhenDatabaseComes(postgres::PgPool& pool,
                                      const std::vector<postgres::Migration>& migrations) {
  std::chrono::milliseconds backoff(500);
  for (int attempt = 1;; ++attempt) {
    absl::Status migrated = postgres::ApplyMigrations(pool, migrations);
    if (!absl::IsUnavailable(migrated) && !absl::IsDeadlineExceeded(migrated)) return migrated;
    log::Warn(
        "migrations.waiting_for_database",
        {{"attempt", attempt}, {"retry_in_ms", backoff.count()}, {"error", migrated.ToString()}});
    if (TerminationRequestedWithin(backoff)) {
      return absl::CancelledError("stopped while waiting for the database");
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

}  // namespace

int RunServiceMain(int argc, char** argv, ServiceDefinition definition) {
  process::InstallGuards(definition.name);
  // Debian's Abseil keeps absl::Mutex deadlock detection on (a lock graph updated on every
  // acquisition, gRPC's included): a debugging aid that costs a few per cent of every call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  BlockTerminationSignals();
  config::ConfigParser parser;
  if (definition.register_flags) definition.register_flags(parser);
  const config::ServiceConfig config =
      config::LoadServiceConfigOrDie(definition.name, definition.default_port, argc, argv, &parser);
  log::Init(config.log_level, config.log_format, definition.name);
  SetServiceName(definition.name);

  postgres::PgPool pool(
      {.uri = config.pg_uri, .schema = config.pg_schema, .size = config.pg_pool_size});
  std::vector<postgres::Migration> migrations = definition.migrations;
  migrations.push_back(outbox::TableMigration());
  migrations.push_back(postgres::AuditMigration());
  if (absl::Status migrated = MigrateWhenDatabaseComes(pool, migrations); !migrated.ok()) {
    if (absl::IsCancelled(migrated)) {
      log::Info("service.exit", {{"reason", migrated.message()}});
      return 0;
    }
    log::Error("migrations.failed", {{"error", migrated.ToString()}});
    return 1;
  }
  if (config.migrate_only) return 0;

  auto redis_options = redis::ParseRedisAddress(config.redis_addr);
  if (!redis_options.ok()) {
    log::Error("config.redis", {{"error", redis_options.status().ToString()}});
    return 2;
  }
  redis_options->password = config.redis_password;
  redis::RedisClient redis(*redis_options);
  auto tokens = auth::TokenStore::Load(config.tokens_file, config.tokens);
  if (!tokens.ok()) {
    log::Error("config.tokens", {{"error", tokens.status().ToString()}});
    return 2;
  }
  outbox::Relay relay(pool, redis,
                      {.poll_interval = std::chrono::milliseconds(config.outbox_poll_ms)});
  ServiceDeps deps{config, pool,    redis,
                   relay,  *tokens, *time::BusinessCalendar::Load(config.business_time_zone)};
  absl::StatusOr<ServiceBundle> bundle = definition.build(deps);
  if (!bundle.ok()) {
    log::Error("service.build_failed", {{"error", bundle.status().ToString()}});
    return 1;
  }

  ServiceHost host({.listen = config.listen,
                    .tls_cert = config.tls_cert,
                    .tls_key = config.tls_key,
                    .tls_client_ca = config.tls_client_ca,
                    .drain = std::chrono::seconds(config.drain_seconds),
                    .health_interval = std::chrono::milliseconds(config.health_interval_ms),
                    .tokens = *tokens,
                    .max_concurrent_streams = config.max_concurrent_streams,
                    .resource_quota_bytes = static_cast<size_t>(config.resource_quota_mb) << 20,
                    .max_threads = config.max_threads});
  for (auto& [service, name] : bundle->services) host.AddService(service, name);
  host.SetReadinessProbe([&pool] { return pool.Ping(); });
  if (absl::Status s = host.Start(); !s.ok()) {
    log::Error("server.start_failed", {{"error", s.ToString()}});
    return 1;
  }
  relay.Start();

  auto& registry = metrics::Registry::Default();
  const metrics::Labels service_label = {{"service", definition.name}};
  auto pool_in_use = registry.RegisterCallbackGauge(
      "tierwise_db_pool_in_use", "PostgreSQL connections leased right now", service_label,
      [&pool] { return static_cast<double>(pool.in_use()); });
  auto pool_size = registry.RegisterCallbackGauge(
      "tierwise_db_pool_size", "PostgreSQL pool capacity", service_label,
      [&pool] { return static_cast<double>(pool.options().size); });
  auto backlog = registry.RegisterCallbackGauge(
      "tierwise_outbox_backlog", "outbox rows not yet on Redis", service_label, [&relay] {
        absl::StatusOr<int64_t> n = relay.Backlog();
        return n.ok() ? static_cast<double>(*n) : -1.0;
      });
  metrics::HttpExporter exporter(registry);
  if (!config.metrics_listen.empty()) {
    if (absl::Status s = exporter.Start(config.metrics_listen); !s.ok()) {
      log::Error("metrics.start_failed", {{"error", s.ToString()}});
      return 1;
    }
    log::Info("metrics.started", {{"listen", config.metrics_listen}, {"port", exporter.port()}});
  }
  host.WaitForTerminationSignal();
  exporter.Stop();
  relay.Stop();
  log::Info("service.exit");
  return 0;
}

}  // namespace tierwise::server
