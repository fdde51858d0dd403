#ifndef TIERWISE_COMMON_REDIS_TRACKED_CACHE_H_
#define TIERWISE_COMMON_REDIS_TRACKED_CACHE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

struct redisContext;
struct redisReply;

namespace tierwise::redis {

// An in-process cache of values read from Redis keys under one key prefix (a GET result, one
// HGET field, ...: one value per Redis key, so several fields of one hash must share a value,
// e.g. an encoded HGETALL), kept coherent by Redis server-assisted client-side
// caching: a background thread holds a connection with `CLIENT TRACKING on REDIRECT <itself>
// BCAST PREFIX <key_prefix>` subscribed to `__redis__:invalidate` (RESP2, Redis >= 6), and
// drops a key when Redis reports it modified (SET, HSET, DEL, expiry, eviction, ...) and
// everything on FLUSHDB / FLUSHALL.
//
// Guarantees:
// - A write by another process is seen once its invalidation arrives (the message is sent
//   when Redis finishes the write's event-loop round; about 0.1 ms on loopback). A writer in
//   this process calls Invalidate() right after its write so its own readers see it at once.
//   Until a write's invalidation has arrived, a Fill of that key may be refused or dropped (it
//   cannot be told from an invalidation of a later write): that costs a miss, never staleness.
// - Read-through is race-free: Reserve() before reading Redis, Fill() after; a value read
//   before an invalidation of its key (or a flush, or a coherence loss) is refused.
// - While the tracking connection is not established (before Start(), Redis unreachable,
//   connection lost), coherent() is false: Lookup() misses and Fill() stores nothing. The
//   cache is emptied when coherence is lost and again when it is regained (invalidations may
//   have been missed meanwhile). Reconnects back off from 100 ms to 1 s. A silent connection
//   is PINGed, and one that stops answering counts as lost after a few seconds.
// - At most `capacity` entries (LRU eviction within 16 shards, each with its own mutex).
// - Keys not starting with key_prefix are never cached (Lookup misses, Fill ignores them).
// - Thread-safe, except that Start() and Stop() must not race each other.
// - Values of keys with a TTL are dropped when Redis actually deletes the key, which its active
//   expiry may do a little after the TTL ends.
//
//   TrackedCache cache(options, "profile:", 100000);
//   cache.Start();
//   auto value = cache.GetOrFetch(key, [&]() -> absl::StatusOr<std::optional<std::string>> {
//     TW_ASSIGN_OR_RETURN(Reply r, pool.Command({"HGET", key, "tier"}));
//     if (r.is_nil()) return std::nullopt;
//     return r.str;
//   });
class TrackedCache {
 public:
  // Name the tracking connection has in CLIENT LIST (CLIENT SETNAME).
  static constexpr char kConnectionName[] = "tierwise-tracking";

  // An empty key_prefix tracks and caches every key.
  TrackedCache(RedisOptions options, std::string key_prefix, size_t capacity);
  ~TrackedCache();  // Stop()
  TrackedCache(const TrackedCache&) = delete;
  TrackedCache& operator=(const TrackedCache&) = delete;

  // Starts the tracking thread (no-op when running). The cache becomes coherent once the
  // thread has subscribed, asynchronously. Stop() ends it within about 200 ms (or the connect /
  // command timeout while connecting); the cache stays usable but is no longer coherent.
  void Start();
  void Stop();

  // The cached value, or nullopt (not cached, outside the prefix, or not coherent).
  std::optional<std::string> Lookup(const std::string& key);

  // Read-through for a miss: `ticket = Reserve(key)` BEFORE reading the value from Redis, then
  // `Fill(key, ticket, value)`. Fill stores the value only when the cache has been coherent
  // and neither the key nor the whole cache was invalidated since the Reserve; otherwise (and
  // for keys outside the prefix) it does nothing. A reservation needs no release.
  uint64_t Reserve(const std::string& key);
  void Fill(const std::string& key, uint64_t ticket, std::string value);

  // Lookup, and on a miss Reserve + fetch + Fill. A nullopt from fetch (key absent) is returned
  // and not cached; a fetch error is returned as is and nothing is cached.
  absl::StatusOr<std::optional<std::string>> GetOrFetch(
      const std::string& key,
      const std::function<absl::StatusOr<std::optional<std::string>>()>& fetch);

  // Drops the keys now (and refuses Fills reserved before), without waiting for Redis's
  // invalidation message: call it right after writing them.
  void Invalidate(const std::vector<std::string>& keys);

  bool coherent() const { return coherent_.load(std::memory_order_acquire); }
  size_t size() const;
  const std::string& key_prefix() const { return prefix_; }

  uint64_t hits() const;
  uint64_t misses() const;  // including lookups that bypassed the cache
  // Keys named by invalidation messages from Redis, plus one per flush message.
  uint64_t invalidations() const { return invalidations_.load(std::memory_order_relaxed); }
  // Times the cache went from coherent to not coherent (connection lost, Stop()).
  uint64_t coherence_losses() const { return coherence_losses_.load(std::memory_order_relaxed); }
  // CLIENT ID of the tracking connection while coherent, else -1 (for tests and diagnostics).
  int64_t tracking_client_id() const { return tracking_id_.load(std::memory_order_acquire); }

 private:
  struct Node {
    std::string key;
    std::string value;
  };
  struct Shard {
    mutable std::mutex mu;
    size_t capacity = 0;  // set once in the constructor
    // Front is the most recently used; `index` keys view the nodes' own key strings.
    std::list<Node> lru ABSL_GUARDED_BY(mu);
    std::unordered_map<std::string_view, std::list<Node>::iterator> index ABSL_GUARDED_BY(mu);
    // Tickets come from `seq`. A Fill is refused when its ticket is not above `floor` (the
    // last flush) or below its key's tombstone (the key's last invalidation). Tombstones are
    // bounded: past the limit they are dropped and the floor raised instead.
    uint64_t seq ABSL_GUARDED_BY(mu) = 0;
    uint64_t floor ABSL_GUARDED_BY(mu) = 0;
    std::unordered_map<std::string, uint64_t> tombstones ABSL_GUARDED_BY(mu);
    uint64_t hits ABSL_GUARDED_BY(mu) = 0;
    uint64_t misses ABSL_GUARDED_BY(mu) = 0;
  };

  bool Cacheable(const std::string& key) const;
  Shard& ShardFor(std::string_view key);
  void DropKey(std::string_view key);
  void ClearAll();
  void LoseCoherence();

  // The tracking thread: sessions until Stop(), with backoff in between.
  void Run();
  // One connection: connect, enable tracking, subscribe, become coherent, read invalidations.
  // Returns when the connection fails or Stop() is called; *became_coherent tells whether it
  // got that far.
  absl::Status RunSession(bool* became_coherent);
  absl::Status ReadInvalidations(redisContext* ctx);
  void HandleMessage(const redisReply& reply);
  bool WaitForStop(std::chrono::milliseconds timeout);

  const RedisOptions options_;
  const std::string prefix_;
  std::vector<Shard> shards_;  // never resized

  std::atomic<bool> coherent_{false};
  std::atomic<int64_t> tracking_id_{-1};
  std::atomic<uint64_t> bypass_misses_{0};
  std::atomic<uint64_t> invalidations_{0};
  std::atomic<uint64_t> coherence_losses_{0};

  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread thread_;
};

}  // namespace tierwise::redis

#endif  // TIERWISE_COMMON_REDIS_TRACKED_CACHE_H_
