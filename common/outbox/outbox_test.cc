#include "common/outbox/outbox.h"

#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::outbox {
namespace {

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(postgres::ApplyMigrations(schema_.pool(), {TableMigration()}).ok());
  }

  absl::Status Write(const std::string& event_id, bool commit) {
    return schema_.pool().Transact([&](pqxx::work& tx) {
      Enqueue(tx, {stream_, "test.Event", event_id, std::string("\x01\x00\x02", 3)});
      return commit ? absl::OkStatus() : absl::AbortedError("rolled back");
    });
  }

  tierwise::testing::TestSchema schema_{"outbox"};
  std::unique_ptr<redis::RedisClient> redis_ = tierwise::testing::NewRedisClient();
  std::string stream_ = tierwise::testing::UniqueName("stream");
};

TEST_F(OutboxTest, OnlyCommittedEventsArePublishedExactlyOnce) {
  ASSERT_TRUE(Write("e1", true).ok());
  ASSERT_FALSE(Write("e2", false).ok());
  ASSERT_TRUE(Write("e3", true).ok());
  Relay relay(schema_.pool(), *redis_);
  auto published = relay.PublishOnce();
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(*published, 2);
  EXPECT_EQ(*relay.PublishOnce(), 0);
  auto entries = redis_->XRange(stream_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].Field("event_id"), "e1");
  EXPECT_EQ((*entries)[1].Field("event_id"), "e3");
  EXPECT_EQ((*entries)[0].Field("payload"), std::string("\x01\x00\x02", 3));
  EXPECT_EQ(*relay.Backlog(), 0);
}

TEST_F(OutboxTest, EnqueueAllKeepsOrderAndBinaryPayloads) {
  ASSERT_TRUE(schema_.pool()
                  .Transact([&](pqxx::work& tx) {
                    EnqueueAll(tx, {{stream_, "test.Event", "b2", std::string("\x00\xff\"", 3)},
                                    {stream_, "test.Event", "a1", "{\\}"},
                                    {stream_, "test.Other", "c3", ""}});
                    return absl::OkStatus();
                  })
                  .ok());
  Relay relay(schema_.pool(), *redis_);
  ASSERT_EQ(*relay.PublishOnce(), 3);
  auto entries = redis_->XRange(stream_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].Field("event_id"), "b2");
  EXPECT_EQ((*entries)[0].Field("payload"), std::string("\x00\xff\"", 3));
  EXPECT_EQ((*entries)[1].Field("event_id"), "a1");
  EXPECT_EQ((*entries)[1].Field("payload"), "{\\}");
  EXPECT_EQ((*entries)[2].Field("type"), "test.Other");
  EXPECT_EQ((*entries)[2].Field("payload"), "");
}

