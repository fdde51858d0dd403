#ifndef TIERWISE_SERVICES_INTERACTION_FOLLOW_UP_PLAN_H_
#define TIERWISE_SERVICES_INTERACTION_FOLLOW_UP_PLAN_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "common/time/business_calendar.h"
#include "tierwise/classification/v1/classification.pb.h"
#include "tierwise/interaction/v1/interaction.pb.h"

// Follow-up plans (seed 002, step four): which contacts a customer's tier policy asks for and
// when each is next due, from the customer's contact history. Pure functions, no I/O: the
// caller supplies the clock, the policy and the contact state.
//
// Per customer there are up to three follow-ups:
//   REGULAR   every visit_interval_days, on the policy's channel. A contact counts when its
//             channel is at least as close as the one asked for (a visit satisfies a call,
//             a call satisfies a mail). C customers without purchase intent for
//             pool_after_days are in the potential pool and contacted every pool_interval_days.
//   EXECUTIVE every executive_interval_days, when the policy has one (A: quarterly).
//   AGREED    the next follow-up date written on the latest interaction, if any.
// A follow-up never done is due from the day the customer got its current tier (or became
// known), so a tier change shows up at once as a due contact on the new plan.
//
// Days are local days of the business calendar (setting business_time_zone): a contact at
// 00:30 Shanghai time on 11-02 counts on 11-02, and a follow-up due on day D is due from local
// 00:00 of D and overdue from local 00:00 of D+1. Day numbers (int64) count local days from
// 1970-01-01. Every function taking no calendar works in UTC.
namespace tierwise::interaction {

using Micros = int64_t;
using classification::v1::ServicePolicy;
using classification::v1::TierPolicy;

inline constexpr Micros kMicrosPerDay = 86'400'000'000LL;

// Days since 1970-01-01, UTC.
int64_t DayOf(Micros t);
// The local day (days since 1970-01-01) of an instant in the business calendar.
int64_t LocalDayOf(const time::BusinessCalendar& calendar, Micros t);
interaction::v1::Channel ChannelFromPolicy(absl::string_view name);
// How close a contact is: in person 4, exhibition 3, phone 2, e-mail/IM 1, mail and other 0.
int ChannelStrength(interaction::v1::Channel channel);
type::v1::Date DateOfDay(int64_t day);
// -1 for an unset or invalid date.
int64_t DayOfDate(const type::v1::Date& date);

// What the store knows about one customer's contacts. Times are 0 when there is none.
struct ContactState {
  std::array<Micros, 8> last_by_channel{};  // indexed by interaction::v1::Channel
  Micros last_executive = 0;
  Micros last_intent = 0;
  int64_t next_follow_up_day = -1;
};

struct PlanCustomer {
  std::string customer_id;
  std::string external_ref;
  std::string owner;
  std::string tier;       // "" when no tier is known yet: planned as C
  Micros tier_since = 0;  // when the customer got that tier
  Micros known_at = 0;    // when the customer became known
  bool needs_attention = false;
  ContactState contacts;
};

// The policy of `tier`; C's when the tier has none (or is unknown); nullptr if neither exists.
const TierPolicy* PolicyFor(const ServicePolicy& policy, absl::string_view tier);

// One follow-up as a due day, before it is described: what list calls sort and filter, so that
// only the page they return is turned into messages.
struct PlannedContact {
  interaction::v1::FollowUpKind kind = interaction::v1::FOLLOW_UP_KIND_UNSPECIFIED;
  interaction::v1::Channel channel = interaction::v1::CHANNEL_UNSPECIFIED;
  int64_t due_day = 0;
  Micros last = 0;   // the last contact that counts, 0 = none
  int interval = 0;  // days, for REGULAR and EXECUTIVE
  bool pool = false;
};
using PlannedContacts = absl::InlinedVector<PlannedContact, 3>;

PlannedContacts PlanContacts(
    const PlanCustomer& customer, const TierPolicy& policy, Micros now,
    const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());
interaction::v1::FollowUp DescribeFollowUp(
    const PlanCustomer& customer, const TierPolicy& policy, const PlannedContact& planned,
    const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// Every follow-up the customer has under the policy, as of `now` (PlanContacts, described).
std::vector<interaction::v1::FollowUp> PlanFollowUps(
    const PlanCustomer& customer, const ServicePolicy& policy, Micros now,
    const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// The plan as stored state: PlanContacts for every `now` at once. Only the regular contact
// depends on the clock (a C customer without intent drops into the potential pool once
// pool_after_days have passed), so it comes as up to two rows, each valid for a range of
// instants: for every now, the rows with valid_from <= now < valid_until are exactly
// PlanContacts(customer, policy, now). Stored rows therefore change only when the customer's
// contacts, tier, owner or the policy change, never with the clock.
inline constexpr Micros kValidForever = INT64_MAX;
struct StoredContact {
  PlannedContact planned;
  Micros valid_from = 0;
  Micros valid_until = kValidForever;
  std::string tier;    // as described: the policy's tier when the customer has none yet
  std::string reason;  // DescribeFollowUp's text
};
using StoredPlan = absl::InlinedVector<StoredContact, 4>;
StoredPlan PlanToStore(const PlanCustomer& customer, const TierPolicy& policy,
                       const time::BusinessCalendar& calendar);

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_FOLLOW_UP_PLAN_H_
