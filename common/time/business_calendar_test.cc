#include "common/time/business_calendar.h"

#include <gtest/gtest.h>

namespace tierwise::time {
namespace {

int64_t At(const BusinessCalendar& c, int y, int mo, int d, int h, int mi, int s = 0) {
  return ToMicros(absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), c.zone()));
}

TEST(BusinessCalendarTest, UnknownZoneIsRefusedNamingTheSetting) {
  auto c = BusinessCalendar::Load("Mars/Olympus_Mons");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("business_time_zone"), std::string::npos);
  EXPECT_FALSE(BusinessCalendar::Load("").ok());
}

TEST(BusinessCalendarTest, DaysAreLocalDays) {
  const BusinessCalendar sh = *BusinessCalendar::Load("Asia/Shanghai");
  // 23:59 and 00:00 Shanghai time on consecutive days are one day apart although only a minute
  // passes; in UTC both are on the same day (15:59 and 16:00).
  const int64_t before = At(sh, 2026, 3, 1, 23, 59);
  const int64_t after = At(sh, 2026, 3, 2, 0, 0);
  EXPECT_EQ(sh.DaysBetween(before, after), 1);
  EXPECT_EQ(BusinessCalendar::Utc().DaysBetween(before, after), 0);
  EXPECT_EQ(sh.DayOf(before), absl::CivilDay(2026, 3, 1));
  EXPECT_EQ(sh.DayOf(after), absl::CivilDay(2026, 3, 2));
  EXPECT_EQ(sh.DaysBetween(after, before), -1);
  // Local midnight is 16:00 UTC the day before.
  EXPECT_EQ(
      sh.StartOf(absl::CivilDay(2026, 3, 2)),
      ToMicros(absl::FromCivil(absl::CivilSecond(2026, 3, 1, 16, 0, 0), absl::UTCTimeZone())));
  EXPECT_EQ(sh.StartOfNextDay(before), after);
  EXPECT_EQ(sh.StartOfNextDay(after), At(sh, 2026, 3, 3, 0, 0));
}

TEST(BusinessCalendarTest, MonthsAreLocalMonths) {
  const BusinessCalendar sh = *BusinessCalendar::Load("Asia/Shanghai");
  // 2026-03-31 20:00 UTC is already April 1st in Shanghai.
  const int64_t t =
      ToMicros(absl::FromCivil(absl::CivilSecond(2026, 3, 31, 20, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(sh.MonthOf(t), absl::CivilMonth(2026, 4));
  EXPECT_EQ(BusinessCalendar::Utc().MonthOf(t), absl::CivilMonth(2026, 3));
  EXPECT_EQ(sh.StartOf(absl::CivilMonth(2026, 4)), At(sh, 2026, 4, 1, 0, 0));
}

TEST(BusinessCalendarTest, AddDaysKeepsTheWallTimeAcrossDaylightSaving) {
  const BusinessCalendar ny = *BusinessCalendar::Load("America/New_York");
  // 2026-03-08 is the spring-forward day there: 23 hours long.
  const int64_t midnight = At(ny, 2026, 3, 8, 0, 0);
  EXPECT_EQ(ny.AddDays(midnight, 1), At(ny, 2026, 3, 9, 0, 0));
  EXPECT_EQ(ny.AddDays(midnight, 1) - midnight, 23LL * 3600 * 1000000);
  EXPECT_EQ(ny.AddDays(At(ny, 2026, 3, 9, 0, 0) + 7, -1), midnight + 7);
  EXPECT_EQ(ny.DaysBetween(midnight, ny.AddDays(midnight, 30)), 30);
}

TEST(BusinessCalendarTest, SkippedMidnightStartsAtTheTransition) {
  // Santiago springs forward at 00:00 local (2026-09-06): the day starts at 01:00.
  const BusinessCalendar cl = *BusinessCalendar::Load("America/Santiago");
  const int64_t start = cl.StartOf(absl::CivilDay(2026, 9, 6));
  EXPECT_EQ(cl.DayOf(start), absl::CivilDay(2026, 9, 6));
  EXPECT_EQ(cl.DayOf(start - 1), absl::CivilDay(2026, 9, 5));
}

}  // namespace
}  // namespace tierwise::time
