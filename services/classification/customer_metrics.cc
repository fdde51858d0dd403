#include "services/classification/customer_metrics.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "absl/numeric/int128.h"

namespace tierwise::classification {
namespace {

// When a fact dated `at` leaves the trailing 12 months: local 00:00 of its day a year on.
Micros WindowExit(Micros at, const time::BusinessCalendar& calendar) {
  return calendar.StartOf(AddMonths(calendar.DayOf(at), 12));
}

}  // namespace

int64_t HeldMoney(absl::int128 sum, const char* figure, std::string* out_of_range) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (sum <= kMax && sum >= kMin) return static_cast<int64_t>(sum);
  if (out_of_range->empty()) *out_of_range = figure;
  return sum > kMax ? kMax : kMin;
}

void SetRenewal(int active_months, Micros now, const time::BusinessCalendar& calendar,
                CustomerMetrics* m) {
  if (m->first_order_at == 0) return;
  const absl::CivilDay first_day = calendar.DayOf(m->first_order_at);
  const int64_t since_first = WholeMonthsBetween(first_day, calendar.DayOf(now));
  const int64_t months = std::clamp<int64_t>(since_first + 1, 1, 12);
  // The renewal rate's denominator grows by a month until it reaches twelve.
  if (since_first + 1 < 12 && active_months > 0) {
    const Micros at = calendar.StartOf(AddMonths(first_day, static_cast<int>(since_first) + 1));
    if (at > now && (m->next_window_exit == 0 || at < m->next_window_exit)) {
      m->next_window_exit = at;
    }
  }
  m->renewal_permille = static_cast<int>(
      std::min<int64_t>(1000, static_cast<int64_t>(active_months) * 1000 / months));
}

absl::CivilDay AddMonths(absl::CivilDay day, int months) {
  const absl::CivilMonth month = absl::CivilMonth(day) + months;
  const absl::CivilDay last = absl::CivilDay(month + 1) - 1;
  const absl::CivilDay wanted(month.year(), month.month(), day.day());
  // CivilDay normalises Feb 31 to Mar 3; hold it at the month's last day instead.
  return absl::CivilMonth(wanted) != month ? last : wanted;
}

int64_t WholeMonthsBetween(absl::CivilDay from, absl::CivilDay to) {
  int64_t months = absl::CivilMonth(to) - absl::CivilMonth(from);
  if (months > 0 && AddMonths(from, static_cast<int>(months)) > to) --months;
  if (months < 0 && AddMonths(from, static_cast<int>(months)) < to) ++months;
  return months;
}

