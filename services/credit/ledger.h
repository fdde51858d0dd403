#ifndef TIERWISE_SERVICES_CREDIT_LEDGER_H_
#define TIERWISE_SERVICES_CREDIT_LEDGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time/business_calendar.h"

// A customer's receivables ledger, rebuilt from the ERP's facts (orders, cancellations,
// payments). Rebuilding is a pure function of the *set* of facts: they are replayed in
// (occurred_at, event_id) order, so the state never depends on the order events arrived in,
// and a fact that refers to one not seen yet (a payment or cancellation before its order)
// waits and takes effect once that one exists. Money is int64 minor units; time is
// microseconds since the Unix epoch. No I/O here.
//
// Days are the company's: every rule that speaks of days or months (due dates of net-N and
// 月结 terms, days overdue, aging, the DSO and on-time windows, tenure) counts local calendar
// days of a time::BusinessCalendar (setting `business_time_zone`). A receivable due on local day
// D is not overdue during D and 1 day overdue from D+1 00:00 local.
//
// The same replay runs incrementally: a LedgerState holds the open items and the pending money
// and cancellations, and LedgerApplier applies the facts that come after the state's last one.
// Applying needs only the open items and the items the new facts name (NamedOrder), so its
// cost does not grow with the history; Replay over all facts gives the same state and is the
// check and the repair.
//
// Money never wraps: one document (order, cancellation/return, payment, credit limit) carries
// at most kMaxDocumentMinorUnits, which callers validate before a fact is stored, and every
// sum over documents is checked — a figure that would pass int64 makes PositionAt fail with
// FAILED_PRECONDITION instead of producing a wrapped number.
namespace tierwise::credit {

using Micros = int64_t;
using time::BusinessCalendar;

// The largest amount a single document may carry: 10^15 minor units (10 trillion CNY). Only
// sums of more than ~9,000 maximal documents of one customer can pass int64.
inline constexpr int64_t kMaxDocumentMinorUnits = 1'000'000'000'000'000;

// total += amount, unless the result would pass int64: then false and `total` is unchanged.
[[nodiscard]] inline bool AddChecked(int64_t& total, int64_t amount) {
  int64_t sum = 0;
  if (__builtin_add_overflow(total, amount, &sum)) return false;
  total = sum;
  return true;
}

struct Terms {
  enum class Type { kUnspecified, kPrepaid, kNetDays, kMonthlyStatement };
  Type type = Type::kUnspecified;
  int net_days = 0;
};

// When an invoice falls due under terms (kUnspecified is treated as net 0), in local days:
// net N = the local day of the invoice + N (same wall time); 月结 = the last second of the local
// month after the invoice's month, + net_days.
Micros DueDate(Micros invoiced_at, const Terms& terms, const BusinessCalendar& calendar);

struct OrderFact {
  std::string order_no;
  int64_t amount = 0;
  int64_t margin = 0;
  std::string product_line;
  Micros invoiced_at = 0;  // the receivable starts here; before it, an open order
  Micros due_date = 0;     // 0: from terms
  Terms terms;             // kUnspecified: the account's terms
};

struct CancellationFact {
  std::string document_no;
  std::string order_no;
  int64_t amount = 0;  // 0: everything still not cancelled
  bool is_return = false;
  bool operator==(const CancellationFact& o) const = default;
};

struct PaymentFact {
  std::string payment_no;
  int64_t amount = 0;
  std::string order_no;  // optional target
};

struct Fact {
  std::string event_id;
  Micros occurred_at = 0;
  std::variant<OrderFact, CancellationFact, PaymentFact> body;
};

struct Item {
  std::string order_no;
  std::string event_id;  // of the order fact: items sort by (occurred_at, event_id)
  std::string product_line;
  Micros occurred_at = 0;
  Micros invoiced_at = 0;
  Micros due_date = 0;
  int64_t original = 0;
  int64_t margin = 0;
  int64_t cancelled = 0;
  int64_t paid = 0;
  Micros settled_at = 0;  // when the balance reached zero by payment; 0 while open
  std::vector<std::string> payments;

