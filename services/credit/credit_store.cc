#include "services/credit/credit_store.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/outbox/outbox.h"
#include "common/postgres/audit.h"
#include "common/postgres/bytea.h"
#include "common/postgres/text_array.h"
#include "common/postgres/time_sql.h"
#include "common/status/macros.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::credit {
namespace {

// The columns RowToAccount reads.
const std::string& AccountColumns() {
  static const std::string kColumns = absl::StrCat(
      "customer_id::text AS customer_id, currency, credit_limit, terms_type, net_days, on_hold,"
      " hold_reason, hold_automatic, rating, score, factors, ",
      postgres::MicrosColumn("rated_at"),
      " AS rated_at_us, events_applied,"
      " ledger_ready, ledger_state, last_fact_us, last_fact_id, first_order_us, unapplied");
  return kColumns;
}

AccountRow RowToAccount(const pqxx::row& r) {
  AccountRow a;
  a.customer_id = r["customer_id"].as<std::string>();
  a.currency = r["currency"].as<std::string>();
  a.credit_limit = r["credit_limit"].as<int64_t>();
  a.terms.type = static_cast<Terms::Type>(r["terms_type"].as<int>());
  a.terms.net_days = r["net_days"].as<int>();
  a.on_hold = r["on_hold"].as<bool>();
  a.hold_reason = r["hold_reason"].as<std::string>();
  a.hold_automatic = r["hold_automatic"].as<bool>();
  a.rating = r["rating"].as<std::string>();
  a.score = r["score"].as<int>();
  if (!r["factors"].is_null()) {
    v1::CreditAccount holder;
    if (holder.ParseFromString(pqxx::binarystring(r["factors"]).str())) {
      a.factors.assign(holder.factors().begin(), holder.factors().end());
    }
  }
  a.rated_at = r["rated_at_us"].as<int64_t>();
  a.events_applied = r["events_applied"].as<int64_t>();
  a.ledger_ready = r["ledger_ready"].as<bool>();
  if (!r["ledger_state"].is_null()) a.ledger_state = pqxx::binarystring(r["ledger_state"]).str();
  a.last_fact = {r["last_fact_us"].as<int64_t>(), r["last_fact_id"].as<std::string>()};
  a.first_order_at = r["first_order_us"].as<int64_t>();
  if (!r["unapplied"].is_null()) a.unapplied = r["unapplied"].as<int64_t>();
  return a;
}

absl::StatusOr<v1::CreditPolicy> LoadPolicy(pqxx::work& tx) {
  const pqxx::result r = tx.exec("SELECT payload, version FROM policy WHERE id = 1");
  if (r.empty()) {
    v1::CreditPolicy p = DefaultPolicy();
    p.set_version(0);
    return p;
  }
  v1::CreditPolicy p;
  if (!p.ParseFromString(pqxx::binarystring(r[0]["payload"]).str())) {
    return absl::InternalError("stored credit policy does not parse");
  }
  p.set_version(r[0]["version"].as<int>());
  return p;
}

// Creates the account with the policy's defaults when missing and locks it.
AccountRow LockAccount(pqxx::work& tx, const std::string& customer_id,
                       const v1::CreditPolicy& policy) {
  const Terms terms = ToTerms(policy.default_terms());
  tx.exec_params(
      "INSERT INTO accounts (customer_id, currency, credit_limit, terms_type, net_days)"
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id) DO NOTHING",
      customer_id, policy.default_limit().currency(), policy.default_limit().minor_units(),
      static_cast<int>(terms.type), terms.net_days);
  return RowToAccount(tx.exec_params1(
      absl::StrCat("SELECT ", AccountColumns(), " FROM accounts WHERE customer_id = $1 FOR UPDATE"),
      customer_id));
}

// LockAccount of several customers: two statements, rows locked in customer_id order (the
// order every writer takes, so two batches cannot deadlock). Only these rows are locked:
// feeds of other customers go on in parallel.
std::map<std::string, AccountRow> LockAccounts(pqxx::work& tx, const std::set<std::string>& ids,
                                               const v1::CreditPolicy& policy) {
  std::map<std::string, AccountRow> out;
  if (ids.empty()) return out;
  const std::string array = postgres::ToTextArray({ids.begin(), ids.end()});
  const Terms terms = ToTerms(policy.default_terms());
  tx.exec_params(
      "INSERT INTO accounts (customer_id, currency, credit_limit, terms_type, net_days)"
      " SELECT id, $2, $3, $4, $5 FROM unnest($1::uuid[]) AS u(id) ORDER BY id"
      " ON CONFLICT (customer_id) DO NOTHING",
      array, policy.default_limit().currency(), policy.default_limit().minor_units(),
      static_cast<int>(terms.type), terms.net_days);
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT ", AccountColumns(),
                                   " FROM accounts WHERE customer_id = ANY($1::uuid[])"
                                   " ORDER BY customer_id FOR UPDATE"),
                      array)) {
    AccountRow a = RowToAccount(r);
    out.emplace(a.customer_id, std::move(a));
  }
  return out;
}

// ---- The stored ledger state ----------------------------------------------------------------

constexpr char kItemColumns[] =
    "customer_id::text AS customer_id, order_no, event_id, product_line, occurred_us,"
    " invoiced_us, due_us, original, margin, cancelled, paid, settled_us, payments";

Item RowToItem(const pqxx::row& r) {
  Item i;
  i.order_no = r["order_no"].as<std::string>();
  i.event_id = r["event_id"].as<std::string>();
  i.product_line = r["product_line"].as<std::string>();
  i.occurred_at = r["occurred_us"].as<int64_t>();
  i.invoiced_at = r["invoiced_us"].as<int64_t>();
  i.due_date = r["due_us"].as<int64_t>();
  i.original = r["original"].as<int64_t>();
  i.margin = r["margin"].as<int64_t>();
  i.cancelled = r["cancelled"].as<int64_t>();
  i.paid = r["paid"].as<int64_t>();
  i.settled_at = r["settled_us"].as<int64_t>();
  i.payments = postgres::FromTextArray(r["payments"]);
  return i;
}

// The state of an account besides its items, as stored on the account row.
struct Head {
  LedgerState state;  // without items
  std::map<int64_t, DayFigures> days;
  bool days_out_of_range = false;
};

Head HeadOf(const AccountRow& a) {
  Head h;
  LedgerState& s = h.state;
  s.first_order_at = a.first_order_at;
  s.facts = a.events_applied;
  s.last = a.last_fact;
  v1::StoredLedgerState stored;
  if (!a.ledger_state.empty() && stored.ParseFromString(a.ledger_state)) {
    for (const auto& c : stored.pool()) s.pool.push_back({c.payment_no(), c.amount()});
    for (const auto& r : stored.reserved()) {
      auto& credits = s.reserved[r.order_no()];
      for (const auto& c : r.credits()) credits.push_back({c.payment_no(), c.amount()});
    }
    for (const auto& w : stored.waiting()) {
      s.waiting[w.order_no()].push_back({w.document_no(), w.order_no(), w.amount(), w.is_return()});
    }
    for (const auto& d : stored.days()) h.days[d.day()] = {d.sales(), d.due(), d.on_time()};
    h.days_out_of_range = stored.days_out_of_range();
  }
  return h;
}

