#ifndef TIERWISE_SERVICES_CLASSIFICATION_CUSTOMER_METRICS_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CUSTOMER_METRICS_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/time/civil_time.h"
#include "common/time/business_calendar.h"

// Per-customer metrics over a trailing 12-month window, computed from the ledger events the
// credit service publishes and the interaction and complaint facts the interaction service
// publishes. Pure: the window is relative to `now`, so the same entries give different revenue
// (or satisfaction) as time passes (an old order leaving the window). Money in minor units,
// time in microseconds since the epoch.
//
// Windows are business-calendar ones (see common/time/business_calendar.h): an order placed on
// local day D counts in the trailing 12 months up to the day before D + 12 months (local 00:00
// of that day is its exit), in the last 6 months up to the day before D + 6 months; its month
// "back" for the renewal rate is the number of whole calendar months from D to today.
namespace tierwise::classification {

using Micros = int64_t;
inline constexpr Micros kDay = 86400LL * 1000000;
inline constexpr Micros kYear = 365 * kDay;

// The local day `months` calendar months after `day` (negative: before), held at the last day of
// a shorter month: Aug 31 + 6 months = Feb 28 (or 29), as PostgreSQL's date + interval.
absl::CivilDay AddMonths(absl::CivilDay day, int months);
// Whole calendar months from `from` to `to` (0 when `to` is before AddMonths(from, 1)); negative
// when `to` is earlier.
int64_t WholeMonthsBetween(absl::CivilDay from, absl::CivilDay to);

struct LedgerEntry {
  enum class Kind { kOrder = 1, kCancellation = 2, kPayment = 3 };
  std::string event_id;
  Kind kind = Kind::kOrder;
  std::string document_no;  // order no. for orders and cancellations, payment no. for payments
  int64_t amount = 0;       // cancellations: 0 = the whole order
  int64_t margin = 0;       // orders
  Micros occurred_at = 0;
};

// One interaction version (InteractionLogged). A superseded version was replaced by a correction
// and no longer counts.
struct InteractionFact {
  std::string interaction_id;
  Micros occurred_at = 0;
  int satisfaction = 0;  // 1..5, 0 = not asked
  bool superseded = false;
};

// A complaint as of its latest version (ComplaintChanged).
struct ComplaintFact {
  std::string complaint_id;
  Micros opened_at = 0;
  bool open = false;
  bool response_breached = false;
  bool resolution_breached = false;
};

struct CustomerMetrics {
  // The money figures are summed in 128 bits and never wrap. A sum that would pass int64 (only
  // possible with thousands of documents at the credit service's per-document maximum of 10^15
  // minor units) is held at the int64 bound it passed and `out_of_range` names it; such a
  // customer still ranks as the largest, but the figure is not its revenue.
  int64_t revenue_12m = 0;
  int64_t margin_12m = 0;
  int orders_12m = 0;
  int64_t revenue_prev_6m = 0;  // months 7–12 back, for the potential dimension
  int64_t revenue_last_6m = 0;
  int renewal_permille = 0;  // months with an order / months since the first (≤ 12)
  Micros first_order_at = 0;
  Micros last_order_at = 0;
  // Earliest moment after `now` at which a figure above changes with time alone (0: none): an
  // order, rated interaction or complaint leaves the window, an order moves from the last six
  // months to the six before or one calendar month further back, the months since the first
  // order grow (under twelve), or an order dated on a later day enters. Until then the stored
  // metrics are exact without a refresh; the periodic maintenance refreshes them then.
  Micros next_window_exit = 0;

  // From the interaction service. Average satisfaction ×100 (rounded half up) of the rated
  // (1..5), not superseded interactions of the window; nullopt when there is none.
  std::optional<int> satisfaction_x100;
  int satisfaction_count_12m = 0;  // the ratings behind the average
  int complaints_12m = 0;          // complaints opened in the window
  int open_complaints = 0;         // not resolved, whenever opened
  int sla_breaches_12m = 0;  // breached clocks (response, resolution) of complaints_12m's ones

  // "" when every money figure above is exact; else the first one held at an int64 bound, e.g.
  // "revenue_12m".
  std::string out_of_range;
};

// The ledger part: revenue, margin, orders, renewal, first/last order, from a whole ledger (each
// event once). Of several orders with one number the earliest counts (then the least event
// id); an order counts from local 00:00 of its day, also one dated later than `now` on the same
// day. The reference the stored state (ledger_state.h) is checked against.
CustomerMetrics ComputeMetrics(
    const std::vector<LedgerEntry>& entries, Micros now,
    const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// A 128-bit money sum as an int64 figure: held at the bound it passes, with `figure` noted in
// *out_of_range (the first one), never wrapped.
int64_t HeldMoney(absl::int128 sum, const char* figure, std::string* out_of_range);

// Sets m->renewal_permille from the number of months back (0 = this one, up to 11) that had an
// order and m->first_order_at, and moves m->next_window_exit to when the months since the first
// order grow, while they are under twelve.
void SetRenewal(int active_months, Micros now, const time::BusinessCalendar& calendar,
                CustomerMetrics* m);

// Adds the interaction part to `m` (computed by ComputeMetrics at the same `now`) and moves
// m->next_window_exit earlier when a rating or complaint leaves the window first. Interactions
// dated after `now` (a clock ahead of ours) count at once.
void AddInteractionMetrics(const std::vector<InteractionFact>& interactions,
                           const std::vector<ComplaintFact>& complaints, Micros now,
                           CustomerMetrics* m,
                           const time::BusinessCalendar& calendar = time::BusinessCalendar::Utc());

// A money total summed in 128 bits (many customers near the per-customer maximum), reported at
// the int64 bound it passed rather than wrapped.
inline int64_t ClampToInt64(absl::int128 total) {
  if (total > absl::int128(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  if (total < absl::int128(std::numeric_limits<int64_t>::min())) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(total);
}

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CUSTOMER_METRICS_H_
