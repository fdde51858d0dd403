#include "services/interaction/follow_up_plan.h"

#include <gtest/gtest.h>

#include <random>

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

// Shanghai is UTC+8 all year: local midnight of a day is 16:00 UTC of the day before.
time::BusinessCalendar Shanghai() { return *time::BusinessCalendar::Load("Asia/Shanghai"); }
Micros LocalTime(int y, int m, int d, int hh, int mm) {
  return time::ToMicros(absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), Shanghai().zone()));
}

TEST(FollowUpPlanCalendar, AContactCountsOnItsLocalDay) {
  PlanCustomer b = Customer("B");
  const Micros now = LocalTime(2026, 11, 2, 9, 0);
  // 2026-10-31 23:59 and 2026-11-01 00:00 in Shanghai are both 2026-10-31 in UTC.
  b.contacts.last_by_channel[v1::CHANNEL_PHONE] = LocalTime(2026, 10, 31, 23, 59);
  const auto late_evening = PlanFollowUps(b, Policy(), now, Shanghai());
  const FollowUp* regular = Find(late_evening, v1::FOLLOW_UP_KIND_REGULAR);
  ASSERT_NE(regular, nullptr);
  EXPECT_EQ(Text(regular->due_date()), "2026-11-30");
  EXPECT_NE(regular->reason().find("last 2026-10-31"), std::string::npos) << regular->reason();
  b.contacts.last_by_channel[v1::CHANNEL_PHONE] = LocalTime(2026, 11, 1, 0, 0);
  const auto midnight = PlanFollowUps(b, Policy(), now, Shanghai());
  regular = Find(midnight, v1::FOLLOW_UP_KIND_REGULAR);
  ASSERT_NE(regular, nullptr);
  EXPECT_EQ(Text(regular->due_date()), "2026-12-01");
  EXPECT_NE(regular->reason().find("last 2026-11-01"), std::string::npos) << regular->reason();
  // In UTC both contacts fall on 10-31.
  const auto utc = PlanFollowUps(b, Policy(), now);
  EXPECT_EQ(Text(Find(utc, v1::FOLLOW_UP_KIND_REGULAR)->due_date()), "2026-11-30");
}

TEST(FollowUpPlanCalendar, NeverContactedIsDueFromTheLocalDayOfTheTier) {
  PlanCustomer c = Customer("A");
  c.tier_since = LocalTime(2026, 3, 1, 0, 30);  // 2026-02-28 16:30 UTC
  c.known_at = LocalTime(2026, 1, 1, 12, 0);
  const auto plan = PlanFollowUps(c, Policy(), LocalTime(2026, 3, 2, 9, 0), Shanghai());
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(Text(Find(plan, v1::FOLLOW_UP_KIND_REGULAR)->due_date()), "2026-03-01");
  EXPECT_EQ(Text(Find(plan, v1::FOLLOW_UP_KIND_EXECUTIVE)->due_date()), "2026-03-01");
}

// Every now: the stored rows valid at that instant are exactly PlanContacts at that instant.
TEST(FollowUpPlanStored, TheRowsValidAtAnyMomentAreThePlanOfThatMoment) {
  std::mt19937_64 rng(12);
  const ServicePolicy policy = Policy();
  const time::BusinessCalendar calendars[] = {time::BusinessCalendar::Utc(), Shanghai()};
  const Micros base = Noon(2026, 1, 1);
  auto some_time = [&] {
    return base + static_cast<Micros>(rng() % (400 * kMicrosPerDay / 1000)) * 1000;
  };
  int pooled = 0;
  for (int round = 0; round < 400; ++round) {
    const char* tiers[] = {"A", "B", "C", "", "K"};
    PlanCustomer c = Customer(tiers[rng() % 5]);
    c.known_at = some_time();
    c.tier_since = some_time();
    for (int ch = 1; ch <= 7; ++ch) {
      if (rng() % 2) c.contacts.last_by_channel[ch] = some_time();
    }
    if (rng() % 2) c.contacts.last_executive = some_time();
    if (rng() % 2) c.contacts.last_intent = some_time();
    if (rng() % 3 == 0) c.contacts.next_follow_up_day = DayOf(some_time());
    const time::BusinessCalendar& calendar = calendars[rng() % 2];
    const TierPolicy* p = PolicyFor(policy, c.tier);
    ASSERT_NE(p, nullptr);
    const StoredPlan stored = PlanToStore(c, *p, calendar);
    std::vector<Micros> moments;
    for (int i = 0; i < 20; ++i) moments.push_back(some_time() + 200 * kMicrosPerDay);
    for (const StoredContact& row : stored) {
      // Both sides of each boundary.
      if (row.valid_from > 0) moments.insert(moments.end(), {row.valid_from - 1, row.valid_from});
    }
    for (Micros now : moments) {
      std::vector<std::string> want, got;
      for (const FollowUp& f : PlanFollowUps(c, policy, now, calendar)) {
        want.push_back(f.ShortDebugString());
      }
      for (const StoredContact& row : stored) {
        if (row.valid_from <= now && now < row.valid_until) {
          FollowUp f = DescribeFollowUp(c, *p, row.planned, calendar);
          EXPECT_EQ(f.tier(), row.tier);
          EXPECT_EQ(f.reason(), row.reason);
          got.push_back(f.ShortDebugString());
          pooled += row.planned.pool ? 1 : 0;
        }
      }
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "round " << round << " now " << now;
    }
  }
  EXPECT_GT(pooled, 0);  // the pool rows were exercised
}

}  // namespace
}  // namespace tierwise::interaction