// Puts the head on the account row (pruning the days before `now`'s windows); SaveRatings
// stores it.
void SetHead(AccountRow& a, const LedgerState& s, Head& head, Micros now,
             const BusinessCalendar& calendar) {
  v1::StoredLedgerState stored;
  bool fits = true;
  int64_t unapplied = 0;
  for (const Credit& c : s.pool) {
    auto* p = stored.add_pool();
    p->set_payment_no(c.payment_no);
    p->set_amount(c.amount);
    fits = fits && AddChecked(unapplied, c.amount);
  }
  for (const auto& [order_no, credits] : s.reserved) {
    auto* r = stored.add_reserved();
    r->set_order_no(order_no);
    for (const Credit& c : credits) {
      auto* p = r->add_credits();
      p->set_payment_no(c.payment_no);
      p->set_amount(c.amount);
      fits = fits && AddChecked(unapplied, c.amount);
    }
  }
  for (const auto& [order_no, cancellations] : s.waiting) {
    for (const CancellationFact& c : cancellations) {
      auto* w = stored.add_waiting();
      w->set_document_no(c.document_no);
      w->set_order_no(c.order_no);
      w->set_amount(c.amount);
      w->set_is_return(c.is_return);
    }
  }
  PruneDays(&head.days, now, calendar);
  for (const auto& [day, f] : head.days) {
    auto* d = stored.add_days();
    d->set_day(day);
    d->set_sales(f.sales);
    d->set_due(f.due);
    d->set_on_time(f.on_time);
  }
  stored.set_days_out_of_range(head.days_out_of_range);
  a.ledger_state = stored.SerializeAsString();
  a.unapplied = fits ? std::optional<int64_t>(unapplied) : std::nullopt;
  a.first_order_at = s.first_order_at;
  a.events_applied = s.facts;
  a.last_fact = s.last;
  a.ledger_ready = true;
}

// The window sums of a head at `now`.
WindowTotals TotalsOf(const Head& head, Micros now, const BusinessCalendar& calendar) {
  WindowTotals t = TotalsFromDays(head.days, now, calendar);
  t.sales_out_of_range = t.sales_out_of_range || head.days_out_of_range;
  return t;
}

// The ledger a position needs from stored items (their order restored) and the account row.
Ledger LedgerFrom(const AccountRow& a, std::vector<Item> items) {
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
    return std::tie(x.occurred_at, x.event_id) < std::tie(y.occurred_at, y.event_id);
  });
  Ledger l;
  l.items = std::move(items);
  l.first_order_at = a.first_order_at;
  l.facts = a.events_applied;
  if (a.unapplied.has_value()) {
    l.unapplied = *a.unapplied;
  } else {
    l.out_of_range = "unapplied credit";
  }
  return l;
}

// The items of `customers` that applying new facts or computing a position needs: the open ones
// and those named in `named` (customer_id, order_no). Index scans, in one statement.
std::map<std::string, std::vector<Item>> LoadWorkingItems(
    pqxx::work& tx, const std::set<std::string>& customers,
    const std::vector<std::pair<std::string, std::string>>& named) {
  std::map<std::string, std::vector<Item>> out;
  if (customers.empty()) return out;
  std::vector<std::string> named_ids, named_orders;
  for (const auto& [id, no] : named) {
    named_ids.push_back(id);
    named_orders.push_back(no);
  }
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT ", kItemColumns,
                                   " FROM ledger_items WHERE customer_id = ANY($1::uuid[])"
                                   " AND original - cancelled - paid > 0"
                                   " UNION SELECT ",
                                   kItemColumns,
                                   " FROM ledger_items WHERE (customer_id, order_no) IN"
                                   " (SELECT * FROM unnest($2::uuid[], $3::text[]))"),
                      postgres::ToTextArray({customers.begin(), customers.end()}),
                      postgres::ToTextArray(named_ids), postgres::ToTextArray(named_orders))) {
    out[r["customer_id"].as<std::string>()].push_back(RowToItem(r));
  }
  return out;
}

// Inserts or replaces items, in one statement.
void UpsertItems(pqxx::work& tx, const std::vector<std::pair<std::string, const Item*>>& items) {
  if (items.empty()) return;
  std::vector<std::string> ids, orders, events, lines, payments;
  std::vector<int64_t> occurred, invoiced, due, original, margin, cancelled, paid, settled;
  for (const auto& [customer_id, item] : items) {
    ids.push_back(customer_id);
    orders.push_back(item->order_no);
    events.push_back(item->event_id);
    lines.push_back(item->product_line);
    payments.push_back(postgres::ToTextArray(item->payments));
    occurred.push_back(item->occurred_at);
    invoiced.push_back(item->invoiced_at);
    due.push_back(item->due_date);
    original.push_back(item->original);
    margin.push_back(item->margin);
    cancelled.push_back(item->cancelled);
    paid.push_back(item->paid);
    settled.push_back(item->settled_at);
  }
  tx.exec_params(
      "INSERT INTO ledger_items (customer_id, order_no, event_id, product_line, occurred_us,"
      " invoiced_us, due_us, original, margin, cancelled, paid, settled_us, payments)"
      " SELECT cid, no, ev, line, occ, inv, due, orig, marg, canc, paid, settled, pays::text[]"
      " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],"
      " $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],"
      " $13::text[]) AS u(cid, no, ev, line, occ, inv, due, orig, marg, canc, paid, settled, pays)"
      " ORDER BY cid, no"
      " ON CONFLICT (customer_id, order_no) DO UPDATE SET event_id = EXCLUDED.event_id,"
      " product_line = EXCLUDED.product_line, occurred_us = EXCLUDED.occurred_us,"
      " invoiced_us = EXCLUDED.invoiced_us, due_us = EXCLUDED.due_us,"
      " original = EXCLUDED.original, margin = EXCLUDED.margin, cancelled = EXCLUDED.cancelled,"
      " paid = EXCLUDED.paid, settled_us = EXCLUDED.settled_us, payments = EXCLUDED.payments",
      postgres::ToTextArray(ids), postgres::ToTextArray(orders), postgres::ToTextArray(events),
      postgres::ToTextArray(lines), postgres::ToIntArray(occurred), postgres::ToIntArray(invoiced),
      postgres::ToIntArray(due), postgres::ToIntArray(original), postgres::ToIntArray(margin),
      postgres::ToIntArray(cancelled), postgres::ToIntArray(paid), postgres::ToIntArray(settled),
      postgres::ToTextArray(payments));
}

// Every fact of `customers`, in one statement.
std::map<std::string, std::vector<Fact>> LoadAllFacts(pqxx::work& tx,
                                                      const std::set<std::string>& customers) {
  std::map<std::string, std::vector<Fact>> facts;
  if (customers.empty()) return facts;
  for (const auto& row :
       tx.exec_params("SELECT customer_id::text AS customer_id, payload FROM ledger_facts"
                      " WHERE customer_id = ANY($1::uuid[])",
                      postgres::ToTextArray({customers.begin(), customers.end()}))) {
    v1::LedgerEventInput input;
    if (input.ParseFromString(pqxx::binarystring(row["payload"]).str())) {
      facts[row["customer_id"].as<std::string>()].push_back(ToFact(input));
    }
  }
  return facts;
}

// The repair path: replays the facts of `customers` and stores the result in place of their
// items and ledger state (on the rows of `accounts`; SaveRatings writes them). Returns the
// replayed ledgers (every item).
std::map<std::string, Ledger> RebuildLedgers(pqxx::work& tx,
                                             std::map<std::string, AccountRow>& accounts,
                                             const std::set<std::string>& customers, Micros now,
                                             const BusinessCalendar& calendar) {
  std::map<std::string, Ledger> out;
  if (customers.empty()) return out;
  std::map<std::string, std::vector<Fact>> facts = LoadAllFacts(tx, customers);
  tx.exec_params("DELETE FROM ledger_items WHERE customer_id = ANY($1::uuid[])",
                 postgres::ToTextArray({customers.begin(), customers.end()}));
  std::vector<std::pair<std::string, const Item*>> items;
  for (const std::string& id : customers) {
    AccountRow& account = accounts.at(id);
    LedgerState state = ReplayState(std::move(facts[id]), account.terms, calendar);
    Head head;
    for (const Item& item : state.items) {
      if (!AddToDays(item, +1, calendar, &head.days)) head.days_out_of_range = true;
    }
    SetHead(account, state, head, now, calendar);
    out.emplace(id, LedgerOf(std::move(state)));
  }
  for (const auto& [id, ledger] : out) {
    for (const Item& item : ledger.items) items.emplace_back(id, &item);
  }
  UpsertItems(tx, items);
  return out;
}

