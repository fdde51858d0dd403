#ifndef TIERWISE_COMMON_STATUS_MACROS_H_
#define TIERWISE_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Early returns for absl::Status / absl::StatusOr, the way Abseil's internal code writes them
// (Debian's Abseil 20220623 ships no public macros for this).
//
//   TW_RETURN_IF_ERROR(store.Validate(request));
//   TW_ASSIGN_OR_RETURN(Account account, store.Load(id));
//   TW_ASSIGN_OR_RETURN(auto rows, Query(tx));
//
// Both work in functions returning absl::Status or any absl::StatusOr<T>.

#define TW_RETURN_IF_ERROR(expr)                                \
  do {                                                          \
    if (::absl::Status tw_status_ = (expr); !tw_status_.ok()) { \
      return tw_status_;                                        \
    }                                                           \
  } while (false)

#define TW_STATUS_CONCAT_INNER_(a, b) a##b
#define TW_STATUS_CONCAT_(a, b) TW_STATUS_CONCAT_INNER_(a, b)

#define TW_ASSIGN_OR_RETURN(lhs, expr) \
  TW_ASSIGN_OR_RETURN_IMPL_(TW_STATUS_CONCAT_(tw_statusor_, __LINE__), lhs, expr)

#define TW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)     \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // TIERWISE_COMMON_STATUS_MACROS_H_
