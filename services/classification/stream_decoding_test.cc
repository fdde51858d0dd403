#include "services/classification/stream_decoding.h"

#include <gtest/gtest.h>

#include "common/time/micros.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification {
namespace {

constexpr char kCustomer[] = "0000abcd-0000-4000-8000-000000000001";
constexpr Micros kAt = 1795392000LL * 1000000;  // 2026-11-22T00:00:00Z

redis::StreamEntry EntryOf(const google::protobuf::Message& event) {
  return {"1-0", {{"type", event.GetTypeName()}, {"payload", event.SerializeAsString()}}};
}

TEST(StreamDecodingTest, LedgerEventsKeepTheirFiguresAndRefuseWhatIsNotOne) {
  events::v1::LedgerEvent e;
  e.set_event_id("ev-1");
  e.set_customer_id(kCustomer);
  e.set_kind(events::v1::LEDGER_EVENT_KIND_CANCELLATION);
  e.set_document_no("O-7");
  e.mutable_amount()->set_minor_units(2500);
  time::SetTimestamp(kAt, e.mutable_occurred_at());
  e.set_on_time_payment_ratio(0.8996);
  e.set_credit_rating("A");
  absl::StatusOr<LedgerInput> in = DecodeLedgerEntry(EntryOf(e));
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->customer_id, kCustomer);
  EXPECT_EQ(in->entry.kind, LedgerEntry::Kind::kCancellation);
  EXPECT_EQ(in->entry.document_no, "O-7");
  EXPECT_EQ(in->entry.amount, 2500);
  EXPECT_EQ(in->entry.occurred_at, kAt);
  EXPECT_EQ(in->on_time_permille, 900);  // rounded half up
  EXPECT_EQ(in->rating, "A");

  e.set_on_time_payment_ratio(-1);  // not known
  e.clear_credit_rating();
  in = DecodeLedgerEntry(EntryOf(e));
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_FALSE(in->on_time_permille.has_value());
  EXPECT_FALSE(in->rating.has_value());

  e.set_customer_id("not-a-uuid");
  EXPECT_EQ(DecodeLedgerEntry(EntryOf(e)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      DecodeLedgerEntry(
          {"1-0", {{"type", "tierwise.events.v1.LedgerEvent"}, {"payload", "\xff\xff garbage"}}})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(StreamDecodingTest, InteractionAndComplaintEvents) {
  events::v1::InteractionLogged logged;
  logged.set_interaction_id("i-2");
  logged.set_customer_id(kCustomer);
  logged.set_corrects("i-1");
  logged.set_satisfaction(4);
  time::SetTimestamp(kAt, logged.mutable_occurred_at());
  auto decoded = DecodeInteractionEntry(EntryOf(logged));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_value());
  const auto& in = std::get<InteractionInput>(**decoded);
  EXPECT_EQ(in.fact.interaction_id, "i-2");
  EXPECT_EQ(in.fact.satisfaction, 4);
  EXPECT_EQ(in.corrects, "i-1");
  EXPECT_EQ(in.trigger, "i-2");  // no event id: the interaction's

  logged.set_corrects("i-2");  // correcting itself
  EXPECT_EQ(DecodeInteractionEntry(EntryOf(logged)).status().code(),
            absl::StatusCode::kInvalidArgument);
  logged.set_corrects("");
  logged.set_satisfaction(6);
  EXPECT_EQ(DecodeInteractionEntry(EntryOf(logged)).status().code(),
            absl::StatusCode::kInvalidArgument);

  events::v1::ComplaintChanged complaint;
  complaint.set_complaint_id("c-1");
  complaint.set_customer_id(kCustomer);
  complaint.set_version(3);
  complaint.set_open(true);
  time::SetTimestamp(kAt, complaint.mutable_changed_at());
  decoded = DecodeInteractionEntry(EntryOf(complaint));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const auto& c = std::get<ComplaintInput>(**decoded);
  EXPECT_EQ(c.fact.opened_at, kAt);  // no opened_at: the change time
  EXPECT_EQ(c.trigger, "c-1/3");
  complaint.clear_changed_at();
  EXPECT_EQ(DecodeInteractionEntry(EntryOf(complaint)).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Other events on the stream are not metrics; an entry without a type is malformed.
  events::v1::CustomerChanged other;
  decoded = DecodeInteractionEntry(EntryOf(other));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->has_value());
  EXPECT_FALSE(DecodeInteractionEntry({"1-0", {{"payload", "x"}}}).ok());
}

TEST(StreamDecodingTest, TheRelationshipStartsAtTheEarlierOfCreationAndFirstTransaction) {
  auto shanghai = time::BusinessCalendar::Load("Asia/Shanghai");
  ASSERT_TRUE(shanghai.ok()) << shanghai.status();
  events::v1::CustomerChanged e;
  e.set_event_id("cc-1");
  e.set_customer_id(kCustomer);
  e.set_owner("rep-1");
  e.set_version(2);
  e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_UPDATED);
  time::SetTimestamp(kAt, e.mutable_create_time());
  e.mutable_first_transaction_date()->set_year(2026);
  e.mutable_first_transaction_date()->set_month(3);
  e.mutable_first_transaction_date()->set_day(1);
  absl::StatusOr<CustomerInput> in = DecodeCustomerChanged(EntryOf(e), *shanghai);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->since, shanghai->StartOf(absl::CivilDay(2026, 3, 1)));  // 2026-02-28T16:00Z
  EXPECT_EQ(in->owner, "rep-1");
  EXPECT_FALSE(in->removed);
  e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_ERASED);
  in = DecodeCustomerChanged(EntryOf(e), *shanghai);
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in->removed);
  e.set_customer_id("");
  EXPECT_FALSE(DecodeCustomerChanged(EntryOf(e), *shanghai).ok());
}

}  // namespace
}  // namespace tierwise::classification
