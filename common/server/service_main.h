#ifndef TIERWISE_COMMON_SERVER_SERVICE_MAIN_H_
#define TIERWISE_COMMON_SERVER_SERVICE_MAIN_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/auth/auth.h"
#include "common/config/config.h"
#include "common/outbox/outbox.h"
#include "common/postgres/migrations.h"
#include "common/postgres/pool.h"
#include "common/redis/redis_client.h"
#include "common/time/business_calendar.h"

namespace tierwise::server {

// What a service's factory gets to build its gRPC services from.
struct ServiceDeps {
  const config::ServiceConfig& config;
  postgres::PgPool& pool;
  redis::RedisClient& redis;
  outbox::Relay& relay;
  std::shared_ptr<const auth::TokenStore> tokens;
  // The company's calendar (--business_time_zone); tests may replace it before building.
  time::BusinessCalendar calendar = time::BusinessCalendar::Utc();
};

// A built service: the gRPC services to host (with their full names for health) and anything
// that must live as long as they do.
struct ServiceBundle {
  std::vector<std::pair<grpc::Service*, std::string>> services;
  std::vector<std::shared_ptr<void>> keep_alive;
};

struct ServiceDefinition {
  std::string name;  // "profile"
  int default_port = 0;
  // The outbox (900) and audit_log (901) tables are added automatically.
  std::vector<postgres::Migration> migrations;
  std::function<absl::StatusOr<ServiceBundle>(ServiceDeps&)> build;
  // Service-specific flags, registered before parsing (values land where the callback points).
  std::function<void(config::ConfigParser&)> register_flags;
};

// The whole life of a service binary: configuration (fail fast), logging, migrations (retried
// while PostgreSQL is starting, under the advisory lock), --migrate_only, the outbox relay, the
// gRPC host, and a graceful drain on SIGTERM/SIGINT. Returns the process exit code.
int RunServiceMain(int argc, char** argv, ServiceDefinition definition);

}  // namespace tierwise::server

#endif  // TIERWISE_COMMON_SERVER_SERVICE_MAIN_H_