// Applies each customer's new facts to its stored ledger state: incrementally (loading the
// open items, the windows' items and the items the facts name) when they all come after the
// last fact applied, else by RebuildLedgers. Updates the account rows (SaveRatings stores them)
// and returns, per customer, the ledger a position at `now` needs.
std::map<std::string, Ledger> ApplyFacts(pqxx::work& tx,
                                         std::map<std::string, AccountRow>& accounts,
                                         std::map<std::string, std::vector<Fact>> new_facts,
                                         Micros now, const BusinessCalendar& calendar,
                                         std::atomic<int64_t>& replays) {
  std::set<std::string> incremental, replay;
  std::vector<std::pair<std::string, std::string>> named;
  for (auto& [id, facts] : new_facts) {
    std::sort(facts.begin(), facts.end(),
              [](const Fact& a, const Fact& b) { return KeyOf(a) < KeyOf(b); });
    const AccountRow& account = accounts.at(id);
    if (!account.ledger_ready || !AllAfter(account.last_fact, facts)) {
      replay.insert(id);  // a late fact, or an account from before the stored state
      continue;
    }
    incremental.insert(id);
    for (const Fact& f : facts) {
      if (!NamedOrder(f).empty()) named.emplace_back(id, NamedOrder(f));
    }
  }
  std::map<std::string, std::vector<Item>> working = LoadWorkingItems(tx, incremental, named);
  std::map<std::string, Ledger> out;
  struct Applied {
    std::string customer_id;
    LedgerState state;
    std::set<std::string> changed;
  };
  std::vector<Applied> applied;
  for (const std::string& id : incremental) {
    AccountRow& account = accounts.at(id);
    Head head = HeadOf(account);
    // The per-day figures move by (new - old) contribution of each changed item.
    std::map<std::string, Item> before;
    for (const Item& item : working[id]) before.emplace(item.order_no, item);
    LedgerState state = std::move(head.state);
    state.items = std::move(working[id]);
    LedgerApplier applier(std::move(state), account.terms, calendar);
    bool in_order = true;
    for (const Fact& f : new_facts[id]) in_order = in_order && applier.Apply(f).ok();
    if (!in_order) {  // cannot happen after AllAfter; replay rather than store a partial state
      replay.insert(id);
      continue;
    }
    applied.push_back({id, {}, applier.changed()});
    applied.back().state = applier.Take();
    const Applied& done = applied.back();
    for (const Item& item : done.state.items) {
      if (!done.changed.contains(item.order_no)) continue;
      if (auto it = before.find(item.order_no); it != before.end()) {
        if (!AddToDays(it->second, -1, calendar, &head.days)) head.days_out_of_range = true;
      }
      if (!AddToDays(item, +1, calendar, &head.days)) head.days_out_of_range = true;
    }
    SetHead(account, done.state, head, now, calendar);
    Ledger& ledger = out[id];
    ledger.windows = TotalsOf(head, now, calendar);
  }
  std::vector<std::pair<std::string, const Item*>> upserts;
  for (const Applied& a : applied) {
    for (const Item& item : a.state.items) {
      if (a.changed.contains(item.order_no)) upserts.emplace_back(a.customer_id, &item);
    }
  }
  UpsertItems(tx, upserts);
  for (Applied& a : applied) {
    // A position needs the open items only: the windows come from the per-day figures.
    std::erase_if(a.state.items, [](const Item& i) { return i.balance() <= 0; });
    const WindowTotals windows = *out[a.customer_id].windows;
    out[a.customer_id] = LedgerOf(std::move(a.state));
    out[a.customer_id].windows = windows;
  }
  replays += static_cast<int64_t>(replay.size());
  for (auto& [id, ledger] : RebuildLedgers(tx, accounts, replay, now, calendar)) {
    out.insert_or_assign(id, std::move(ledger));
  }
  return out;
}

// The ledger a position at `now` needs of one account whose state is ready: its open items
// (one index scan) and the window sums of the per-day figures on the account row.
Ledger LoadLedger(pqxx::work& tx, const AccountRow& account, Micros now,
                  const BusinessCalendar& calendar) {
  // A plain index scan (not the bitmap scan of a list of customers): it skips the entries of
  // items settled since the last vacuum once one scan has seen them dead.
  std::vector<Item> items;
  for (const auto& r : tx.exec_params(absl::StrCat("SELECT ", kItemColumns,
                                                   " FROM ledger_items WHERE customer_id = $1"
                                                   " AND original - cancelled - paid > 0"
                                                   " ORDER BY occurred_us, event_id"),
                                      account.customer_id)) {
    items.push_back(RowToItem(r));
  }
  Ledger ledger = LedgerFrom(account, std::move(items));
  ledger.windows = TotalsOf(HeadOf(account), now, calendar);
  return ledger;
}

// LoadLedger, after rebuilding the state when the account predates it (the row must be locked).
Ledger LoadOrRebuildLedger(pqxx::work& tx, AccountRow& account, Micros now,
                           const BusinessCalendar& calendar) {
  if (account.ledger_ready) return LoadLedger(tx, account, now, calendar);
  std::map<std::string, AccountRow> one{{account.customer_id, account}};
  std::map<std::string, Ledger> rebuilt =
      RebuildLedgers(tx, one, {account.customer_id}, now, calendar);
  account = one.at(account.customer_id);
  return std::move(rebuilt.at(account.customer_id));
}

// An account rated from its ledger, before it is stored.
struct Rerated {
  const AccountRow* account;
  Position position;
  int64_t facts = 0;
};

// Rates `account` from `ledger` at `now` and moves its automatic hold; adds the LedgerEvents of
// `applied` (with the new figures) to *messages. No SQL: SaveRatings stores the result.
Rerated Rerate(AccountRow& account, const Ledger& ledger, const v1::CreditPolicy& policy,
               Micros now, const BusinessCalendar& calendar,
               const std::vector<const v1::LedgerEventInput*>& applied, const std::string& stream,
               std::vector<outbox::Message>* messages) {
  // Figures past int64 (thousands of maximal documents, or facts stored before the maximum
  // existed) cannot be rated: the account keeps its last rating and goes on automatic hold
  // until the ledger is repaired; its stored position is empty so collections and the hold
  // sweep do not act on wrapped numbers.
  const absl::StatusOr<Position> computed = PositionAt(ledger, now, calendar);
  const Position position = computed.ok() ? *computed : Position{};
  Rating rating{account.rating, account.score, account.factors};
  if (computed.ok()) rating = RateAccount(ledger, position, now, calendar, policy);
  // Automatic holds come and go with the overdue position; manual holds stay until released.
  const bool hold_due = !computed.ok() || AutoHoldDue(position, policy);
  if (!computed.ok() && (!account.on_hold || account.hold_automatic)) {
    account.on_hold = true;
    account.hold_automatic = true;
    account.hold_reason = absl::StrCat("automatic: ", computed.status().message());
  } else if (hold_due && !account.on_hold) {
    account.on_hold = true;
    account.hold_automatic = true;
    account.hold_reason =
        absl::StrCat("automatic: ", position.max_days_overdue, " days overdue (policy ",
                     policy.auto_hold_days_overdue(), ")");
  } else if (!hold_due && account.on_hold && account.hold_automatic) {
    account.on_hold = false;
    account.hold_automatic = false;
    account.hold_reason.clear();
  }
  account.rating = rating.grade;
  account.score = rating.score;
  account.factors = rating.factors;
  account.rated_at = now;
  account.events_applied = ledger.facts;
  for (const v1::LedgerEventInput* input : applied) {
    events::v1::LedgerEvent event;
    const Fact fact = ToFact(*input);
    event.set_event_id(fact.event_id);
    event.set_customer_id(account.customer_id);
    SetTimestamp(fact.occurred_at, event.mutable_occurred_at());
    event.set_credit_rating(rating.grade);
    event.set_on_time_payment_ratio(position.on_time_permille.value_or(-1) / 1000.0);
    switch (input->event_case()) {
      case v1::LedgerEventInput::kOrder:
        event.set_kind(events::v1::LEDGER_EVENT_KIND_ORDER);
        event.set_document_no(input->order().order_no());
        *event.mutable_amount() = input->order().amount();
        event.mutable_margin()->set_minor_units(std::get<OrderFact>(fact.body).margin);
        event.mutable_margin()->set_currency(input->order().amount().currency());
        event.set_product_line(input->order().product_line());
        break;
      case v1::LedgerEventInput::kCancellation:
        event.set_kind(events::v1::LEDGER_EVENT_KIND_CANCELLATION);
        event.set_document_no(input->cancellation().order_no());
        *event.mutable_amount() = input->cancellation().amount();
        break;
      case v1::LedgerEventInput::kPayment:
        event.set_kind(events::v1::LEDGER_EVENT_KIND_PAYMENT);
        event.set_document_no(input->payment().payment_no());
        *event.mutable_amount() = input->payment().amount();
        break;
      default:
        break;
    }
    messages->push_back({stream, event.GetTypeName(), absl::StrCat("ledger:", fact.event_id),
                         event.SerializeAsString()});
  }
  return {&account, position, ledger.facts};
}

