#include "services/credit/ledger.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <tuple>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"

namespace tierwise::credit {
namespace {

const std::string kNoOrder;

}  // namespace

const std::string& NamedOrder(const Fact& fact) {
  if (const auto* order = std::get_if<OrderFact>(&fact.body)) return order->order_no;
  if (const auto* cancel = std::get_if<CancellationFact>(&fact.body)) return cancel->order_no;
  if (const auto* payment = std::get_if<PaymentFact>(&fact.body)) return payment->order_no;
  return kNoOrder;
}

LedgerApplier::LedgerApplier(LedgerState state, const Terms& account_terms,
                             const BusinessCalendar& calendar)
    : state_(std::move(state)), account_terms_(account_terms), calendar_(calendar) {
  for (size_t i = 0; i < state_.items.size(); ++i) index_[state_.items[i].order_no] = i;
}

absl::Status LedgerApplier::Apply(const Fact& fact) {
  if (!(state_.last < KeyOf(fact))) {
    return absl::InvalidArgumentError(absl::StrCat("fact ", fact.event_id,
                                                   " is not after the last applied fact ",
                                                   state_.last.event_id, ": replay the ledger"));
  }
  state_.last = KeyOf(fact);
  now_ = fact.occurred_at;
  ++state_.facts;
  if (const auto* order = std::get_if<OrderFact>(&fact.body)) {
    if (!index_.contains(order->order_no)) {  // the first fact for an order number wins
      Item item;
      item.event_id = fact.event_id;
      state_.items.push_back(std::move(item));
      index_[order->order_no] = state_.items.size() - 1;
      OnOrder(*order);
    }
  } else if (const auto* cancel = std::get_if<CancellationFact>(&fact.body)) {
    OnCancellation(*cancel);
  } else if (const auto* payment = std::get_if<PaymentFact>(&fact.body)) {
    OnPayment(*payment);
  }
  return absl::OkStatus();
}

void LedgerApplier::OnOrder(const OrderFact& o) {
  Item& item = state_.items[index_.at(o.order_no)];
  item.order_no = o.order_no;
  item.product_line = o.product_line;
  item.occurred_at = now_;
  item.invoiced_at = o.invoiced_at != 0 ? o.invoiced_at : now_;
  const Terms& terms = o.terms.type != Terms::Type::kUnspecified ? o.terms : account_terms_;
  item.due_date = o.due_date != 0 ? o.due_date : DueDate(item.invoiced_at, terms, calendar_);
  item.original = o.amount;
  item.margin = o.margin;
  changed_.insert(o.order_no);
  if (state_.first_order_at == 0) state_.first_order_at = now_;
  if (auto it = state_.waiting.find(o.order_no); it != state_.waiting.end()) {
    for (const CancellationFact& c : it->second) Cancel(item, c);
    state_.waiting.erase(it);
  }
  if (auto it = state_.reserved.find(o.order_no); it != state_.reserved.end()) {
    for (Credit& c : it->second) {
      PayInto(item, c);
      if (c.amount > 0) state_.pool.push_back(c);
    }
    state_.reserved.erase(it);
  }
  // Money already on the account (advance payments, credit notes) settles the new order.
  ApplyPool();
}

void LedgerApplier::OnCancellation(const CancellationFact& c) {
  auto it = index_.find(c.order_no);
  if (it == index_.end()) {
    state_.waiting[c.order_no].push_back(c);
    return;
  }
  Cancel(state_.items[it->second], c);
  ApplyPool();
}

void LedgerApplier::OnPayment(const PaymentFact& p) {
  Credit credit{p.payment_no, p.amount};
  if (!p.order_no.empty()) {
    auto it = index_.find(p.order_no);
    if (it == index_.end()) {
      state_.reserved[p.order_no].push_back(credit);  // its order has not been seen yet
      return;
    }
    PayInto(state_.items[it->second], credit);
  }
  if (credit.amount > 0) state_.pool.push_back(credit);
  ApplyPool();
}

void LedgerApplier::Cancel(Item& item, const CancellationFact& c) {
  const int64_t remaining = item.net();
  const int64_t amount = c.amount == 0 ? remaining : std::min(c.amount, remaining);
  if (amount <= 0) return;
  item.cancelled += amount;
  changed_.insert(item.order_no);
  if (item.paid > item.net()) {
    // Cancelled after payment: the excess becomes a credit note on the account.
    const int64_t excess = item.paid - item.net();
    item.paid -= excess;
    state_.pool.push_back({"credit-note:" + c.document_no, excess});
  }
  if (item.balance() == 0 && item.paid > 0 && item.settled_at == 0) item.settled_at = now_;
}

void LedgerApplier::PayInto(Item& item, Credit& credit) {
  const int64_t amount = std::min(credit.amount, item.balance());
  if (amount <= 0) return;
  item.paid += amount;
  credit.amount -= amount;
  changed_.insert(item.order_no);
  if (item.payments.empty() || item.payments.back() != credit.payment_no) {
    item.payments.push_back(credit.payment_no);
  }
  if (item.balance() == 0) item.settled_at = now_;
}

// Applies pooled credit to open items, oldest due first.
void LedgerApplier::ApplyPool() {
  if (state_.pool.empty()) return;
  std::vector<size_t> open;
  for (size_t i = 0; i < state_.items.size(); ++i) {
    if (state_.items[i].balance() > 0) open.push_back(i);
  }
  std::sort(open.begin(), open.end(), [&](size_t a, size_t b) {
    const Item& x = state_.items[a];
    const Item& y = state_.items[b];
    return std::tie(x.due_date, x.occurred_at, x.order_no) <
           std::tie(y.due_date, y.occurred_at, y.order_no);
  });
  for (size_t i : open) {
    Item& item = state_.items[i];
    while (item.balance() > 0 && !state_.pool.empty()) {
      PayInto(item, state_.pool.front());
      if (state_.pool.front().amount == 0) state_.pool.pop_front();
    }
    if (state_.pool.empty()) break;
  }
}

Micros DueDate(Micros invoiced_at, const Terms& terms, const BusinessCalendar& calendar) {
  switch (terms.type) {
    case Terms::Type::kNetDays:
      return calendar.AddDays(invoiced_at, terms.net_days);
    case Terms::Type::kMonthlyStatement: {
      // 月结: the month's invoices are due at the end of the following local month (+ net_days).
      const Micros first_of_next_next = calendar.StartOf(calendar.MonthOf(invoiced_at) + 2);
      return calendar.AddDays(first_of_next_next - 1000000, terms.net_days);
    }
    case Terms::Type::kPrepaid:
    case Terms::Type::kUnspecified:
      return invoiced_at;
  }
  return invoiced_at;
}

bool AllAfter(const FactKey& last, const std::vector<Fact>& facts) {
  return std::all_of(facts.begin(), facts.end(), [&](const Fact& f) { return last < KeyOf(f); });
}

LedgerState ReplayState(std::vector<Fact> facts, const Terms& account_terms,
                        const BusinessCalendar& calendar) {
  std::sort(facts.begin(), facts.end(),
            [](const Fact& a, const Fact& b) { return KeyOf(a) < KeyOf(b); });
  LedgerApplier applier(LedgerState{}, account_terms, calendar);
  for (const Fact& f : facts) {
    // A repeated key (the same event twice) changes nothing.
    if (applier.state().last < KeyOf(f)) (void)applier.Apply(f);
  }
  return applier.Take();
}

Ledger LedgerOf(LedgerState state) {
  Ledger ledger;
  std::sort(state.items.begin(), state.items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.occurred_at, a.event_id) < std::tie(b.occurred_at, b.event_id);
  });
  ledger.items = std::move(state.items);
  ledger.first_order_at = state.first_order_at;
  ledger.facts = state.facts;
  bool fits = true;
  for (const Credit& c : state.pool) fits = fits && AddChecked(ledger.unapplied, c.amount);
  for (const auto& [order_no, credits] : state.reserved) {
    for (const Credit& c : credits) fits = fits && AddChecked(ledger.unapplied, c.amount);
  }
  if (!fits) ledger.out_of_range = "unapplied credit";
  return ledger;
}

