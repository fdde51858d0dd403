#ifndef TIERWISE_SERVICES_CLASSIFICATION_STREAM_DECODING_H_
#define TIERWISE_SERVICES_CLASSIFICATION_STREAM_DECODING_H_

#include <optional>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "common/redis/stream_consumer.h"
#include "common/time/business_calendar.h"
#include "services/classification/customer_metrics.h"

// The stream entries classification consumes, parsed and checked, before anything is stored: a
// malformed entry is INVALID_ARGUMENT (the consumer dead-letters it). Pure.
namespace tierwise::classification {

// `<prefix>:ledger` (credit's LedgerEvent).
struct LedgerInput {
  std::string event_id;
  std::string customer_id;
  LedgerEntry entry;
  std::optional<int> on_time_permille;  // the on-time payment ratio ×1000, when given
  std::optional<std::string> rating;    // the credit rating, when given
};
absl::StatusOr<LedgerInput> DecodeLedgerEntry(const redis::StreamEntry& entry);

// `<prefix>:interaction.events`: InteractionLogged (a version, maybe correcting another)...
struct InteractionInput {
  std::string customer_id;
  InteractionFact fact;
  std::string corrects;  // the interaction version it replaces, "" for none
  std::string trigger;   // the event id (the interaction id when the event has none)
};
// ... and ComplaintChanged (the complaint as of `version`).
struct ComplaintInput {
  std::string customer_id;
  ComplaintFact fact;
  int64_t version = 0;
  Micros changed_at = 0;
  std::string trigger;  // the event id ("<complaint>/<version>" when the event has none)
};
// nullopt: another kind of interaction event (not a metric).
absl::StatusOr<std::optional<std::variant<InteractionInput, ComplaintInput>>>
DecodeInteractionEntry(const redis::StreamEntry& entry);

// `<prefix>:customer.changed` (profile's CustomerChanged).
struct CustomerInput {
  std::string event_id;
  std::string customer_id;
  std::string external_ref;
  std::string owner;
  // Relationship start as the profile knows it: the earlier of the archive's creation and
  // local 00:00 of the first transaction date in `calendar` (0: neither).
  Micros since = 0;
  bool removed = false;  // deleted or erased
  int64_t version = 0;
};
absl::StatusOr<CustomerInput> DecodeCustomerChanged(const redis::StreamEntry& entry,
                                                    const time::BusinessCalendar& calendar);

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_STREAM_DECODING_H_