// Stores the rating, hold state and ledger state of each rerated account, in one statement.
void SaveRatings(pqxx::work& tx, const std::vector<Rerated>& rerated, Micros now) {
  if (rerated.empty()) return;
  std::vector<std::string> ids, ratings, factors, reasons, pending, last_ids;
  std::vector<int64_t> scores, oldest_due, overdue, max_days, facts, last_at, first_order;
  std::vector<std::optional<int64_t>> unapplied;
  std::vector<bool> on_hold, automatic, ready;
  for (const Rerated& r : rerated) {
    const AccountRow& a = *r.account;
    ids.push_back(a.customer_id);
    ratings.push_back(a.rating);
    scores.push_back(a.score);
    v1::CreditAccount holder;
    for (const auto& f : a.factors) *holder.add_factors() = f;
    factors.push_back(absl::BytesToHexString(holder.SerializeAsString()));
    on_hold.push_back(a.on_hold);
    reasons.push_back(a.hold_reason);
    automatic.push_back(a.hold_automatic);
    oldest_due.push_back(r.position.oldest_open_due);
    overdue.push_back(r.position.overdue_amount);
    max_days.push_back(r.position.max_days_overdue);
    facts.push_back(r.facts);
    ready.push_back(a.ledger_ready);
    pending.push_back(absl::BytesToHexString(a.ledger_state));
    last_at.push_back(a.last_fact.occurred_at);
    last_ids.push_back(a.last_fact.event_id);
    first_order.push_back(a.first_order_at);
    unapplied.push_back(a.unapplied);
  }
  tx.exec_params(
      "UPDATE accounts a SET rating = u.rating, score = u.score,"
      " factors = decode(u.factors, 'hex'), rated_at = " +
          postgres::TimestampParam(12) +
          ","
          " on_hold = u.on_hold, hold_reason = u.reason, hold_automatic = u.auto,"
          " oldest_open_due = CASE WHEN u.due = 0 THEN NULL"
          " ELSE " +
          postgres::MicrosToTimestamp("u.due") +
          " END, overdue_amount = u.overdue,"
          " max_days_overdue = u.max_days, events_applied = u.facts, ledger_ready = u.ready,"
          " ledger_state = decode(u.pending, 'hex'), last_fact_us = u.last_at,"
          " last_fact_id = u.last_id, first_order_us = u.first_order, unapplied = u.unapplied,"
          " updated_at = now()"
          " FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::boolean[], "
          "$6::text[],"
          " $7::boolean[], $8::bigint[], $9::bigint[], $10::integer[], $11::bigint[], "
          "$13::boolean[],"
          " $14::text[], $15::bigint[], $16::text[], $17::bigint[], $18::bigint[])"
          " AS u(id, rating, score, factors, on_hold, reason, auto, due, overdue, max_days, facts,"
          " ready, pending, last_at, last_id, first_order, unapplied)"
          " WHERE a.customer_id = u.id",
      postgres::ToTextArray(ids), postgres::ToTextArray(ratings), postgres::ToIntArray(scores),
      postgres::ToTextArray(factors), postgres::ToBoolArray(on_hold),
      postgres::ToTextArray(reasons), postgres::ToBoolArray(automatic),
      postgres::ToIntArray(oldest_due), postgres::ToIntArray(overdue),
      postgres::ToIntArray(max_days), postgres::ToIntArray(facts), now,
      postgres::ToBoolArray(ready), postgres::ToTextArray(pending), postgres::ToIntArray(last_at),
      postgres::ToTextArray(last_ids), postgres::ToIntArray(first_order),
      postgres::ToIntArray(unapplied));
}

// Re-rates one account from its stored ledger (rebuilt first when it predates the stored
// state, or when `rebuild`, e.g. after a change of terms moved due dates), stores rating, hold
// and ledger state. Returns the ledger it rated.
Ledger Recompute(pqxx::work& tx, AccountRow& account, const v1::CreditPolicy& policy, Micros now,
                 const BusinessCalendar& calendar, const std::string& stream,
                 bool rebuild = false) {
  if (rebuild) account.ledger_ready = false;
  Ledger ledger = LoadOrRebuildLedger(tx, account, now, calendar);
  std::vector<outbox::Message> messages;
  SaveRatings(tx, {Rerate(account, ledger, policy, now, calendar, {}, stream, &messages)}, now);
  outbox::EnqueueAll(tx, messages);
  return ledger;
}

v1::IngestResult Result(const ValidEvent& e, v1::IngestOutcome outcome, bool duplicate,
                        const std::string& customer_id) {
  v1::IngestResult r;
  r.set_index(e.index);
  r.set_event_id(e.event_id);
  r.set_outcome(outcome);
  r.set_duplicate(duplicate);
  r.set_customer_id(customer_id);
  return r;
}

}  // namespace

absl::StatusOr<v1::CreditPolicy> CreditStore::GetPolicy() {
  return pool_.Transact<v1::CreditPolicy>(
      [](pqxx::work& tx) -> absl::StatusOr<v1::CreditPolicy> { return LoadPolicy(tx); });
}

absl::StatusOr<v1::CreditPolicy> CreditStore::UpdatePolicy(const v1::CreditPolicy& policy,
                                                           const Actor& actor) {
  return pool_.Transact<v1::CreditPolicy>([&](pqxx::work& tx) -> absl::StatusOr<v1::CreditPolicy> {
    TW_ASSIGN_OR_RETURN(v1::CreditPolicy current, LoadPolicy(tx));
    v1::CreditPolicy stored = policy;
    stored.set_version(current.version() + 1);
    SetTimestamp(clock_(), stored.mutable_update_time());
    stored.set_updated_by(actor.name);
    tx.exec_params(
        "INSERT INTO policy (id, payload, version, updated_by) VALUES (1, $1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET payload = $1, version = $2, updated_by = $3,"
        " updated_at = now()",
        postgres::Bytes(stored.SerializeAsString()), stored.version(), actor.name);
    postgres::WriteAudit(tx, {.action = "UPDATE_POLICY",
                              .actor = actor.name,
                              .actor_role = actor.role,
                              .request_id = actor.request_id,
                              .note = absl::StrCat("version ", stored.version())});
    return stored;
  });
}

