#include "services/interaction/follow_up_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/time/micros.h"

namespace tierwise::interaction {
namespace {

using v1::Channel;
using v1::FollowUp;
using v1::FollowUpKind;

const absl::CivilDay kEpoch(1970, 1, 1);

std::string DayText(int64_t day) { return absl::FormatCivilTime(kEpoch + day); }

// The latest contact whose channel is at least as close as `wanted`.
Micros LastContactAtLeast(const ContactState& contacts, Channel wanted) {
  const int needed = ChannelStrength(wanted);
  Micros last = 0;
  for (int c = 1; c < static_cast<int>(contacts.last_by_channel.size()); ++c) {
    if (ChannelStrength(static_cast<Channel>(c)) >= needed) {
      last = std::max(last, contacts.last_by_channel[c]);
    }
  }
  return last;
}

FollowUp Base(const PlanCustomer& c, absl::string_view tier, FollowUpKind kind, Channel channel,
              int64_t due_day, Micros last) {
  FollowUp f;
  f.set_customer_id(c.customer_id);
  f.set_external_ref(c.external_ref);
  f.set_owner(c.owner);
  f.set_tier(std::string(tier));
  f.set_kind(kind);
  f.set_channel(channel);
  *f.mutable_due_date() = DateOfDay(due_day);
  if (last > 0) time::SetTimestamp(last, f.mutable_last_contact_at());
  f.set_needs_attention(c.needs_attention);
  return f;
}

}  // namespace

int64_t LocalDayOf(const time::BusinessCalendar& calendar, Micros t) {
  return calendar.DayOf(t) - kEpoch;
}

int64_t DayOf(Micros t) {
  // Floor division, so instants before 1970 land on the right day too.
  return t >= 0 ? t / kMicrosPerDay : -((-t + kMicrosPerDay - 1) / kMicrosPerDay);
}

type::v1::Date DateOfDay(int64_t day) {
  const absl::CivilDay d = kEpoch + day;
  type::v1::Date out;
  out.set_year(static_cast<int32_t>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day());
  return out;
}

int64_t DayOfDate(const type::v1::Date& date) {
  if (date.year() == 0 && date.month() == 0 && date.day() == 0) return -1;
  const absl::CivilDay d(date.year(), date.month(), date.day());
  // CivilDay normalises 2026-02-30 to 2026-03-02; such a date is invalid, not a later one.
  if (d.year() != date.year() || d.month() != date.month() || d.day() != date.day()) return -1;
  return d - kEpoch;
}

Channel ChannelFromPolicy(absl::string_view name) {
  if (name == "on_site_visit") return v1::CHANNEL_ON_SITE_VISIT;
  if (name == "customer_visit") return v1::CHANNEL_CUSTOMER_VISIT;
  if (name == "exhibition") return v1::CHANNEL_EXHIBITION;
  if (name == "phone") return v1::CHANNEL_PHONE;
  if (name == "email_im" || name == "email" || name == "im") return v1::CHANNEL_EMAIL_IM;
  if (name == "mail" || name == "sms") return v1::CHANNEL_MAIL;
  return v1::CHANNEL_OTHER;
}

int ChannelStrength(Channel channel) {
  switch (channel) {
    case v1::CHANNEL_ON_SITE_VISIT:
    case v1::CHANNEL_CUSTOMER_VISIT:
      return 4;
    case v1::CHANNEL_EXHIBITION:
      return 3;
    case v1::CHANNEL_PHONE:
      return 2;
    case v1::CHANNEL_EMAIL_IM:
      return 1;
    default:
      return 0;
  }
}

const TierPolicy* PolicyFor(const ServicePolicy& policy, absl::string_view tier) {
  const TierPolicy* fallback = nullptr;
  for (const TierPolicy& t : policy.tiers()) {
    if (t.tier() == tier) return &t;
    if (t.tier() == "C") fallback = &t;
  }
  return fallback;
}

PlannedContacts PlanContacts(const PlanCustomer& c, const TierPolicy& p, Micros now,
                             const time::BusinessCalendar& calendar) {
  auto day_of = [&](Micros t) { return LocalDayOf(calendar, t); };
  PlannedContacts out;
  // A follow-up never done is due from the day the plan started: the customer's current tier.
  const Micros plan_start = std::max(c.known_at, c.tier_since);

  // Regular contact, possibly at the potential pool's lower cadence.
  const Channel channel = ChannelFromPolicy(p.preferred_channel());
  int interval = p.visit_interval_days();
  bool pool = false;
  if (p.pool_after_days() > 0) {
    const Micros intent_base = c.contacts.last_intent > 0 ? c.contacts.last_intent : plan_start;
    if (now - intent_base > p.pool_after_days() * kMicrosPerDay) {
      pool = true;
      interval = p.pool_interval_days();
    }
  }
  if (interval > 0) {
    const Micros last = LastContactAtLeast(c.contacts, channel);
    out.push_back({.kind = v1::FOLLOW_UP_KIND_REGULAR,
                   .channel = channel,
                   .due_day = last > 0 ? day_of(last) + interval : day_of(plan_start),
                   .last = last,
                   .interval = interval,
                   .pool = pool});
  }
  if (p.executive_interval_days() > 0) {
    const Micros last = c.contacts.last_executive;
    out.push_back(
        {.kind = v1::FOLLOW_UP_KIND_EXECUTIVE,
         .channel = v1::CHANNEL_ON_SITE_VISIT,
         .due_day = last > 0 ? day_of(last) + p.executive_interval_days() : day_of(plan_start),
         .last = last,
         .interval = p.executive_interval_days()});
  }
  if (c.contacts.next_follow_up_day >= 0) {
    Micros last = 0;
    for (Micros t : c.contacts.last_by_channel) last = std::max(last, t);
    out.push_back({.kind = v1::FOLLOW_UP_KIND_AGREED,
                   .channel = channel,
                   .due_day = c.contacts.next_follow_up_day,
                   .last = last});
  }
  return out;
}

FollowUp DescribeFollowUp(const PlanCustomer& c, const TierPolicy& p, const PlannedContact& planned,
                          const time::BusinessCalendar& calendar) {
  const std::string tier = c.tier.empty() ? p.tier() : c.tier;
  FollowUp f = Base(c, tier, planned.kind, planned.channel, planned.due_day, planned.last);
  const std::string last =
      planned.last > 0 ? absl::StrCat("; last ", DayText(LocalDayOf(calendar, planned.last)))
                       : "; no contact yet";
  switch (planned.kind) {
    case v1::FOLLOW_UP_KIND_REGULAR:
      f.set_potential_pool(planned.pool);
      f.set_reason(absl::StrCat(tier, ": ", p.preferred_channel(), " every ", planned.interval,
                                " days",
                                planned.pool ? " (potential pool: no purchase intent)" : "", last));
      break;
    case v1::FOLLOW_UP_KIND_EXECUTIVE:
      f.set_reason(
          absl::StrCat(tier, ": executive contact every ", planned.interval, " days", last));
      break;
    default:
      f.set_reason("next follow-up date agreed at the last contact");
  }
  return f;
}

std::vector<FollowUp> PlanFollowUps(const PlanCustomer& c, const ServicePolicy& policy, Micros now,
                                    const time::BusinessCalendar& calendar) {
  std::vector<FollowUp> out;
  const TierPolicy* p = PolicyFor(policy, c.tier);
  if (p == nullptr) return out;
  for (const PlannedContact& planned : PlanContacts(c, *p, now, calendar)) {
    out.push_back(DescribeFollowUp(c, *p, planned, calendar));
  }
  return out;
}

StoredPlan PlanToStore(const PlanCustomer& c, const TierPolicy& p,
                       const time::BusinessCalendar& calendar) {
  StoredPlan out;
  auto add = [&](const PlannedContact& planned, Micros from, Micros until) {
    FollowUp described = DescribeFollowUp(c, p, planned, calendar);
    out.push_back({.planned = planned,
                   .valid_from = from,
                   .valid_until = until,
                   .tier = described.tier(),
                   .reason = described.reason()});
  };
  // PlanContacts puts the customer in the pool exactly when now > pool_at (see there).
  Micros pool_at = kValidForever;
  if (p.pool_after_days() > 0) {
    const Micros intent_base =
        c.contacts.last_intent > 0 ? c.contacts.last_intent : std::max(c.known_at, c.tier_since);
    pool_at = intent_base + p.pool_after_days() * kMicrosPerDay;
  }
  const bool pools = pool_at < kValidForever - 1;
  // Before the pool (or forever): every kind as planned at pool_at (not yet pooled).
  const Micros before = pools ? pool_at : 0;
  for (const PlannedContact& planned : PlanContacts(c, p, before, calendar)) {
    const bool regular = planned.kind == v1::FOLLOW_UP_KIND_REGULAR;
    add(planned, 0, regular && pools ? pool_at + 1 : kValidForever);
  }
  if (pools) {
    for (const PlannedContact& planned : PlanContacts(c, p, pool_at + 1, calendar)) {
      if (planned.kind == v1::FOLLOW_UP_KIND_REGULAR) add(planned, pool_at + 1, kValidForever);
    }
  }
  return out;
}

}  // namespace tierwise::interaction