Ledger Replay(std::vector<Fact> facts, const Terms& account_terms,
              const BusinessCalendar& calendar) {
  return LedgerOf(ReplayState(std::move(facts), account_terms, calendar));
}

int64_t LocalDayNumber(const BusinessCalendar& calendar, Micros at) {
  return calendar.DayOf(at) - absl::CivilDay(1970, 1, 1);
}

bool SettledOnTime(const Item& item, const BusinessCalendar& calendar) {
  return item.net() > 0 && item.settled_at != 0 && item.balance() <= 0 &&
         calendar.DayOf(item.settled_at) <= calendar.DayOf(item.due_date);
}

bool AddToDays(const Item& item, int sign, const BusinessCalendar& calendar,
               std::map<int64_t, DayFigures>* days) {
  const bool fits =
      AddChecked((*days)[LocalDayNumber(calendar, item.invoiced_at)].sales, sign * item.net());
  if (item.net() > 0) {
    DayFigures& due = (*days)[LocalDayNumber(calendar, item.due_date)];
    due.due += sign;
    if (SettledOnTime(item, calendar)) due.on_time += sign;
  }
  return fits;
}

void PruneDays(std::map<int64_t, DayFigures>* days, Micros now, const BusinessCalendar& calendar) {
  const int64_t first_kept = LocalDayNumber(calendar, now) - kKeptDays;
  std::erase_if(*days, [first_kept](const auto& entry) {
    return entry.first < first_kept || entry.second == DayFigures{};
  });
}