absl::StatusOr<std::vector<v1::IngestResult>> CreditStore::Ingest(
    const std::vector<ValidEvent>& events) {
  const Micros now = clock_();
  return pool_.Transact<std::vector<v1::IngestResult>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::IngestResult>> {
        TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
        std::vector<v1::IngestResult> results(events.size());
        std::vector<bool> done(events.size(), false);
        // 1. Repeated event ids: answer with the first outcome.
        std::map<std::string, std::pair<int, std::string>> seen;
        {
          std::vector<std::string> ids;
          for (const ValidEvent& e : events) ids.push_back(e.event_id);
          const std::string array = postgres::ToTextArray(ids);
          for (const auto& row :
               tx.exec_params("SELECT event_id, first_outcome,"
                              " coalesce(customer_id::text, '') AS customer_id"
                              " FROM ledger_facts WHERE event_id = ANY($1::text[])",
                              array)) {
            seen[row["event_id"].as<std::string>()] = {row["first_outcome"].as<int>(),
                                                       row["customer_id"].as<std::string>()};
          }
        }
        // 2. Resolve customers (by id or external_ref, one statement each) and lock their
        // accounts in a fixed order (no deadlocks).
        std::set<std::string> by_id, by_ref;
        for (size_t i = 0; i < events.size(); ++i) {
          const ValidEvent& e = events[i];
          if (auto it = seen.find(e.event_id); it != seen.end()) {
            results[i] = Result(e, static_cast<v1::IngestOutcome>(it->second.first), true,
                                it->second.second);
            done[i] = true;
            continue;
          }
          (e.key_is_customer_id ? by_id : by_ref).insert(e.customer_key);
        }
        // (key is a customer_id, customer_key) → customer_id
        std::map<std::pair<bool, std::string>, std::string> resolved;
        if (!by_id.empty() || !by_ref.empty()) {
          for (const auto& r : tx.exec_params(
                   "SELECT true AS by_id, customer_id::text AS key,"
                   " customer_id::text AS customer_id FROM known_customers"
                   " WHERE customer_id = ANY($1::uuid[])"
                   " UNION ALL SELECT false, external_ref, customer_id::text FROM known_customers"
                   " WHERE external_ref = ANY($2::text[])",
                   postgres::ToTextArray({by_id.begin(), by_id.end()}),
                   postgres::ToTextArray({by_ref.begin(), by_ref.end()}))) {
            resolved[{r["by_id"].as<bool>(), r["key"].as<std::string>()}] =
                r["customer_id"].as<std::string>();
          }
        }
        const auto customer_of = [&resolved](const ValidEvent& e) {
          // customer_id::text is lower case; a UUID may arrive in upper case.
          const auto it = resolved.find(
              {e.key_is_customer_id,
               e.key_is_customer_id ? absl::AsciiStrToLower(e.customer_key) : e.customer_key});
          return it != resolved.end() ? it->second : std::string();
        };
        std::set<std::string> customers;
        for (size_t i = 0; i < events.size(); ++i) {
          if (!done[i] && !customer_of(events[i]).empty()) customers.insert(customer_of(events[i]));
        }
        std::map<std::string, AccountRow> accounts = LockAccounts(tx, customers, policy);

        // 3. Store the new facts, in one statement.
        std::map<std::string, size_t> first_in_batch;
        std::vector<std::pair<size_t, size_t>> repeats;  // (position, first position)
        std::vector<size_t> to_store;
        std::vector<v1::IngestOutcome> outcomes(events.size());
        for (size_t i = 0; i < events.size(); ++i) {
          if (done[i]) continue;
          const ValidEvent& e = events[i];
          if (auto it = first_in_batch.find(e.event_id); it != first_in_batch.end()) {
            repeats.emplace_back(i, it->second);
            continue;
          }
          first_in_batch[e.event_id] = i;
          const std::string customer_id = customer_of(e);
          if (!customer_id.empty() && !e.currency.empty() &&
              e.currency != accounts[customer_id].currency) {
            v1::IngestResult r = Result(e, v1::INGEST_OUTCOME_REJECTED, false, customer_id);
            r.set_error_field(absl::StrCat(e.kind == FactKind::kOrder          ? "order"
                                           : e.kind == FactKind::kCancellation ? "cancellation"
                                                                               : "payment",
                                           ".amount.currency"));
            r.set_error_message(
                absl::StrCat("the account is kept in ", accounts[customer_id].currency));
            results[i] = r;
            continue;
          }
          outcomes[i] =
              customer_id.empty() ? v1::INGEST_OUTCOME_PARKED : v1::INGEST_OUTCOME_APPLIED;
          to_store.push_back(i);
        }
        std::set<std::string> stored;
        if (!to_store.empty()) {
          std::vector<std::string> ids, keys, customer_ids, documents, currencies, payloads;
          std::vector<int64_t> kinds, amounts, times, codes;
          for (size_t i : to_store) {
            const ValidEvent& e = events[i];
            ids.push_back(e.event_id);
            keys.push_back(e.customer_key);
            customer_ids.push_back(customer_of(e));
            kinds.push_back(static_cast<int>(e.kind));
            documents.push_back(e.document_no);
            amounts.push_back(e.amount);
            currencies.push_back(e.currency);
            times.push_back(e.occurred_at);
            payloads.push_back(absl::BytesToHexString(e.input.SerializeAsString()));
            codes.push_back(static_cast<int>(outcomes[i]));
          }
          for (const auto& r : tx.exec_params(
                   "INSERT INTO ledger_facts (event_id, customer_key, customer_id, kind,"
                   " document_no, amount, currency, occurred_at, payload, applied_at,"
                   " first_outcome)"
                   " SELECT ev, key, NULLIF(cid, '')::uuid, kind, doc, amount, cur,"
                   " " +
                       postgres::MicrosToTimestamp("at") +
                       ", decode(payload, 'hex'),"
                       " CASE WHEN cid = '' THEN NULL ELSE now() END, outcome"
                       " FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[],"
                       " $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::integer[])"
                       " AS u(ev, key, cid, kind, doc, amount, cur, at, payload, outcome)"
                       " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                   postgres::ToTextArray(ids), postgres::ToTextArray(keys),
                   postgres::ToTextArray(customer_ids), postgres::ToIntArray(kinds),
                   postgres::ToTextArray(documents), postgres::ToIntArray(amounts),
                   postgres::ToTextArray(currencies), postgres::ToIntArray(times),
                   postgres::ToTextArray(payloads), postgres::ToIntArray(codes))) {
            stored.insert(r["event_id"].as<std::string>());
          }
        }
        std::map<std::string, std::vector<const v1::LedgerEventInput*>> applied;
        for (size_t i : to_store) {
          const ValidEvent& e = events[i];
          if (stored.count(e.event_id) == 0) {
            // Another client stored it between our check and this insert: it won.
            const pqxx::row first = tx.exec_params1(
                "SELECT first_outcome, coalesce(customer_id::text, '') AS customer_id"
                " FROM ledger_facts WHERE event_id = $1",
                e.event_id);
            results[i] = Result(e, static_cast<v1::IngestOutcome>(first["first_outcome"].as<int>()),
                                true, first["customer_id"].as<std::string>());
            continue;
          }
          const std::string customer_id = customer_of(e);
          results[i] = Result(e, outcomes[i], false, customer_id);
          if (!customer_id.empty()) applied[customer_id].push_back(&e.input);
        }
        for (const auto& [i, first] : repeats) {
          results[i] = results[first];
          results[i].set_index(events[i].index);
          results[i].set_duplicate(true);
        }
        // 4. Apply the new facts to each touched ledger's stored state (a few statements for
        // the whole batch); store the ratings and announce the events in one statement each.
        std::map<std::string, std::vector<Fact>> new_facts;
        for (const auto& [customer_id, inputs] : applied) {
          for (const v1::LedgerEventInput* input : inputs) {
            new_facts[customer_id].push_back(ToFact(*input));
          }
        }
        const std::map<std::string, Ledger> ledgers =
            ApplyFacts(tx, accounts, std::move(new_facts), now, calendar_, replays_);
        std::vector<Rerated> rerated;
        std::vector<outbox::Message> messages;
        for (auto& [customer_id, inputs] : applied) {
          rerated.push_back(Rerate(accounts[customer_id], ledgers.at(customer_id), policy, now,
                                   calendar_, inputs, ledger_stream_, &messages));
        }
        SaveRatings(tx, rerated, now);
        outbox::EnqueueAll(tx, messages);
        return results;
      });
}

