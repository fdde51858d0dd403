#include "services/cli/ledger_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;
using ::testing::HasSubstr;

int64_t Cny(absl::string_view text) {
  absl::StatusOr<int64_t> value = ParseAmount(text, "CNY");
  EXPECT_TRUE(value.ok()) << text << ": " << value.status();
  return value.value_or(-999999);
}

std::string AmountError(absl::string_view text, absl::string_view currency = "CNY") {
  absl::StatusOr<int64_t> value = ParseAmount(text, currency);
  EXPECT_FALSE(value.ok()) << text << " parsed as " << *value;
  return value.ok() ? "" : std::string(value.status().message());
}

TEST(ParseAmountTest, DecimalsBecomeMinorUnitsExactly) {
  EXPECT_EQ(Cny("1234.50"), 123450);
  EXPECT_EQ(Cny("1234.5"), 123450);
  EXPECT_EQ(Cny("1234"), 123400);
  EXPECT_EQ(Cny("0.01"), 1);
  EXPECT_EQ(Cny("0"), 0);
  EXPECT_EQ(Cny("  12.30 "), 1230);
  EXPECT_EQ(Cny("+7.5"), 750);
  // A value binary floating point gets wrong (0.29 * 100 = 28.999...).
  EXPECT_EQ(Cny("0.29"), 29);
  EXPECT_EQ(Cny("19999999.99"), 1999999999);
  // The largest amount int64 minor units hold.
  EXPECT_EQ(Cny("92233720368547758.07"), std::numeric_limits<int64_t>::max());
}

TEST(ParseAmountTest, NegativeAmountsParseSoThatTheServerCanJudgeThem) {
  EXPECT_EQ(Cny("-500.00"), -50000);
  EXPECT_EQ(Cny("-0.05"), -5);
}

TEST(ParseAmountTest, ThousandsCommasOnlyInGroupsOfThree) {
  EXPECT_EQ(Cny("1,234.50"), 123450);
  EXPECT_EQ(Cny("1,234,567.89"), 123456789);
  EXPECT_EQ(Cny("12,345"), 1234500);
  EXPECT_THAT(AmountError("12,50"), HasSubstr("groups of three"));  // a decimal comma
  EXPECT_THAT(AmountError("1,2345.00"), HasSubstr("groups of three"));
  EXPECT_THAT(AmountError("1234,567"), HasSubstr("groups of three"));
  EXPECT_THAT(AmountError(",123"), HasSubstr("only digits"));
  EXPECT_THAT(AmountError("1,,234"), HasSubstr("only digits"));
}

TEST(ParseAmountTest, RejectsWhatIsNotAPlainDecimal) {
  EXPECT_THAT(AmountError(""), HasSubstr("required"));
  EXPECT_THAT(AmountError("   "), HasSubstr("required"));
  EXPECT_THAT(AmountError("1.234"), HasSubstr("at most 2 decimals"));
  EXPECT_THAT(AmountError("¥12.00"), HasSubstr("only digits"));
  EXPECT_THAT(AmountError("12.00 CNY"), HasSubstr("only digits"));
  EXPECT_THAT(AmountError("1e3"), HasSubstr("only digits"));
  EXPECT_THAT(AmountError(".5"), HasSubstr("before the decimal point"));
  EXPECT_THAT(AmountError("5."), HasSubstr("after the decimal point"));
  EXPECT_THAT(AmountError("1.2.3"), HasSubstr("only digits may follow"));
  EXPECT_THAT(AmountError("--5"), HasSubstr("only digits"));
  EXPECT_THAT(AmountError("1 000"), HasSubstr("only digits"));
  EXPECT_THAT(AmountError("abc"), HasSubstr("'abc' is not an amount"));
  EXPECT_THAT(AmountError("92233720368547758.08"), HasSubstr("too large"));
  EXPECT_THAT(AmountError("99999999999999999999999"), HasSubstr("too large"));
}

