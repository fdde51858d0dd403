#ifndef TIERWISE_SERVICES_CLASSIFICATION_LEDGER_STATE_H_
#define TIERWISE_SERVICES_CLASSIFICATION_LEDGER_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/numeric/int128.h"
#include "absl/time/civil_time.h"
#include "common/time/business_calendar.h"
#include "services/classification/customer_metrics.h"

// What the event path keeps per customer instead of rereading its ledger: one row per order
// number (the order, what was cancelled of it) and, per local day, the sums of the orders dated
// that day. A new ledger entry changes one order and one day; the metrics of any `now` are
// computed from the days alone (at most about 13 months of them are kept), so the cost of an
// event is the same on day one and in year five.
//
// Everything here is order-independent: applying the same entries in any order, in any split
// into batches, gives the same state, equal to ReplayLedger of all of them (which is the
// check and repair path). Duplicates are the caller's to drop (ledger_entries' primary key).
namespace tierwise::classification {

// One order number of a customer: the order that counts for it (of several order events with
// the number, the earliest by occurred_at, then event id) and its cancellations, which may
// have arrived first.
struct OrderFact {
  std::string document_no;
  std::string order_event_id;  // "" while only cancellations have arrived
  Micros occurred_at = 0;
  int64_t amount = 0;
  int64_t margin = 0;
  // The positive partial cancellations summed, held at the int64 maximum (any sum at or above
  // the amount cancels all of it).
  int64_t partial_cancelled = 0;
  bool whole_cancelled = false;  // a cancellation of amount 0: the whole order

  bool has_order() const { return !order_event_id.empty(); }
  bool operator==(const OrderFact&) const = default;
};

// The orders of one local day.
struct DayFigures {
  absl::int128 revenue = 0;  // net of cancellations, of the orders with something left
  absl::int128 margin = 0;   // each order's margin × net / amount
  int32_t counted = 0;       // orders with something left
  int32_t orders = 0;        // every order, also the fully cancelled ones
  Micros first_at = 0;       // the earliest and latest order of the day
  Micros last_at = 0;
  bool operator==(const DayFigures&) const = default;
};

struct LedgerState {
  absl::btree_map<absl::CivilDay, DayFigures> days;
  // Days before `pruned_before` were dropped (they are outside any window from now on); only
  // their first and last order are kept. A default CivilDay (1970-01-01): nothing dropped.
  absl::CivilDay pruned_before;
  Micros pruned_first = 0;  // 0: none
  Micros pruned_last = 0;
  bool operator==(const LedgerState&) const = default;
};

// Applies one entry seen for the first time to its order number's row (`order`, a default one
// for a number not seen before; payments change nothing) and to the day sums. False when the
// state cannot follow it incrementally: an order event that replaces the one counted for its
// number (an earlier one arrived late). The caller then replays the customer; `order` and
// `state` are unspecified.
bool ApplyLedgerEntry(const LedgerEntry& entry, const time::BusinessCalendar& calendar,
                      OrderFact* order, LedgerState* state);

// The state of a whole ledger at `now` (pruned as PruneLedgerState does); the order rows into
// *orders when given, by document number.
LedgerState ReplayLedger(const std::vector<LedgerEntry>& entries, Micros now,
                         const time::BusinessCalendar& calendar,
                         std::map<std::string, OrderFact>* orders = nullptr);

// Drops the days that no window from `now` on reaches (more than 13 months back).
void PruneLedgerState(Micros now, const time::BusinessCalendar& calendar, LedgerState* state);

// The ledger part of CustomerMetrics at `now` (revenue, margin, orders, renewal, first and last
// order, next_window_exit): what ComputeMetrics gives for the whole ledger.
CustomerMetrics MetricsOfState(const LedgerState& state, Micros now,
                               const time::BusinessCalendar& calendar);

// A compact binary form for the customer_metrics row (a few bytes per day); nullopt when
// `bytes` is not one.
std::string EncodeLedgerState(const LedgerState& state);
std::optional<LedgerState> DecodeLedgerState(std::string_view bytes);

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_LEDGER_STATE_H_
