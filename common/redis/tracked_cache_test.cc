#include "common/redis/tracked_cache.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/redis/redis_pool.h"
#include "common/status/macros.h"
#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::redis {
namespace {

using std::chrono::milliseconds;

// Polls `done` until it holds or the time is up; invalidations arrive asynchronously.
template <typename Pred>
bool WaitFor(Pred done, milliseconds timeout = milliseconds(2000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class TrackedCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = testing::NewRedisClient();
    prefix_ = testing::UniqueName("tc") + ":";
  }

  std::unique_ptr<TrackedCache> StartCache(size_t capacity = 1000) {
    auto cache = std::make_unique<TrackedCache>(redis_->options(), prefix_, capacity);
    cache->Start();
    EXPECT_TRUE(WaitFor([&] { return cache->coherent(); })) << "tracking never established";
    return cache;
  }

  // Read-through by hand, as a caller without GetOrFetch would do it.
  void FillFromRedis(TrackedCache& cache, const std::string& key) {
    const uint64_t ticket = cache.Reserve(key);
    auto r = redis_->Command({"GET", key});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->type, Reply::Type::kString);
    cache.Fill(key, ticket, r->str);
  }

  void Set(const std::string& key, const std::string& value) {
    auto r = redis_->Command({"SET", key, value});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->type, Reply::Type::kStatus) << r->str;
  }

  // Writes and waits until the cache has seen the write's invalidation. Until then a Fill of
  // the key may be refused or dropped: the late invalidation cannot be told from one for a
  // write after the read.
  void WriteSeen(TrackedCache& cache, const std::vector<std::string>& command) {
    const uint64_t before = cache.invalidations();
    auto r = redis_->Command(command);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_NE(r->type, Reply::Type::kError) << r->str;
    ASSERT_TRUE(WaitFor([&] { return cache.invalidations() > before; })) << command[0];
  }

  std::unique_ptr<RedisClient> redis_;  // an ordinary connection, not the tracking one
  std::string prefix_;
};

TEST_F(TrackedCacheTest, WritesFromAnotherConnectionInvalidate) {
  auto cache = StartCache();
  const std::string key = prefix_ + "s";
  WriteSeen(*cache, {"SET", key, "v1"});
  FillFromRedis(*cache, key);
  EXPECT_EQ(cache->Lookup(key), "v1");

  Set(key, "v2");
  EXPECT_TRUE(WaitFor([&] { return !cache->Lookup(key).has_value(); })) << "SET not seen";
  FillFromRedis(*cache, key);
  EXPECT_EQ(cache->Lookup(key), "v2");

  ASSERT_TRUE(redis_->Command({"DEL", key}).ok());
  EXPECT_TRUE(WaitFor([&] { return !cache->Lookup(key).has_value(); })) << "DEL not seen";

  const std::string hash = prefix_ + "h";
  WriteSeen(*cache, {"HSET", hash, "tier", "gold"});
  auto hget = [&]() -> absl::StatusOr<std::optional<std::string>> {
    TW_ASSIGN_OR_RETURN(auto r, redis_->Command({"HGET", hash, "tier"}));
    if (r.is_nil()) return std::nullopt;
    return r.str;
  };
  auto first = cache->GetOrFetch(hash, hget);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "gold");
  EXPECT_EQ(cache->Lookup(hash), "gold");
  ASSERT_TRUE(redis_->Command({"HSET", hash, "tier", "silver"}).ok());
  EXPECT_TRUE(WaitFor([&] { return !cache->Lookup(hash).has_value(); })) << "HSET not seen";
  auto second = cache->GetOrFetch(hash, hget);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, "silver");

  EXPECT_GE(cache->invalidations(), 3u);
  EXPECT_GE(cache->hits(), 3u);
}

TEST_F(TrackedCacheTest, FillReservedBeforeAnInvalidationIsRefused) {
  auto cache = StartCache();
  const std::string key = prefix_ + "k";
  WriteSeen(*cache, {"SET", key, "old"});
  const uint64_t ticket = cache->Reserve(key);
  auto read = redis_->Command({"GET", key});
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->str, "old");
  // The write lands between our read and our Fill.
  WriteSeen(*cache, {"SET", key, "new"});
  cache->Fill(key, ticket, read->str);
  EXPECT_EQ(cache->Lookup(key), std::nullopt) << "stale value was cached";

  // A reservation taken after the write is accepted.
  FillFromRedis(*cache, key);
  EXPECT_EQ(cache->Lookup(key), "new");
}

