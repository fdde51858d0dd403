#include "services/interaction/follow_up_plan.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"

namespace tierwise::interaction {
namespace {

using v1::FollowUp;

Micros DayStart(int y, int m, int d) {
  return (absl::CivilDay(y, m, d) - absl::CivilDay(1970, 1, 1)) * kMicrosPerDay;
}
Micros Noon(int y, int m, int d) { return DayStart(y, m, d) + kMicrosPerDay / 2; }

std::string Text(const type::v1::Date& d) {
  return absl::FormatCivilTime(absl::CivilDay(d.year(), d.month(), d.day()));
}

ServicePolicy Policy() {
  ServicePolicy p;
  auto add = [&](std::string tier, int interval, std::string channel, int executive, int pool_after,
                 int pool_interval) {
    TierPolicy* t = p.add_tiers();
    t->set_tier(std::move(tier));
    t->set_visit_interval_days(interval);
    t->set_preferred_channel(std::move(channel));
    t->set_executive_interval_days(executive);
    t->set_pool_after_days(pool_after);
    t->set_pool_interval_days(pool_interval);
  };
  add("A", 30, "on_site_visit", 90, 0, 0);
  add("B", 30, "phone", 0, 0, 0);
  add("C", 30, "mail", 0, 180, 90);
  return p;
}

PlanCustomer Customer(std::string tier) {
  PlanCustomer c;
  c.customer_id = "c-1";
  c.owner = "rep.zhang";
  c.tier = std::move(tier);
  c.known_at = Noon(2026, 1, 10);
  c.tier_since = Noon(2026, 3, 1);
  return c;
}

const FollowUp* Find(const std::vector<FollowUp>& plan, v1::FollowUpKind kind) {
  for (const FollowUp& f : plan) {
    if (f.kind() == kind) return &f;
  }
  return nullptr;
}

TEST(FollowUpPlan, ATierNeedsAVisitMonthlyAndAnExecutiveQuarterly) {
  PlanCustomer c = Customer("A");
  c.contacts.last_by_channel[v1::CHANNEL_ON_SITE_VISIT] = Noon(2026, 10, 2);
  c.contacts.last_executive = Noon(2026, 8, 15);
  const auto plan = PlanFollowUps(c, Policy(), Noon(2026, 11, 1));
  const FollowUp* regular = Find(plan, v1::FOLLOW_UP_KIND_REGULAR);
  ASSERT_NE(regular, nullptr);
  EXPECT_EQ(Text(regular->due_date()), "2026-11-01");
  EXPECT_EQ(regular->channel(), v1::CHANNEL_ON_SITE_VISIT);
  const FollowUp* executive = Find(plan, v1::FOLLOW_UP_KIND_EXECUTIVE);
  ASSERT_NE(executive, nullptr);
  EXPECT_EQ(Text(executive->due_date()), "2026-11-13");
  EXPECT_EQ(Find(plan, v1::FOLLOW_UP_KIND_AGREED), nullptr);
}

TEST(FollowUpPlan, APhoneCallDoesNotCountAsAVisitButAVisitCountsAsACall) {
  PlanCustomer a = Customer("A");
  a.contacts.last_by_channel[v1::CHANNEL_ON_SITE_VISIT] = Noon(2026, 9, 1);
  a.contacts.last_by_channel[v1::CHANNEL_PHONE] = Noon(2026, 10, 20);
  EXPECT_EQ(Text(Find(PlanFollowUps(a, Policy(), Noon(2026, 11, 1)), v1::FOLLOW_UP_KIND_REGULAR)
                     ->due_date()),
            "2026-10-01");
  PlanCustomer b = Customer("B");
  b.contacts.last_by_channel[v1::CHANNEL_PHONE] = Noon(2026, 9, 1);
  b.contacts.last_by_channel[v1::CHANNEL_CUSTOMER_VISIT] = Noon(2026, 10, 20);
  const FollowUp* regular =
      Find(PlanFollowUps(b, Policy(), Noon(2026, 11, 1)), v1::FOLLOW_UP_KIND_REGULAR);
  EXPECT_EQ(Text(regular->due_date()), "2026-11-19");
  EXPECT_EQ(regular->channel(), v1::CHANNEL_PHONE);
}

TEST(FollowUpPlan, NeverContactedIsDueFromTheDayOfTheTier) {
  const auto plan = PlanFollowUps(Customer("B"), Policy(), Noon(2026, 3, 20));
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(Text(plan[0].due_date()), "2026-03-01");
  EXPECT_FALSE(plan[0].has_last_contact_at());
}

TEST(FollowUpPlan, CWithoutIntentForSixMonthsMovesToThePotentialPool) {
  PlanCustomer c = Customer("C");
  c.contacts.last_by_channel[v1::CHANNEL_MAIL] = Noon(2026, 9, 5);
  c.contacts.last_intent = Noon(2026, 3, 10);
  // 180 days after 2026-03-10 is 2026-09-06: still in the normal cadence that day...
  const FollowUp* before =
      Find(PlanFollowUps(c, Policy(), Noon(2026, 9, 6)), v1::FOLLOW_UP_KIND_REGULAR);
  EXPECT_FALSE(before->potential_pool());
  EXPECT_EQ(Text(before->due_date()), "2026-10-05");
  // ...and in the pool a day later: every 90 days.
  const FollowUp* after =
      Find(PlanFollowUps(c, Policy(), Noon(2026, 9, 7)), v1::FOLLOW_UP_KIND_REGULAR);
  EXPECT_TRUE(after->potential_pool());
  EXPECT_EQ(Text(after->due_date()), "2026-12-04");
  // Fresh intent brings it back.
  c.contacts.last_intent = Noon(2026, 9, 5);
  EXPECT_FALSE(Find(PlanFollowUps(c, Policy(), Noon(2026, 9, 7)), v1::FOLLOW_UP_KIND_REGULAR)
                   ->potential_pool());
}

TEST(FollowUpPlan, ATierChangeChangesThePlanAtOnce) {
  PlanCustomer c = Customer("C");
  c.contacts.last_by_channel[v1::CHANNEL_MAIL] = Noon(2026, 10, 25);
  c.contacts.last_intent = Noon(2026, 10, 25);
  const FollowUp* as_c =
      Find(PlanFollowUps(c, Policy(), Noon(2026, 11, 1)), v1::FOLLOW_UP_KIND_REGULAR);
  EXPECT_EQ(Text(as_c->due_date()), "2026-11-24");
  c.tier = "A";
  c.tier_since = Noon(2026, 11, 1);
  const auto plan = PlanFollowUps(c, Policy(), Noon(2026, 11, 1));
  const FollowUp* as_a = Find(plan, v1::FOLLOW_UP_KIND_REGULAR);
  EXPECT_EQ(as_a->channel(), v1::CHANNEL_ON_SITE_VISIT);
  EXPECT_EQ(Text(as_a->due_date()), "2026-11-01");  // a mail is not a visit: due now
  EXPECT_NE(Find(plan, v1::FOLLOW_UP_KIND_EXECUTIVE), nullptr);
}

TEST(FollowUpPlan, AgreedDateAndUnknownTierPlannedAsC) {
  PlanCustomer c = Customer("");
  c.contacts.next_follow_up_day = (absl::CivilDay(2026, 12, 3) - absl::CivilDay(1970, 1, 1));
  c.needs_attention = true;
  const auto plan = PlanFollowUps(c, Policy(), Noon(2026, 11, 1));
  const FollowUp* agreed = Find(plan, v1::FOLLOW_UP_KIND_AGREED);
  ASSERT_NE(agreed, nullptr);
  EXPECT_EQ(Text(agreed->due_date()), "2026-12-03");
  EXPECT_EQ(agreed->tier(), "C");
  EXPECT_TRUE(agreed->needs_attention());
}

TEST(FollowUpPlan, DatesAndChannels) {
  EXPECT_EQ(DayOf(DayStart(2026, 11, 23)), DayOf(DayStart(2026, 11, 23) + kMicrosPerDay - 1));
  EXPECT_EQ(DayOf(-1), -1);
  type::v1::Date bad;
  bad.set_year(2026);
  bad.set_month(2);
  bad.set_day(30);
  EXPECT_EQ(DayOfDate(bad), -1);
  EXPECT_EQ(DayOfDate(DateOfDay(20000)), 20000);
  EXPECT_EQ(ChannelFromPolicy("phone"), v1::CHANNEL_PHONE);
  EXPECT_GT(ChannelStrength(v1::CHANNEL_CUSTOMER_VISIT), ChannelStrength(v1::CHANNEL_PHONE));
  EXPECT_EQ(PolicyFor(Policy(), "K")->tier(), "C");
}

}  // namespace
}  // namespace tierwise::interaction
