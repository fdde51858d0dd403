#ifndef TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVER_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVER_H_

#include <memory>

#include "common/redis/redis_pool.h"
#include "common/redis/stream_consumer.h"
#include "common/redis/tracked_cache.h"
#include "common/server/service_main.h"
#include "services/classification/classification_service.h"
#include "services/classification/report_service.h"
#include "services/classification/tier_engine.h"
#include "services/classification/writer.h"

namespace tierwise::classification {

// The classification service's object graph, wired the same way in main() and in tests.
struct ClassificationServer {
  // `cache_read_connections`: Redis connections for GetTier's cache reads (to deps.redis's
  // Redis), so that concurrent lookups do not queue behind one connection.
  // `local_cache_entries`: tiers kept in process (coherent through Redis's client tracking,
  // see TrackedCache), 0 for none.
  // `leading`: whether this replica is the writer now (see writer.h); null: always (one
  // replica alone, as the in-process tests run it).
  ClassificationServer(server::ServiceDeps& deps, std::function<Micros()> clock,
                       int cache_read_connections = kDefaultCacheReadConnections,
                       int local_cache_entries = kDefaultLocalCacheEntries,
                       std::function<bool()> leading = nullptr);

  static constexpr int kDefaultCacheReadConnections = 8;
  static constexpr int kDefaultLocalCacheEntries = 100000;

  redis::RedisPool cache_reads;
  std::unique_ptr<redis::TrackedCache> local_tiers;  // null when off
  TierEngine engine;
  JobRunner jobs;
  Writer writer;
  auth::Authorizer rule_set_authorizer;
  auth::Authorizer tier_authorizer;
  auth::Authorizer report_authorizer;
  RuleSetService rule_set_service;
  ClassificationService classification_service;
  ReportService report_service;
};

const std::vector<postgres::Migration>& Migrations();

// A stream the service consumes and the consumer-group member that reads it.
struct StreamInput {
  std::string stream;
  std::shared_ptr<redis::StreamConsumer> consumer;
};

// Members named `consumer` of group "classification" on <prefix>:profile.customer_changed,
// <prefix>:credit.ledger and <prefix>:interaction.events, handing entries to `engine` (kept
// alive by them); entries that keep failing go to <prefix>:classification.dead_letter with the
// error. `base` gives the batch, block, reclaim and delivery settings. Not started.
std::vector<StreamInput> StreamInputs(std::shared_ptr<TierEngine> engine,
                                      const redis::RedisOptions& redis, const std::string& prefix,
                                      const std::string& consumer,
                                      const redis::ConsumerOptions& base = {});

// Port 50054. Replicas elect one writer with a PostgreSQL advisory lock (LeaderLease, key of
// the schema); the writer loads its state fresh and runs the StreamInputs consumers (member
// "writer", so a successor first takes over what its predecessor left pending), the periodic
// maintenance (window slides, pin expiry, time-only changes) every minute, a full
// reclassification every --reclassify_interval_s (0 = never) and the write requests of the
// standbys (Writer::ApplyPending). Every replica serves reads and is SERVING; the gauge
// tierwise_classification_leader is 1 on the writer.
server::ServiceDefinition ClassificationDefinition();

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_SERVER_H_
