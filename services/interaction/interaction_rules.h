#ifndef TIERWISE_SERVICES_INTERACTION_INTERACTION_RULES_H_
#define TIERWISE_SERVICES_INTERACTION_INTERACTION_RULES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "services/interaction/follow_up_plan.h"
#include "tierwise/interaction/v1/interaction.pb.h"

// The rules of the interaction log that need no storage: what a valid record and a valid
// complaint look like, when an entry is late (seed 002, step five: within 24 h), and the
// complaint SLA clocks (respond within 24 h, solve within 48 h by default; per tier from the
// service policy).
namespace tierwise::interaction {

inline constexpr Micros kLateAfter = 24LL * 3600 * 1'000'000;

// Checks a record to be logged or to replace a version. `now` bounds occurred_at (a few
// minutes of clock skew allowed); `may_set_recorded_at` is the admin back-fill of historical
// records. Field paths are prefixed with `field` ("interaction"). next_follow_up_date is a
// local day of `calendar`: from the contact's local day to two years after it.
absl::Status ValidateInteraction(
    const v1::Interaction& in, Micros now, bool may_set_recorded_at, absl::string_view field,
    const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// Entered more than 24 hours after the contact. Elapsed time, not calendar days (seed 002 asks
// for entry "within 24 h"): a contact at 23:00 entered at 22:59 the next local day is on time,
// one entered at 23:01 is late, in every business time zone.
bool IsLateEntry(Micros occurred_at, Micros recorded_at);

absl::Status ValidateNewComplaint(const v1::Complaint& in, Micros now, absl::string_view field);

// SLA clocks run from when the customer complained. Defaults 24 h / 48 h without a policy.
struct SlaClock {
  Micros response_due = 0;
  Micros resolution_due = 0;
};
SlaClock ComplaintSla(Micros received_at, const TierPolicy* policy);

// A deadline is met at exactly its due time and broken one microsecond after.
inline bool Breached(Micros due, Micros at) { return at > due; }

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_INTERACTION_RULES_H_
