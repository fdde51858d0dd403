#ifndef TIERWISE_COMMON_SERVER_CONSUMER_METRICS_H_
#define TIERWISE_COMMON_SERVER_CONSUMER_METRICS_H_

#include <memory>
#include <string>

#include "common/metrics/metrics.h"
#include "common/redis/stream_consumer.h"

namespace tierwise::server {

// Exports a consumer's lag, pending entries and dead letters as
// tierwise_stream_lag / tierwise_stream_pending / tierwise_dead_letters_total
// {service, stream, group}. The series disappear when the returned handle is destroyed, which
// must happen before the consumer is.
std::shared_ptr<void> ExportConsumerMetrics(const std::string& service, const std::string& stream,
                                            const std::string& group,
                                            std::shared_ptr<redis::StreamConsumer> consumer);

}  // namespace tierwise::server

#endif  // TIERWISE_COMMON_SERVER_CONSUMER_METRICS_H_
