#include "common/time/business_calendar.h"

#include "absl/strings/str_cat.h"

namespace tierwise::time {

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

absl::StatusOr<BusinessCalendar> BusinessCalendar::Load(const std::string& iana_name) {
  absl::TimeZone zone;
  if (iana_name.empty() || !absl::LoadTimeZone(iana_name, &zone)) {
    return absl::InvalidArgumentError(
        absl::StrCat("business_time_zone: unknown IANA time zone \"", iana_name,
                     "\" (e.g. Asia/Shanghai; is tzdata installed?)"));
  }
  return BusinessCalendar(iana_name, zone);
}

BusinessCalendar BusinessCalendar::Utc() { return BusinessCalendar("UTC", absl::UTCTimeZone()); }

absl::CivilDay BusinessCalendar::DayOf(int64_t micros) const {
  return absl::ToCivilDay(FromMicros(micros), zone_);
}

absl::CivilMonth BusinessCalendar::MonthOf(int64_t micros) const {
  return absl::ToCivilMonth(FromMicros(micros), zone_);
}

int64_t BusinessCalendar::StartOf(absl::CivilDay day) const {
  // At a skipped midnight, `trans` is the transition instant: the first one of the day.
  const absl::TimeZone::TimeInfo info = zone_.At(absl::CivilSecond(day));
  return ToMicros(info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre);
}

int64_t BusinessCalendar::StartOf(absl::CivilMonth month) const {
  return StartOf(absl::CivilDay(month));
}

int64_t BusinessCalendar::StartOfNextDay(int64_t micros) const {
  return StartOf(DayOf(micros) + 1);
}

int64_t BusinessCalendar::DaysBetween(int64_t from, int64_t to) const {
  return DayOf(to) - DayOf(from);
}

int64_t BusinessCalendar::AddDays(int64_t micros, int days) const {
  const absl::Time t = FromMicros(micros);
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone_);
  const absl::Duration sub_second = t - absl::FromCivil(local, zone_);
  const absl::CivilDay day = absl::CivilDay(local) + days;
  const absl::CivilSecond moved(day.year(), day.month(), day.day(), local.hour(), local.minute(),
                                local.second());
  return ToMicros(absl::FromCivil(moved, zone_) + sub_second);
}

}  // namespace tierwise::time
