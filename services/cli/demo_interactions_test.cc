#include "services/cli/demo_interactions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/cli/demo_data.h"

namespace tierwise::demo {
namespace {

namespace v1 = ::tierwise::interaction::v1;
namespace pb = ::tierwise::profile::v1;

// 2026-11-23 15:34:36 UTC: a fixed clock.
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 23, 15, 34, 36), absl::UTCTimeZone());

DemoInteractionOptions Options(uint64_t seed = 42) {
  DemoInteractionOptions options;
  options.seed = seed;
  options.now = kNow;
  return options;
}

int64_t Seconds(absl::Time time) { return absl::ToUnixSeconds(time); }

// The demo customers of `demo load --seed seed` as the loader sees them, with `tier` for all
// (or the guessed tier when empty).
std::vector<InteractionCustomer> Customers(int count, const std::string& tier = "",
                                           uint64_t seed = 42) {
  std::vector<InteractionCustomer> customers;
  int index = 0;
  for (const DemoCustomer& demo : GenerateDemoCustomers(seed, count)) {
    ++index;
    InteractionCustomer c;
    c.index = index;
    c.id = absl::StrFormat("00000000-0000-4000-8000-%012d", index);
    c.external_ref = demo.customer.external_ref();
    c.owner = demo.customer.owner();
    c.lifecycle = demo.customer.lifecycle_stage();
    c.tier = tier.empty() ? GuessDemoTier(seed, demo.customer, index) : tier;
    c.contacts = demo.contacts;
    customers.push_back(c);
  }
  return customers;
}

// An active customer of `tier` with two contacts.
InteractionCustomer Active(const std::string& tier, int index) {
  InteractionCustomer c;
  c.index = index;
  c.id = absl::StrFormat("00000000-0000-4000-8000-%012d", index);
  c.external_ref = absl::StrFormat("ERP-C%05d", index);
  c.owner = "rep.zhang";
  c.tier = tier;
  c.lifecycle = pb::LIFECYCLE_STAGE_ACTIVE;
  pb::Contact boss;
  boss.set_name("王伟");
  boss.set_role(pb::DECISION_ROLE_DECISION_MAKER);
  pb::Contact buyer;
  buyer.set_name("李娜");
  buyer.set_role(pb::DECISION_ROLE_INFLUENCER);
  c.contacts = {boss, buyer};
  return c;
}

std::map<v1::Channel, int> Channels(const CustomerInteractionPlan& plan) {
  std::map<v1::Channel, int> channels;
  for (const auto& r : plan.interactions) ++channels[r.interaction().channel()];
  return channels;
}

TEST(DemoInteractionsTest, SameOptionsGiveTheSamePlansAnotherSeedOthers) {
  const std::vector<InteractionCustomer> customers = Customers(40);
  int differing = 0;
  for (const InteractionCustomer& c : customers) {
    CustomerInteractionPlan a = PlanCustomerInteractions(Options(), c);
    CustomerInteractionPlan b = PlanCustomerInteractions(Options(), c);
    ASSERT_EQ(a.interactions.size(), b.interactions.size());
    for (size_t i = 0; i < a.interactions.size(); ++i) {
      ASSERT_EQ(a.interactions[i].SerializeAsString(), b.interactions[i].SerializeAsString());
    }
    ASSERT_EQ(a.complaint.has_value(), b.complaint.has_value());
    if (a.complaint.has_value()) {
      EXPECT_EQ(a.complaint->open.SerializeAsString(), b.complaint->open.SerializeAsString());
    }
    CustomerInteractionPlan other = PlanCustomerInteractions(Options(43), c);
    if (other.interactions.size() != a.interactions.size() ||
        other.interactions[0].interaction().occurred_at().seconds() !=
            a.interactions[0].interaction().occurred_at().seconds()) {
      ++differing;
    }
  }
  EXPECT_GT(differing, 30);
}

