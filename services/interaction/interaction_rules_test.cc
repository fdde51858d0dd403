#include "services/interaction/interaction_rules.h"

#include <gtest/gtest.h>

#include "common/status/status.h"
#include "common/time/micros.h"

namespace tierwise::interaction {
namespace {

constexpr Micros kNow = 1'795'000'000'000'000;  // 2026-11-18
constexpr Micros kHour = 3600LL * 1'000'000;

v1::Interaction Valid() {
  v1::Interaction in;
  in.set_customer_id("4f1c2a34-8d2e-4c55-9a61-3f0c1b2d4e5f");
  time::SetTimestamp(kNow - 2 * kHour, in.mutable_occurred_at());
  in.set_channel(v1::CHANNEL_PHONE);
  in.set_summary("确认三月订单交付时间");
  return in;
}

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : status::FieldViolations(s)) out.push_back(v.field);
  return out;
}

TEST(InteractionRules, AcceptsAValidRecord) {
  EXPECT_TRUE(ValidateInteraction(Valid(), kNow, false, "interaction").ok());
}

TEST(InteractionRules, NamesEveryBadField) {
  v1::Interaction in;
  in.set_satisfaction(6);
  in.set_summary("   ");
  const absl::Status s = ValidateInteraction(in, kNow, false, "interaction");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(s),
            (std::vector<std::string>{"interaction.customer_id", "interaction.occurred_at",
                                      "interaction.channel", "interaction.summary",
                                      "interaction.satisfaction"}));
}

TEST(InteractionRules, FutureContactsAndBadFollowUpDatesAreRejected) {
  v1::Interaction in = Valid();
  time::SetTimestamp(kNow + kHour, in.mutable_occurred_at());
  EXPECT_EQ(Fields(ValidateInteraction(in, kNow, false, "i")),
            std::vector<std::string>{"i.occurred_at"});
  in = Valid();
  in.mutable_next_follow_up_date()->set_year(2020);
  in.mutable_next_follow_up_date()->set_month(1);
  in.mutable_next_follow_up_date()->set_day(1);
  EXPECT_EQ(Fields(ValidateInteraction(in, kNow, false, "i")),
            std::vector<std::string>{"i.next_follow_up_date"});
}

TEST(InteractionRules, OnlyAnAdminBackFillsRecordedAt) {
  v1::Interaction in = Valid();
  time::SetTimestamp(kNow - kHour, in.mutable_recorded_at());
  EXPECT_EQ(Fields(ValidateInteraction(in, kNow, false, "i")),
            std::vector<std::string>{"i.recorded_at"});
  EXPECT_TRUE(ValidateInteraction(in, kNow, true, "i").ok());
  time::SetTimestamp(kNow - 3 * kHour, in.mutable_recorded_at());  // before occurred_at
  EXPECT_EQ(Fields(ValidateInteraction(in, kNow, true, "i")),
            std::vector<std::string>{"i.recorded_at"});
}

TEST(InteractionRules, LateMeansMoreThan24Hours) {
  EXPECT_FALSE(IsLateEntry(0, 24 * kHour));
  EXPECT_TRUE(IsLateEntry(0, 24 * kHour + 1));
}

TEST(InteractionRules, ComplaintClocksFollowThePolicyOrDefault) {
  TierPolicy a;
  a.set_response_sla_hours(4);
  a.set_resolution_sla_hours(24);
  const SlaClock with = ComplaintSla(kNow, &a);
  EXPECT_EQ(with.response_due, kNow + 4 * kHour);
  EXPECT_EQ(with.resolution_due, kNow + 24 * kHour);
  const SlaClock without = ComplaintSla(kNow, nullptr);
  EXPECT_EQ(without.response_due, kNow + 24 * kHour);
  EXPECT_EQ(without.resolution_due, kNow + 48 * kHour);
  EXPECT_FALSE(Breached(with.response_due, with.response_due));
  EXPECT_TRUE(Breached(with.response_due, with.response_due + 1));
}

TEST(InteractionRules, ComplaintNeedsSubjectAndARecentReceipt) {
  v1::Complaint c;
  c.set_customer_id("not-a-uuid");
  time::SetTimestamp(kNow - 100 * 24 * kHour, c.mutable_received_at());
  EXPECT_EQ(Fields(ValidateNewComplaint(c, kNow, "complaint")),
            (std::vector<std::string>{"complaint.customer_id", "complaint.subject",
                                      "complaint.received_at"}));
}

}  // namespace
}  // namespace tierwise::interaction
