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

int64_t DeliveriesOf(RedisClient& redis, const std::string& stream, const std::string& id) {
  auto r = redis.Command({"XPENDING", stream, "g", id, id, "1"});
  if (!r.ok() || r->elements.empty()) return -1;
  return r->elements[0].elements[3].integer;
}

// A PostgreSQL outage seen by the handler as UNAVAILABLE, many times longer than max_deliveries
// rounds: nothing is dead-lettered or acknowledged, delivery counts do not grow, and every entry
// is applied once the outage ends.
TEST_F(StreamConsumerTest, TransientFailuresNeverDeadLetterAndEverythingIsAppliedAfterwards) {
  bool outage = true;
  int calls_during_outage = 0;
  std::vector<std::string> applied;
  StreamConsumer consumer(Redis(), Options("c1"), [&](const StreamEntry& e) {
    if (outage) {
      ++calls_during_outage;
      return absl::UnavailableError("database unavailable");
    }
    applied.push_back(e.Field("n"));
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(*redis_->XAdd(stream_, "*", {{"n", std::to_string(i)}}));
  for (int round = 0; round < 12; ++round) {
    auto polled = consumer.PollOnce();
    EXPECT_TRUE(absl::IsUnavailable(polled.status())) << round << ": " << polled.status();
  }
  EXPECT_GE(calls_during_outage, 12) << "retried every round";
  EXPECT_EQ(consumer.dead_lettered(), 0);
  EXPECT_EQ(consumer.transient_failures(), 12);
  for (const std::string& id : ids) EXPECT_LE(DeliveriesOf(*redis_, stream_, id), 1) << id;
  EXPECT_EQ(redis_->XRange(stream_ + ":dead")->size(), 0u);
  outage = false;
  int handled = 0;
  for (int round = 0; round < 5 && handled < 3; ++round) handled += *consumer.PollOnce();
  EXPECT_EQ(handled, 3);
  EXPECT_EQ(applied, (std::vector<std::string>{"0", "1", "2"})) << "each once, in order";
  auto pending = redis_->Command({"XPENDING", stream_, "g"});
  EXPECT_EQ(pending->elements[0].integer, 0);
  EXPECT_EQ(redis_->XRange(stream_ + ":dead")->size(), 0u);
}

// The same with a batch handler; afterwards a real poison entry is still dead-lettered after
// max_deliveries non-transient failures (the outage did not use up its budget).
TEST_F(StreamConsumerTest, BatchOutageThenPoisonIsDeadLetteredOnItsOwnFailures) {
  bool outage = true;
  int poison_failures = 0;
  std::vector<std::string> committed;
  StreamConsumer consumer(Redis(), Options("c1"), [&](const std::vector<StreamEntry>& entries) {
    if (outage) return absl::UnavailableError("database unavailable");
    for (const StreamEntry& e : entries) {
      if (e.Field("n") == "bad") {
        ++poison_failures;
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
  for (int round = 0; round < 10; ++round) EXPECT_FALSE(consumer.PollOnce().ok());
  EXPECT_EQ(consumer.dead_lettered(), 0);
  outage = false;
  for (int round = 0; round < 8; ++round) ASSERT_TRUE(consumer.PollOnce().ok());
  EXPECT_EQ(committed, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(consumer.dead_lettered(), 1);
  // The failed batch, then alone on each of its 3 deliveries: the outage counted for nothing.
  EXPECT_EQ(poison_failures, 4);
}

// A container restarted in place keeps its consumer name: what its previous process read but did
// not acknowledge is handled at once, not after reclaim_idle.
TEST_F(StreamConsumerTest, ARestartedConsumerOfTheSameNameTakesItsPendingEntriesFirst) {
  ASSERT_TRUE(redis_->XAdd(stream_, "*", {{"n", "1"}}).ok());
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", stream_, "g", "0"}).ok());
  ASSERT_TRUE(
      redis_->Command({"XREADGROUP", "GROUP", "g", "pod-1", "COUNT", "1", "STREAMS", stream_, ">"})
          .ok());  // the previous process read it and died
  ConsumerOptions options = Options("pod-1");
  options.reclaim_idle = std::chrono::hours(1);
  std::vector<std::string> got;
  StreamConsumer restarted(Redis(), options, [&](const StreamEntry& e) {
    got.push_back(e.Field("n"));
    return absl::OkStatus();
  });
  ASSERT_EQ(*restarted.PollOnce(), 1);
  EXPECT_EQ(got, std::vector<std::string>{"1"});
  auto pending = redis_->Command({"XPENDING", stream_, "g"});
  EXPECT_EQ(pending->elements[0].integer, 0);
}

TEST(StreamConsumerTransient, CodesThatMeanTryAgainLater) {
  EXPECT_TRUE(IsTransient(absl::UnavailableError("x")));
  EXPECT_TRUE(IsTransient(absl::AbortedError("x")));
  EXPECT_TRUE(IsTransient(absl::DeadlineExceededError("x")));
  EXPECT_FALSE(IsTransient(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(IsTransient(absl::InternalError("x")));
  EXPECT_FALSE(IsTransient(absl::NotFoundError("x")));
}

}  // namespace
}  // namespace tierwise::redis