TEST(ParseAmountTest, FollowsTheCurrencysMinorUnit) {
  EXPECT_EQ(*ParseAmount("1200", "JPY"), 1200);
  EXPECT_THAT(AmountError("1200.5", "JPY"), HasSubstr("JPY has no decimals"));
  EXPECT_EQ(*ParseAmount("1.234", "KWD"), 1234);
  EXPECT_EQ(*ParseAmount("1.5", "KWD"), 1500);
  EXPECT_EQ(*ParseAmount("1.23", "USD"), 123);
  EXPECT_EQ(CurrencyExponent("CNY"), 2);
  EXPECT_EQ(CurrencyExponent("JPY"), 0);
  EXPECT_EQ(CurrencyExponent("BHD"), 3);
}

TEST(FormatAmountTest, RoundTrips) {
  EXPECT_EQ(FormatAmount(123450, "CNY"), "1234.50");
  EXPECT_EQ(FormatAmount(5, "CNY"), "0.05");
  EXPECT_EQ(FormatAmount(-5, "CNY"), "-0.05");
  EXPECT_EQ(FormatAmount(0, "CNY"), "0.00");
  EXPECT_EQ(FormatAmount(1200, "JPY"), "1200");
  EXPECT_EQ(FormatAmount(1234, "KWD"), "1.234");
  EXPECT_EQ(FormatAmount(std::numeric_limits<int64_t>::min(), "CNY"), "-92233720368547758.08");
  for (int64_t value : {int64_t{0}, int64_t{1}, int64_t{99}, int64_t{100}, int64_t{-123456789},
                        std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(*ParseAmount(FormatAmount(value, "CNY"), "CNY"), value);
  }
}

TEST(ParseTermsTest, KnownForms) {
  absl::StatusOr<v1::PaymentTerms> terms = ParseTerms("net30");
  ASSERT_TRUE(terms.ok()) << terms.status();
  EXPECT_EQ(terms->type(), v1::PAYMENT_TERMS_TYPE_NET_DAYS);
  EXPECT_EQ(terms->net_days(), 30);
  for (absl::string_view text : {"NET 30", "net-30", "net_30", " Net30 "}) {
    terms = ParseTerms(text);
    ASSERT_TRUE(terms.ok()) << text << ": " << terms.status();
    EXPECT_EQ(terms->type(), v1::PAYMENT_TERMS_TYPE_NET_DAYS) << text;
    EXPECT_EQ(terms->net_days(), 30) << text;
  }
  terms = ParseTerms("prepaid");
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(terms->type(), v1::PAYMENT_TERMS_TYPE_PREPAID);
  terms = ParseTerms("monthly");
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(terms->type(), v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT);
  EXPECT_EQ(terms->net_days(), 0);
  terms = ParseTerms("Monthly+15");
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(terms->type(), v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT);
  EXPECT_EQ(terms->net_days(), 15);
  terms = ParseTerms("");
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(terms->type(), v1::PAYMENT_TERMS_TYPE_UNSPECIFIED);
  terms = ParseTerms("net0");
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(terms->net_days(), 0);
  terms = ParseTerms("net365");
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(terms->net_days(), 365);
}

TEST(ParseTermsTest, RejectsTheRest) {
  for (absl::string_view text : {"net", "net366", "net--5", "net+5", "net30days", "monthly15",
                                 "monthly+", "monthly+x", "cod", "30", "prepaid+5"}) {
    EXPECT_FALSE(ParseTerms(text).ok()) << text;
  }
  EXPECT_THAT(std::string(ParseTerms("cod").status().message()), HasSubstr("prepaid, netN"));
}

TEST(ParseTermsTest, FormatRoundTrips) {
  for (absl::string_view text : {"prepaid", "net30", "net0", "monthly", "monthly+15"}) {
    absl::StatusOr<v1::PaymentTerms> terms = ParseTerms(text);
    ASSERT_TRUE(terms.ok()) << text;
    EXPECT_EQ(FormatTerms(*terms), text);
  }
  EXPECT_EQ(FormatTerms(v1::PaymentTerms()), "");
}

int64_t Seconds(absl::string_view text) {
  absl::StatusOr<google::protobuf::Timestamp> timestamp = ParseTimestamp(text, absl::UTCTimeZone());
  EXPECT_TRUE(timestamp.ok()) << text << ": " << timestamp.status();
  return timestamp.ok() ? timestamp->seconds() : -1;
}

TEST(ParseTimestampTest, DatesAreMidnightUtcAndRfc3339KeepsItsOffset) {
  constexpr int64_t k20260305 = 1772668800;  // 2026-03-05T00:00:00Z
  EXPECT_EQ(Seconds("2026-03-05"), k20260305);
  EXPECT_EQ(Seconds("2026-03-05T00:00:00Z"), k20260305);
  EXPECT_EQ(Seconds("2026-03-05T08:00:00+08:00"), k20260305);
  EXPECT_EQ(Seconds("2026-03-05 08:00:00+08:00"), k20260305);
  EXPECT_EQ(Seconds("2026-03-04T19:00:00-05:00"), k20260305);
  EXPECT_EQ(Seconds("2026-03-05t00:00:00z"), k20260305);
  absl::StatusOr<google::protobuf::Timestamp> fraction =
      ParseTimestamp("2026-03-05T00:00:01.25Z", absl::UTCTimeZone());
  ASSERT_TRUE(fraction.ok()) << fraction.status();
  EXPECT_EQ(fraction->seconds(), k20260305 + 1);
  EXPECT_EQ(fraction->nanos(), 250000000);
}

TEST(ParseTimestampTest, RejectsAmbiguousAndImpossibleTimes) {
  EXPECT_THAT(
      std::string(ParseTimestamp("2026-03-05T10:00:00", absl::UTCTimeZone()).status().message()),
      HasSubstr("no time zone"));
  for (absl::string_view text :
       {"", "2026-02-30", "2026-13-01", "2026-3-5", "05.03.2026", "2026-03-05T25:00:00Z",
        "2026-02-30T10:00:00Z", "yesterday", "2026-03-05T10:00Z"}) {
    EXPECT_FALSE(ParseTimestamp(text, absl::UTCTimeZone()).ok()) << text;
  }
}

TEST(FormatTimestampTest, DateWhenMidnightElseRfc3339Utc) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(1772668800);
  EXPECT_EQ(FormatTimestamp(timestamp, absl::UTCTimeZone()), "2026-03-05");
  timestamp.set_seconds(1772668800 + 2 * 3600);
  EXPECT_EQ(FormatTimestamp(timestamp, absl::UTCTimeZone()), "2026-03-05T02:00:00Z");
  timestamp.set_nanos(500000000);
  EXPECT_EQ(FormatTimestamp(timestamp, absl::UTCTimeZone()), "2026-03-05T02:00:00.5Z");
  for (absl::string_view text : {"2026-03-05", "2026-03-05T02:00:00Z", "2026-03-05T02:00:00.5Z"}) {
    EXPECT_EQ(FormatTimestamp(*ParseTimestamp(text, absl::UTCTimeZone()), absl::UTCTimeZone()),
              text);
  }
}