CustomerMetrics ComputeMetrics(const std::vector<LedgerEntry>& entries, Micros now,
                               const time::BusinessCalendar& calendar) {
  struct Order {
    Micros at = 0;
    std::string event_id;
    int64_t amount = 0;
    int64_t margin = 0;
    int64_t cancelled = 0;
  };
  std::map<std::string, Order> orders;
  std::set<std::string> seen;
  for (const LedgerEntry& e : entries) {
    if (e.kind != LedgerEntry::Kind::kOrder || !seen.insert(e.event_id).second) continue;
    // Of several orders with one number, the earliest (then the least event id) counts.
    const auto it = orders.find(e.document_no);
    if (it != orders.end() &&
        std::tie(it->second.at, it->second.event_id) <= std::tie(e.occurred_at, e.event_id)) {
      continue;
    }
    orders[e.document_no] = {e.occurred_at, e.event_id, e.amount, e.margin, 0};
  }
  for (const LedgerEntry& e : entries) {
    if (e.kind != LedgerEntry::Kind::kCancellation || !seen.insert(e.event_id).second) continue;
    auto it = orders.find(e.document_no);
    if (it == orders.end()) continue;  // its order has not arrived: no revenue to reduce yet
    Order& o = it->second;
    // Within 0..amount whatever the event says: a negative cancellation adds nothing.
    const int64_t remaining = std::max<int64_t>(0, o.amount - o.cancelled);
    o.cancelled += e.amount == 0 ? remaining : std::clamp<int64_t>(e.amount, 0, remaining);
  }
  CustomerMetrics m;
  // Sums in 128 bits, checked into int64 once at the end.
  absl::int128 revenue_12m = 0, margin_12m = 0, revenue_last_6m = 0, revenue_prev_6m = 0;
  std::set<int64_t> active_months;
  const absl::CivilDay today = calendar.DayOf(now);
  const auto changes_at = [&m, now](Micros at) {
    if (at > now && (m.next_window_exit == 0 || at < m.next_window_exit)) m.next_window_exit = at;
  };
  for (const auto& [no, o] : orders) {
    const absl::CivilDay day = calendar.DayOf(o.at);
    if (day > today) {
      // Dated on a later local day (a clock ahead of ours, a date-only value from a later time
      // zone): it counts from that day on, when the window is looked at again.
      changes_at(calendar.StartOf(day));
      continue;
    }
    if (m.first_order_at == 0 || o.at < m.first_order_at) m.first_order_at = o.at;
    m.last_order_at = std::max(m.last_order_at, o.at);
    if (today >= AddMonths(day, 12)) continue;  // left the window
    const int64_t net = o.amount - o.cancelled;
    if (net <= 0) continue;  // fully cancelled orders do not count
    revenue_12m += net;
    // Margin shrinks with the cancelled share of the order (integer arithmetic, in 128 bits:
    // margin × net overflows 64 bits for orders of some ten million).
    margin_12m += o.amount == 0 ? 0 : absl::int128(o.margin) * net / o.amount;
    ++m.orders_12m;
    if (today < AddMonths(day, 6)) {
      revenue_last_6m += net;
    } else {
      revenue_prev_6m += net;
    }
    const int64_t back = WholeMonthsBetween(day, today);
    active_months.insert(back);
    // It leaves the window, moves to the six months before, or one month further back.
    changes_at(WindowExit(o.at, calendar));
    if (today < AddMonths(day, 6)) changes_at(calendar.StartOf(AddMonths(day, 6)));
    changes_at(calendar.StartOf(AddMonths(day, static_cast<int>(back) + 1)));
  }
  m.revenue_12m = HeldMoney(revenue_12m, "revenue_12m", &m.out_of_range);
  m.margin_12m = HeldMoney(margin_12m, "margin_12m", &m.out_of_range);
  m.revenue_last_6m = HeldMoney(revenue_last_6m, "revenue_last_6m", &m.out_of_range);
  m.revenue_prev_6m = HeldMoney(revenue_prev_6m, "revenue_prev_6m", &m.out_of_range);
  SetRenewal(static_cast<int>(active_months.size()), now, calendar, &m);
  return m;
}

void AddInteractionMetrics(const std::vector<InteractionFact>& interactions,
                           const std::vector<ComplaintFact>& complaints, Micros now,
                           CustomerMetrics* m, const time::BusinessCalendar& calendar) {
  const absl::CivilDay today = calendar.DayOf(now);
  // In the window from its instant until local 00:00 of its day a year on.
  const auto in_window = [&](Micros at) { return today < AddMonths(calendar.DayOf(at), 12); };
  const auto leaves_at = [m](Micros exit) {
    if (m->next_window_exit == 0 || exit < m->next_window_exit) m->next_window_exit = exit;
  };
  std::set<std::string> seen;
  int64_t sum = 0;
  int count = 0;
  for (const InteractionFact& i : interactions) {
    if (i.superseded || i.satisfaction < 1 || i.satisfaction > 5 || !in_window(i.occurred_at) ||
        !seen.insert(i.interaction_id).second) {
      continue;
    }
    sum += i.satisfaction;
    ++count;
    leaves_at(WindowExit(i.occurred_at, calendar));
  }
  m->satisfaction_count_12m = count;
  m->satisfaction_x100.reset();
  if (count > 0) m->satisfaction_x100 = static_cast<int>((sum * 100 * 2 + count) / (2 * count));

  m->complaints_12m = 0;
  m->open_complaints = 0;
  m->sla_breaches_12m = 0;
  seen.clear();
  for (const ComplaintFact& c : complaints) {
    if (!seen.insert(c.complaint_id).second) continue;
    if (c.open) ++m->open_complaints;
    if (!in_window(c.opened_at)) continue;
    ++m->complaints_12m;
    m->sla_breaches_12m += (c.response_breached ? 1 : 0) + (c.resolution_breached ? 1 : 0);
    leaves_at(WindowExit(c.opened_at, calendar));
  }
}

}  // namespace tierwise::classification
