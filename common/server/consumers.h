#ifndef TIERWISE_COMMON_SERVER_CONSUMERS_H_
#define TIERWISE_COMMON_SERVER_CONSUMERS_H_

#include <memory>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "common/redis/stream_consumer.h"
#include "common/server/service_main.h"

// Starting a service's stream consumers the one way: the consumer group is the service's name,
// the consumer name is unique per process (host and pid, so a restarted container that keeps
// its host name still gets a name of its own), the dead letters go to
// streams::DeadLetter(prefix, service), the connection settings come from the service's
// configuration, and the consumer's lag, pending entries and dead letters are exported.
//
//   TW_ASSIGN_OR_RETURN(auto consumer, server::StartConsumer(deps, "credit", {
//       .stream = streams::CustomerChanged(deps.config.redis_prefix),
//       .handler = [svc](const redis::StreamEntry& e) { return svc->OnCustomerChanged(e); }},
//       bundle));
namespace tierwise::server {

struct ConsumerSpec {
  std::string stream;  // full key, from common/redis/stream_names.h
  // One of the two: per entry, or per batch read (one transaction for all).
  redis::StreamConsumer::Handler handler;
  redis::StreamConsumer::BatchHandler batch_handler;
  int batch_size = 0;  // entries per read; 0 keeps the default
};

// "<host>-<pid>".
std::string ConsumerName();

// The options StartConsumer uses, for callers that start and stop consumers themselves.
absl::StatusOr<std::pair<redis::RedisOptions, redis::ConsumerOptions>> ConsumerSettings(
    const ServiceDeps& deps, const std::string& service, const ConsumerSpec& spec);

// Builds, starts and exports the consumer; `bundle` keeps it (and its metrics) alive for the
// life of the service. INVALID_ARGUMENT for a bad Redis address or a spec without a handler.
absl::StatusOr<std::shared_ptr<redis::StreamConsumer>> StartConsumer(const ServiceDeps& deps,
                                                                     const std::string& service,
                                                                     ConsumerSpec spec,
                                                                     ServiceBundle& bundle);

}  // namespace tierwise::server

#endif  // TIERWISE_COMMON_SERVER_CONSUMERS_H_
