#include "services/credit/ledger.h"

#include <algorithm>
#include <ctime>
#include <deque>
#include <limits>
#include <map>
#include <tuple>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"

namespace tierwise::credit {
namespace {

// Money waiting to be applied, remembered by payment so items list who paid them.
struct Credit {
  std::string payment_no;
  int64_t amount = 0;
};

class Replayer {
 public:
  explicit Replayer(const Terms& account_terms) : account_terms_(account_terms) {}

  void Apply(const Fact& fact) {
    now_ = fact.occurred_at;
    ++ledger_.facts;
    if (const auto* order = std::get_if<OrderFact>(&fact.body)) {
      OnOrder(*order);
    } else if (const auto* cancel = std::get_if<CancellationFact>(&fact.body)) {
      OnCancellation(*cancel);
    } else if (const auto* payment = std::get_if<PaymentFact>(&fact.body)) {
      OnPayment(*payment);
    }
  }

  Ledger Finish() {
    bool fits = true;
    for (const Credit& c : pool_) fits = fits && AddChecked(ledger_.unapplied, c.amount);
    for (const auto& [order_no, credits] : reserved_) {
      for (const Credit& c : credits) fits = fits && AddChecked(ledger_.unapplied, c.amount);
    }
    if (!fits) ledger_.out_of_range = "unapplied credit";
    return std::move(ledger_);
  }

 private:
  void OnOrder(const OrderFact& o) {
    if (index_.contains(o.order_no)) return;  // the first fact for an order number wins
    Item item;
    item.order_no = o.order_no;
    item.product_line = o.product_line;
    item.occurred_at = now_;
    item.invoiced_at = o.invoiced_at != 0 ? o.invoiced_at : now_;
    const Terms& terms = o.terms.type != Terms::Type::kUnspecified ? o.terms : account_terms_;
    item.due_date = o.due_date != 0 ? o.due_date : DueDate(item.invoiced_at, terms);
    item.original = o.amount;
    item.margin = o.margin;
    if (ledger_.first_order_at == 0) ledger_.first_order_at = now_;
    index_[o.order_no] = ledger_.items.size();
    ledger_.items.push_back(std::move(item));
    Item& added = ledger_.items.back();
    if (auto it = waiting_cancellations_.find(o.order_no); it != waiting_cancellations_.end()) {
      for (const CancellationFact& c : it->second) Cancel(added, c);
      waiting_cancellations_.erase(it);
    }
    if (auto it = reserved_.find(o.order_no); it != reserved_.end()) {
      for (Credit& c : it->second) {
        PayInto(added, c);
        if (c.amount > 0) pool_.push_back(c);
      }
      reserved_.erase(it);
    }
    // Money already on the account (advance payments, credit notes) settles the new order.
    ApplyPool();
  }

  void OnCancellation(const CancellationFact& c) {
    auto it = index_.find(c.order_no);
    if (it == index_.end()) {
      waiting_cancellations_[c.order_no].push_back(c);
      return;
    }
    Cancel(ledger_.items[it->second], c);
    ApplyPool();
  }

  void OnPayment(const PaymentFact& p) {
    Credit credit{p.payment_no, p.amount};
    if (!p.order_no.empty()) {
      auto it = index_.find(p.order_no);
      if (it == index_.end()) {
        reserved_[p.order_no].push_back(credit);  // its order has not been seen yet
        return;
      }
      PayInto(ledger_.items[it->second], credit);
    }
    if (credit.amount > 0) pool_.push_back(credit);
    ApplyPool();
  }

  void Cancel(Item& item, const CancellationFact& c) {
    const int64_t remaining = item.net();
    const int64_t amount = c.amount == 0 ? remaining : std::min(c.amount, remaining);
    if (amount <= 0) return;
    item.cancelled += amount;
    if (item.paid > item.net()) {
      // Cancelled after payment: the excess becomes a credit note on the account.
      const int64_t excess = item.paid - item.net();
      item.paid -= excess;
      pool_.push_back({"credit-note:" + c.document_no, excess});
    }
    if (item.balance() == 0 && item.paid > 0 && item.settled_at == 0) item.settled_at = now_;
  }