absl::StatusOr<std::string> CreditStore::OwnerOf(const std::string& customer_id) {
  return pool_.Read<std::string>([&](pqxx::nontransaction& tx) -> absl::StatusOr<std::string> {
    const pqxx::result r =
        postgres::Prepared(tx, "credit_owner_of",
                           "SELECT owner FROM known_customers WHERE customer_id = $1", customer_id);
    if (r.empty())
      return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
    return r[0]["owner"].as<std::string>();
  });
}

absl::StatusOr<int> CreditStore::CustomerKnown(const std::string& customer_id,
                                               const std::string& announced_ref,
                                               const std::string& owner, int64_t version) {
  const Micros now = clock_();
  return pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    tx.exec_params(
        "INSERT INTO known_customers (customer_id, external_ref, owner, version)"
        " VALUES ($1, NULLIF($2, ''), $3, $4) ON CONFLICT (customer_id) DO UPDATE"
        " SET external_ref = EXCLUDED.external_ref, owner = EXCLUDED.owner,"
        " version = EXCLUDED.version WHERE known_customers.version < EXCLUDED.version",
        customer_id, announced_ref, owner, version);
    // Parked events match the code the customer has now, not the one a stale event named.
    const pqxx::row stored = tx.exec_params1(
        "SELECT coalesce(external_ref, '') AS external_ref FROM known_customers"
        " WHERE customer_id = $1",
        customer_id);
    const std::string external_ref = stored["external_ref"].as<std::string>();
    TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
    const pqxx::result parked = tx.exec_params(
        "SELECT event_id FROM ledger_facts WHERE customer_id IS NULL"
        " AND (customer_key = $1 OR (customer_key = $2 AND $2 <> ''))",
        customer_id, external_ref);
    if (parked.empty()) return 0;
    std::map<std::string, AccountRow> accounts = LockAccounts(tx, {customer_id}, policy);
    std::vector<v1::LedgerEventInput> inputs;
    for (const auto& row :
         tx.exec_params("UPDATE ledger_facts SET customer_id = $1::uuid, applied_at = now()"
                        " WHERE customer_id IS NULL AND (customer_key = $3"
                        " OR (customer_key = $2 AND $2 <> '')) RETURNING payload",
                        customer_id, external_ref, customer_id)) {
      v1::LedgerEventInput input;
      if (input.ParseFromString(pqxx::binarystring(row["payload"]).str())) {
        inputs.push_back(input);
      }
    }
    std::vector<const v1::LedgerEventInput*> applied;
    std::map<std::string, std::vector<Fact>> new_facts;
    for (const auto& input : inputs) {
      applied.push_back(&input);
      new_facts[customer_id].push_back(ToFact(input));
    }
    // Parked facts are often older than the ones applied already: then this replays.
    const std::map<std::string, Ledger> ledgers =
        ApplyFacts(tx, accounts, std::move(new_facts), now, calendar_, replays_);
    std::vector<outbox::Message> messages;
    SaveRatings(tx,
                {Rerate(accounts.at(customer_id), ledgers.at(customer_id), policy, now, calendar_,
                        applied, ledger_stream_, &messages)},
                now);
    outbox::EnqueueAll(tx, messages);
    return static_cast<int>(inputs.size());
  });
}

// The read path of CheckCredit and GetCreditAccount for an account whose state is built: the
// account row, the policy and the open items in one prepared statement outside a transaction
// block (one round trip, one snapshot). nullopt when the account is missing or not built yet
// (the transaction below then creates or builds it).
absl::StatusOr<std::optional<AccountSnapshot>> CreditStore::ReadSnapshot(
    const std::string& customer_id, Micros now) {
  static const std::string kSql = absl::StrCat(
      "SELECT ", AccountColumns(),
      ", pol.payload AS policy_payload, pol.version AS policy_version, i.*"
      " FROM accounts a LEFT JOIN policy pol ON pol.id = 1"
      " LEFT JOIN LATERAL (SELECT order_no, event_id, product_line, occurred_us, invoiced_us,"
      " due_us, original, margin, cancelled, paid, settled_us, payments FROM ledger_items li"
      " WHERE li.customer_id = a.customer_id AND li.original - li.cancelled - li.paid > 0"
      " AND a.ledger_ready) i ON true"
      " WHERE a.customer_id = $1 ORDER BY i.occurred_us, i.event_id");
  return pool_.Read<std::optional<AccountSnapshot>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::optional<AccountSnapshot>> {
        const pqxx::result r = postgres::Prepared(tx, "credit_snapshot", kSql, customer_id);
        if (r.empty()) return std::nullopt;
        AccountSnapshot snapshot;
        snapshot.account = RowToAccount(r[0]);
        if (!snapshot.account.ledger_ready) return std::nullopt;
        if (r[0]["policy_payload"].is_null()) {
          snapshot.policy = DefaultPolicy();
          snapshot.policy.set_version(0);
        } else if (!snapshot.policy.ParseFromString(
                       pqxx::binarystring(r[0]["policy_payload"]).str())) {
          return absl::InternalError("stored credit policy does not parse");
        } else {
          snapshot.policy.set_version(r[0]["policy_version"].as<int>());
        }
        std::vector<Item> items;
        for (const auto& row : r) {
          if (!row["order_no"].is_null()) items.push_back(RowToItem(row));
        }
        snapshot.ledger = LedgerFrom(snapshot.account, std::move(items));
        snapshot.ledger.windows = TotalsOf(HeadOf(snapshot.account), now, calendar_);
        return std::optional<AccountSnapshot>(std::move(snapshot));
      });
}

absl::StatusOr<AccountSnapshot> CreditStore::Snapshot(const std::string& customer_id) {
  const Micros now = clock_();
  TW_ASSIGN_OR_RETURN(std::optional<AccountSnapshot> fast, ReadSnapshot(customer_id, now));
  if (fast.has_value()) return std::move(*fast);
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<AccountSnapshot> snapshot =
        pool_.Transact<AccountSnapshot>([&](pqxx::work& tx) -> absl::StatusOr<AccountSnapshot> {
          pqxx::result r = tx.exec_params(
              absl::StrCat("SELECT ", AccountColumns(), " FROM accounts WHERE customer_id = $1"),
              customer_id);
          AccountSnapshot snapshot;
          TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
          snapshot.policy = std::move(policy);
          if (r.empty()) {
            if (tx.exec_params("SELECT 1 FROM known_customers WHERE customer_id = $1", customer_id)
                    .empty()) {
              return absl::NotFoundError(
                  absl::StrCat("no credit account for customer ", customer_id));
            }
            snapshot.account = LockAccount(tx, customer_id, snapshot.policy);
          } else {
            snapshot.account = RowToAccount(r[0]);
          }
          if (!snapshot.account.ledger_ready) {
            // Built once, on first use, for accounts from before the stored state.
            tx.exec_params("SELECT 1 FROM accounts WHERE customer_id = $1 FOR UPDATE", customer_id);
            snapshot.account = RowToAccount(tx.exec_params1(
                absl::StrCat("SELECT ", AccountColumns(), " FROM accounts WHERE customer_id = $1"),
                customer_id));
            snapshot.ledger =
                Recompute(tx, snapshot.account, snapshot.policy, now, calendar_, ledger_stream_);
            return snapshot;
          }
          snapshot.ledger = LoadLedger(tx, snapshot.account, now, calendar_);
          return snapshot;
        });
    if (snapshot.ok() || !absl::IsAborted(snapshot.status()) || attempt >= 2) return snapshot;
  }
}

absl::StatusOr<std::vector<Item>> CreditStore::ListItems(const std::string& customer_id,
                                                         bool include_settled, const FactKey& after,
                                                         int limit) {
  return pool_.Transact<std::vector<Item>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<Item>> {
        std::vector<Item> items;
        // Open items only: the partial index, in order. With settled ones: the customer's range.
        for (const auto& r : tx.exec_params(
                 absl::StrCat("SELECT ", kItemColumns, " FROM ledger_items WHERE customer_id = $1",
                              include_settled ? "" : " AND original - cancelled - paid > 0",
                              " AND (occurred_us, event_id) > ($2, $3)"
                              " ORDER BY occurred_us, event_id LIMIT $4"),
                 customer_id, after.occurred_at, after.event_id, limit)) {
          items.push_back(RowToItem(r));
        }
        return items;
      });
}

