#ifndef TIERWISE_COMMON_REDIS_REDIS_POOL_H_
#define TIERWISE_COMMON_REDIS_REDIS_POOL_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

namespace tierwise::redis {

// A fixed set of RedisClient connections so that independent commands (cache reads) run in
// parallel instead of queueing behind one connection's mutex. A command takes a free
// connection, waiting for one when all `size` are busy; connections open lazily on first use
// and reconnect as RedisClient does. Errors are RedisClient::Command's (UNAVAILABLE when Redis
// is away). Thread-safe. Commands on different connections are not ordered with each other:
// use it for reads, or for writes whose order the caller enforces (e.g. versioned scripts).
//
//   RedisPool pool(options, 8);
//   auto reply = pool.Command({"HGET", key, "p"});
class RedisPool {
 public:
  // `size` < 1 is taken as 1.
  RedisPool(RedisOptions options, int size);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);

  int size() const { return static_cast<int>(clients_.size()); }

 private:
  const std::vector<std::unique_ptr<RedisClient>> clients_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<RedisClient*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tierwise::redis

#endif  // TIERWISE_COMMON_REDIS_REDIS_POOL_H_
