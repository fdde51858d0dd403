#ifndef TIERWISE_SERVICES_CLI_LEDGER_TEXT_H_
#define TIERWISE_SERVICES_CLI_LEDGER_TEXT_H_

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tierwise/credit/v1/credit.pb.h"

// Money, payment terms and times as people and ERP exports write them, and back. Amounts are
// parsed digit by digit into integer minor units: no floating point anywhere.
namespace tierwise::cli {

// Decimal places of a currency's minor unit (ISO 4217): 0 for JPY, KRW and a few others, 3 for
// BHD, KWD, OMR, ..., 2 for everything else (CNY, USD, EUR...). `currency` is upper case.
int CurrencyExponent(absl::string_view currency);

// A decimal amount in minor units of `currency`: "1234.5" CNY -> 123450.
// Accepted: an optional sign (+/-), digits, optionally grouped in thousands by commas
// ("1,234,567.89": first group 1-3 digits, then groups of exactly 3), then optionally a point
// and 1..CurrencyExponent(currency) digits. Surrounding spaces are ignored. Rejected
// (InvalidArgument with the reason): empty text, currency symbols or codes ("¥12"), exponents
// ("1e3"), more decimals than the currency has ("1.234" CNY), a comma as the decimal mark
// ("12,50": bad grouping), ".5", "5.", and anything beyond int64.
absl::StatusOr<int64_t> ParseAmount(absl::string_view text, absl::string_view currency);

// The reverse: 123450 CNY -> "1234.50", -5 CNY -> "-0.05", 1200 JPY -> "1200". No grouping.
std::string FormatAmount(int64_t minor_units, absl::string_view currency);

// Payment terms: "prepaid", "net30" (also "net 30", "net-30", "net_30"), "monthly" (月结: due at
// the end of the month after the invoice) and "monthly+15" (15 days after that); any case.
// N is 0..365. "" gives unset terms (type UNSPECIFIED: the account's terms apply).
absl::StatusOr<tierwise::credit::v1::PaymentTerms> ParseTerms(absl::string_view text);
// "prepaid", "net30", "monthly", "monthly+15"; "" for unset terms.
std::string FormatTerms(const tierwise::credit::v1::PaymentTerms& terms);

// A time: RFC 3339 ("2026-03-05T10:00:00+08:00", "2026-03-05T02:00:00Z", fractions allowed, a
// space instead of the T too) or a bare date "2026-03-05", which means 00:00 of that day in
// `business_zone` (the company's calendar, TIERWISE_BUSINESS_TIME_ZONE). A date-time without a
// zone offset is rejected (it would be ambiguous), as are impossible dates.
absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(absl::string_view text,
                                                           const absl::TimeZone& business_zone);
// "2026-03-05" for 00:00:00 of a day in `business_zone`, else RFC 3339 in UTC
// ("2026-03-05T02:00:00Z"): what ParseTimestamp reads back as the same instant.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp,
                            const absl::TimeZone& business_zone);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_LEDGER_TEXT_H_