absl::StatusOr<AccountSnapshot> CreditStore::ChangeAccount(
    const std::string& customer_id, const std::string& action, const std::string& note,
    const Actor& actor, const std::function<absl::Status(AccountRow&)>& change) {
  const Micros now = clock_();
  return pool_.Transact<AccountSnapshot>([&](pqxx::work& tx) -> absl::StatusOr<AccountSnapshot> {
    if (tx.exec_params("SELECT 1 FROM known_customers WHERE customer_id = $1", customer_id)
            .empty()) {
      return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
    }
    TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
    AccountSnapshot snapshot;
    snapshot.account = LockAccount(tx, customer_id, policy);
    const Terms terms_before = snapshot.account.terms;
    TW_RETURN_IF_ERROR(change(snapshot.account));
    const AccountRow& a = snapshot.account;
    tx.exec_params(
        "UPDATE accounts SET credit_limit = $2, terms_type = $3, net_days = $4, on_hold = $5,"
        " hold_reason = $6, hold_automatic = $7, updated_at = now() WHERE customer_id = $1",
        customer_id, a.credit_limit, static_cast<int>(a.terms.type), a.terms.net_days, a.on_hold,
        a.hold_reason, a.hold_automatic);
    postgres::WriteAudit(tx, {.customer_id = customer_id,
                              .action = action,
                              .actor = actor.name,
                              .actor_role = actor.role,
                              .request_id = actor.request_id,
                              .note = note});
    // Terms change the due dates of items that follow the account's terms: replay them.
    const bool terms_changed = snapshot.account.terms.type != terms_before.type ||
                               snapshot.account.terms.net_days != terms_before.net_days;
    Ledger ledger =
        Recompute(tx, snapshot.account, policy, now, calendar_, ledger_stream_, terms_changed);
    snapshot.ledger = std::move(ledger);
    snapshot.policy = std::move(policy);
    return snapshot;
  });
}

absl::StatusOr<v1::ListParkedEventsResponse> CreditStore::ListParked(
    const std::string& external_ref, const std::string& after_event_id, int limit) {
  return pool_.Transact<v1::ListParkedEventsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListParkedEventsResponse> {
        v1::ListParkedEventsResponse out;
        for (const auto& r : tx.exec_params(
                 absl::StrCat(
                     "SELECT event_id, customer_key, kind, document_no, amount, currency, ",
                     postgres::MicrosColumn("received_at"),
                     " AS received_us FROM ledger_facts"
                     " WHERE customer_id IS NULL AND ($1 = '' OR customer_key = $1)"
                     " AND event_id > $2 ORDER BY event_id LIMIT $3"),
                 external_ref, after_event_id, limit)) {
          v1::ParkedEvent* e = out.add_events();
          e->set_event_id(r["event_id"].as<std::string>());
          e->set_customer_key(r["customer_key"].as<std::string>());
          const int kind = r["kind"].as<int>();
          e->set_kind(kind == 1 ? "order" : kind == 2 ? "cancellation" : "payment");
          e->set_document_no(r["document_no"].as<std::string>());
          e->mutable_amount()->set_minor_units(r["amount"].as<int64_t>());
          e->mutable_amount()->set_currency(r["currency"].as<std::string>());
          SetTimestamp(r["received_us"].as<int64_t>(), e->mutable_received_at());
        }
        return out;
      });
}

absl::StatusOr<CollectionsPage> CreditStore::ListCollections(Micros after_due,
                                                             const std::string& after_customer,
                                                             int limit, const std::string& owner) {
  const Micros now = clock_();
  // Overdue = an open receivable whose local due day is before today.
  const Micros today = calendar_.StartOf(calendar_.DayOf(now));
  return pool_.Transact<CollectionsPage>([&](pqxx::work& tx) -> absl::StatusOr<CollectionsPage> {
    CollectionsPage page;
    const pqxx::result rows = tx.exec_params(
        absl::StrCat(
            "SELECT a.customer_id::text AS customer_id, a.currency, a.on_hold,",
            postgres::MicrosColumn("a.oldest_open_due"), " AS cursor_us,",
            " sum(i.original - i.cancelled - i.paid)::text AS overdue,",
            " count(*) AS overdue_items, min(i.due_us) AS oldest_due_us"
            " FROM accounts a JOIN ledger_items i ON i.customer_id = a.customer_id"
            " AND i.original - i.cancelled - i.paid > 0 AND i.due_us < $1 AND i.invoiced_us <= $2"
            " WHERE a.oldest_open_due < ",
            postgres::TimestampParam(1), " AND (a.oldest_open_due, a.customer_id) > (",
            postgres::TimestampParam(3),
            ", NULLIF($4, '')::uuid) IS NOT FALSE"
            " AND ($6 = '' OR a.customer_id IN"
            " (SELECT customer_id FROM known_customers WHERE owner = $6))"
            " GROUP BY a.customer_id ORDER BY a.oldest_open_due, a.customer_id LIMIT $5"),
        today, now, after_due, after_customer, limit + 1, owner);
    for (const auto& r : rows) {
      if (static_cast<int>(page.entries.size()) == limit) {
        page.more = true;
        break;
      }
      int64_t overdue = 0;
      if (!absl::SimpleAtoi(r["overdue"].as<std::string>(), &overdue)) {
        return absl::FailedPreconditionError(
            absl::StrCat("the overdue amount of customer ", r["customer_id"].as<std::string>(),
                         " passes the int64 range of minor units; the ledger needs repair"));
      }
      const std::string currency = r["currency"].as<std::string>();
      const Micros oldest_due = r["oldest_due_us"].as<int64_t>();
      v1::CollectionEntry e;
      e.set_customer_id(r["customer_id"].as<std::string>());
      e.mutable_overdue_amount()->set_minor_units(overdue);
      e.mutable_overdue_amount()->set_currency(currency);
      e.set_max_days_overdue(static_cast<int>(calendar_.DaysBetween(oldest_due, now)));
      SetTimestamp(oldest_due, e.mutable_oldest_due_date());
      e.set_overdue_items(r["overdue_items"].as<int>());
      e.set_on_hold(r["on_hold"].as<bool>());
      page.entries.push_back(std::move(e));
      page.last_due = r["cursor_us"].as<int64_t>();
    }
    return page;
  });
}

absl::StatusOr<int> CreditStore::SweepHolds() {
  const Micros now = clock_();
  return pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
    if (policy.auto_hold_days_overdue() == 0) return 0;
    // N days overdue = a local due day at least N days before today.
    const Micros threshold =
        calendar_.StartOf(calendar_.DayOf(now) - policy.auto_hold_days_overdue() + 1);
    int changed = 0;
    for (const auto& r : tx.exec_params(
             absl::StrCat("SELECT customer_id::text FROM accounts WHERE NOT on_hold"
                          " AND oldest_open_due < ",
                          postgres::TimestampParam(1), " ORDER BY customer_id LIMIT 1000"),
             threshold)) {
      AccountRow account = LockAccount(tx, r["customer_id"].as<std::string>(), policy);
      const bool before = account.on_hold;
      Recompute(tx, account, policy, now, calendar_, ledger_stream_);
      if (account.on_hold != before) ++changed;
    }
    return changed;
  });
}

