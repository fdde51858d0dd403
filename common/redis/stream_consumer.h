#ifndef TIERWISE_COMMON_REDIS_STREAM_CONSUMER_H_
#define TIERWISE_COMMON_REDIS_STREAM_CONSUMER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

namespace tierwise::redis {

struct ConsumerOptions {
  std::string stream;
  std::string group;               // one group per consuming service
  std::string consumer;            // unique per replica, e.g. the pod name
  std::string dead_letter_stream;  // entries that failed max_deliveries times go here
  int batch_size = 100;
  std::chrono::milliseconds block{1000};
  // Entries pending longer than this (a consumer died holding them) are claimed by others.
  std::chrono::milliseconds reclaim_idle{30000};
  int max_deliveries = 5;
};

// A Redis Streams consumer-group member. The handler runs once per entry; an OK result is
// acknowledged (so handlers must commit their own work first and be idempotent: an entry is
// delivered again if the process dies between the commit and XACK). A failing entry stays
// pending and is retried after reclaim_idle; after max_deliveries it is copied to the
// dead-letter stream with the error and acknowledged. Uses its own connection because of the
// blocking reads. Start() runs a background loop until Stop(); PollOnce() runs one round.
//
// With a BatchHandler, each batch read goes to the handler at once (e.g. one transaction for
// all): OK acknowledges every entry of it. When a batch fails, its entries are handed over again
// one at a time (a batch of one each), so only a poison entry stays pending and is dead-lettered
// as above; the handler must therefore leave nothing behind when it fails (roll back).
//
// Transient failures are not poison: a handler result of UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED
// or RESOURCE_EXHAUSTED (the database restarting, a lock conflict, a peer down) never acks and
// never counts toward dead-lettering. The round stops there, the entries' delivery counts are
// set back to what they were before this delivery, PollOnce returns the status, and the loop
// backs off (0.25 s doubling to 10 s, a log line per attempt) and retries its own pending
// entries first. So an outage of any length leaves every entry pending, none dead-lettered,
// and all of them applied once the dependency is back.
class StreamConsumer {
 public:
  using Handler = std::function<absl::Status(const StreamEntry& entry)>;
  using BatchHandler = std::function<absl::Status(const std::vector<StreamEntry>& entries)>;

  StreamConsumer(RedisOptions redis, ConsumerOptions options, Handler handler);
  StreamConsumer(RedisOptions redis, ConsumerOptions options, BatchHandler batch_handler);
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;

  // Creates the group at the stream's beginning (id 0) when missing, so a new service sees
  // the whole retained history.
  absl::Status EnsureGroup();
  void Start();
  void Stop();
  // Reclaims idle pending entries, then reads new ones (blocking up to `block`); returns how
  // many entries were handled successfully.
  absl::StatusOr<int> PollOnce();

  int64_t dead_lettered() const { return dead_lettered_.load(); }
  // Rounds that stopped on a transient failure (handler or Redis), since start.
  int64_t transient_failures() const { return transient_failures_.load(); }

  // Entries not yet delivered to the group (XINFO GROUPS "lag") and delivered but not
  // acknowledged ("pending"), refreshed by each poll; exported as metrics.
  int64_t lag() const { return lag_.load(); }
  int64_t pending() const { return pending_.load(); }

 private:
  absl::StatusOr<int> Handle(const std::vector<StreamEntry>& entries);
  absl::StatusOr<int> HandleOneByOne(const std::vector<StreamEntry>& entries);
  absl::StatusOr<int64_t> DeliveryCount(const std::string& id);
  // Undoes the delivery-count increment of this round for `entries` (still pending to us).
  void ForgetDelivery(const std::vector<StreamEntry>& entries);
  // Sleeps up to `pause`, waking early on Stop().
  void Pause(std::chrono::milliseconds pause);

  RedisClient client_;
  const ConsumerOptions options_;
  const Handler handler_;
  const BatchHandler batch_handler_;  // set: entries go in batches
  void RefreshGroupInfo();

  std::atomic<int64_t> dead_lettered_{0};
  std::atomic<int64_t> transient_failures_{0};
  // Set at start and after any failed round: the next round reads our own pending entries
  // first (a previous process of the same consumer name, e.g. a restarted container, or a round
  // cut by a Redis restart, left them; otherwise they would wait reclaim_idle for XAUTOCLAIM).
  // Only the polling thread uses it.
  bool retry_own_pending_ = true;
  std::atomic<int64_t> lag_{0};
  std::atomic<int64_t> pending_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// True for the codes that mean "try again later" rather than "this entry is bad".
bool IsTransient(const absl::Status& status);

// Parses the entries of an XREADGROUP / XAUTOCLAIM reply for one stream.
std::vector<StreamEntry> ParseStreamEntries(const Reply& entries);

}  // namespace tierwise::redis

#endif  // TIERWISE_COMMON_REDIS_STREAM_CONSUMER_H_
