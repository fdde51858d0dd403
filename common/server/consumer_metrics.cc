#include "common/server/consumer_metrics.h"

#include <vector>

namespace tierwise::server {

std::shared_ptr<void> ExportConsumerMetrics(const std::string& service, const std::string& stream,
                                            const std::string& group,
                                            std::shared_ptr<redis::StreamConsumer> consumer) {
  auto& registry = metrics::Registry::Default();
  const metrics::Labels labels = {{"service", service}, {"stream", stream}, {"group", group}};
  auto handles = std::make_shared<std::vector<metrics::CallbackGaugeHandle>>();
  handles->push_back(registry.RegisterCallbackGauge(
      "tierwise_stream_lag", "stream entries not yet delivered to the consumer group", labels,
      [consumer] { return static_cast<double>(consumer->lag()); }));
  handles->push_back(registry.RegisterCallbackGauge(
      "tierwise_stream_pending", "entries delivered to the group but not acknowledged", labels,
      [consumer] { return static_cast<double>(consumer->pending()); }));
  handles->push_back(registry.RegisterCallbackGauge(
      "tierwise_dead_letters_total", "entries moved to the dead-letter stream", labels,
      [consumer] { return static_cast<double>(consumer->dead_lettered()); }));
  return handles;
}

}  // namespace tierwise::server