TEST_F(TrackedCacheTest, LocalInvalidateDropsAtOnceAndRefusesEarlierReservations) {
  auto cache = StartCache();
  const std::string key = prefix_ + "k";
  cache->Fill(key, cache->Reserve(key), "a");
  ASSERT_EQ(cache->Lookup(key), "a");
  const uint64_t ticket = cache->Reserve(key);
  cache->Invalidate({key});
  EXPECT_EQ(cache->Lookup(key), std::nullopt);
  cache->Fill(key, ticket, "a");
  EXPECT_EQ(cache->Lookup(key), std::nullopt);
  cache->Fill(key, cache->Reserve(key), "b");
  EXPECT_EQ(cache->Lookup(key), "b");
  EXPECT_EQ(cache->invalidations(), 0u) << "local invalidations are not Redis messages";
}

TEST_F(TrackedCacheTest, LosingTheTrackingConnectionClearsAndRecovers) {
  auto cache = StartCache();
  const std::string key = prefix_ + "k";
  WriteSeen(*cache, {"SET", key, "v1"});
  FillFromRedis(*cache, key);
  ASSERT_EQ(cache->Lookup(key), "v1");
  const int64_t id = cache->tracking_client_id();
  ASSERT_GT(id, 0);
  auto list = redis_->Command({"CLIENT", "LIST", "ID", absl::StrCat(id)});
  ASSERT_TRUE(list.ok());
  EXPECT_NE(list->str.find(absl::StrCat("name=", TrackedCache::kConnectionName)), std::string::npos)
      << list->str;

  // Reserved before the loss, filled after the recovery: invalidations were not watched.
  const uint64_t early_ticket = cache->Reserve(key);
  auto kill = redis_->Command({"CLIENT", "KILL", "ID", absl::StrCat(id)});
  ASSERT_TRUE(kill.ok());
  ASSERT_EQ(kill->integer, 1);
  ASSERT_TRUE(WaitFor([&] { return cache->coherence_losses() == 1; }));
  EXPECT_EQ(cache->Lookup(key), std::nullopt) << "not cleared on coherence loss";

  ASSERT_TRUE(WaitFor([&] { return cache->coherent(); })) << "did not reconnect";
  EXPECT_NE(cache->tracking_client_id(), id);
  cache->Fill(key, early_ticket, "v1");
  EXPECT_EQ(cache->Lookup(key), std::nullopt) << "pre-loss reservation accepted";

  // Caching and invalidation work on the new connection.
  FillFromRedis(*cache, key);
  EXPECT_EQ(cache->Lookup(key), "v1");
  Set(key, "v2");
  EXPECT_TRUE(WaitFor([&] { return !cache->Lookup(key).has_value(); }));

  FillFromRedis(*cache, key);
  ASSERT_EQ(cache->Lookup(key), "v2");
  cache->Stop();
  EXPECT_FALSE(cache->coherent());
  EXPECT_EQ(cache->Lookup(key), std::nullopt) << "stopped cache still answers";
  EXPECT_EQ(cache->tracking_client_id(), -1);
}

TEST_F(TrackedCacheTest, NothingIsCachedWhileRedisIsUnreachable) {
  RedisOptions nowhere = redis_->options();
  nowhere.port = 1;  // nothing listens there: connection refused
  TrackedCache cache(nowhere, prefix_, 100);
  const std::string key = prefix_ + "k";
  cache.Fill(key, cache.Reserve(key), "before-start");
  EXPECT_EQ(cache.Lookup(key), std::nullopt);
  cache.Start();
  std::this_thread::sleep_for(milliseconds(300));  // a few reconnect attempts
  EXPECT_FALSE(cache.coherent());
  EXPECT_EQ(cache.tracking_client_id(), -1);
  int fetches = 0;
  auto fetch = [&]() -> absl::StatusOr<std::optional<std::string>> {
    ++fetches;
    return std::string("v");
  };
  for (int i = 0; i < 2; ++i) {
    auto v = cache.GetOrFetch(key, fetch);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "v");
  }
  EXPECT_EQ(fetches, 2) << "served from a cache that is not coherent";
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.misses(), 3u);
}

TEST_F(TrackedCacheTest, ReservationTakenBeforeTrackingStartedIsRefused) {
  TrackedCache cache(redis_->options(), prefix_, 100);
  const std::string key = prefix_ + "k";
  // Read while nobody watched the key: a write before Start() would never be reported.
  const uint64_t ticket = cache.Reserve(key);
  cache.Start();
  ASSERT_TRUE(WaitFor([&] { return cache.coherent(); }));
  cache.Fill(key, ticket, "unwatched");
  EXPECT_EQ(cache.Lookup(key), std::nullopt);
  cache.Fill(key, cache.Reserve(key), "watched");
  EXPECT_EQ(cache.Lookup(key), "watched");
}

TEST_F(TrackedCacheTest, SizeStaysWithinCapacityAndKeepsRecentKeys) {
  for (size_t capacity : {size_t{3}, size_t{40}}) {
    auto cache = StartCache(capacity);
    std::string last;
    for (size_t i = 0; i < capacity + 50; ++i) {
      last = absl::StrCat(prefix_, capacity, ":", i);
      cache->Fill(last, cache->Reserve(last), "v");
    }
    EXPECT_LE(cache->size(), capacity);
    EXPECT_GT(cache->size(), 0u);
    EXPECT_EQ(cache->Lookup(last), "v") << "the newest entry was evicted";
  }
}

