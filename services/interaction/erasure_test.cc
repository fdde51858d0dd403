// Erasure of a customer's records: which fields go, which facts stay, and that a second pass
// changes nothing.
#include "services/interaction/erasure.h"

#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"

namespace tierwise::interaction {
namespace {

v1::Interaction Record() {
  v1::Interaction r;
  r.set_id("11111111-1111-1111-1111-111111111111");
  r.set_root_id("00000000-0000-0000-0000-000000000001");
  r.set_customer_id("22222222-2222-2222-2222-222222222222");
  r.mutable_occurred_at()->set_seconds(1790000000);
  r.mutable_recorded_at()->set_seconds(1790000100);
  r.set_channel(v1::CHANNEL_ON_SITE_VISIT);
  r.set_summary("王经理说三月要扩产");
  r.set_satisfaction(4);
  r.set_late_entry(true);
  r.set_contact_name("王小明");
  r.set_contact_role(v1::DECISION_ROLE_DECISION_MAKER);
  r.set_owner("rep.zhang");
  r.set_special_items("手机 13800000000");
  r.set_conclusion("");
  r.mutable_next_follow_up_date()->set_year(2026);
  r.mutable_next_follow_up_date()->set_month(12);
  r.mutable_next_follow_up_date()->set_day(1);
  r.set_purchase_intent(true);
  r.set_tier("A");
  r.set_tier_source(v1::TIER_SOURCE_CLASSIFICATION);
  r.set_corrects("00000000-0000-0000-0000-000000000001");
  r.set_version(2);
  r.set_recorded_by("rep.zhang");
  r.set_correction_reason("王小明 asked to fix the date");
  return r;
}

TEST(ScrubInteractionTest, ReplacesTextAndKeepsFacts) {
  v1::Interaction r = Record();
  // A field from a newer schema (tag 99, length-delimited "secret") is dropped too.
  r.GetReflection()->MutableUnknownFields(&r)->AddLengthDelimited(99, "secret");
  ASSERT_TRUE(ScrubInteraction(r));
  v1::Interaction expected = Record();
  expected.set_summary(kErasedText);
  expected.set_contact_name(kErasedText);
  expected.set_special_items(kErasedText);
  expected.set_correction_reason(kErasedText);  // conclusion was empty and stays so
  EXPECT_EQ(r.SerializeAsString(), expected.SerializeAsString()) << r.DebugString();
  EXPECT_FALSE(ScrubInteraction(r)) << "a second pass changes nothing";
}

TEST(ScrubComplaintTest, ReplacesTextAndKeepsFacts) {
  v1::Complaint c;
  c.set_id("c1");
  c.set_customer_id("22222222-2222-2222-2222-222222222222");
  c.set_owner("rep.zhang");
  c.set_tier("B");
  c.set_status(v1::COMPLAINT_STATUS_RESOLVED);
  c.set_subject("王小明: 货物破损");
  c.set_description("地址 宁波市...");
  c.mutable_opened_at()->set_seconds(1790000000);
  c.mutable_resolved_at()->set_seconds(1790100000);
  c.set_response("已联系王小明");
  c.set_resolution("补发");
  c.set_opened_by("manager.li");
  c.set_version(3);
  v1::Complaint expected = c;
  expected.set_subject(kErasedText);
  expected.set_description(kErasedText);
  expected.set_response(kErasedText);
  expected.set_resolution(kErasedText);
  ASSERT_TRUE(ScrubComplaint(c));
  EXPECT_EQ(c.SerializeAsString(), expected.SerializeAsString()) << c.DebugString();
  EXPECT_FALSE(ScrubComplaint(c));
}

TEST(ChangedWritableFieldsTest, NamesFieldsNotValues) {
  v1::Interaction a = Record();
  v1::Interaction b = a;
  EXPECT_EQ(ChangedWritableFields(a, b), "");
  b.set_summary("other");
  b.set_satisfaction(2);
  b.mutable_next_follow_up_date()->set_day(2);
  b.set_correction_reason("not a writable field");
  EXPECT_EQ(ChangedWritableFields(a, b), "summary, satisfaction, next_follow_up_date");
}

}  // namespace
}  // namespace tierwise::interaction