  bool operator==(const Item& o) const = default;
  int64_t net() const { return original - cancelled; }
  int64_t balance() const { return net() - paid; }
};

// What the items of one local day add to the windows of a position: net sales invoiced that
// day; items (net > 0) falling due that day, and how many of them were settled on time.
struct DayFigures {
  int64_t sales = 0;
  int64_t due = 0;
  int64_t on_time = 0;
  bool operator==(const DayFigures& o) const = default;
};

// Local days as numbers (days since 1970-01-01 in the calendar's zone), the key of DayFigures.
int64_t LocalDayNumber(const BusinessCalendar& calendar, Micros at);

// Adds (sign +1) or removes (-1) an item's contribution to per-day figures. A stored ledger
// keeps these per account, so a position needs its open items and these figures, not the
// settled history. False when a day's sales would pass int64 (that day's figure is then left
// unchanged; the window sums must be treated as out of range).
[[nodiscard]] bool AddToDays(const Item& item, int sign, const BusinessCalendar& calendar,
                             std::map<int64_t, DayFigures>* days);

// Days kept: no position at or after `now` reads a day more than 365 days back, so days before
// today - kKeptDays (a margin for clocks) are dropped, as are days whose figures are all zero.
inline constexpr int kKeptDays = 400;
void PruneDays(std::map<int64_t, DayFigures>* days, Micros now, const BusinessCalendar& calendar);

// The window sums of a position at `now`, from per-day figures.
struct WindowTotals {
  int64_t sales_90 = 0;
  bool sales_out_of_range = false;  // the sum passed int64
  int64_t due_in_year = 0;
  int64_t on_time = 0;
};
WindowTotals TotalsFromDays(const std::map<int64_t, DayFigures>& days, Micros now,
                            const BusinessCalendar& calendar);

// Settled by the end of its local due day (and net > 0).
bool SettledOnTime(const Item& item, const BusinessCalendar& calendar);

struct Ledger {
  // In order of occurrence. With `windows` set, only the open items are needed.
  std::vector<Item> items;
  // The window sums, when a store computed them from its per-day figures; otherwise PositionAt
  // derives them from the items (which must then include every item inside the windows).
  std::optional<WindowTotals> windows;
  int64_t unapplied = 0;      // payments not matched to any item (incl. overpayments)
  Micros first_order_at = 0;  // 0 without orders
  int64_t facts = 0;
  // Non-empty when a sum of the ledger itself (the unapplied credit) passed int64: which one.
  // `unapplied` is then meaningless and PositionAt fails.
  std::string out_of_range;
};

// The (occurred_at, event_id) order facts are applied in.
struct FactKey {
  Micros occurred_at = 0;
  std::string event_id;  // "" = before every fact
  bool operator<(const FactKey& o) const {
    return occurred_at != o.occurred_at ? occurred_at < o.occurred_at : event_id < o.event_id;
  }
  bool operator==(const FactKey& o) const = default;
};
inline FactKey KeyOf(const Fact& f) { return {f.occurred_at, f.event_id}; }

// Money waiting to be applied, remembered by payment so items list who paid them.
struct Credit {
  std::string payment_no;
  int64_t amount = 0;
  bool operator==(const Credit& o) const = default;
};

// A ledger between facts: the items loaded (all of them after Replay; the open ones plus those
// the next facts name when applying incrementally) and everything that is not an item.
struct LedgerState {
  std::vector<Item> items;
  std::deque<Credit> pool;                                       // unapplied credit, oldest first
  std::map<std::string, std::vector<Credit>> reserved;           // payments named for unseen orders
  std::map<std::string, std::vector<CancellationFact>> waiting;  // cancellations, same
  Micros first_order_at = 0;
  int64_t facts = 0;
  FactKey last;  // the latest fact applied
};

// The order numbers whose items applying `fact` may read beside the open items: the order it
// creates, cancels or pays ("" for an untargeted payment).
const std::string& NamedOrder(const Fact& fact);

// Applies facts to a state, in key order, each after the state's last fact. `state` must hold
// every open item and every item a fact names (settled or not); other items are never touched.
// Not thread-safe.
class LedgerApplier {
 public:
  LedgerApplier(LedgerState state, const Terms& account_terms, const BusinessCalendar& calendar);
  // INVALID_ARGUMENT (nothing applied) when the fact is not after the state's last one.
  absl::Status Apply(const Fact& fact);
  // The order numbers of the items created or changed so far.
  const std::set<std::string>& changed() const { return changed_; }
  const LedgerState& state() const { return state_; }
  LedgerState Take() { return std::move(state_); }