WindowTotals TotalsFromDays(const std::map<int64_t, DayFigures>& days, Micros now,
                            const BusinessCalendar& calendar) {
  WindowTotals t;
  const int64_t today = LocalDayNumber(calendar, now);
  for (auto it = days.lower_bound(today - 364); it != days.end() && it->first <= today; ++it) {
    const auto& [day, f] = *it;
    if (day > today - 90 && !AddChecked(t.sales_90, f.sales)) t.sales_out_of_range = true;
    if (day < today) t.due_in_year += f.due;
    t.on_time += f.on_time;
    if (day == today) t.due_in_year += f.on_time;  // due today: counts once settled
  }
  return t;
}

int DaysOverdue(const Item& item, Micros now, const BusinessCalendar& calendar) {
  if (item.balance() <= 0 || now <= item.due_date) return 0;
  return static_cast<int>(std::max<int64_t>(0, calendar.DaysBetween(item.due_date, now)));
}

absl::StatusOr<Position> PositionAt(const Ledger& ledger, Micros now,
                                    const BusinessCalendar& calendar) {
  const auto out_of_range = [](absl::string_view figure) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the account's ", figure, " would pass the int64 range of minor units (",
        std::numeric_limits<int64_t>::max(), "): its documents (at most ", kMaxDocumentMinorUnits,
        " minor units each) add up to more than a figure can hold; the ledger needs repair"));
  };
  if (!ledger.out_of_range.empty()) return out_of_range(ledger.out_of_range);
  Position p;
  int64_t sales_90 = 0;
  int64_t due_in_year = 0;
  int64_t on_time = 0;
  if (ledger.windows.has_value()) {
    if (ledger.windows->sales_out_of_range) return out_of_range("sales of the last 90 days (DSO)");
    sales_90 = ledger.windows->sales_90;
    due_in_year = ledger.windows->due_in_year;
    on_time = ledger.windows->on_time;
  }
  const absl::CivilDay today = calendar.DayOf(now);
  for (const Item& item : ledger.items) {
    if (!ledger.windows.has_value()) {
      // Sales invoiced on the last 90 local days, today included.
      const int64_t age = today - calendar.DayOf(item.invoiced_at);
      if (age >= 0 && age < 90 && !AddChecked(sales_90, item.net())) {
        return out_of_range("sales of the last 90 days (DSO)");
      }
      if (item.net() > 0) {
        const int64_t since_due = today - calendar.DayOf(item.due_date);
        const bool settled_on_time = SettledOnTime(item, calendar);
        // An item counts once its due day has passed, or from its due day when settled by then.
        if (since_due < 365 && (since_due >= 1 || (since_due == 0 && settled_on_time))) {
          ++due_in_year;
          if (settled_on_time) ++on_time;
        }
      }
    }
    const int64_t balance = item.balance();
    if (balance <= 0) continue;
    if (item.invoiced_at > now) {
      if (!AddChecked(p.open_orders, balance)) return out_of_range("open orders");
      continue;
    }
    if (!AddChecked(p.open_receivables, balance)) return out_of_range("open receivables");
    if (p.oldest_open_due == 0 || item.due_date < p.oldest_open_due) {
      p.oldest_open_due = item.due_date;
    }
    const int days = DaysOverdue(item, now, calendar);
    if (days == 0) {
      // Each bucket is part of the open receivables, already checked above.
      p.aging.current += balance;
      continue;
    }
    p.overdue_amount += balance;  // ≤ open receivables
    ++p.overdue_items;
    p.max_days_overdue = std::max(p.max_days_overdue, days);
    if (days <= 30) {
      p.aging.days_1_30 += balance;
    } else if (days <= 60) {
      p.aging.days_31_60 += balance;
    } else if (days <= 90) {
      p.aging.days_61_90 += balance;
    } else {
      p.aging.days_over_90 += balance;
    }
  }
  if (int64_t exposure = p.open_receivables; !AddChecked(exposure, p.open_orders)) {
    return out_of_range("exposure (open receivables + open orders)");
  }
  if (sales_90 > 0) {
    // In 128 bits: receivables × 90 passes int64 from about 10^17 minor units.
    p.dso_days = static_cast<int>(
        std::min<absl::int128>(365, absl::int128(p.open_receivables) * 90 / sales_90));
  } else {
    p.dso_days = p.open_receivables > 0 ? 365 : 0;
  }
  if (due_in_year > 0) {
    p.on_time_permille = static_cast<int>(on_time * 1000 / due_in_year);
  }
  return p;
}

}  // namespace tierwise::credit
