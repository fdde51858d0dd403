#include "services/classification/customer_metrics.h"

#include <algorithm>
#include <map>
#include <set>

namespace tierwise::classification {

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
    const int64_t remaining = o.amount - o.cancelled;
    o.cancelled += e.amount == 0 ? remaining : std::min(e.amount, remaining);
  }
  CustomerMetrics m;
  std::set<int64_t> active_months;
  const Micros window_start = now - kYear;
  for (const auto& [no, o] : orders) {
    if (o.at > now) continue;
    if (m.first_order_at == 0 || o.at < m.first_order_at) m.first_order_at = o.at;
    m.last_order_at = std::max(m.last_order_at, o.at);
    if (o.at <= window_start) continue;
    const int64_t net = o.amount - o.cancelled;
    if (net <= 0) continue;  // fully cancelled orders do not count
    m.revenue_12m += net;
    // Margin shrinks with the cancelled share of the order (integer arithmetic).
    m.margin_12m += o.amount == 0 ? 0 : o.margin * net / o.amount;
    ++m.orders_12m;
    if (o.at > now - kYear / 2) {
      m.revenue_last_6m += net;
    } else {
      m.revenue_prev_6m += net;
    }
    active_months.insert((now - o.at) / (kYear / 12));
    const Micros exit = o.at + kYear;
    if (m.next_window_exit == 0 || exit < m.next_window_exit) m.next_window_exit = exit;
  }
  if (m.first_order_at != 0) {
    const int64_t months = std::clamp<int64_t>((now - m.first_order_at) / (kYear / 12) + 1, 1, 12);
    m.renewal_permille = static_cast<int>(
        std::min<int64_t>(1000, static_cast<int64_t>(active_months.size()) * 1000 / months));
  }
  return m;
}

}  // namespace tierwise::classification
