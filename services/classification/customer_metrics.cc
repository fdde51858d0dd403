#include "services/classification/customer_metrics.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "absl/numeric/int128.h"

namespace tierwise::classification {
namespace {

// A 128-bit sum as an int64 figure: held at the bound it passes, and `figure` noted in
// *out_of_range (the first one), never wrapped.
int64_t Held(absl::int128 sum, const char* figure, std::string* out_of_range) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (sum <= kMax && sum >= kMin) return static_cast<int64_t>(sum);
  if (out_of_range->empty()) *out_of_range = figure;
  return sum > kMax ? kMax : kMin;
}

}  // namespace

CustomerMetrics ComputeMetrics(const std::vector<LedgerEntry>& entries, Micros now) {
  struct Order {
    Micros at = 0;
    int64_t amount = 0;
    int64_t margin = 0;
    int64_t cancelled = 0;
  };
  std::map<std::string, Order> orders;
  std::set<std::string> seen;
  for (const LedgerEntry& e : entries) {
    if (e.kind != LedgerEntry::Kind::kOrder || !seen.insert(e.event_id).second) continue;
    if (orders.contains(e.document_no)) continue;  // first order per number counts
    orders[e.document_no] = {e.occurred_at, e.amount, e.margin, 0};
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
  const Micros window_start = now - kYear;
  for (const auto& [no, o] : orders) {
    if (o.at > now) {
      // Dated ahead of `now` (a clock ahead of ours, a date-only value from a later time zone):
      // it counts from its date on, when the window is looked at again.
      if (m.next_window_exit == 0 || o.at < m.next_window_exit) m.next_window_exit = o.at;
      continue;
    }
    if (m.first_order_at == 0 || o.at < m.first_order_at) m.first_order_at = o.at;
    m.last_order_at = std::max(m.last_order_at, o.at);
    if (o.at <= window_start) continue;
    const int64_t net = o.amount - o.cancelled;
    if (net <= 0) continue;  // fully cancelled orders do not count
    revenue_12m += net;
    // Margin shrinks with the cancelled share of the order (integer arithmetic, in 128 bits:
    // margin × net overflows 64 bits for orders of some ten million).
    margin_12m += o.amount == 0 ? 0 : absl::int128(o.margin) * net / o.amount;
    ++m.orders_12m;
    if (o.at > now - kYear / 2) {
      revenue_last_6m += net;
    } else {
      revenue_prev_6m += net;
    }
    active_months.insert((now - o.at) / (kYear / 12));
    const Micros exit = o.at + kYear;
    if (m.next_window_exit == 0 || exit < m.next_window_exit) m.next_window_exit = exit;
  }
  m.revenue_12m = Held(revenue_12m, "revenue_12m", &m.out_of_range);
  m.margin_12m = Held(margin_12m, "margin_12m", &m.out_of_range);
  m.revenue_last_6m = Held(revenue_last_6m, "revenue_last_6m", &m.out_of_range);
  m.revenue_prev_6m = Held(revenue_prev_6m, "revenue_prev_6m", &m.out_of_range);
  if (m.first_order_at != 0) {
    const int64_t months = std::clamp<int64_t>((now - m.first_order_at) / (kYear / 12) + 1, 1, 12);
    m.renewal_permille = static_cast<int>(
        std::min<int64_t>(1000, static_cast<int64_t>(active_months.size()) * 1000 / months));
  }
  return m;
}

void AddInteractionMetrics(const std::vector<InteractionFact>& interactions,
                           const std::vector<ComplaintFact>& complaints, Micros now,
                           CustomerMetrics* m) {
  const Micros window_start = now - kYear;
  const auto leaves_at = [m](Micros exit) {
    if (m->next_window_exit == 0 || exit < m->next_window_exit) m->next_window_exit = exit;
  };
  std::set<std::string> seen;
  int64_t sum = 0;
  int count = 0;
  for (const InteractionFact& i : interactions) {
    if (i.superseded || i.satisfaction < 1 || i.satisfaction > 5 || i.occurred_at <= window_start ||
        !seen.insert(i.interaction_id).second) {
      continue;
    }
    sum += i.satisfaction;
    ++count;
    leaves_at(i.occurred_at + kYear);
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
    if (c.opened_at <= window_start) continue;
    ++m->complaints_12m;
    m->sla_breaches_12m += (c.response_breached ? 1 : 0) + (c.resolution_breached ? 1 : 0);
    leaves_at(c.opened_at + kYear);
  }
}

}  // namespace tierwise::classification
