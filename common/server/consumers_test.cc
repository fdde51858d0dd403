#include "common/server/consumers.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "common/redis/stream_names.h"
#include "common/testing/service_harness.h"
#include "gtest/gtest.h"

namespace tierwise::server {
namespace {

TEST(StartConsumerTest, ConsumesWithTheServiceGroupAndDeadLettersUnderItsName) {
  testing::ServiceHarness h({});
  ServiceBundle bundle;
  std::atomic<int> good{0};
  const std::string stream = streams::CustomerChanged(h.prefix());
  auto consumer = StartConsumer(h.deps(), "credit",
                                {.stream = stream,
                                 .handler =
                                     [&](const redis::StreamEntry& e) {
                                       if (e.Field("n") == "bad") {
                                         return absl::InvalidArgumentError("cannot parse");
                                       }
                                       ++good;
                                       return absl::OkStatus();
                                     }},
                                bundle);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  EXPECT_EQ(bundle.keep_alive.size(), 2u) << "the consumer and its metrics";
  ASSERT_TRUE(h.redis().XAdd(stream, "*", {{"n", "1"}}).ok());
  ASSERT_TRUE(h.redis().XAdd(stream, "*", {{"n", "2"}}).ok());
  for (int i = 0; i < 100 && good.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(good.load(), 2);
  auto groups = h.redis().Command({"XINFO", "GROUPS", stream});
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->elements.size(), 1u);
  EXPECT_EQ(groups->elements[0].elements[1].str, "credit");
  auto consumers = h.redis().Command({"XINFO", "CONSUMERS", stream, "credit"});
  ASSERT_TRUE(consumers.ok()) << consumers.status();
  ASSERT_EQ(consumers->elements.size(), 1u);
  EXPECT_EQ(consumers->elements[0].elements[1].str, ConsumerName());
  EXPECT_EQ(streams::DeadLetter(h.prefix(), "credit"), h.prefix() + ":credit.dead_letter");
  (*consumer)->Stop();
}

TEST(StartConsumerTest, ASpecNeedsExactlyOneHandler) {
  testing::ServiceHarness h({});
  ServiceBundle bundle;
  auto none = StartConsumer(h.deps(), "credit", {.stream = "x"}, bundle);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  auto both = StartConsumer(
      h.deps(), "credit",
      {.stream = "x",
       .handler = [](const redis::StreamEntry&) { return absl::OkStatus(); },
       .batch_handler = [](const std::vector<redis::StreamEntry>&) { return absl::OkStatus(); }},
      bundle);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(bundle.keep_alive.empty());
}

TEST(StreamNamesTest, OneKeyPerTopicUnderThePrefix) {
  EXPECT_EQ(streams::CustomerChanged("tw"), "tw:profile.customer_changed");
  EXPECT_EQ(streams::Ledger("tw"), "tw:credit.ledger");
  EXPECT_EQ(streams::InteractionEvents("tw"), "tw:interaction.events");
  EXPECT_EQ(streams::TierChanged("tw"), "tw:classification.tier_changed");
}

}  // namespace
}  // namespace tierwise::server
