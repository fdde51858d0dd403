#include "common/redis/stream_consumer.h"

#include <set>

#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::redis {
namespace {

class StreamConsumerTest : public ::testing::Test {
 protected:
  ConsumerOptions Options(const std::string& consumer) {
    return {.stream = stream_,
            .group = "g",
            .consumer = consumer,
            .dead_letter_stream = stream_ + ":dead",
            .batch_size = 10,
            .block = std::chrono::milliseconds(50),
            .reclaim_idle = std::chrono::milliseconds(0),
            .max_deliveries = 3};
  }
  RedisOptions Redis() { return *ParseRedisAddress(tierwise::testing::RedisAddr()); }

  std::string stream_ = tierwise::testing::UniqueName("cs");
  std::unique_ptr<RedisClient> redis_ = tierwise::testing::NewRedisClient();
};

TEST_F(StreamConsumerTest, HandlesEachEntryAndAcknowledges) {
  std::set<std::string> seen;
  StreamConsumer consumer(Redis(), Options("c1"), [&](const StreamEntry& e) {
    seen.insert(e.Field("n"));
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  ASSERT_TRUE(consumer.EnsureGroup().ok()) << "idempotent";
  for (int i = 0; i < 25; ++i)
    ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", std::to_string(i)}}).ok());
  int handled = 0;
  for (int round = 0; round < 10 && handled < 25; ++round) handled += *consumer.PollOnce();
  EXPECT_EQ(handled, 25);
  EXPECT_EQ(seen.size(), 25u);
  auto pending = redis_->Command({"XPENDING", stream_, "g"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->elements[0].integer, 0) << "everything acknowledged";
}

TEST_F(StreamConsumerTest, PoisonEntryGoesToDeadLetterAfterMaxDeliveries) {
  int attempts = 0;
  StreamConsumer consumer(Redis(), Options("c1"), [&](const StreamEntry& e) {
    if (e.Field("n") == "bad") {
      ++attempts;
      return absl::InvalidArgumentError("cannot parse");
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "bad"}}).ok());
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "good"}}).ok());
  for (int round = 0; round < 6; ++round) ASSERT_TRUE(consumer.PollOnce().ok());
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(consumer.dead_lettered(), 1);
  auto dead = redis_->XRange(stream_ + ":dead");
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].Field("n"), "bad");
  EXPECT_NE((*dead)[0].Field("dead_letter_error").find("cannot parse"), std::string::npos);
  auto pending = redis_->Command({"XPENDING", stream_, "g"});
  EXPECT_EQ(pending->elements[0].integer, 0);
}

TEST_F(StreamConsumerTest, BatchHandlerTakesWholeBatchesAndAcknowledgesThem) {
  std::vector<size_t> batches;
  std::set<std::string> seen;
  StreamConsumer consumer(Redis(), Options("c1"), [&](const std::vector<StreamEntry>& entries) {
    batches.push_back(entries.size());
    for (const StreamEntry& e : entries) seen.insert(e.Field("n"));
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  for (int i = 0; i < 25; ++i)
    ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", std::to_string(i)}}).ok());
  int handled = 0;
  for (int round = 0; round < 10 && handled < 25; ++round) handled += *consumer.PollOnce();
  EXPECT_EQ(handled, 25);
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(batches, (std::vector<size_t>{10, 10, 5})) << "batch_size entries per call";
  auto pending = redis_->Command({"XPENDING", stream_, "g"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->elements[0].integer, 0) << "everything acknowledged";
}

TEST_F(StreamConsumerTest, FailedBatchFallsBackToOneByOneAndDeadLettersThePoison) {
  // Like a transaction: a batch commits all of its entries or none.
  std::vector<std::string> committed;
  int poison_attempts = 0;
  StreamConsumer consumer(Redis(), Options("c1"), [&](const std::vector<StreamEntry>& entries) {
    for (const StreamEntry& e : entries) {
      if (e.Field("n") == "bad") {
        ++poison_attempts;
        return absl::InvalidArgumentError("cannot parse");
      }
    }
    for (const StreamEntry& e : entries) committed.push_back(e.Field("n"));
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "1"}}).ok());
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "bad"}}).ok());
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "2"}}).ok());
  for (int round = 0; round < 6; ++round) ASSERT_TRUE(consumer.PollOnce().ok());
  EXPECT_EQ(committed, (std::vector<std::string>{"1", "2"})) << "each good entry once";
  EXPECT_EQ(consumer.dead_lettered(), 1);
  auto dead = redis_->XRange(stream_ + ":dead");
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].Field("n"), "bad");
  // The batch, then alone on each of its 3 deliveries.
  EXPECT_EQ(poison_attempts, 4);
  auto pending = redis_->Command({"XPENDING", stream_, "g"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->elements[0].integer, 0);
}

TEST_F(StreamConsumerTest, EntriesOfADeadConsumerAreReclaimed) {
  // c1 reads an entry and "dies" before acknowledging it.
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "1"}}).ok());
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", stream_, "g", "0"}).ok());
  auto read =
      redis_->Command({"XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", stream_, ">"});
  ASSERT_TRUE(read.ok());
  std::vector<std::string> got;
  StreamConsumer c2(Redis(), Options("c2"), [&](const StreamEntry& e) {
    got.push_back(e.Field("n"));
    return absl::OkStatus();
  });
  ASSERT_EQ(*c2.PollOnce(), 1);
  EXPECT_EQ(got, std::vector<std::string>{"1"});
}

}  // namespace
}  // namespace tierwise::redis
