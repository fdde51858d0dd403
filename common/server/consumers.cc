#include "common/server/consumers.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/redis/stream_names.h"
#include "common/server/consumer_metrics.h"
#include "common/status/macros.h"

namespace tierwise::server {

std::string ConsumerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "tierwise", "-", getpid());
}

absl::StatusOr<std::pair<redis::RedisOptions, redis::ConsumerOptions>> ConsumerSettings(
    const ServiceDeps& deps, const std::string& service, const ConsumerSpec& spec) {
  if (spec.stream.empty()) return absl::InvalidArgumentError("consumer: no stream");
  if (!spec.handler == !spec.batch_handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("consumer of ", spec.stream, ": give a handler or a batch handler"));
  }
  TW_ASSIGN_OR_RETURN(redis::RedisOptions redis, redis::ParseRedisAddress(deps.config.redis_addr));
  redis.password = deps.config.redis_password;
  redis::ConsumerOptions options;
  options.stream = spec.stream;
  options.group = service;
  options.consumer = ConsumerName();
  options.dead_letter_stream = streams::DeadLetter(deps.config.redis_prefix, service);
  if (spec.batch_size > 0) options.batch_size = spec.batch_size;
  return std::make_pair(std::move(redis), std::move(options));
}

absl::StatusOr<std::shared_ptr<redis::StreamConsumer>> StartConsumer(const ServiceDeps& deps,
                                                                     const std::string& service,
                                                                     ConsumerSpec spec,
                                                                     ServiceBundle& bundle) {
  TW_ASSIGN_OR_RETURN(auto settings, ConsumerSettings(deps, service, spec));
  auto& [redis, options] = settings;
  std::shared_ptr<redis::StreamConsumer> consumer =
      spec.handler
          ? std::make_shared<redis::StreamConsumer>(redis, options, std::move(spec.handler))
          : std::make_shared<redis::StreamConsumer>(redis, options, std::move(spec.batch_handler));
  consumer->Start();
  bundle.keep_alive.push_back(consumer);
  bundle.keep_alive.push_back(ExportConsumerMetrics(service, options.stream, service, consumer));
  return consumer;
}

}  // namespace tierwise::server
