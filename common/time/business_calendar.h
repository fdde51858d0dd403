#ifndef TIERWISE_COMMON_TIME_BUSINESS_CALENDAR_H_
#define TIERWISE_COMMON_TIME_BUSINESS_CALENDAR_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

// The company's calendar. Instants are int64 microseconds since the Unix epoch everywhere
// below the gRPC layer; whenever a rule speaks of days or months (overdue from the day after
// the due date, a month-end statement, "30 days since the last contact", a CSV date without a
// time), it means days and months in one configured IANA time zone, the business time zone
// (setting `business_time_zone`, e.g. Asia/Shanghai). Cheap to copy; thread-safe.
//
//   auto calendar = BusinessCalendar::Load("Asia/Shanghai");
//   int overdue = calendar->DaysBetween(item.due_date, now);  // local today - local due day
namespace tierwise::time {

class BusinessCalendar {
 public:
  // INVALID_ARGUMENT naming the zone when it is not a known IANA name.
  static absl::StatusOr<BusinessCalendar> Load(const std::string& iana_name);
  static BusinessCalendar Utc();

  const std::string& name() const { return name_; }
  const absl::TimeZone& zone() const { return zone_; }

  // The local calendar day / month of an instant.
  absl::CivilDay DayOf(int64_t micros) const;
  absl::CivilMonth MonthOf(int64_t micros) const;

  // The first instant of a local day / month (local 00:00; with a DST gap at midnight, the
  // first instant that exists on that day).
  int64_t StartOf(absl::CivilDay day) const;
  int64_t StartOf(absl::CivilMonth month) const;
  // The first instant of the local day after the one `micros` falls on.
  int64_t StartOfNextDay(int64_t micros) const;

  // Local calendar days from the day of `from` to the day of `to` (negative when `to` is on an
  // earlier day): 23:59 and 00:01 of consecutive local days are one day apart.
  int64_t DaysBetween(int64_t from, int64_t to) const;

  // An instant `days` local days after `micros`, at the same local wall time (so 00:00 stays
  // 00:00 across a DST change).
  int64_t AddDays(int64_t micros, int days) const;

 private:
  BusinessCalendar(std::string name, absl::TimeZone zone)
      : name_(std::move(name)), zone_(std::move(zone)) {}

  std::string name_;
  absl::TimeZone zone_;
};

int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

}  // namespace tierwise::time

#endif  // TIERWISE_COMMON_TIME_BUSINESS_CALENDAR_H_