  void PayInto(Item& item, Credit& credit) {
    const int64_t amount = std::min(credit.amount, item.balance());
    if (amount <= 0) return;
    item.paid += amount;
    credit.amount -= amount;
    if (item.payments.empty() || item.payments.back() != credit.payment_no) {
      item.payments.push_back(credit.payment_no);
    }
    if (item.balance() == 0) item.settled_at = now_;
  }

  // Applies pooled credit to open items, oldest due first.
  void ApplyPool() {
    if (pool_.empty()) return;
    std::vector<size_t> open;
    for (size_t i = 0; i < ledger_.items.size(); ++i) {
      if (ledger_.items[i].balance() > 0) open.push_back(i);
    }
    std::sort(open.begin(), open.end(), [&](size_t a, size_t b) {
      const Item& x = ledger_.items[a];
      const Item& y = ledger_.items[b];
      return std::tie(x.due_date, x.occurred_at, x.order_no) <
             std::tie(y.due_date, y.occurred_at, y.order_no);
    });
    for (size_t i : open) {
      Item& item = ledger_.items[i];
      while (item.balance() > 0 && !pool_.empty()) {
        PayInto(item, pool_.front());
        if (pool_.front().amount == 0) pool_.pop_front();
      }
      if (pool_.empty()) break;
    }
  }

  const Terms account_terms_;
  Micros now_ = 0;
  Ledger ledger_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::vector<CancellationFact>> waiting_cancellations_;
  std::map<std::string, std::vector<Credit>> reserved_;
  std::deque<Credit> pool_;
};

}  // namespace

Micros DueDate(Micros invoiced_at, const Terms& terms) {
  switch (terms.type) {
    case Terms::Type::kNetDays:
      return invoiced_at + static_cast<Micros>(terms.net_days) * kDay;
    case Terms::Type::kMonthlyStatement: {
      // 月结: the month's invoices are due at the end of the following month (+ net_days).
      const time_t seconds = static_cast<time_t>(invoiced_at / 1000000);
      std::tm tm{};
      gmtime_r(&seconds, &tm);
      std::tm end{};
      end.tm_year = tm.tm_year;
      end.tm_mon = tm.tm_mon + 2;  // first day of the month after next, 00:00 UTC
      end.tm_mday = 1;
      const Micros first_of_next_next = static_cast<Micros>(timegm(&end)) * 1000000;
      return first_of_next_next - 1000000 + static_cast<Micros>(terms.net_days) * kDay;
    }
    case Terms::Type::kPrepaid:
    case Terms::Type::kUnspecified:
      return invoiced_at;
  }
  return invoiced_at;
}

Ledger Replay(std::vector<Fact> facts, const Terms& account_terms) {
  std::sort(facts.begin(), facts.end(), [](const Fact& a, const Fact& b) {
    return std::tie(a.occurred_at, a.event_id) < std::tie(b.occurred_at, b.event_id);
  });
  Replayer replayer(account_terms);
  for (const Fact& f : facts) replayer.Apply(f);
  return replayer.Finish();
}

int DaysOverdue(const Item& item, Micros now) {
  if (item.balance() <= 0 || now <= item.due_date) return 0;
  return static_cast<int>((now - item.due_date) / kDay);
}

absl::StatusOr<Position> PositionAt(const Ledger& ledger, Micros now) {
  const auto out_of_range = [](absl::string_view figure) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the account's ", figure, " would pass the int64 range of minor units (",
        std::numeric_limits<int64_t>::max(), "): its documents (at most ", kMaxDocumentMinorUnits,
        " minor units each) add up to more than a figure can hold; the ledger needs repair"));
  };
  if (!ledger.out_of_range.empty()) return out_of_range(ledger.out_of_range);
  Position p;
  int64_t sales_90 = 0;
  int due_in_year = 0;
  int on_time = 0;
  for (const Item& item : ledger.items) {
    if (item.invoiced_at <= now && item.invoiced_at > now - 90 * kDay &&
        !AddChecked(sales_90, item.net())) {
      return out_of_range("sales of the last 90 days (DSO)");
    }
    if (item.net() > 0 && item.due_date <= now && item.due_date > now - 365 * kDay) {
      ++due_in_year;
      if (item.settled_at != 0 && item.settled_at - item.due_date < kDay) ++on_time;
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
    const int days = DaysOverdue(item, now);
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
    p.on_time_permille = static_cast<int>(static_cast<int64_t>(on_time) * 1000 / due_in_year);
  }
  return p;
}

}  // namespace tierwise::credit