TEST(ParseTimestampTest, ADateIsTheBusinessDayFromItsLocalMidnight) {
  absl::TimeZone shanghai;
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Shanghai", &shanghai));
  // 2026-03-01 in Shanghai starts at 2026-02-28T16:00:00Z.
  absl::StatusOr<google::protobuf::Timestamp> day = ParseTimestamp("2026-03-01", shanghai);
  ASSERT_TRUE(day.ok()) << day.status();
  EXPECT_EQ(day->seconds(), 1772294400);  // 2026-02-28T16:00:00Z
  EXPECT_EQ(FormatTimestamp(*day, shanghai), "2026-03-01");
  // The same instant is not a date in UTC; UTC midnight is not one in Shanghai.
  EXPECT_EQ(FormatTimestamp(*day, absl::UTCTimeZone()), "2026-02-28T16:00:00Z");
  google::protobuf::Timestamp utc_midnight;
  utc_midnight.set_seconds(1772323200);  // 2026-03-01T00:00:00Z = 08:00 in Shanghai
  EXPECT_EQ(FormatTimestamp(utc_midnight, shanghai), "2026-03-01T00:00:00Z");
  // An explicit offset does not depend on the zone.
  EXPECT_EQ(ParseTimestamp("2026-03-01T00:00:00Z", shanghai)->seconds(), 1772323200);
  // Round trip through the CSV form in the business zone.
  for (absl::string_view text : {"2026-03-01", "2026-02-28T16:00:01Z", "2026-12-31"}) {
    EXPECT_EQ(FormatTimestamp(*ParseTimestamp(text, shanghai), shanghai), text);
  }
}

}  // namespace
}  // namespace tierwise::cli
