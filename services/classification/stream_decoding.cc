#include "services/classification/stream_decoding.h"

#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/time/micros.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification {

absl::StatusOr<LedgerInput> DecodeLedgerEntry(const redis::StreamEntry& entry) {
  events::v1::LedgerEvent event;
  if (entry.Field("type") != events::v1::LedgerEvent::descriptor()->full_name() ||
      !event.ParseFromString(entry.Field("payload")) || !ids::IsUuid(event.customer_id()) ||
      event.event_id().empty()) {
    return absl::InvalidArgumentError("not a LedgerEvent");
  }
  LedgerInput in;
  in.event_id = event.event_id();
  in.customer_id = event.customer_id();
  LedgerEntry& le = in.entry;
  le.event_id = event.event_id();
  le.kind = static_cast<LedgerEntry::Kind>(event.kind());
  le.document_no = event.document_no();
  le.amount = event.amount().minor_units();
  le.margin = event.margin().minor_units();
  le.occurred_at = time::ToMicros(event.occurred_at());
  if (event.on_time_payment_ratio() >= 0) {
    in.on_time_permille = static_cast<int>(event.on_time_payment_ratio() * 1000 + 0.5);
  }
  if (!event.credit_rating().empty()) in.rating = event.credit_rating();
  return in;
}

absl::StatusOr<std::optional<std::variant<InteractionInput, ComplaintInput>>>
DecodeInteractionEntry(const redis::StreamEntry& entry) {
  const std::string type = entry.Field("type");
  if (type == events::v1::InteractionLogged::descriptor()->full_name()) {
    events::v1::InteractionLogged event;
    if (!event.ParseFromString(entry.Field("payload")) || event.interaction_id().empty() ||
        !ids::IsUuid(event.customer_id()) || time::ToMicros(event.occurred_at()) == 0 ||
        event.satisfaction() < 0 || event.satisfaction() > 5 ||
        event.corrects() == event.interaction_id()) {
      return absl::InvalidArgumentError("not a valid InteractionLogged event");
    }
    InteractionInput in;
    in.customer_id = event.customer_id();
    in.fact = {event.interaction_id(), time::ToMicros(event.occurred_at()), event.satisfaction(),
               false};
    in.corrects = event.corrects();
    in.trigger = event.event_id().empty() ? event.interaction_id() : event.event_id();
    return in;
  }
  if (type == events::v1::ComplaintChanged::descriptor()->full_name()) {
    events::v1::ComplaintChanged event;
    if (!event.ParseFromString(entry.Field("payload")) || event.complaint_id().empty() ||
        !ids::IsUuid(event.customer_id()) || event.version() <= 0) {
      return absl::InvalidArgumentError("not a valid ComplaintChanged event");
    }
    ComplaintInput in;
    in.changed_at = time::ToMicros(event.changed_at());
    const Micros opened_at = event.has_opened_at() ? time::ToMicros(event.opened_at()) : 0;
    if (opened_at == 0 && in.changed_at == 0) {
      return absl::InvalidArgumentError("a ComplaintChanged event without opened_at");
    }
    in.customer_id = event.customer_id();
    in.fact = {event.complaint_id(), opened_at != 0 ? opened_at : in.changed_at, event.open(),
               event.response_breached(), event.resolution_breached()};
    in.version = event.version();
    in.trigger = event.event_id().empty() ? absl::StrCat(event.complaint_id(), "/", event.version())
                                          : event.event_id();
    return in;
  }
  if (type.empty()) return absl::InvalidArgumentError("a stream entry without a type");
  return std::nullopt;
}

absl::StatusOr<CustomerInput> DecodeCustomerChanged(const redis::StreamEntry& entry,
                                                    const time::BusinessCalendar& calendar) {
  events::v1::CustomerChanged event;
  if (entry.Field("type") != events::v1::CustomerChanged::descriptor()->full_name() ||
      !event.ParseFromString(entry.Field("payload")) || !ids::IsUuid(event.customer_id())) {
    return absl::InvalidArgumentError("not a CustomerChanged event");
  }
  CustomerInput in;
  in.event_id = event.event_id();
  in.customer_id = event.customer_id();
  in.external_ref = event.external_ref();
  in.owner = event.owner();
  in.version = event.version();
  // The relationship starts at the earliest of the archive's creation and the first
  // transaction date (local 00:00 of that business day); the first order in the ledger joins
  // them when the facts are read, so an imported history counts from day one.
  in.since = time::ToMicros(event.create_time());
  if (event.has_first_transaction_date() && event.first_transaction_date().year() > 0) {
    const absl::CivilDay day(event.first_transaction_date().year(),
                             event.first_transaction_date().month(),
                             event.first_transaction_date().day());
    const Micros first = calendar.StartOf(day);
    if (in.since <= 0 || first < in.since) in.since = first;
  }
  in.removed = event.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_DELETED ||
               event.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_ERASED;
  return in;
}

}  // namespace tierwise::classification