TEST_F(OutboxTest, RowRelayedBeforeACrashIsNotDuplicated) {
  ASSERT_TRUE(Write("e1", true).ok());
  Relay relay(schema_.pool(), *redis_);
  ASSERT_EQ(*relay.PublishOnce(), 1);
  // Simulate a relay that reached Redis but died before marking the row published.
  ASSERT_TRUE(schema_.pool()
                  .Transact([](pqxx::work& tx) {
                    tx.exec("UPDATE outbox SET published_at = NULL");
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(Write("e2", true).ok());
  EXPECT_EQ(*relay.PublishOnce(), 2);
  auto entries = redis_->XRange(stream_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].Field("event_id"), "e2");
}

TEST_F(OutboxTest, RowsCommittingOutOfIdOrderArePublishedOnceEach) {
  // A writer takes outbox id n, a second writer takes n+1 and commits first: the relay
  // publishes n+1, then n once its transaction commits.
  auto late = schema_.pool().OpenDedicated();
  ASSERT_TRUE(late.ok());
  pqxx::work late_tx(**late);
  Enqueue(late_tx, {stream_, "test.Event", "late", "x"});
  ASSERT_TRUE(Write("early", true).ok());
  Relay relay(schema_.pool(), *redis_);
  ASSERT_EQ(*relay.PublishOnce(), 1);
  late_tx.commit();
  ASSERT_EQ(*relay.PublishOnce(), 1);
  auto entries = redis_->XRange(stream_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].Field("event_id"), "early");
  EXPECT_EQ((*entries)[1].Field("event_id"), "late");
  // Later rows still deduplicate after a crash before marking.
  ASSERT_TRUE(Write("third", true).ok());
  ASSERT_EQ(*relay.PublishOnce(), 1);
  ASSERT_TRUE(schema_.pool()
                  .Transact([](pqxx::work& tx) {
                    tx.exec("UPDATE outbox SET published_at = NULL");
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(*relay.PublishOnce(), 3);
  EXPECT_EQ(redis_->XRange(stream_)->size(), 3u);
}

TEST_F(OutboxTest, BackgroundRelayPublishesAfterWake) {
  Relay relay(schema_.pool(), *redis_, {.poll_interval = std::chrono::seconds(30)});
  relay.Start();
  ASSERT_TRUE(Write("e1", true).ok());
  relay.Wake();
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    auto entries = redis_->XRange(stream_);
    seen = entries.ok() && entries->size() == 1;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  relay.Stop();
  EXPECT_TRUE(seen);
}

TEST_F(OutboxTest, RedisDownKeepsEventsForLater) {
  ASSERT_TRUE(Write("e1", true).ok());
  redis::RedisClient down({.host = "127.0.0.1", .port = 1});
  Relay broken(schema_.pool(), down);
  auto published = broken.PublishOnce();
  EXPECT_TRUE(absl::IsUnavailable(published.status()))
      << "the loop backs off on it: " << published.status();
  EXPECT_EQ(*broken.Backlog(), 1);
  Relay relay(schema_.pool(), *redis_);
  EXPECT_EQ(*relay.PublishOnce(), 1);
}

TEST_F(OutboxTest, StreamsAreTrimmedOnlyPastWhatEveryGroupHasAcknowledged) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Write("e" + std::to_string(i), true).ok());
  Relay relay(schema_.pool(), *redis_, {.stream_retention = std::chrono::milliseconds(0)});
  ASSERT_EQ(*relay.PublishOnce(), 6);
  // No consumer group yet: nobody has read anything, nothing may go.
  ASSERT_EQ(*relay.TrimStreams(), 0);
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", stream_, "fast", "0"}).ok());
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", stream_, "slow", "0"}).ok());
  auto read = [&](const std::string& group, int count) {
    auto r = redis_->Command({"XREADGROUP", "GROUP", group, "c", "COUNT", std::to_string(count),
                              "STREAMS", stream_, ">"});
    std::vector<std::string> ids;
    for (const auto& e : r->elements[0].elements[1].elements) ids.push_back(e.elements[0].str);
    return ids;
  };
  const std::vector<std::string> fast = read("fast", 6);
  ASSERT_EQ(fast.size(), 6u);
  for (const std::string& id : fast)
    ASSERT_TRUE(redis_->Command({"XACK", stream_, "fast", id}).ok());
  // "slow" has read four and acknowledged the first two only: entries 3 and 4 are still needed.
  const std::vector<std::string> slow = read("slow", 4);
  ASSERT_TRUE(redis_->Command({"XACK", stream_, "slow", slow[0], slow[1]}).ok());
  auto trimmed = relay.TrimStreams();
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 2);
  auto left = redis_->XRange(stream_);
  ASSERT_EQ(left->size(), 4u);
  EXPECT_EQ((*left)[0].id, slow[2]);
  // Once "slow" has acknowledged everything, only the newest entry stays (XTRIM keeps it as
  // the group's last delivered id is its own).
  const std::vector<std::string> rest = read("slow", 6);
  for (const std::string& id : {slow[2], slow[3], rest[0], rest[1]}) {
    ASSERT_TRUE(redis_->Command({"XACK", stream_, "slow", id}).ok());
  }
  EXPECT_EQ(*relay.TrimStreams(), 4);
  EXPECT_EQ(redis_->XRange(stream_)->size(), 0u);
}

TEST_F(OutboxTest, TrimKeepsEntriesYoungerThanTheRetention) {
  ASSERT_TRUE(Write("e1", true).ok());
  Relay relay(schema_.pool(), *redis_);  // default retention: a day
  ASSERT_EQ(*relay.PublishOnce(), 1);
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", stream_, "g", "$"}).ok());  // read past all
  EXPECT_EQ(*relay.TrimStreams(), 0);
  EXPECT_EQ(redis_->XRange(stream_)->size(), 1u);
}

}  // namespace
}  // namespace tierwise::outbox
