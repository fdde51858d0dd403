#ifndef TIERWISE_SERVICES_CLASSIFICATION_CUSTOMER_METRICS_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CUSTOMER_METRICS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Per-customer metrics over a trailing 12-month window, computed from the ledger events the
// credit service publishes. Pure: the window is relative to `now`, so the same entries give
// different revenue as time passes (an old order leaving the window). Money in minor units,
// time in microseconds since the epoch.
namespace tierwise::classification {

using Micros = int64_t;
inline constexpr Micros kDay = 86400LL * 1000000;
inline constexpr Micros kYear = 365 * kDay;

struct LedgerEntry {
  enum class Kind { kOrder = 1, kCancellation = 2, kPayment = 3 };
  std::string event_id;
  Kind kind = Kind::kOrder;
  std::string document_no;  // order no. for orders and cancellations, payment no. for payments
  int64_t amount = 0;       // cancellations: 0 = the whole order
  int64_t margin = 0;       // orders
  Micros occurred_at = 0;
};

struct CustomerMetrics {
  int64_t revenue_12m = 0;
  int64_t margin_12m = 0;
  int orders_12m = 0;
  int64_t revenue_prev_6m = 0;  // months 7–12 back, for the potential dimension
  int64_t revenue_last_6m = 0;
  int renewal_permille = 0;  // months with an order / months since the first (≤ 12)
  Micros first_order_at = 0;
  Micros last_order_at = 0;
  // Earliest moment at which an order now in the window leaves it (0: none in the window).
  Micros next_window_exit = 0;
};

CustomerMetrics ComputeMetrics(const std::vector<LedgerEntry>& entries, Micros now);

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CUSTOMER_METRICS_H_
