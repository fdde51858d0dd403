#ifndef TIERWISE_SERVICES_CLASSIFICATION_TIER_CACHE_H_
#define TIERWISE_SERVICES_CLASSIFICATION_TIER_CACHE_H_

#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_pool.h"
#include "common/redis/tracked_cache.h"
#include "tierwise/classification/v1/classification.pb.h"

// The tier cache every replica reads: a Redis hash per customer (the evaluation time and the
// Tier), written through by the writer after each commit, and optionally an in-process copy kept
// coherent by Redis (TrackedCache). PostgreSQL stays the truth: a write that fails is
// remembered, and the entries it missed are deleted once Redis answers again (a Redis that comes
// back with its data would serve old tiers otherwise). Thread-safe.
namespace tierwise::classification {

class TierCache {
 public:
  // `reads`: connections for lookups (null: `redis`'s); `local`: the in-process copy (null:
  // none), whose prefix must cover Key(). Both must outlive the cache.
  TierCache(redis::RedisClient& redis, std::string redis_prefix, redis::RedisPool* reads,
            redis::TrackedCache* local);

  std::string Key(const std::string& customer_id) const;

  // Writes the tiers through, pipelined; an entry holding a newer evaluation stays. The
  // in-process copy drops them at once.
  void Write(const std::vector<v1::Tier>& tiers);
  // Deletes a customer's entry (best effort).
  void Remove(const std::string& customer_id);

  // A cached tier: from the in-process copy, else Redis. `redis_answered`: whether Redis was
  // reachable (a caller that reads PostgreSQL instead then writes the tier back).
  struct Found {
    std::optional<v1::Tier> tier;
    bool redis_answered = false;
  };
  Found Read(const std::string& customer_id);

  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  // Deletes the entries whose write failed, once Redis answers; true when `customer_id`'s was
  // one of them.
  bool DropMissedWrites(const std::string& customer_id) ABSL_LOCKS_EXCLUDED(missed_mu_);

  redis::RedisClient& redis_;
  const std::string prefix_;
  redis::RedisPool* const reads_;
  redis::TrackedCache* const local_;
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::mutex missed_mu_;
  std::set<std::string> missed_writes_ ABSL_GUARDED_BY(missed_mu_);
  std::atomic<bool> any_missed_{false};
};

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_TIER_CACHE_H_