TEST(DemoInteractionsTest, EveryRecordIsValidForTheService) {
  std::set<std::string> request_ids;
  const int64_t now = Seconds(kNow);
  const int64_t year_ago = Seconds(kNow - absl::Hours(24 * 366));
  for (const InteractionCustomer& c : Customers(200)) {
    CustomerInteractionPlan plan = PlanCustomerInteractions(Options(), c);
    int64_t previous = 0;
    for (const v1::LogInteractionRequest& request : plan.interactions) {
      const v1::Interaction& r = request.interaction();
      EXPECT_TRUE(request_ids.insert(request.request_id()).second) << request.request_id();
      EXPECT_TRUE(absl::StartsWith(request.request_id(),
                                   absl::StrCat("demo-42-", c.external_ref, "-20261123-i")))
          << request.request_id();
      EXPECT_EQ(r.customer_id(), c.id);
      EXPECT_EQ(r.owner(), c.owner);
      EXPECT_NE(r.channel(), v1::CHANNEL_UNSPECIFIED);
      EXPECT_FALSE(r.summary().empty());
      EXPECT_LE(r.summary().size(), 4000u);
      EXPECT_LE(r.conclusion().size(), 2000u);
      EXPECT_GE(r.satisfaction(), 0);
      EXPECT_LE(r.satisfaction(), 5);
      // In the past year, oldest first; recorded between the contact and now.
      EXPECT_LT(r.occurred_at().seconds(), now);
      EXPECT_GT(r.occurred_at().seconds(), year_ago);
      EXPECT_GE(r.occurred_at().seconds(), previous);
      previous = r.occurred_at().seconds();
      EXPECT_GE(r.recorded_at().seconds(), r.occurred_at().seconds());
      EXPECT_LE(r.recorded_at().seconds(), now);
      if (r.has_next_follow_up_date()) {
        const absl::CivilDay agreed(r.next_follow_up_date().year(), r.next_follow_up_date().month(),
                                    r.next_follow_up_date().day());
        const absl::CivilDay day =
            absl::ToCivilDay(absl::FromUnixSeconds(r.occurred_at().seconds()), absl::UTCTimeZone());
        EXPECT_GT(agreed, day);
        const bool latest = &request == &plan.interactions.back();
        if (latest) {
          EXPECT_LE(agreed, std::max(day + 30, absl::CivilDay(2026, 11, 23) + 21));
        } else {
          EXPECT_LE(agreed - day, 30);
        }
      }
      if (!c.contacts.empty()) {
        bool known = false;
        for (const pb::Contact& contact : c.contacts) known |= contact.name() == r.contact_name();
        EXPECT_TRUE(known) << r.contact_name();
      }
    }
  }
}

TEST(DemoInteractionsTest, ChannelsAndCadencesFollowTheTierPolicy) {
  int a_visits = 0, a_total = 0, b_calls = 0, b_total = 0, c_mail = 0, c_total = 0;
  for (int i = 1; i <= 60; ++i) {
    const CustomerInteractionPlan a = PlanCustomerInteractions(Options(), Active("A", i));
    const CustomerInteractionPlan b = PlanCustomerInteractions(Options(), Active("B", i));
    const CustomerInteractionPlan c = PlanCustomerInteractions(Options(), Active("C", i));
    int executive = 0;
    for (const auto& r : a.interactions) {
      if (!r.interaction().executive_contact()) continue;
      ++executive;
      // The executive meets the decision maker.
      EXPECT_EQ(r.interaction().contact_role(), v1::DECISION_ROLE_DECISION_MAKER);
    }
    EXPECT_GE(executive, 3) << i;  // quarterly
    EXPECT_LE(executive, 5) << i;
    for (const auto* plan : {&b, &c}) {
      for (const auto& r : plan->interactions) EXPECT_FALSE(r.interaction().executive_contact());
    }
    // Monthly regular contact plus extras: A most, C least.
    EXPECT_GE(a.interactions.size(), 12u) << i;
    EXPECT_LE(a.interactions.size(), 26u) << i;
    EXPECT_GE(b.interactions.size(), 9u) << i;
    EXPECT_GE(c.interactions.size(), 8u) << i;
    EXPECT_LE(c.interactions.size(), 15u) << i;
    a_visits += Channels(a)[v1::CHANNEL_ON_SITE_VISIT];
    a_total += static_cast<int>(a.interactions.size());
    b_calls += Channels(b)[v1::CHANNEL_PHONE];
    b_total += static_cast<int>(b.interactions.size());
    c_mail += Channels(c)[v1::CHANNEL_MAIL];
    c_total += static_cast<int>(c.interactions.size());
  }
  // The policy's channel dominates, with some mix.
  EXPECT_GT(a_visits * 100 / a_total, 55);
  EXPECT_LT(a_visits * 100 / a_total, 90);
  EXPECT_GT(b_calls * 100 / b_total, 55);
  EXPECT_LT(b_calls * 100 / b_total, 90);
  EXPECT_GT(c_mail * 100 / c_total, 50);
  EXPECT_LT(c_mail * 100 / c_total, 90);
  // K counts as A, D as C.
  EXPECT_EQ(PlanCustomerInteractions(Options(), Active("K", 5)).interactions.size(),
            PlanCustomerInteractions(Options(), Active("A", 5)).interactions.size());
  EXPECT_EQ(PlanCustomerInteractions(Options(), Active("D", 5)).interactions.size(),
            PlanCustomerInteractions(Options(), Active("C", 5)).interactions.size());
}

