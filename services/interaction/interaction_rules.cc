#include "services/interaction/interaction_rules.h"

#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/status/status.h"
#include "common/time/micros.h"

namespace tierwise::interaction {
namespace {

constexpr Micros kSkew = 5LL * 60 * 1'000'000;       // occurred_at may be this far in the future
constexpr Micros kEarliest = 946'684'800'000'000LL;  // 2000-01-01: older records are typos
constexpr Micros kMaxComplaintAge = 90 * kMicrosPerDay;

size_t Chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

void CheckLength(status::ViolationList& v, const std::string& field, const std::string& value,
                 size_t max) {
  if (Chars(value) > max) v.Add(field, absl::StrCat("must be at most ", max, " characters"));
}

}  // namespace

absl::Status ValidateInteraction(const v1::Interaction& in, Micros now, bool may_set_recorded_at,
                                 absl::string_view field_prefix,
                                 const time::BusinessCalendar& calendar) {
  status::ViolationList v;
  auto f = [&](absl::string_view name) { return absl::StrCat(field_prefix, ".", name); };
  if (in.customer_id().empty()) {
    v.Add(f("customer_id"), "is required");
  } else if (!ids::IsUuid(in.customer_id())) {
    v.Add(f("customer_id"), "must be a UUID");
  }
  Micros occurred = 0;
  if (!in.has_occurred_at()) {
    v.Add(f("occurred_at"), "is required");
  } else {
    occurred = time::ToMicros(in.occurred_at());
    if (occurred > now + kSkew) v.Add(f("occurred_at"), "must not be in the future");
    if (occurred < kEarliest) v.Add(f("occurred_at"), "must be after 2000-01-01");
  }
  if (in.channel() == v1::CHANNEL_UNSPECIFIED) {
    v.Add(f("channel"), "is required");
  } else if (!v1::Channel_IsValid(in.channel())) {
    v.Add(f("channel"), "is not a known channel");
  }
  if (in.summary().find_first_not_of(" \t\r\n") == std::string::npos) {
    v.Add(f("summary"), "is required");
  }
  CheckLength(v, f("summary"), in.summary(), 4000);
  CheckLength(v, f("special_items"), in.special_items(), 2000);
  CheckLength(v, f("conclusion"), in.conclusion(), 2000);
  CheckLength(v, f("contact_name"), in.contact_name(), 100);
  CheckLength(v, f("owner"), in.owner(), 64);
  if (in.satisfaction() < 0 || in.satisfaction() > 5) {
    v.Add(f("satisfaction"), "must be 1..5, or 0 when not asked");
  }
  if (!v1::DecisionRole_IsValid(in.contact_role())) {
    v.Add(f("contact_role"), "is not a known decision role");
  }
  if (in.has_next_follow_up_date()) {
    const int64_t day = DayOfDate(in.next_follow_up_date());
    if (day < 0) {
      v.Add(f("next_follow_up_date"), "is not a valid date");
    } else if (occurred > 0 && (day < LocalDayOf(calendar, occurred) ||
                                day > LocalDayOf(calendar, occurred) + 731)) {
      v.Add(f("next_follow_up_date"), "must be on or after the contact, within two years");
    }
  }
  if (in.has_recorded_at()) {
    const Micros recorded = time::ToMicros(in.recorded_at());
    if (!may_set_recorded_at) {
      v.Add(f("recorded_at"), "is set by the server (only an admin may back-fill it)");
    } else if (recorded > now || (occurred > 0 && recorded < occurred)) {
      v.Add(f("recorded_at"), "must be between occurred_at and now");
    }
  }
  return v.ToStatus();
}

bool IsLateEntry(Micros occurred_at, Micros recorded_at) {
  return recorded_at - occurred_at > kLateAfter;
}

absl::Status ValidateNewComplaint(const v1::Complaint& in, Micros now,
                                  absl::string_view field_prefix) {
  status::ViolationList v;
  auto f = [&](absl::string_view name) { return absl::StrCat(field_prefix, ".", name); };
  if (in.customer_id().empty()) {
    v.Add(f("customer_id"), "is required");
  } else if (!ids::IsUuid(in.customer_id())) {
    v.Add(f("customer_id"), "must be a UUID");
  }
  if (in.subject().find_first_not_of(" \t\r\n") == std::string::npos) {
    v.Add(f("subject"), "is required");
  }
  CheckLength(v, f("subject"), in.subject(), 200);
  CheckLength(v, f("description"), in.description(), 4000);
  if (in.has_received_at()) {
    const Micros received = time::ToMicros(in.received_at());
    if (received > now + kSkew) v.Add(f("received_at"), "must not be in the future");
    if (received < now - kMaxComplaintAge) {
      v.Add(f("received_at"), "must be within the last 90 days");
    }
  }
  return v.ToStatus();
}

SlaClock ComplaintSla(Micros received_at, const TierPolicy* policy) {
  const int64_t response_h =
      policy != nullptr && policy->response_sla_hours() > 0 ? policy->response_sla_hours() : 24;
  const int64_t resolution_h =
      policy != nullptr && policy->resolution_sla_hours() > 0 ? policy->resolution_sla_hours() : 48;
  constexpr Micros kHour = 3600LL * 1'000'000;
  return {.response_due = received_at + response_h * kHour,
          .resolution_due = received_at + resolution_h * kHour};
}

}  // namespace tierwise::interaction
