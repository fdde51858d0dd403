#ifndef TIERWISE_COMMON_POSTGRES_TIME_SQL_H_
#define TIERWISE_COMMON_POSTGRES_TIME_SQL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

// Exact microsecond conversions between int64 parameters/results and timestamptz columns
// (no round trip through double precision, so a deadline compared in SQL and in C++ agrees).
namespace tierwise::postgres {

// SQL turning a bigint expression (µs since the epoch) into a timestamptz, exactly.
inline std::string MicrosToTimestamp(absl::string_view micros_expr) {
  return absl::StrCat("('epoch'::timestamptz + (", micros_expr,
                      ")::bigint * interval '1 microsecond')");
}

// SQL for parameter $n (bigint µs since the epoch) as a timestamptz; NULL when it is 0.
inline std::string TimestampParam(int n) {
  return absl::StrCat("CASE WHEN $", n, "::bigint = 0 THEN NULL ELSE ",
                      MicrosToTimestamp(absl::StrCat("$", n)), " END");
}

// SQL reading a timestamptz column as bigint µs since the epoch; 0 for NULL.
inline std::string MicrosColumn(absl::string_view column) {
  return absl::StrCat("coalesce((extract(epoch from ", column, ") * 1000000)::bigint, 0)");
}

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_TIME_SQL_H_
