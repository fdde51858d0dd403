#include "services/classification/ledger_state.h"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <set>
#include <tuple>

namespace tierwise::classification {
namespace {

// What an order adds to its day's sums beyond its presence.
struct Contribution {
  absl::int128 revenue = 0;
  absl::int128 margin = 0;
  int32_t counted = 0;
};

Contribution ContributionOf(const OrderFact& o) {
  if (!o.has_order() || o.whole_cancelled) return {};
  const int64_t cancelled = std::min(o.amount, o.partial_cancelled);
  const absl::int128 net = absl::int128(o.amount) - cancelled;
  if (net <= 0) return {};  // fully cancelled orders do not count
  // Margin shrinks with the cancelled share (integer arithmetic in 128 bits, as ComputeMetrics).
  return {net, o.amount == 0 ? 0 : absl::int128(o.margin) * net / o.amount, 1};
}

// Adds (sign 1) or removes (sign -1) a contribution to the order's day, or nothing when the day
// was pruned.
void AddContribution(const Contribution& c, absl::CivilDay day, int sign, LedgerState* state) {
  if (c.counted == 0 || day < state->pruned_before) return;
  DayFigures& d = state->days[day];
  d.revenue += sign * c.revenue;
  d.margin += sign * c.margin;
  d.counted += sign * c.counted;
}

void AddPresence(Micros at, absl::CivilDay day, LedgerState* state) {
  if (day < state->pruned_before) {
    if (state->pruned_first == 0 || at < state->pruned_first) state->pruned_first = at;
    state->pruned_last = std::max(state->pruned_last, at);
    return;
  }
  DayFigures& d = state->days[day];
  if (d.orders == 0 || at < d.first_at) d.first_at = at;
  if (d.orders == 0 || at > d.last_at) d.last_at = at;
  ++d.orders;
}

// ---- The binary form: a version byte, then zigzag varints. ----

constexpr char kFormat = 1;

void PutVarint(absl::uint128 v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(static_cast<uint8_t>(absl::Uint128Low64(v) & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(absl::Uint128Low64(v)));
}

void PutSigned(absl::int128 v, std::string* out) {
  PutVarint(v < 0 ? (absl::uint128(~v) << 1) | 1 : absl::uint128(v) << 1, out);
}

bool GetVarint(std::string_view* in, absl::uint128* v) {
  *v = 0;
  for (int shift = 0; shift < 128; shift += 7) {
    if (in->empty()) return false;
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= absl::uint128(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetSigned(std::string_view* in, absl::int128* v) {
  absl::uint128 u;
  if (!GetVarint(in, &u)) return false;
  const absl::int128 half = static_cast<absl::int128>(u >> 1);
  *v = (absl::Uint128Low64(u) & 1) != 0 ? ~half : half;
  return true;
}

template <typename T>
bool GetInt(std::string_view* in, T* v) {
  absl::int128 wide;
  if (!GetSigned(in, &wide) || wide > absl::int128(std::numeric_limits<T>::max()) ||
      wide < absl::int128(std::numeric_limits<T>::min())) {
    return false;
  }
  *v = static_cast<T>(wide);
  return true;
}

int64_t DayNumber(absl::CivilDay day) { return day - absl::CivilDay(); }

}  // namespace

bool ApplyLedgerEntry(const LedgerEntry& e, const time::BusinessCalendar& calendar, OrderFact* o,
                      LedgerState* state) {
  switch (e.kind) {
    case LedgerEntry::Kind::kPayment:
      return true;
    case LedgerEntry::Kind::kOrder: {
      if (o->has_order()) {
        // The earliest order event of a number counts: a later one changes nothing, an earlier
        // one that arrives late replaces it (the caller replays).
        return std::tie(e.occurred_at, e.event_id) >= std::tie(o->occurred_at, o->order_event_id);
      }
      o->document_no = e.document_no;
      o->order_event_id = e.event_id;
      o->occurred_at = e.occurred_at;
      o->amount = e.amount;
      o->margin = e.margin;
      const absl::CivilDay day = calendar.DayOf(e.occurred_at);
      AddPresence(e.occurred_at, day, state);
      AddContribution(ContributionOf(*o), day, 1, state);
      return true;
    }
    case LedgerEntry::Kind::kCancellation: {
      const Contribution before = ContributionOf(*o);
      o->document_no = e.document_no;
      if (e.amount == 0) {
        o->whole_cancelled = true;
      } else if (e.amount > 0) {
        // Held at the maximum: it then exceeds any amount, which is all a sum this large says.
        o->partial_cancelled = e.amount > std::numeric_limits<int64_t>::max() - o->partial_cancelled
                                   ? std::numeric_limits<int64_t>::max()
                                   : o->partial_cancelled + e.amount;
      }  // a negative cancellation adds nothing
      if (o->has_order()) {
        const absl::CivilDay day = calendar.DayOf(o->occurred_at);
        AddContribution(before, day, -1, state);
        AddContribution(ContributionOf(*o), day, 1, state);
      }
      return true;
    }
  }
  return true;
}

LedgerState ReplayLedger(const std::vector<LedgerEntry>& entries, Micros now,
                         const time::BusinessCalendar& calendar,
                         std::map<std::string, OrderFact>* orders) {
  // Orders first, the earliest of each number first (so none is ever replaced), then the
  // cancellations; each event once.
  std::vector<const LedgerEntry*> sorted;
  std::set<std::string_view> seen;
  for (const LedgerEntry& e : entries) {
    if (e.kind != LedgerEntry::Kind::kPayment && seen.insert(e.event_id).second) {
      sorted.push_back(&e);
    }
  }
  std::sort(sorted.begin(), sorted.end(), [](const LedgerEntry* a, const LedgerEntry* b) {
    return std::tie(a->kind, a->occurred_at, a->event_id) <
           std::tie(b->kind, b->occurred_at, b->event_id);
  });
  std::map<std::string, OrderFact> rows;
  LedgerState state;
  for (const LedgerEntry* e : sorted) ApplyLedgerEntry(*e, calendar, &rows[e->document_no], &state);
  PruneLedgerState(now, calendar, &state);
  if (orders != nullptr) *orders = std::move(rows);
  return state;
}

void PruneLedgerState(Micros now, const time::BusinessCalendar& calendar, LedgerState* state) {
  const absl::CivilDay horizon = AddMonths(calendar.DayOf(now), -13);
  if (horizon <= state->pruned_before) return;
  for (auto it = state->days.begin(); it != state->days.end() && it->first < horizon;) {
    const DayFigures& d = it->second;
    if (d.orders > 0) {
      if (state->pruned_first == 0 || d.first_at < state->pruned_first) {
        state->pruned_first = d.first_at;
      }
      state->pruned_last = std::max(state->pruned_last, d.last_at);
    }
    it = state->days.erase(it);
  }
  state->pruned_before = horizon;
}

CustomerMetrics MetricsOfState(const LedgerState& state, Micros now,
                               const time::BusinessCalendar& calendar) {
  CustomerMetrics m;
  absl::int128 revenue_12m = 0, margin_12m = 0, revenue_last_6m = 0, revenue_prev_6m = 0;
  int64_t orders_12m = 0;
  const absl::CivilDay today = calendar.DayOf(now);
  // last[k]: the last day d with AddMonths(d, k) <= today, i.e. whole months from d to today
  // are at least k. A day is in the window after last[12], in the last six months after
  // last[6], and k months back when it is after last[k + 1] and not after last[k]. (With
  // month ends held, last[k] can be a few days after AddMonths(today, -k).)
  std::array<absl::CivilDay, 13> last;
  for (int k = 0; k < 13; ++k) {
    absl::CivilDay d = AddMonths(today, -k);
    while (AddMonths(d + 1, k) <= today) ++d;
    last[k] = d;
  }
  // The first later day on which a figure changes. Every candidate is a day after today (so
  // its local 00:00 is after `now`); AddMonths is monotonic, so the first counted day of each
  // group gives the group's earliest one.
  std::optional<absl::CivilDay> next_change;
  const auto changes_on = [&next_change](absl::CivilDay day) {
    if (!next_change.has_value() || day < *next_change) next_change = day;
  };
  m.first_order_at = state.pruned_first;
  m.last_order_at = state.pruned_last;
  uint32_t active_months = 0;  // bit k: an order k months back
  int back = 12;
  bool any_in_window = false, any_last_6m = false;
  for (const auto& [day, d] : state.days) {
    if (d.orders == 0) continue;
    if (day > today) {
      // Dated on a later local day (a clock ahead of ours, a date from a later time zone): it
      // counts from that day on.
      changes_on(day);
      continue;
    }
    if (m.first_order_at == 0 || d.first_at < m.first_order_at) m.first_order_at = d.first_at;
    m.last_order_at = std::max(m.last_order_at, d.last_at);
    if (day <= last[12] || d.counted == 0) continue;  // left the window / all cancelled
    revenue_12m += d.revenue;
    margin_12m += d.margin;
    orders_12m += d.counted;
    const bool last_6m = day > last[6];
    (last_6m ? revenue_last_6m : revenue_prev_6m) += d.revenue;
    // It leaves the window, moves to the six months before, or one month further back.
    if (!any_in_window) changes_on(AddMonths(day, 12));
    any_in_window = true;
    if (last_6m && !any_last_6m) changes_on(AddMonths(day, 6));
    any_last_6m = any_last_6m || last_6m;
    while (back > 0 && day > last[back]) --back;
    if ((active_months & (1u << back)) == 0) changes_on(AddMonths(day, back + 1));
    active_months |= 1u << back;
  }
  if (next_change.has_value()) m.next_window_exit = calendar.StartOf(*next_change);
  m.orders_12m = static_cast<int>(std::min<int64_t>(orders_12m, std::numeric_limits<int>::max()));
  m.revenue_12m = HeldMoney(revenue_12m, "revenue_12m", &m.out_of_range);
  m.margin_12m = HeldMoney(margin_12m, "margin_12m", &m.out_of_range);
  m.revenue_last_6m = HeldMoney(revenue_last_6m, "revenue_last_6m", &m.out_of_range);
  m.revenue_prev_6m = HeldMoney(revenue_prev_6m, "revenue_prev_6m", &m.out_of_range);
  SetRenewal(std::popcount(active_months), now, calendar, &m);
  return m;
}

std::string EncodeLedgerState(const LedgerState& state) {
  std::string out;
  out.reserve(16 + state.days.size() * 20);
  out.push_back(kFormat);
  PutSigned(DayNumber(state.pruned_before), &out);
  PutSigned(state.pruned_first, &out);
  PutSigned(state.pruned_last, &out);
  PutSigned(static_cast<int64_t>(state.days.size()), &out);
  int64_t previous = 0;
  for (const auto& [day, d] : state.days) {
    const int64_t number = DayNumber(day);
    PutSigned(number - previous, &out);
    previous = number;
    PutSigned(d.revenue, &out);
    PutSigned(d.margin, &out);
    PutSigned(d.counted, &out);
    PutSigned(d.orders, &out);
    // Instants relative to the day's UTC midnight: a few bytes each.
    PutSigned(d.first_at - number * kDay, &out);
    PutSigned(d.last_at - d.first_at, &out);
  }
  return out;
}

std::optional<LedgerState> DecodeLedgerState(std::string_view in) {
  if (in.empty() || in.front() != kFormat) return std::nullopt;
  in.remove_prefix(1);
  LedgerState state;
  int64_t pruned_before = 0, count = 0;
  if (!GetInt(&in, &pruned_before) || !GetInt(&in, &state.pruned_first) ||
      !GetInt(&in, &state.pruned_last) || !GetInt(&in, &count) || count < 0) {
    return std::nullopt;
  }
  state.pruned_before = absl::CivilDay() + pruned_before;
  int64_t number = 0;
  for (int64_t i = 0; i < count; ++i) {
    int64_t delta = 0, first = 0, span = 0;
    DayFigures d;
    if (!GetInt(&in, &delta) || !GetSigned(&in, &d.revenue) || !GetSigned(&in, &d.margin) ||
        !GetInt(&in, &d.counted) || !GetInt(&in, &d.orders) || !GetInt(&in, &first) ||
        !GetInt(&in, &span)) {
      return std::nullopt;
    }
    number += delta;
    d.first_at = number * kDay + first;
    d.last_at = d.first_at + span;
    state.days.emplace(absl::CivilDay() + number, d);
  }
  if (!in.empty()) return std::nullopt;
  return state;
}

}  // namespace tierwise::classification