absl::StatusOr<LedgerCheck> CreditStore::VerifyLedger(const std::string& customer_id, bool repair,
                                                      const Actor& actor) {
  const Micros now = clock_();
  return pool_.Transact<LedgerCheck>([&](pqxx::work& tx) -> absl::StatusOr<LedgerCheck> {
    const pqxx::result r =
        tx.exec_params(absl::StrCat("SELECT ", AccountColumns(),
                                    " FROM accounts WHERE customer_id = $1 FOR UPDATE"),
                       customer_id);
    if (r.empty()) {
      return absl::NotFoundError(absl::StrCat("no credit account for customer ", customer_id));
    }
    AccountRow account = RowToAccount(r[0]);
    std::map<std::string, std::vector<Fact>> facts = LoadAllFacts(tx, {customer_id});
    LedgerState want = ReplayState(std::move(facts[customer_id]), account.terms, calendar_);
    LedgerCheck check;
    const auto differ = [&check](std::string what) {
      if (check.matched) check.difference = std::move(what);
      check.matched = false;
    };
    if (!account.ledger_ready) differ("the stored ledger state was never built");
    LedgerState got = HeadOf(account).state;
    if (!(got.last == want.last)) differ("last applied fact");
    if (got.facts != want.facts) differ("facts applied");
    if (got.first_order_at != want.first_order_at) differ("first order");
    if (got.pool != want.pool) differ("unapplied credit");
    if (got.reserved != want.reserved) differ("payments waiting for their order");
    if (got.waiting != want.waiting) differ("cancellations waiting for their order");
    std::map<std::string, Item> stored;
    for (const auto& row : tx.exec_params(
             absl::StrCat("SELECT ", kItemColumns, " FROM ledger_items WHERE customer_id = $1"),
             customer_id)) {
      Item item = RowToItem(row);
      stored.emplace(item.order_no, std::move(item));
    }
    if (stored.size() != want.items.size()) differ("number of items");
    Head want_head;
    for (const Item& item : want.items) {
      if (!AddToDays(item, +1, calendar_, &want_head.days)) want_head.days_out_of_range = true;
    }
    PruneDays(&want_head.days, now, calendar_);
    Head got_head = HeadOf(account);
    PruneDays(&got_head.days, now, calendar_);
    const auto& got_days = got_head.days;
    const auto& want_days = want_head.days;
    if (got_head.days_out_of_range != want_head.days_out_of_range) differ("figures per day");
    if (got_days != want_days) differ("figures per day (DSO and on-time windows)");
    for (const Item& item : want.items) {
      auto it = stored.find(item.order_no);
      if (it == stored.end() || !(it->second == item)) differ("item " + item.order_no);
    }
    if (!check.matched && repair) {
      TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
      Recompute(tx, account, policy, now, calendar_, ledger_stream_, /*rebuild=*/true);
      postgres::WriteAudit(tx, {.customer_id = customer_id,
                                .action = "REPAIR_LEDGER",
                                .actor = actor.name,
                                .actor_role = actor.role,
                                .request_id = actor.request_id,
                                .note = check.difference});
      check.repaired = true;
    }
    return check;
  });
}

absl::StatusOr<int> CreditStore::BackfillLedgers(int limit) {
  const Micros now = clock_();
  return pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
    int built = 0;
    // SKIP LOCKED: an account a feed holds is built by that feed.
    for (const auto& r : tx.exec_params(
             absl::StrCat("SELECT ", AccountColumns(),
                          " FROM accounts WHERE NOT ledger_ready ORDER BY customer_id LIMIT $1"
                          " FOR UPDATE SKIP LOCKED"),
             limit)) {
      AccountRow account = RowToAccount(r);
      Recompute(tx, account, policy, now, calendar_, ledger_stream_);
      ++built;
    }
    return built;
  });
}

absl::Status CreditStore::InsertApplication(const v1::LimitApplication& a, const Actor& actor) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO limit_applications (id, customer_id, payload, state, applicant, submitted_at)"
        " VALUES ($1, $2, $3, $4, $5, " +
            postgres::TimestampParam(6) + ")",
        a.id(), a.customer_id(), postgres::Bytes(a.SerializeAsString()),
        static_cast<int>(a.state()), a.applicant(), ToMicros(a.submitted_at()));
    postgres::WriteAudit(tx, {.customer_id = a.customer_id(),
                              .action = "SUBMIT_LIMIT_APPLICATION",
                              .actor = actor.name,
                              .actor_role = actor.role,
                              .request_id = actor.request_id,
                              .entity = "limit_application",
                              .entity_id = a.id()});
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::LimitApplication> CreditStore::GetApplication(const std::string& id) {
  return pool_.Transact<v1::LimitApplication>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::LimitApplication> {
        const pqxx::result r =
            tx.exec_params("SELECT payload FROM limit_applications WHERE id = $1", id);
        if (r.empty()) return absl::NotFoundError(absl::StrCat("application ", id, " not found"));
        v1::LimitApplication a;
        a.ParseFromString(pqxx::binarystring(r[0]["payload"]).str());
        return a;
      });
}

absl::Status CreditStore::DecideApplication(const v1::LimitApplication& a, const Actor& actor) {
  const Micros now = clock_();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec_params(
        "UPDATE limit_applications SET payload = $2, state = $3 WHERE id = $1 AND state = $4",
        a.id(), postgres::Bytes(a.SerializeAsString()), static_cast<int>(a.state()),
        static_cast<int>(v1::APPLICATION_STATE_PENDING));
    if (r.affected_rows() != 1) {
      return absl::FailedPreconditionError("the application was already decided");
    }
    postgres::WriteAudit(
        tx, {.customer_id = a.customer_id(),
             .action = a.state() == v1::APPLICATION_STATE_APPROVED ? "APPROVE_LIMIT_APPLICATION"
                                                                   : "REJECT_LIMIT_APPLICATION",
             .actor = actor.name,
             .actor_role = actor.role,
             .request_id = actor.request_id,
             .entity = "limit_application",
             .entity_id = a.id(),
             .note = a.decision_reason()});
    if (a.state() == v1::APPLICATION_STATE_APPROVED) {
      TW_ASSIGN_OR_RETURN(v1::CreditPolicy policy, LoadPolicy(tx));
      AccountRow account = LockAccount(tx, a.customer_id(), policy);
      account.credit_limit = a.approved_limit().minor_units();
      if (a.requested_terms().type() != v1::PAYMENT_TERMS_TYPE_UNSPECIFIED) {
        account.terms = ToTerms(a.requested_terms());
      }
      tx.exec_params(
          "UPDATE accounts SET credit_limit = $2, terms_type = $3, net_days = $4,"
          " updated_at = now() WHERE customer_id = $1",
          a.customer_id(), account.credit_limit, static_cast<int>(account.terms.type),
          account.terms.net_days);
      Recompute(tx, account, policy, now, calendar_, ledger_stream_,
                /*rebuild=*/a.requested_terms().type() != v1::PAYMENT_TERMS_TYPE_UNSPECIFIED);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::LimitApplication>> CreditStore::ListApplications(
    const std::string& customer_id, int state, Micros after_submitted, const std::string& after_id,
    int limit, const std::string& owner) {
  return pool_.Transact<std::vector<v1::LimitApplication>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::LimitApplication>> {
        std::vector<v1::LimitApplication> out;
        // Keyset on (submitted_at desc, id asc): exact microseconds both ways.
        const std::string after = postgres::TimestampParam(3);
        for (const auto& r : tx.exec_params(
                 absl::StrCat(
                     "SELECT payload FROM limit_applications WHERE ($1 = '' OR customer_id ="
                     " NULLIF($1, '')::uuid) AND ($2 = 0 OR state = $2)"
                     " AND ($4 = '' OR submitted_at < ",
                     after, " OR (submitted_at = ", after,
                     " AND id > NULLIF($4, '')::uuid))"
                     " AND ($6 = '' OR customer_id IN"
                     " (SELECT customer_id FROM known_customers WHERE owner = $6))"
                     " ORDER BY submitted_at DESC, id LIMIT $5"),
                 customer_id, state, after_submitted, after_id, limit, owner)) {
          v1::LimitApplication a;
          a.ParseFromString(pqxx::binarystring(r["payload"]).str());
          out.push_back(std::move(a));
        }
        return out;
      });
}

}  // namespace tierwise::credit
