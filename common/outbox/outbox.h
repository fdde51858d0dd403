#ifndef TIERWISE_COMMON_OUTBOX_OUTBOX_H_
#define TIERWISE_COMMON_OUTBOX_OUTBOX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/postgres/migrations.h"
#include "common/postgres/pool.h"
#include "common/redis/redis_client.h"

// Transactional outbox: an event is written to the service's `outbox` table in the same
// transaction as the change it describes, and a relay copies committed rows onto Redis Streams
// as entries with fields type, event_id and payload. A Lua script adds an entry only if its
// event_id has no dedup key yet (kept a day), so a row relayed twice — a crash between the
// XADD and marking the row published — lands on the stream exactly once. Only one relay per
// schema publishes at a time (advisory lock), in outbox id order. (On Redis Cluster the stream
// and its dedup keys would need a common hash tag.)
namespace tierwise::outbox {

struct Message {
  std::string stream;    // full stream key, e.g. "tierwise:profile.customer_changed"
  std::string type;      // payload's message full name
  std::string event_id;  // unique id consumers deduplicate on
  std::string payload;   // serialized protobuf
};

// The outbox table; every service that emits events adds it to its migrations.
postgres::Migration TableMigration();

// Adds a message in the caller's transaction; it is relayed only if that transaction commits.
// A statement prepared once per connection.
void Enqueue(pqxx::work& tx, const Message& message);
// The INSERT of one message whose stream, type, event_id and payload (bytea) are the parameters
// $first to $first + 3: for a statement that writes its message with other rows (a WITH part).
std::string InsertSql(int first);
// Enqueue of several messages in one statement; they are relayed in the given order.
void EnqueueAll(pqxx::work& tx, const std::vector<Message>& messages);

struct RelayOptions {
  std::chrono::milliseconds poll_interval{200};
  int batch_size = 200;
  std::chrono::hours retention{24 * 7};  // published rows older than this are deleted
  // Stream entries are trimmed once every consumer group has read and acknowledged past them
  // and they are older than this (a group created later still finds a day of history); 0 trims
  // everything every group has acknowledged.
  std::chrono::milliseconds stream_retention = std::chrono::hours(24);
  std::chrono::milliseconds trim_interval = std::chrono::minutes(1);
};

// Copies committed outbox rows to Redis. Start() runs a background loop until Stop() (or
// destruction); PublishOnce() publishes one batch synchronously (used by tests and Wake-ups).
// When PostgreSQL or Redis is unreachable the loop logs it and backs off (up to 10 s); rows stay
// in the outbox until Redis takes them. Thread-safe.
class Relay {
 public:
  Relay(postgres::PgPool& pool, redis::RedisClient& redis, RelayOptions options = {});
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void Start();
  void Stop();
  // Asks the loop to publish now instead of waiting for the next poll.
  void Wake();
  // Publishes up to batch_size rows; returns how many were marked published.
  absl::StatusOr<int> PublishOnce();
  // Unpublished rows (for health and metrics).
  absl::StatusOr<int64_t> Backlog();
  // Trims each stream this relay published to (since start) up to the oldest entry that some
  // consumer group has not yet acknowledged, or stream_retention ago, whichever is older
  // (XTRIM MINID). A stream without any group is left alone. Returns the entries removed.
  absl::StatusOr<int64_t> TrimStreams();

 private:
  void Loop();

  postgres::PgPool& pool_;
  redis::RedisClient& redis_;
  const RelayOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> streams_ ABSL_GUARDED_BY(mu_);  // published to since start
  std::thread thread_;
};

}  // namespace tierwise::outbox

#endif  // TIERWISE_COMMON_OUTBOX_OUTBOX_H_
