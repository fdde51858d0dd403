#include "services/cli/ledger_text.h"

#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/status/macros.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;

constexpr int kMaxNetDays = 365;

absl::Status BadAmount(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an amount: ", why));
}

bool AllDigits(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// Appends the digits of `digits` to `*value` (value * 10 + d each), false on int64 overflow.
bool AppendDigits(absl::string_view digits, int64_t* value) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (char c : digits) {
    int d = c - '0';
    if (*value > (kMax - d) / 10) return false;
    *value = *value * 10 + d;
  }
  return true;
}

}  // namespace

int CurrencyExponent(absl::string_view currency) {
  static constexpr absl::string_view kNoDecimals[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                                      "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                                      "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr absl::string_view kThreeDecimals[] = {"BHD", "IQD", "JOD", "KWD",
                                                         "LYD", "OMR", "TND"};
  for (absl::string_view code : kNoDecimals) {
    if (code == currency) return 0;
  }
  for (absl::string_view code : kThreeDecimals) {
    if (code == currency) return 3;
  }
  return 2;
}

absl::StatusOr<int64_t> ParseAmount(absl::string_view text, absl::string_view currency) {
  const absl::string_view original = text;
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return absl::InvalidArgumentError("an amount is required");
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  absl::string_view whole = text;
  absl::string_view fraction;
  bool has_point = false;
  if (size_t point = text.find('.'); point != absl::string_view::npos) {
    has_point = true;
    whole = text.substr(0, point);
    fraction = text.substr(point + 1);
  }
  if (whole.empty()) return BadAmount(original, "digits are needed before the decimal point");
  // Thousands separators: "1,234,567" -> groups "1", "234", "567".
  std::vector<absl::string_view> groups = absl::StrSplit(whole, ',');
  for (size_t i = 0; i < groups.size(); ++i) {
    if (!AllDigits(groups[i])) {
      return BadAmount(original,
                       "only digits, an optional sign, thousands commas and a decimal "
                       "point are allowed");
    }
    if (groups.size() > 1 &&
        ((i == 0 && groups[i].size() > 3) || (i > 0 && groups[i].size() != 3))) {
      return BadAmount(original, "commas must separate groups of three digits (1,234.50)");
    }
  }
  const int exponent = CurrencyExponent(currency);
  if (has_point) {
    if (fraction.empty()) return BadAmount(original, "digits are needed after the decimal point");
    if (!AllDigits(fraction)) {
      return BadAmount(original, "only digits may follow the decimal point");
    }
    if (fraction.size() > static_cast<size_t>(exponent)) {
      return BadAmount(
          original, exponent == 0 ? absl::StrCat(currency, " has no decimals")
                                  : absl::StrCat(currency, " has at most ", exponent, " decimals"));
    }
  }
  int64_t value = 0;
  for (absl::string_view group : groups) {
    if (!AppendDigits(group, &value)) return BadAmount(original, "too large");
  }
  std::string padded(fraction);
  padded.append(static_cast<size_t>(exponent) - fraction.size(), '0');
  if (!AppendDigits(padded, &value)) return BadAmount(original, "too large");
  return negative ? -value : value;
}

std::string FormatAmount(int64_t minor_units, absl::string_view currency) {
  const int exponent = CurrencyExponent(currency);
  // Work on the magnitude as unsigned so that INT64_MIN formats too.
  const bool negative = minor_units < 0;
  uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(minor_units) : static_cast<uint64_t>(minor_units);
  uint64_t scale = 1;
  for (int i = 0; i < exponent; ++i) scale *= 10;
  std::string text = absl::StrCat(negative ? "-" : "", magnitude / scale);
  if (exponent > 0) {
    absl::StrAppend(&text, ".", absl::StrFormat("%0*d", exponent, magnitude % scale));
  }
  return text;
}

absl::StatusOr<v1::PaymentTerms> ParseTerms(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  v1::PaymentTerms terms;
  if (lower.empty()) return terms;
  auto days = [&](absl::string_view digits) -> absl::StatusOr<int> {
    int n = 0;
    if (!AllDigits(digits) || !absl::SimpleAtoi(digits, &n) || n > kMaxNetDays) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "': the number of days must be a whole number from 0 to ", kMaxNetDays));
    }
    return n;
  };
  absl::string_view rest = lower;
  if (lower == "prepaid") {
    terms.set_type(v1::PAYMENT_TERMS_TYPE_PREPAID);
    return terms;
  }
  if (absl::ConsumePrefix(&rest, "net")) {
    if (!rest.empty() && (rest[0] == ' ' || rest[0] == '-' || rest[0] == '_'))
      rest.remove_prefix(1);
    TW_ASSIGN_OR_RETURN(int n, days(rest));
    terms.set_type(v1::PAYMENT_TERMS_TYPE_NET_DAYS);
    terms.set_net_days(n);
    return terms;
  }
  if (absl::ConsumePrefix(&rest, "monthly")) {
    terms.set_type(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT);
    if (rest.empty()) return terms;
    if (!absl::ConsumePrefix(&rest, "+")) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': write extra days as monthly+N, e.g. monthly+15"));
    }
    TW_ASSIGN_OR_RETURN(int n, days(rest));
    terms.set_net_days(n);
    return terms;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown payment terms '", text, "' (prepaid, netN such as net30, monthly, monthly+N)"));
}

std::string FormatTerms(const v1::PaymentTerms& terms) {
  switch (terms.type()) {
    case v1::PAYMENT_TERMS_TYPE_PREPAID:
      return "prepaid";
    case v1::PAYMENT_TERMS_TYPE_NET_DAYS:
      return absl::StrCat("net", terms.net_days());
    case v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT:
      return terms.net_days() == 0 ? "monthly" : absl::StrCat("monthly+", terms.net_days());
    default:
      return "";
  }
}

absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(absl::string_view text,
                                                           const absl::TimeZone& business_zone) {
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  absl::Time time;
  std::string error;
  bool parsed = false;
  if (trimmed.size() == 10) {
    // A bare date: the company's day, from its local midnight. absl rejects impossible dates
    // ("2026-02-30") itself.
    parsed = absl::ParseTime("%Y-%m-%d", trimmed, business_zone, &time, &error);
  } else {
    std::string normalized = trimmed;
    // RFC 3339 allows a space for the T and lower-case t/z.
    if (normalized.size() > 10 && (normalized[10] == ' ' || normalized[10] == 't')) {
      normalized[10] = 'T';
    }
    if (!normalized.empty() && normalized.back() == 'z') normalized.back() = 'Z';
    if (!normalized.empty() && normalized.back() == 'Z') {
      normalized.pop_back();
      normalized += "+00:00";
    }
    parsed = absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", normalized, &time, &error);
    if (!parsed &&
        absl::ParseTime("%Y-%m-%dT%H:%M:%E*S", normalized, absl::UTCTimeZone(), &time, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "' has no time zone: add Z or an offset such as +08:00, or give a date"));
    }
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a time: use YYYY-MM-DD or RFC 3339 (2026-03-05T10:00:00+08:00)"));
  }
  google::protobuf::Timestamp timestamp;
  const absl::Duration since_epoch = time - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
  return timestamp;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp,
                            const absl::TimeZone& business_zone) {
  const absl::Time time =
      absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
  const absl::CivilDay day = absl::ToCivilDay(time, business_zone);
  if (absl::FromCivil(day, business_zone) == time) {
    return absl::FormatTime("%Y-%m-%d", time, business_zone);
  }
  return absl::FormatTime(timestamp.nanos() == 0 ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%E*SZ",
                          time, absl::UTCTimeZone());
}

}  // namespace tierwise::cli