 private:
  void OnOrder(const OrderFact& o);
  void OnCancellation(const CancellationFact& c);
  void OnPayment(const PaymentFact& p);
  void Cancel(Item& item, const CancellationFact& c);
  void PayInto(Item& item, Credit& credit);
  void ApplyPool();

  LedgerState state_;
  const Terms account_terms_;
  const BusinessCalendar calendar_;
  Micros now_ = 0;
  std::map<std::string, size_t> index_;
  std::set<std::string> changed_;
};

// Whether `facts` (sorted by key) can be applied to a state whose last fact is `last`: all of
// them come after it. Otherwise one arrived late and the ledger must be replayed.
bool AllAfter(const FactKey& last, const std::vector<Fact>& facts);

// The state after all `facts` (in any order), with every item, in (occurred_at, event_id) order.
LedgerState ReplayState(std::vector<Fact> facts, const Terms& account_terms,
                        const BusinessCalendar& calendar);

// The ledger view of a state: its items sorted by occurrence, the unapplied credit summed
// (checked: out_of_range when it passes int64).
Ledger LedgerOf(LedgerState state);

Ledger Replay(std::vector<Fact> facts, const Terms& account_terms,
              const BusinessCalendar& calendar);

// Figures of a ledger at a moment.
struct Aging {
  int64_t current = 0;
  int64_t days_1_30 = 0;
  int64_t days_31_60 = 0;
  int64_t days_61_90 = 0;
  int64_t days_over_90 = 0;
};

struct Position {
  int64_t open_receivables = 0;  // invoiced, unpaid
  int64_t open_orders = 0;       // not yet invoiced, unpaid
  int64_t overdue_amount = 0;
  int max_days_overdue = 0;
  int overdue_items = 0;
  Micros oldest_open_due = 0;  // 0 when nothing is open
  Aging aging;
  int dso_days = 0;
  // Items due in the last 12 months settled by their due date, in permille; nullopt when no
  // item fell due in that window.
  std::optional<int> on_time_permille;
  // PositionAt only returns positions whose exposure fits in int64.
  int64_t exposure() const { return open_receivables + open_orders; }
};

// The figures at `now`. Every sum is checked: FAILED_PRECONDITION (naming the figure) when one
// of them — open receivables, open orders, exposure, overdue, an aging bucket, the DSO sales,
// the unapplied credit — would pass int64. That only happens with facts beyond the document
// maximum or many thousands of maximal documents; the account's ledger needs repair then.
//
// Windows by local days: overdue and aging by DaysOverdue; DSO over the sales invoiced on the
// last 90 local days (today included); the on-time ratio over items whose local due day is
// within the last 365 days, an item counting once it is settled or its due day has passed, on
// time when settled by the end of its local due day. `ledger` needs every item inside these
// windows, or only its open items when it carries the window sums (Ledger::windows).
absl::StatusOr<Position> PositionAt(const Ledger& ledger, Micros now,
                                    const BusinessCalendar& calendar);

// Local days an open item is overdue at `now`: local today - local due day when positive, else
// 0 (and 0 when settled).
int DaysOverdue(const Item& item, Micros now, const BusinessCalendar& calendar);

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_LEDGER_H_