TEST(DemoInteractionsTest, SatisfactionIntentLateEntriesAndOverdueCustomers) {
  int total = 0, late = 0, asked = 0, content = 0, intent = 0, agreed = 0, lapsed = 0;
  int with_records = 0;
  const std::vector<InteractionCustomer> customers = Customers(200);
  for (const InteractionCustomer& c : customers) {
    CustomerInteractionPlan plan = PlanCustomerInteractions(Options(), c);
    if (plan.interactions.empty()) continue;
    ++with_records;
    for (const auto& request : plan.interactions) {
      const v1::Interaction& r = request.interaction();
      ++total;
      late += r.recorded_at().seconds() - r.occurred_at().seconds() > 24 * 3600;
      if (r.satisfaction() > 0) {
        ++asked;
        content += r.satisfaction() >= 3;
      }
      intent += r.purchase_intent();
      agreed += r.has_next_follow_up_date();
    }
    const int64_t last = plan.interactions.back().interaction().occurred_at().seconds();
    if (c.lifecycle == pb::LIFECYCLE_STAGE_ACTIVE && !plan.complaint.has_value() &&
        last < Seconds(kNow - absl::Hours(24 * 35))) {
      ++lapsed;
    }
  }
  EXPECT_EQ(with_records, 200);  // prospects, dormant and former customers have records too
  EXPECT_GT(total, 200 * 8);
  EXPECT_LT(total, 200 * 25);
  EXPECT_GT(late * 1000 / total, 25);  // about 5 %
  EXPECT_LT(late * 1000 / total, 80);
  EXPECT_GT(content * 100 / asked, 85);  // mostly 3-5
  EXPECT_LT(content * 100 / asked, 100);
  EXPECT_GT(intent * 100 / total, 5);
  EXPECT_LT(intent * 100 / total, 40);
  EXPECT_GT(agreed * 100 / total, 15);
  EXPECT_LT(agreed * 100 / total, 45);
  EXPECT_GE(lapsed, 5);  // some customers are overdue for their regular contact
}

TEST(DemoInteractionsTest, AFewRecentComplaintsSomeBreachedSomeAnswered) {
  int complaints = 0, breached_open = 0, responded = 0, resolved = 0, fresh = 0;
  std::set<std::string> request_ids;
  std::vector<InteractionCustomer> customers = Customers(600, "B");
  for (InteractionCustomer& c : customers) c.lifecycle = pb::LIFECYCLE_STAGE_ACTIVE;
  for (const InteractionCustomer& c : customers) {
    CustomerInteractionPlan plan = PlanCustomerInteractions(Options(), c);
    if (!plan.complaint.has_value()) continue;
    ++complaints;
    const v1::OpenComplaintRequest& open = plan.complaint->open;
    EXPECT_TRUE(request_ids.insert(open.request_id()).second);
    EXPECT_EQ(open.request_id(), absl::StrCat("demo-42-", c.external_ref, "-20261123-complaint"));
    EXPECT_EQ(open.complaint().customer_id(), c.id);
    EXPECT_FALSE(open.complaint().subject().empty());
    EXPECT_FALSE(open.complaint().description().empty());
    const int64_t received = open.complaint().received_at().seconds();
    EXPECT_LE(received, Seconds(kNow - absl::Hours(2)));
    EXPECT_GE(received, Seconds(kNow - absl::Hours(24 * 10)));
    const bool past_response_sla = received < Seconds(kNow - absl::Hours(24));
    fresh += !past_response_sla;
    switch (plan.complaint->step) {
      case ComplaintStep::kOpen:
        breached_open += past_response_sla;
        break;
      case ComplaintStep::kRespond:
        ++responded;
        EXPECT_FALSE(plan.complaint->response.empty());
        break;
      case ComplaintStep::kResolve:
        ++resolved;
        EXPECT_TRUE(past_response_sla);  // a fresh one is not solved yet
        EXPECT_FALSE(plan.complaint->resolution.empty());
        break;
    }
    // That day's record: by phone, unhappy, with the subject.
    bool recorded = false;
    for (const auto& request : plan.interactions) {
      const v1::Interaction& r = request.interaction();
      if (r.occurred_at().seconds() != received) continue;
      recorded = true;
      EXPECT_EQ(r.channel(), v1::CHANNEL_PHONE);
      EXPECT_LE(r.satisfaction(), 2);
      EXPECT_GE(r.satisfaction(), 1);
      EXPECT_TRUE(absl::StrContains(r.summary(), open.complaint().subject()));
    }
    EXPECT_TRUE(recorded);
  }
  EXPECT_GE(complaints, 600 * 1 / 100);  // about 3 %
  EXPECT_LE(complaints, 600 * 6 / 100);
  EXPECT_GT(breached_open, 0);
  EXPECT_GT(responded, 0);
  EXPECT_GT(resolved, 0);

  // Prospects and former customers do not complain.
  for (InteractionCustomer& c : customers) {
    c.lifecycle = pb::LIFECYCLE_STAGE_PROSPECT;
    EXPECT_FALSE(PlanCustomerInteractions(Options(), c).complaint.has_value());
  }
}

