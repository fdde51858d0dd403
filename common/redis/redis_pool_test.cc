#include "common/redis/redis_pool.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::redis {
namespace {

TEST(RedisPoolTest, CommandsRunOnSeveralConnectionsAtOnce) {
  auto admin = testing::NewRedisClient();
  RedisOptions options = admin->options();
  options.command_timeout = std::chrono::seconds(20);
  RedisPool pool(options, 2);
  const std::string key = testing::UniqueName("pool-block");
  // One connection blocks in BLPOP until the key gets a value ...
  std::atomic<bool> blocked_returned{false};
  std::thread blocked([&] {
    auto r = pool.Command({"BLPOP", key, "15"});
    EXPECT_TRUE(r.ok()) << r.status();
    blocked_returned = true;
  });
  // ... (wait until Redis sees it blocked) ...
  for (int i = 0; i < 500; ++i) {
    auto info = admin->Command({"INFO", "clients"});
    ASSERT_TRUE(info.ok());
    if (info->str.find("blocked_clients:0") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // ... while the other one still answers: with a single connection this would wait for it.
  auto set = pool.Command({"SET", key + "-other", "v"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_FALSE(blocked_returned.load());
  auto get = pool.Command({"GET", key + "-other"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, "v");
  ASSERT_TRUE(admin->Command({"RPUSH", key, "x"}).ok());
  blocked.join();
  EXPECT_TRUE(blocked_returned.load());
}

TEST(RedisPoolTest, ManyThreadsShareFewConnections) {
  auto admin = testing::NewRedisClient();
  RedisPool pool(admin->options(), 3);
  EXPECT_EQ(pool.size(), 3);
  const std::string key = testing::UniqueName("pool-count");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) EXPECT_TRUE(pool.Command({"INCR", key}).ok());
    });
  }
  for (auto& t : threads) t.join();
  auto count = admin->Command({"GET", key});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->str, "400");
}

TEST(RedisPoolTest, UnreachableServerIsUnavailableAndSizeIsAtLeastOne) {
  RedisPool pool(
      {.host = "127.0.0.1", .port = 1, .connect_timeout = std::chrono::milliseconds(200)}, 0);
  EXPECT_EQ(pool.size(), 1);
  EXPECT_EQ(pool.Command({"PING"}).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tierwise::redis
