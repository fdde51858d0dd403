#ifndef TIERWISE_SERVICES_CREDIT_LEDGER_H_
#define TIERWISE_SERVICES_CREDIT_LEDGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

// A customer's receivables ledger, rebuilt from the ERP's facts (orders, cancellations,
// payments). Rebuilding is a pure function of the *set* of facts: they are replayed in
// (occurred_at, event_id) order, so the state never depends on the order events arrived in,
// and a fact that refers to one not seen yet (a payment or cancellation before its order)
// waits and takes effect once that one exists. Money is int64 minor units; time is
// microseconds since the Unix epoch. No I/O here.
//
// Money never wraps: one document (order, cancellation/return, payment, credit limit) carries
// at most kMaxDocumentMinorUnits, which callers validate before a fact is stored, and every
// sum over documents is checked — a figure that would pass int64 makes PositionAt fail with
// FAILED_PRECONDITION instead of producing a wrapped number.
namespace tierwise::credit {

using Micros = int64_t;
inline constexpr Micros kDay = 86400LL * 1000000;

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

// When an invoice falls due under terms (kUnspecified is treated as net 0).
Micros DueDate(Micros invoiced_at, const Terms& terms);

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

  int64_t net() const { return original - cancelled; }
  int64_t balance() const { return net() - paid; }
};

struct Ledger {
  std::vector<Item> items;    // in order of occurrence
  int64_t unapplied = 0;      // payments not matched to any item (incl. overpayments)
  Micros first_order_at = 0;  // 0 without orders
  int64_t facts = 0;
  // Non-empty when a sum of the ledger itself (the unapplied credit) passed int64: which one.
  // `unapplied` is then meaningless and PositionAt fails.
  std::string out_of_range;
};

Ledger Replay(std::vector<Fact> facts, const Terms& account_terms);

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
absl::StatusOr<Position> PositionAt(const Ledger& ledger, Micros now);

// Days an item is overdue at `now` (0 when not due or settled).
int DaysOverdue(const Item& item, Micros now);

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_LEDGER_H_