TEST(DemoInteractionsTest, TheDemoSetHasAFewComplaintsInEveryState) {
  for (uint64_t seed : {42, 7}) {
    std::map<ComplaintStep, int> steps;
    int complaints = 0;
    for (const InteractionCustomer& c : Customers(200, "", seed)) {
      CustomerInteractionPlan plan = PlanCustomerInteractions(Options(seed), c);
      if (!plan.complaint.has_value()) continue;
      ++complaints;
      ++steps[plan.complaint->step];
    }
    EXPECT_GE(complaints, 3) << seed;  // 6 customers in 200 are picked; prospects do not complain
    EXPECT_LE(complaints, 6) << seed;
    EXPECT_GT(steps[ComplaintStep::kOpen], 0) << seed;
    EXPECT_GT(steps[ComplaintStep::kRespond] + steps[ComplaintStep::kResolve], 0) << seed;
  }
}

TEST(DemoInteractionsTest, TheLatestRecordOftenAgreesOnAFollowUpSoon) {
  const absl::CivilDay today(2026, 11, 23);
  int soon = 0, customers = 0;
  for (const InteractionCustomer& c : Customers(200)) {
    CustomerInteractionPlan plan = PlanCustomerInteractions(Options(), c);
    ++customers;
    const v1::Interaction& latest = plan.interactions.back().interaction();
    if (!latest.has_next_follow_up_date()) continue;
    const absl::CivilDay agreed(latest.next_follow_up_date().year(),
                                latest.next_follow_up_date().month(),
                                latest.next_follow_up_date().day());
    soon += agreed > today && agreed <= today + 30;
    if (c.lifecycle == pb::LIFECYCLE_STAGE_FORMER) ADD_FAILURE() << c.external_ref;
  }
  EXPECT_GT(soon * 100 / customers, 25);
  EXPECT_LT(soon * 100 / customers, 60);
}

TEST(DemoInteractionsTest, GuessedTiersAndDemoIndexes) {
  std::map<std::string, int> tiers;
  int index = 0;
  for (const DemoCustomer& demo : GenerateDemoCustomers(42, 200)) {
    ++index;
    const std::string tier = GuessDemoTier(42, demo.customer, index);
    ++tiers[tier];
    EXPECT_EQ(tier, GuessDemoTier(42, demo.customer, index));
    const auto& tags = demo.customer.tags();
    if (demo.customer.lifecycle_stage() == pb::LIFECYCLE_STAGE_PROSPECT) {
      EXPECT_EQ(tier, "C");
    } else if (std::find(tags.begin(), tags.end(), "key-account") != tags.end()) {
      EXPECT_NE(tier, "C");
    }
  }
  EXPECT_GT(tiers["A"], 0);
  EXPECT_GT(tiers["B"], tiers["A"]);
  EXPECT_GT(tiers["C"], tiers["B"]);

  EXPECT_EQ(DemoCustomerIndex("ERP-C00001"), 1);
  EXPECT_EQ(DemoCustomerIndex("ERP-C00200"), 200);
  EXPECT_EQ(DemoCustomerIndex("ERP-C0001"), 0);
  EXPECT_EQ(DemoCustomerIndex("ERP-C0000x"), 0);
  EXPECT_EQ(DemoCustomerIndex("SAP-00001"), 0);
  EXPECT_EQ(DemoCustomerIndex(""), 0);
}

}  // namespace
}  // namespace tierwise::demo