TEST_F(TrackedCacheTest, KeysOutsideThePrefixAreNeverCached) {
  auto cache = StartCache();
  const std::string inside = prefix_ + "k";
  const std::string outside = testing::UniqueName("other") + ":k";
  cache->Fill(outside, cache->Reserve(outside), "v");
  EXPECT_EQ(cache->Lookup(outside), std::nullopt);
  EXPECT_EQ(cache->size(), 0u);

  int fetches = 0;
  auto fetch = [&]() -> absl::StatusOr<std::optional<std::string>> {
    ++fetches;
    return std::string("v");
  };
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(cache->GetOrFetch(outside, fetch).ok());
  EXPECT_EQ(fetches, 2);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(cache->GetOrFetch(inside, fetch).ok());
  EXPECT_EQ(fetches, 3) << "the key inside the prefix is fetched once";
}

TEST_F(TrackedCacheTest, GetOrFetchCachesNeitherAbsentKeysNorErrors) {
  auto cache = StartCache();
  const std::string key = prefix_ + "k";
  int fetches = 0;
  auto absent = [&]() -> absl::StatusOr<std::optional<std::string>> {
    ++fetches;
    return std::nullopt;
  };
  auto failing = [&]() -> absl::StatusOr<std::optional<std::string>> {
    ++fetches;
    return absl::UnavailableError("redis down");
  };
  auto v = cache->GetOrFetch(key, absent);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::nullopt);
  EXPECT_EQ(cache->GetOrFetch(key, failing).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache->GetOrFetch(key, absent).value(), std::nullopt);
  EXPECT_EQ(fetches, 3);
  EXPECT_EQ(cache->size(), 0u);
}

TEST_F(TrackedCacheTest, ConcurrentReadersEndOnTheLastWrittenValue) {
  const std::string key = prefix_ + "counter";
  const std::string stable = prefix_ + "stable";
  const std::string barrier = prefix_ + "barrier";
  Set(key, "0");
  Set(stable, "s");
  Set(barrier, "b1");
  auto cache = StartCache();
  RedisPool pool(redis_->options(), 4);
  auto getter = [&](const std::string& k) {
    return [&pool, k]() -> absl::StatusOr<std::optional<std::string>> {
      TW_ASSIGN_OR_RETURN(auto r, pool.Command({"GET", k}));
      if (r.is_nil()) return std::nullopt;
      return r.str;
    };
  };

  constexpr int kWrites = 1000;
  std::atomic<int> written{0};
  std::atomic<bool> done{false};
  std::atomic<int> fetches{0};
  std::atomic<int> calls{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        for (const std::string& k : {key, stable}) {
          auto fetch = getter(k);
          auto v = cache->GetOrFetch(k, [&] {
            fetches.fetch_add(1);
            return fetch();
          });
          calls.fetch_add(1);
          ASSERT_TRUE(v.ok()) << v.status();
          ASSERT_TRUE(v->has_value());
          if (k == key) {
            int n = -1;
            ASSERT_TRUE(absl::SimpleAtoi(**v, &n)) << **v;
            EXPECT_LE(n, written.load()) << "a value never written";
          }
        }
      }
    });
  }
  auto writer_client = testing::NewRedisClient();
  for (int i = 1; i <= kWrites; ++i) {
    written.store(i);
    ASSERT_TRUE(writer_client->Command({"SET", key, absl::StrCat(i)}).ok());
    if (i % 10 == 0) std::this_thread::sleep_for(milliseconds(1));
  }
  // Invalidations come in order on one connection: once the barrier's (written after the last
  // counter write) has been applied, so has the counter's.
  FillFromRedis(*cache, barrier);
  ASSERT_EQ(cache->Lookup(barrier), "b1");
  ASSERT_TRUE(writer_client->Command({"SET", barrier, "b2"}).ok());
  ASSERT_TRUE(WaitFor([&] { return !cache->Lookup(barrier).has_value(); }));
  const std::string final_value = absl::StrCat(kWrites);
  for (int i = 0; i < 20; ++i) {
    auto v = cache->GetOrFetch(key, getter(key));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, final_value);
  }
  done = true;
  for (auto& t : readers) t.join();
  for (int i = 0; i < 20; ++i) {
    auto v = cache->GetOrFetch(key, getter(key));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, final_value);
  }
  EXPECT_EQ(cache->Lookup(key), final_value);
  EXPECT_LT(fetches.load(), calls.load()) << "the cache never answered";
  EXPECT_TRUE(cache->coherent());
}

}  // namespace
}  // namespace tierwise::redis
