#include "services/classification/classification_store.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/postgres/bytea.h"
#include "common/postgres/text_array.h"
#include "common/postgres/time_sql.h"

namespace tierwise::classification::store {
namespace {

std::string MicrosOf(const char* column) { return postgres::MicrosColumn(column); }
std::string Ts(int n) { return postgres::TimestampParam(n); }

// A bigint µs value of an unnest()ed array column as a timestamptz; NULL when it is 0.
std::string TsOf(const char* column) {
  return absl::StrCat("CASE WHEN ", column, " = 0 THEN NULL ELSE 'epoch'::timestamptz + ", column,
                      " * interval '1 microsecond' END");
}

// libpqxx 6 cannot bind vectors: integer arrays travel as literals such as {1,NULL,3}.
template <typename T, typename Fn>
std::string IntArray(const std::vector<T>& rows, Fn&& value) {
  std::vector<std::optional<int64_t>> values;
  values.reserve(rows.size());
  for (const T& r : rows) values.push_back(value(r));
  return postgres::ToIntArray(values);
}

template <typename T, typename Fn>
std::string TextArray(const std::vector<T>& rows, Fn&& value) {
  std::vector<std::string> values;
  values.reserve(rows.size());
  for (const T& r : rows) values.push_back(value(r));
  return postgres::ToTextArray(values);
}

// The columns of LoadFacts for customer ids in `ids_sql` (a relation with a uuid column id),
// the id first.
// The columns FactsOfRow reads, after the customer's id `id_sql`.
std::string FactsColumns(const std::string& id_sql) {
  return absl::StrCat(
      "SELECT ", id_sql,
      "::text, coalesce(m.revenue_12m, 0), coalesce(m.margin_12m, 0),"
      " coalesce(m.orders_12m, 0), coalesce(m.revenue_prev_6m, 0), coalesce(m.revenue_last_6m, 0),"
      " coalesce(m.renewal_permille, 0), ",
      MicrosOf("m.first_order_at"), ", ", MicrosOf("m.last_order_at"), ", ",
      MicrosOf("m.next_window_exit"),
      ", coalesce(m.credit_rating, ''), m.on_time_permille, m.satisfaction_x100, ",
      MicrosOf("c.since"),
      ", c.customer_id IS NOT NULL, m.customer_id IS NOT NULL, coalesce(c.removed, false),"
      " coalesce(m.satisfaction_count_12m, 0), coalesce(m.complaints_12m, 0),"
      " coalesce(m.open_complaints, 0), coalesce(m.sla_breaches_12m, 0)");
}

std::string FactsQuery(const std::string& ids_sql) {
  return absl::StrCat(FactsColumns("k.id"), " FROM ", ids_sql,
                      " LEFT JOIN customers c ON c.customer_id = k.id"
                      " LEFT JOIN customer_metrics m ON m.customer_id = k.id");
}

// A FactsQuery row; nullopt when neither the profile nor the ledger knows the customer, or it
// was removed.
std::optional<CustomerFacts> FactsOfRow(const pqxx::row& r) {
  const auto col = [&r](int i) { return r[i + 1]; };
  if ((!col(13).as<bool>() && !col(14).as<bool>()) || col(15).as<bool>()) return std::nullopt;
  CustomerFacts f;
  f.customer_id = r[0].as<std::string>();
  f.metrics.revenue_12m = col(0).as<int64_t>();
  f.metrics.margin_12m = col(1).as<int64_t>();
  f.metrics.orders_12m = col(2).as<int>();
  f.metrics.revenue_prev_6m = col(3).as<int64_t>();
  f.metrics.revenue_last_6m = col(4).as<int64_t>();
  f.metrics.renewal_permille = col(5).as<int>();
  f.metrics.first_order_at = col(6).as<int64_t>();
  f.metrics.last_order_at = col(7).as<int64_t>();
  f.metrics.next_window_exit = col(8).as<int64_t>();
  f.credit_rating = col(9).as<std::string>();
  if (!col(10).is_null()) f.on_time_permille = col(10).as<int>();
  if (!col(11).is_null()) f.metrics.satisfaction_x100 = col(11).as<int>();
  f.since = col(12).as<int64_t>();
  f.metrics.satisfaction_count_12m = col(16).as<int>();
  f.metrics.complaints_12m = col(17).as<int>();
  f.metrics.open_complaints = col(18).as<int>();
  f.metrics.sla_breaches_12m = col(19).as<int>();
  // Relationship start: the earliest known of the profile's (first transaction date or
  // creation) and the first order in the ledger.
  if (f.since == 0 || (f.metrics.first_order_at != 0 && f.metrics.first_order_at < f.since)) {
    f.since = f.metrics.first_order_at;
  }
  return f;
}

// Columns of a stored tier after its id: payload, gate, pin tier, reason, expiry.
std::string TierColumns() {
  return absl::StrCat("payload, gate, coalesce(pin_tier, ''), coalesce(pin_reason, ''), ",
                      MicrosOf("pin_expires"), ", ", MicrosOf("next_review_at"));
}

StoredTier TierOfRow(const pqxx::row& r, int first) {
  StoredTier t;
  t.tier = postgres::ParseBytea<v1::Tier>(r[first]);
  t.gate = r[first + 1].as<std::string>();
  t.pin_tier = r[first + 2].as<std::string>();
  t.pin_reason = r[first + 3].as<std::string>();
  t.pin_expires = r[first + 4].as<int64_t>();
  t.next_review = r[first + 5].as<int64_t>();
  return t;
}

constexpr char kLedgerColumns[] = "event_id, kind, document_no, amount, margin, ";

LedgerEntry LedgerOfRow(const pqxx::row& r, int first) {
  return {r[first].as<std::string>(),     static_cast<LedgerEntry::Kind>(r[first + 1].as<int>()),
          r[first + 2].as<std::string>(), r[first + 3].as<int64_t>(),
          r[first + 4].as<int64_t>(),     r[first + 5].as<int64_t>()};
}

}  // namespace

std::vector<LedgerEntry> LoadLedger(pqxx::work& tx, const std::string& customer_id) {
  std::vector<LedgerEntry> out;
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT ", kLedgerColumns, MicrosOf("occurred_at"),
                                   " FROM ledger_entries WHERE customer_id = $1"),
                      customer_id)) {
    out.push_back(LedgerOfRow(r, 0));
  }
  return out;
}

std::set<std::string> InsertLedgerEntries(
    pqxx::work& tx, const std::vector<std::pair<std::string, LedgerEntry>>& entries) {
  std::set<std::string> stored;
  if (entries.empty()) return stored;
  using Row = std::pair<std::string, LedgerEntry>;
  // DISTINCT ON: an event twice in one batch is one row (ON CONFLICT cannot see its own
  // statement's rows).
  for (const auto& r : tx.exec_params(
           absl::StrCat("INSERT INTO ledger_entries (event_id, customer_id, kind, document_no,"
                        " amount, margin, occurred_at)"
                        " SELECT DISTINCT ON (ev) ev, id, kind, doc, amount, margin, ",
                        TsOf("at"),
                        " FROM unnest($1::text[], $2::uuid[], $3::smallint[], $4::text[],"
                        " $5::bigint[], $6::bigint[], $7::bigint[])"
                        " AS u(ev, id, kind, doc, amount, margin, at)"
                        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"),
           TextArray(entries, [](const Row& r) { return r.second.event_id; }),
           TextArray(entries, [](const Row& r) { return r.first; }),
           IntArray(entries,
                    [](const Row& r) -> std::optional<int64_t> {
                      return static_cast<int64_t>(r.second.kind);
                    }),
           TextArray(entries, [](const Row& r) { return r.second.document_no; }),
           IntArray(entries,
                    [](const Row& r) -> std::optional<int64_t> { return r.second.amount; }),
           IntArray(entries,
                    [](const Row& r) -> std::optional<int64_t> { return r.second.margin; }),
           IntArray(entries,
                    [](const Row& r) -> std::optional<int64_t> { return r.second.occurred_at; }))) {
    stored.insert(r[0].as<std::string>());
  }
  return stored;
}

std::map<std::string, std::vector<LedgerEntry>> LoadLedgers(
    pqxx::work& tx, const std::vector<std::string>& customer_ids) {
  std::map<std::string, std::vector<LedgerEntry>> out;
  // Storage order, as the one-customer read returns it (ComputeMetrics keeps the first order of
  // a document number).
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT customer_id::text, ", kLedgerColumns, MicrosOf("occurred_at"),
                        " FROM ledger_entries WHERE customer_id = ANY($1::uuid[]) ORDER BY ctid"),
           postgres::ToTextArray(customer_ids))) {
    out[r[0].as<std::string>()].push_back(LedgerOfRow(r, 1));
  }
  return out;
}

bool InsertInteraction(pqxx::work& tx, const std::string& customer_id, const InteractionFact& f,
                       const std::string& corrects, const std::string& event_id) {
  // A placeholder (logged = false) keeps its superseded mark; a stored version stays as it is.
  return !tx.exec_params(
                absl::StrCat("INSERT INTO interaction_facts (interaction_id, customer_id,"
                             " occurred_at, satisfaction, corrects, superseded, logged, event_id)"
                             " VALUES ($1, $2, ",
                             Ts(3),
                             ", $4, $5, false, true, $6) ON CONFLICT (interaction_id) DO UPDATE"
                             " SET customer_id = EXCLUDED.customer_id,"
                             " occurred_at = EXCLUDED.occurred_at,"
                             " satisfaction = EXCLUDED.satisfaction, corrects = EXCLUDED.corrects,"
                             " logged = true, event_id = EXCLUDED.event_id"
                             " WHERE NOT interaction_facts.logged RETURNING interaction_id"),
                f.interaction_id, customer_id, f.occurred_at, f.satisfaction, corrects, event_id)
              .empty();
}

std::optional<std::string> SupersedeInteraction(pqxx::work& tx, const std::string& interaction_id,
                                                const std::string& customer_id) {
  const pqxx::result r = tx.exec_params(
      "INSERT INTO interaction_facts (interaction_id, customer_id, superseded) VALUES ($1, $2,"
      " true) ON CONFLICT (interaction_id) DO UPDATE SET superseded = true"
      " WHERE NOT interaction_facts.superseded RETURNING customer_id::text",
      interaction_id, customer_id);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::optional<std::string> UpsertComplaint(pqxx::work& tx, const std::string& customer_id,
                                           const ComplaintFact& f, int64_t version,
                                           Micros changed_at, const std::string& event_id) {
  const pqxx::result before = tx.exec_params(
      "SELECT customer_id::text FROM complaint_facts WHERE complaint_id = $1 FOR UPDATE",
      f.complaint_id);
  // Later versions win; a redelivered or older version changes nothing.
  const pqxx::result r = tx.exec_params(
      absl::StrCat("INSERT INTO complaint_facts (complaint_id, customer_id, version, opened_at,"
                   " open, response_breached, resolution_breached, changed_at, event_id)"
                   " VALUES ($1, $2, $3, ",
                   Ts(4), ", $5, $6, $7, ", Ts(8),
                   ", $9) ON CONFLICT (complaint_id) DO UPDATE SET"
                   " customer_id = EXCLUDED.customer_id, version = EXCLUDED.version,"
                   " opened_at = EXCLUDED.opened_at, open = EXCLUDED.open,"
                   " response_breached = EXCLUDED.response_breached,"
                   " resolution_breached = EXCLUDED.resolution_breached,"
                   " changed_at = EXCLUDED.changed_at, event_id = EXCLUDED.event_id"
                   " WHERE complaint_facts.version < EXCLUDED.version RETURNING complaint_id"),
      f.complaint_id, customer_id, version, f.opened_at, f.open, f.response_breached,
      f.resolution_breached, changed_at, event_id);
  if (r.empty()) return std::nullopt;
  return before.empty() ? std::string() : before[0][0].as<std::string>();
}

namespace {

// The interaction and complaint facts of the customers in `where` ($1, with the window start
// as $2), each row led by its customer id.
std::string InteractionFactsQuery(const char* where) {
  return absl::StrCat("SELECT customer_id::text, 'i', interaction_id, ", MicrosOf("occurred_at"),
                      ", satisfaction, false, false, false FROM interaction_facts WHERE ", where,
                      " AND logged AND NOT superseded AND satisfaction > 0 AND occurred_at > ",
                      Ts(2), " UNION ALL SELECT customer_id::text, 'c', complaint_id, ",
                      MicrosOf("opened_at"),
                      ", 0, open, response_breached, resolution_breached FROM complaint_facts"
                      " WHERE ",
                      where, " AND (open OR opened_at > ", Ts(2), ")");
}

void AddInteractionRow(const pqxx::row& r, std::vector<InteractionFact>* interactions,
                       std::vector<ComplaintFact>* complaints) {
  if (r[1].as<std::string>() == "i") {
    interactions->push_back(
        {r[2].as<std::string>(), r[3].as<int64_t>(), r[4].as<int>(), /*superseded=*/false});
  } else {
    complaints->push_back({r[2].as<std::string>(), r[3].as<int64_t>(), r[5].as<bool>(),
                           r[6].as<bool>(), r[7].as<bool>()});
  }
}

}  // namespace

void LoadInteractionFactsOf(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                            Micros now,
                            std::map<std::string, std::vector<InteractionFact>>* interactions,
                            std::map<std::string, std::vector<ComplaintFact>>* complaints) {
  for (const auto& r : tx.exec_params(InteractionFactsQuery("customer_id = ANY($1::uuid[])"),
                                      postgres::ToTextArray(customer_ids),
                                      // A superset of the window (a local year may span 366
                                      // days and part of two more); the domain filters exactly.
                                      now - kYear - 3 * kDay)) {
    const std::string id = r[0].as<std::string>();
    AddInteractionRow(r, &(*interactions)[id], &(*complaints)[id]);
  }
}

bool UpsertCustomer(pqxx::work& tx, const std::string& customer_id, const std::string& external_ref,
                    const std::string& owner, Micros since, bool removed, int64_t version) {
  // Later profile versions win; a redelivered or older event changes nothing.
  return !tx.exec_params(
                absl::StrCat(
                    "INSERT INTO customers (customer_id, external_ref, owner, since, removed,"
                    " profile_version) VALUES ($1, $2, $3, ",
                    Ts(4),
                    ", $5, $6)"
                    " ON CONFLICT (customer_id) DO UPDATE SET external_ref = EXCLUDED.external_ref,"
                    " owner = EXCLUDED.owner, since = EXCLUDED.since, removed = EXCLUDED.removed,"
                    " profile_version = EXCLUDED.profile_version"
                    " WHERE customers.profile_version < EXCLUDED.profile_version"
                    " RETURNING customer_id"),
                customer_id, external_ref, owner, since, removed, version)
              .empty();
}

std::map<std::string, CustomerMetrics> LoadMetricsOf(pqxx::work& tx,
                                                     const std::vector<std::string>& customer_ids) {
  std::map<std::string, CustomerMetrics> out;
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT customer_id::text, revenue_12m, margin_12m, orders_12m,"
                                   " revenue_prev_6m, revenue_last_6m, renewal_permille, ",
                                   MicrosOf("first_order_at"), ", ", MicrosOf("last_order_at"),
                                   ", ", MicrosOf("next_window_exit"),
                                   ", satisfaction_x100, satisfaction_count_12m, complaints_12m,"
                                   " open_complaints, sla_breaches_12m FROM customer_metrics"
                                   " WHERE customer_id = ANY($1::uuid[])"),
                      postgres::ToTextArray(customer_ids))) {
    CustomerMetrics& m = out[r[0].as<std::string>()];
    m.revenue_12m = r[1].as<int64_t>();
    m.margin_12m = r[2].as<int64_t>();
    m.orders_12m = r[3].as<int>();
    m.revenue_prev_6m = r[4].as<int64_t>();
    m.revenue_last_6m = r[5].as<int64_t>();
    m.renewal_permille = r[6].as<int>();
    m.first_order_at = r[7].as<int64_t>();
    m.last_order_at = r[8].as<int64_t>();
    m.next_window_exit = r[9].as<int64_t>();
    if (!r[10].is_null()) m.satisfaction_x100 = r[10].as<int>();
    m.satisfaction_count_12m = r[11].as<int>();
    m.complaints_12m = r[12].as<int>();
    m.open_complaints = r[13].as<int>();
    m.sla_breaches_12m = r[14].as<int>();
  }
  return out;
}

void SaveMetricsBatch(pqxx::work& tx,
                      const std::vector<std::pair<std::string, CustomerMetrics>>& metrics,
                      const std::map<std::string, CreditFigures>& credit,
                      const std::map<std::string, LedgerStateWrite>& states) {
  if (metrics.empty()) return;
  using Row = std::pair<std::string, CustomerMetrics>;
  const auto ints = [&metrics](auto field) {
    return IntArray(metrics,
                    [&field](const Row& r) -> std::optional<int64_t> { return field(r.second); });
  };
  tx.exec_params(
      absl::StrCat(
          "INSERT INTO customer_metrics (customer_id, revenue_12m, margin_12m, orders_12m,"
          " revenue_prev_6m, revenue_last_6m, renewal_permille, first_order_at, last_order_at,"
          " next_window_exit, satisfaction_x100, satisfaction_count_12m, complaints_12m,"
          " open_complaints, sla_breaches_12m, credit_rating, on_time_permille, ledger_state,"
          " credit_as_of_at, credit_as_of_event)"
          " SELECT id, rev, mar, ord, prev6, last6, ren, ",
          TsOf("first_at"), ", ", TsOf("last_at"), ", ", TsOf("exit_at"),
          ", sat, sat_n, compl, open_c, sla, rating, on_time, decode(NULLIF(state, ''), 'hex'), ",
          TsOf("credit_at"),
          ", credit_event FROM unnest($1::uuid[],"
          " $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], $6::bigint[], $7::integer[],"
          " $8::bigint[], $9::bigint[], $10::bigint[], $11::integer[], $12::integer[],"
          " $13::integer[], $14::integer[], $15::integer[], $16::text[], $17::integer[],"
          " $18::text[], $19::bigint[], $20::text[])"
          " AS u(id, rev, mar, ord, prev6, last6, ren, first_at, last_at, exit_at, sat, sat_n,"
          " compl, open_c, sla, rating, on_time, state, credit_at, credit_event)"
          " ON CONFLICT (customer_id) DO UPDATE SET revenue_12m = EXCLUDED.revenue_12m,"
          " margin_12m = EXCLUDED.margin_12m, orders_12m = EXCLUDED.orders_12m,"
          " revenue_prev_6m = EXCLUDED.revenue_prev_6m,"
          " revenue_last_6m = EXCLUDED.revenue_last_6m,"
          " renewal_permille = EXCLUDED.renewal_permille,"
          " first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,"
          " next_window_exit = EXCLUDED.next_window_exit,"
          " satisfaction_x100 = EXCLUDED.satisfaction_x100,"
          " satisfaction_count_12m = EXCLUDED.satisfaction_count_12m,"
          " complaints_12m = EXCLUDED.complaints_12m, open_complaints = EXCLUDED.open_complaints,"
          " sla_breaches_12m = EXCLUDED.sla_breaches_12m,"
          // A rating is never empty: '' is "none in this batch".
          " credit_rating = CASE WHEN EXCLUDED.credit_rating = ''"
          " THEN customer_metrics.credit_rating ELSE EXCLUDED.credit_rating END,"
          " on_time_permille = coalesce(EXCLUDED.on_time_permille,"
          " customer_metrics.on_time_permille),"
          // NULL state: this batch did not touch the ledger state.
          " ledger_state = coalesce(EXCLUDED.ledger_state, customer_metrics.ledger_state),"
          " credit_as_of_at = CASE WHEN EXCLUDED.ledger_state IS NULL"
          " THEN customer_metrics.credit_as_of_at ELSE EXCLUDED.credit_as_of_at END,"
          " credit_as_of_event = CASE WHEN EXCLUDED.ledger_state IS NULL"
          " THEN customer_metrics.credit_as_of_event ELSE EXCLUDED.credit_as_of_event END,"
          " updated_at = now()"),
      TextArray(metrics, [](const Row& r) { return r.first; }),
      ints([](const CustomerMetrics& m) { return m.revenue_12m; }),
      ints([](const CustomerMetrics& m) { return m.margin_12m; }),
      ints([](const CustomerMetrics& m) { return m.orders_12m; }),
      ints([](const CustomerMetrics& m) { return m.revenue_prev_6m; }),
      ints([](const CustomerMetrics& m) { return m.revenue_last_6m; }),
      ints([](const CustomerMetrics& m) { return m.renewal_permille; }),
      ints([](const CustomerMetrics& m) { return m.first_order_at; }),
      ints([](const CustomerMetrics& m) { return m.last_order_at; }),
      ints([](const CustomerMetrics& m) { return m.next_window_exit; }),
      ints([](const CustomerMetrics& m) -> std::optional<int64_t> {
        if (!m.satisfaction_x100.has_value()) return std::nullopt;
        return *m.satisfaction_x100;
      }),
      ints([](const CustomerMetrics& m) { return m.satisfaction_count_12m; }),
      ints([](const CustomerMetrics& m) { return m.complaints_12m; }),
      ints([](const CustomerMetrics& m) { return m.open_complaints; }),
      ints([](const CustomerMetrics& m) { return m.sla_breaches_12m; }),
      TextArray(metrics,
                [&credit](const Row& r) {
                  const auto c = credit.find(r.first);
                  return c != credit.end() && c->second.rating.has_value() ? *c->second.rating
                                                                           : std::string();
                }),
      IntArray(metrics,
               [&credit](const Row& r) -> std::optional<int64_t> {
                 const auto c = credit.find(r.first);
                 if (c == credit.end() || !c->second.on_time_permille.has_value()) {
                   return std::nullopt;
                 }
                 return *c->second.on_time_permille;
               }),
      // Hex in a text[] (no bytea[] literal escaping); '' keeps the stored state (an encoded
      // state is never empty).
      TextArray(metrics,
                [&states](const Row& r) {
                  const auto w = states.find(r.first);
                  return w == states.end() ? std::string()
                                           : absl::BytesToHexString(w->second.bytes);
                }),
      IntArray(metrics,
               [&states](const Row& r) -> std::optional<int64_t> {
                 const auto w = states.find(r.first);
                 return w == states.end() ? 0 : w->second.credit_at;
               }),
      TextArray(metrics, [&states](const Row& r) {
        const auto w = states.find(r.first);
        return w == states.end() ? std::string() : w->second.credit_event;
      }));
}

std::map<std::string, StoredLedgerState> LoadLedgerStates(
    pqxx::work& tx, const std::vector<std::string>& customer_ids) {
  std::map<std::string, StoredLedgerState> out;
  if (customer_ids.empty()) return out;
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT customer_id::text AS id, ledger_state, ",
                                   MicrosOf("credit_as_of_at"),
                                   " AS credit_at, credit_as_of_event FROM customer_metrics"
                                   " WHERE customer_id = ANY($1::uuid[])"),
                      postgres::ToTextArray(customer_ids))) {
    StoredLedgerState& s = out[r["id"].as<std::string>()];
    if (!r["ledger_state"].is_null()) {
      s.state = DecodeLedgerState(pqxx::binarystring(r["ledger_state"]).str());
    }
    s.credit_at = r["credit_at"].as<int64_t>();
    s.credit_event = r["credit_as_of_event"].as<std::string>();
  }
  return out;
}

std::map<OrderKey, OrderFact> LoadOrderFacts(pqxx::work& tx, const std::vector<OrderKey>& keys) {
  std::map<OrderKey, OrderFact> out;
  if (keys.empty()) return out;
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT o.customer_id::text AS id, o.document_no, o.order_event_id, ",
                        MicrosOf("o.occurred_at"),
                        " AS at_us, o.amount, o.margin, o.partial_cancelled, o.whole_cancelled"
                        " FROM unnest($1::uuid[], $2::text[]) AS k(id, doc)"
                        " JOIN order_facts o ON o.customer_id = k.id AND o.document_no = k.doc"),
           TextArray(keys, [](const OrderKey& k) { return k.first; }),
           TextArray(keys, [](const OrderKey& k) { return k.second; }))) {
    OrderFact o;
    o.document_no = r["document_no"].as<std::string>();
    o.order_event_id = r["order_event_id"].as<std::string>();
    o.occurred_at = r["at_us"].as<int64_t>();
    o.amount = r["amount"].as<int64_t>();
    o.margin = r["margin"].as<int64_t>();
    o.partial_cancelled = r["partial_cancelled"].as<int64_t>();
    o.whole_cancelled = r["whole_cancelled"].as<bool>();
    out.emplace(OrderKey(r["id"].as<std::string>(), o.document_no), std::move(o));
  }
  return out;
}

void SaveOrderFacts(pqxx::work& tx, const std::vector<std::pair<std::string, OrderFact>>& rows) {
  if (rows.empty()) return;
  using Row = std::pair<std::string, OrderFact>;
  const auto ints = [&rows](auto field) {
    return IntArray(rows,
                    [&field](const Row& r) -> std::optional<int64_t> { return field(r.second); });
  };
  tx.exec_params(
      absl::StrCat("INSERT INTO order_facts (customer_id, document_no, order_event_id,"
                   " occurred_at, amount, margin, partial_cancelled, whole_cancelled)"
                   " SELECT id, doc, ev, ",
                   TsOf("at"),
                   ", amount, margin, partial, whole FROM unnest($1::uuid[], $2::text[],"
                   " $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],"
                   " $8::boolean[]) AS u(id, doc, ev, at, amount, margin, partial, whole)"
                   " ON CONFLICT (customer_id, document_no) DO UPDATE SET"
                   " order_event_id = EXCLUDED.order_event_id,"
                   " occurred_at = EXCLUDED.occurred_at, amount = EXCLUDED.amount,"
                   " margin = EXCLUDED.margin, partial_cancelled = EXCLUDED.partial_cancelled,"
                   " whole_cancelled = EXCLUDED.whole_cancelled"),
      TextArray(rows, [](const Row& r) { return r.first; }),
      TextArray(rows, [](const Row& r) { return r.second.document_no; }),
      TextArray(rows, [](const Row& r) { return r.second.order_event_id; }),
      ints([](const OrderFact& o) { return o.occurred_at; }),
      ints([](const OrderFact& o) { return o.amount; }),
      ints([](const OrderFact& o) { return o.margin; }),
      ints([](const OrderFact& o) { return o.partial_cancelled; }), [&rows] {
        std::vector<bool> whole;
        whole.reserve(rows.size());
        for (const Row& r : rows) whole.push_back(r.second.whole_cancelled);
        return postgres::ToBoolArray(whole);
      }());
}

std::optional<CustomerFacts> LoadFacts(pqxx::work& tx, const std::string& customer_id) {
  const pqxx::result r = tx.exec_params(FactsQuery("(SELECT $1::uuid AS id) k"), customer_id);
  if (r.empty()) return std::nullopt;
  return FactsOfRow(r[0]);
}

std::map<std::string, CustomerFacts> LoadFactsOf(pqxx::work& tx,
                                                 const std::vector<std::string>& customer_ids) {
  std::map<std::string, CustomerFacts> out;
  for (const auto& r : tx.exec_params(FactsQuery("unnest($1::uuid[]) AS k(id)"),
                                      postgres::ToTextArray(customer_ids))) {
    std::optional<CustomerFacts> f = FactsOfRow(r);
    if (f.has_value()) out.emplace(f->customer_id, std::move(*f));
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> LoadRevenues(pqxx::work& tx) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& r : tx.exec(
           "SELECT c.customer_id::text, coalesce(m.revenue_12m, 0) FROM customers c"
           " LEFT JOIN customer_metrics m USING (customer_id) WHERE NOT c.removed"
           " UNION ALL SELECT m.customer_id::text, m.revenue_12m FROM customer_metrics m"
           " WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = m.customer_id)")) {
    out.emplace_back(r[0].as<std::string>(), r[1].as<int64_t>());
  }
  return out;
}

void ScanEvaluationInputs(pqxx::work& tx, int chunk,
                          const std::function<void(std::vector<EvaluationInput>&&)>& fn) {
  // One pass over the three tables (sequential scans and hash joins, no order, no payloads),
  // fetched in chunks so that memory stays bounded. Customers known only from their metrics come
  // from the FULL JOIN. The whole result is read: planned as such (a cursor is otherwise planned
  // for its first tenth, which favours index-ordered joins), with room for the hash tables.
  tx.exec("SET LOCAL cursor_tuple_fraction = 1.0; SET LOCAL work_mem = '128MB'");
  tx.exec(
      absl::StrCat("DECLARE tw_evaluation_scan NO SCROLL CURSOR FOR ",
                   FactsColumns("coalesce(c.customer_id, m.customer_id)"),
                   ", t.customer_id IS NOT NULL AS has_tier, coalesce(t.tier, '') AS tier,"
                   " coalesce(t.input_hash, 0) AS input_hash,"
                   " coalesce(t.pin_tier, '') AS pin_tier, ",
                   MicrosOf("t.pin_expires"),
                   " AS pin_expires FROM customers c"
                   " FULL JOIN customer_metrics m ON m.customer_id = c.customer_id"
                   " LEFT JOIN tiers t ON t.customer_id = coalesce(c.customer_id, m.customer_id)"));
  const std::string fetch = absl::StrCat("FETCH FORWARD ", chunk, " FROM tw_evaluation_scan");
  while (true) {
    const pqxx::result rows = tx.exec(fetch);
    if (rows.empty()) break;
    const auto has_tier = rows.column_number("has_tier"), tier = rows.column_number("tier"),
               input_hash = rows.column_number("input_hash"),
               pin_tier = rows.column_number("pin_tier"),
               pin_expires = rows.column_number("pin_expires");
    std::vector<EvaluationInput> out;
    out.reserve(rows.size());
    for (const auto& r : rows) {
      EvaluationInput in;
      in.customer_id = r[0].as<std::string>();
      in.facts = FactsOfRow(r);
      in.has_tier = r[has_tier].as<bool>();
      in.tier = r[tier].as<std::string>();
      in.input_hash = r[input_hash].as<int64_t>();
      in.pin_tier = r[pin_tier].as<std::string>();
      in.pin_expires = r[pin_expires].as<int64_t>();
      out.push_back(std::move(in));
    }
    fn(std::move(out));
  }
  tx.exec("CLOSE tw_evaluation_scan");
}

void SaveInputHashes(pqxx::work& tx, const std::vector<std::pair<std::string, int64_t>>& hashes) {
  if (hashes.empty()) return;
  tx.exec_params(
      "UPDATE tiers t SET input_hash = u.h FROM unnest($1::uuid[], $2::bigint[]) AS u(id, h)"
      " WHERE t.customer_id = u.id",
      TextArray(hashes, [](const std::pair<std::string, int64_t>& p) { return p.first; }),
      IntArray(hashes, [](const std::pair<std::string, int64_t>& p) -> std::optional<int64_t> {
        return p.second;
      }));
}

int64_t CountExpiredWindows(pqxx::work& tx, Micros now) {
  return tx
      .exec_params1(
          absl::StrCat("SELECT count(*) FROM customer_metrics WHERE next_window_exit <= ", Ts(1)),
          now)[0]
      .as<int64_t>();
}

std::vector<std::string> CustomersWithExpiredWindow(pqxx::work& tx, Micros now, int limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT customer_id::text FROM customer_metrics WHERE next_window_exit <= ",
                        Ts(1), " ORDER BY next_window_exit LIMIT $2"),
           now, limit)) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

std::optional<StoredTier> LoadTier(pqxx::work& tx, const std::string& customer_id,
                                   bool for_update) {
  const pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", TierColumns(), " FROM tiers WHERE customer_id = $1",
                                  for_update ? " FOR UPDATE" : ""),
                     customer_id);
  if (r.empty()) return std::nullopt;
  return TierOfRow(r[0], 0);
}

std::map<std::string, StoredTier> LoadTiersOf(pqxx::work& tx,
                                              const std::vector<std::string>& customer_ids,
                                              bool for_update) {
  std::map<std::string, StoredTier> out;
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT customer_id::text, ", TierColumns(),
                                   " FROM tiers WHERE customer_id = ANY($1::uuid[])",
                                   for_update ? " FOR UPDATE" : ""),
                      postgres::ToTextArray(customer_ids))) {
    out.emplace(r[0].as<std::string>(), TierOfRow(r, 1));
  }
  return out;
}

void SaveTier(pqxx::work& tx, const StoredTier& t) { SaveTiers(tx, {t}); }

void SaveTiers(pqxx::work& tx, const std::vector<StoredTier>& tiers) {
  if (tiers.empty()) return;
  // Payloads travel hex-encoded in a text[] (no bytea[] literal escaping).
  tx.exec_params(
      absl::StrCat("INSERT INTO tiers (customer_id, tier, score, gate, payload, rule_set_version,"
                   " evaluated_at, pin_tier, pin_reason, pin_expires, next_review_at, input_hash)"
                   " SELECT id, tier, score, gate, decode(payload, 'hex'), rsv, ",
                   TsOf("eval_at"), ", NULLIF(pin_tier, ''), NULLIF(pin_reason, ''), ",
                   TsOf("pin_at"), ", ", TsOf("review_at"),
                   ", NULLIF(ih, 0)"
                   " FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::text[],"
                   " $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[],"
                   " $11::bigint[], $12::bigint[])"
                   " AS u(id, tier, score, gate, payload, rsv, eval_at, pin_tier, pin_reason,"
                   " pin_at, review_at, ih)"
                   " ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier,"
                   " score = EXCLUDED.score, gate = EXCLUDED.gate, payload = EXCLUDED.payload,"
                   " rule_set_version = EXCLUDED.rule_set_version,"
                   " evaluated_at = EXCLUDED.evaluated_at, pin_tier = EXCLUDED.pin_tier,"
                   " pin_reason = EXCLUDED.pin_reason, pin_expires = EXCLUDED.pin_expires,"
                   " next_review_at = EXCLUDED.next_review_at, input_hash = EXCLUDED.input_hash"),
      TextArray(tiers, [](const StoredTier& t) { return t.tier.customer_id(); }),
      TextArray(tiers, [](const StoredTier& t) { return t.tier.tier(); }),
      IntArray(tiers, [](const StoredTier& t) -> std::optional<int64_t> { return t.tier.score(); }),
      TextArray(tiers, [](const StoredTier& t) { return t.gate; }),
      TextArray(
          tiers,
          [](const StoredTier& t) { return absl::BytesToHexString(t.tier.SerializeAsString()); }),
      IntArray(
          tiers,
          [](const StoredTier& t) -> std::optional<int64_t> { return t.tier.rule_set_version(); }),
      IntArray(tiers,
               [](const StoredTier& t) -> std::optional<int64_t> {
                 return ToMicros(t.tier.evaluated_at());
               }),
      TextArray(tiers, [](const StoredTier& t) { return t.pin_tier; }),
      TextArray(tiers, [](const StoredTier& t) { return t.pin_reason; }),
      IntArray(tiers, [](const StoredTier& t) -> std::optional<int64_t> { return t.pin_expires; }),
      IntArray(tiers, [](const StoredTier& t) -> std::optional<int64_t> { return t.next_review; }),
      IntArray(tiers, [](const StoredTier& t) -> std::optional<int64_t> { return t.input_hash; }));
}

void AppendHistory(pqxx::work& tx, const v1::TierChange& c) { AppendHistoryBatch(tx, {c}); }

void AppendHistoryBatch(pqxx::work& tx, const std::vector<v1::TierChange>& changes) {
  if (changes.empty()) return;
  using C = v1::TierChange;
  tx.exec_params(
      absl::StrCat("INSERT INTO tier_history (customer_id, previous_tier, tier, reason_code,"
                   " trigger_event_id, payload, changed_at)"
                   " SELECT id, prev, tier, reason, trig, decode(payload, 'hex'), ",
                   TsOf("at"),
                   " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
                   " $6::text[], $7::bigint[]) WITH ORDINALITY"
                   " AS u(id, prev, tier, reason, trig, payload, at, n) ORDER BY n"),
      TextArray(changes, [](const C& c) { return c.customer_id(); }),
      TextArray(changes, [](const C& c) { return c.previous_tier(); }),
      TextArray(changes, [](const C& c) { return c.tier(); }),
      TextArray(changes, [](const C& c) { return c.reason_code(); }),
      TextArray(changes, [](const C& c) { return c.trigger_event_id(); }),
      TextArray(changes, [](const C& c) { return absl::BytesToHexString(c.SerializeAsString()); }),
      IntArray(changes,
               [](const C& c) -> std::optional<int64_t> { return ToMicros(c.changed_at()); }));
}

std::vector<v1::TierChange> LoadHistory(pqxx::work& tx, const std::string& customer_id,
                                        int64_t before_id, int limit) {
  std::vector<v1::TierChange> out;
  for (const auto& r : tx.exec_params(
           "SELECT id, payload FROM tier_history WHERE customer_id = $1 AND ($2 = 0 OR id < $2)"
           " ORDER BY id DESC LIMIT $3",
           customer_id, before_id, limit)) {
    v1::TierChange c = postgres::ParseBytea<v1::TierChange>(r[1]);
    c.set_id(r[0].as<int64_t>());
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<v1::Tier> ListByTier(pqxx::work& tx, const std::string& tier,
                                 const std::string& after_customer, int limit,
                                 const std::string& owner) {
  std::vector<v1::Tier> out;
  for (const auto& r : tx.exec_params(
           "SELECT payload FROM tiers WHERE tier = $1 AND customer_id > $2::uuid"
           " AND ($4 = '' OR customer_id IN (SELECT customer_id FROM customers WHERE owner = $4))"
           " ORDER BY customer_id LIMIT $3",
           tier, after_customer.empty() ? "00000000-0000-0000-0000-000000000000" : after_customer,
           limit, owner)) {
    out.push_back(postgres::ParseBytea<v1::Tier>(r[0]));
  }
  return out;
}

std::optional<std::string> OwnerOf(pqxx::work& tx, const std::string& customer_id) {
  const pqxx::result r =
      tx.exec_params("SELECT owner FROM customers WHERE customer_id = $1", customer_id);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::map<std::string, std::string> OwnersOf(pqxx::work& tx,
                                            const std::vector<std::string>& customer_ids) {
  std::map<std::string, std::string> out;
  for (const auto& r : tx.exec_params("SELECT customer_id::text, owner FROM customers"
                                      " WHERE customer_id = ANY($1::uuid[])",
                                      postgres::ToTextArray(customer_ids))) {
    out.emplace(r[0].as<std::string>(), r[1].as<std::string>());
  }
  return out;
}

std::vector<std::string> ExpiredPins(pqxx::work& tx, Micros now) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT customer_id::text FROM tiers WHERE pin_tier IS NOT NULL AND"
                        " pin_expires <= ",
                        Ts(1)),
           now)) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

std::vector<std::string> CustomersDueForReview(pqxx::work& tx, Micros now, int limit) {
  std::vector<std::string> out;
  // Removed customers are not evaluated any more: theirs would stay due for ever.
  for (const auto& r : tx.exec_params(absl::StrCat("SELECT t.customer_id::text FROM tiers t"
                                                   " WHERE t.next_review_at <= ",
                                                   Ts(1),
                                                   " AND NOT EXISTS (SELECT 1 FROM customers c"
                                                   " WHERE c.customer_id = t.customer_id"
                                                   " AND c.removed)"
                                                   " ORDER BY t.next_review_at LIMIT $2"),
                                      now, limit)) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

std::vector<StoredTier> AllTiers(pqxx::work& tx) {
  std::vector<StoredTier> out;
  for (const auto& r : tx.exec("SELECT payload, gate FROM tiers")) {
    StoredTier t;
    t.tier = postgres::ParseBytea<v1::Tier>(r[0]);
    t.gate = r[1].as<std::string>();
    out.push_back(std::move(t));
  }
  return out;
}

std::map<std::string, std::string> TiersAt(pqxx::work& tx, Micros at) {
  std::map<std::string, std::string> out;
  const pqxx::result rows =
      at == 0
          ? tx.exec("SELECT customer_id::text, tier FROM tiers")
          : tx.exec_params(absl::StrCat("SELECT DISTINCT ON (customer_id) customer_id::text, tier"
                                        " FROM tier_history WHERE changed_at <= ",
                                        Ts(1), " ORDER BY customer_id, id DESC"),
                           at);
  for (const auto& r : rows) out[r[0].as<std::string>()] = r[1].as<std::string>();
  return out;
}

std::vector<std::string> AllCustomers(pqxx::work& tx) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec("SELECT customer_id::text FROM customers WHERE NOT removed UNION"
                               " SELECT DISTINCT customer_id::text FROM ledger_entries")) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

std::optional<v1::RuleSet> LoadRuleSet(pqxx::work& tx, int64_t version) {
  const pqxx::result r =
      tx.exec_params("SELECT version, payload, active, " + MicrosOf("activated_at") +
                         " FROM rule_sets WHERE ($1 = 0 AND active) OR version = $1",
                     version);
  if (r.empty()) return std::nullopt;
  v1::RuleSet rs = postgres::ParseBytea<v1::RuleSet>(r[0][1]);
  rs.set_version(r[0][0].as<int64_t>());
  rs.set_active(r[0][2].as<bool>());
  if (const int64_t at = r[0][3].as<int64_t>(); at != 0)
    SetTimestamp(at, rs.mutable_activate_time());
  return rs;
}

int64_t InsertRuleSet(pqxx::work& tx, const v1::RuleSet& rs, const std::string& actor) {
  return tx
      .exec_params1("INSERT INTO rule_sets (payload, created_by) VALUES ($1, $2) RETURNING version",
                    postgres::Bytes(rs.SerializeAsString()), actor)[0]
      .as<int64_t>();
}

std::vector<v1::RuleSet> ListRuleSets(pqxx::work& tx) {
  std::vector<v1::RuleSet> out;
  for (const auto& r :
       tx.exec("SELECT version, payload, active FROM rule_sets ORDER BY version DESC")) {
    v1::RuleSet rs = postgres::ParseBytea<v1::RuleSet>(r[1]);
    rs.set_version(r[0].as<int64_t>());
    rs.set_active(r[2].as<bool>());
    out.push_back(std::move(rs));
  }
  return out;
}

void ActivateRuleSet(pqxx::work& tx, int64_t version) {
  tx.exec("UPDATE rule_sets SET active = false WHERE active");
  tx.exec_params("UPDATE rule_sets SET active = true, activated_at = now() WHERE version = $1",
                 version);
}

std::optional<v1::ServicePolicy> LoadServicePolicy(pqxx::work& tx) {
  const pqxx::result r = tx.exec("SELECT payload, version FROM service_policy WHERE id = 1");
  if (r.empty()) return std::nullopt;
  v1::ServicePolicy p = postgres::ParseBytea<v1::ServicePolicy>(r[0][0]);
  p.set_version(r[0][1].as<int>());
  return p;
}

void SaveServicePolicy(pqxx::work& tx, const v1::ServicePolicy& p) {
  tx.exec_params(
      "INSERT INTO service_policy (id, payload, version, updated_by) VALUES (1, $1, $2, $3)"
      " ON CONFLICT (id) DO UPDATE SET payload = $1, version = $2, updated_by = $3,"
      " updated_at = now()",
      postgres::Bytes(p.SerializeAsString()), p.version(), p.updated_by());
}

void SaveJob(pqxx::work& tx, const v1::Job& j) {
  tx.exec_params(
      absl::StrCat("INSERT INTO jobs (id, state, total, processed, changed, ended_at, error)"
                   " VALUES ($1, $2, $3, $4, $5, ",
                   Ts(6),
                   ", $7) ON CONFLICT (id) DO UPDATE SET"
                   " state = $2, total = $3, processed = $4, changed = $5,"
                   " ended_at = EXCLUDED.ended_at, error = $7"),
      j.id(), j.state(), j.total(), j.processed(), j.changed(),
      j.has_end_time() ? ToMicros(j.end_time()) : 0, j.error());
}

namespace {

constexpr char kJobColumns[] =
    "id::text AS id, state, total, processed, changed, coalesce(rule_set_version, 0) AS rsv, ";

v1::Job JobOfRow(const pqxx::row& r) {
  v1::Job j;
  j.set_id(r["id"].as<std::string>());
  j.set_state(r["state"].as<std::string>());
  j.set_total(r["total"].as<int64_t>());
  j.set_processed(r["processed"].as<int64_t>());
  j.set_changed(r["changed"].as<int64_t>());
  j.set_rule_set_version(r["rsv"].as<int64_t>());
  SetTimestamp(r["started_us"].as<int64_t>(), j.mutable_start_time());
  if (const int64_t end = r["ended_us"].as<int64_t>(); end != 0) {
    SetTimestamp(end, j.mutable_end_time());
  }
  j.set_error(r["error"].as<std::string>());
  return j;
}

std::optional<v1::Job> JobWhere(pqxx::work& tx, const std::string& where, const std::string& arg) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kJobColumns, MicrosOf("started_at"), " AS started_us, ",
                   MicrosOf("ended_at"), " AS ended_us, error FROM jobs WHERE ", where),
      arg);
  if (r.empty()) return std::nullopt;
  return JobOfRow(r[0]);
}

}  // namespace

std::optional<v1::Job> LoadJob(pqxx::work& tx, const std::string& id) {
  return JobWhere(tx, "id = $1::uuid", id);
}

std::optional<v1::Job> InsertRunningJob(pqxx::work& tx, const v1::Job& job) {
  // The partial unique index jobs_one_running refuses a second running job; a concurrent
  // insert waits for the first to commit, then finds it.
  const pqxx::result inserted =
      tx.exec_params(absl::StrCat("INSERT INTO jobs (id, state, rule_set_version, started_at)"
                                  " VALUES ($1, 'running', NULLIF($2, 0), ",
                                  Ts(3), ") ON CONFLICT DO NOTHING RETURNING id"),
                     job.id(), job.rule_set_version(), ToMicros(job.start_time()));
  if (!inserted.empty()) return std::nullopt;
  std::optional<v1::Job> running = JobWhere(tx, "state = 'running' AND id <> $1::uuid", job.id());
  if (!running.has_value()) {
    // The running job ended between the insert and the read: another try finds none.
    return InsertRunningJob(tx, job);
  }
  return running;
}

std::optional<v1::Job> RunningActivationJob(pqxx::work& tx, int64_t version) {
  return JobWhere(tx, "state = 'running' AND rule_set_version = $1::bigint", absl::StrCat(version));
}

void ClaimJob(pqxx::work& tx, const std::string& id, const std::string& runner) {
  tx.exec_params("UPDATE jobs SET claimed_by = $2 WHERE id = $1::uuid", id, runner);
}

int64_t FailInterruptedJobs(pqxx::work& tx, const std::string& runner, Micros now) {
  return tx
      .exec_params(absl::StrCat("UPDATE jobs SET state = 'failed', ended_at = ", Ts(2),
                                ", error = 'interrupted: the classification writer that ran it"
                                " stopped; start it again' WHERE state = 'running'"
                                " AND claimed_by IS NOT NULL AND claimed_by <> $1"
                                " AND rule_set_version IS NULL"),
                   runner, now)
      .affected_rows();
}

int64_t BumpWriterEpoch(pqxx::work& tx, const std::string& holder) {
  return tx
      .exec_params1(
          "UPDATE writer SET epoch = epoch + 1, holder = $1, elected_at = now() WHERE id = 1"
          " RETURNING epoch",
          holder)[0]
      .as<int64_t>();
}

bool WriterEpochIs(pqxx::work& tx, int64_t epoch) {
  const pqxx::result r = tx.exec("SELECT epoch FROM writer WHERE id = 1 FOR SHARE");
  return !r.empty() && r[0][0].as<int64_t>() == epoch;
}

int64_t ActiveRuleSetVersion(pqxx::work& tx) {
  const pqxx::result r = tx.exec("SELECT version FROM rule_sets WHERE active");
  return r.empty() ? 0 : r[0][0].as<int64_t>();
}

int64_t AppliedRuleSetVersion(pqxx::work& tx) {
  const pqxx::result r = tx.exec("SELECT applied_rule_set_version FROM writer WHERE id = 1");
  return r.empty() ? 0 : r[0][0].as<int64_t>();
}

void SetAppliedRuleSetVersion(pqxx::work& tx, int64_t version) {
  tx.exec_params("UPDATE writer SET applied_rule_set_version = $1 WHERE id = 1", version);
}

int64_t InsertWriteRequest(pqxx::work& tx, const std::string& kind, const std::string& payload,
                           const std::string& actor, const std::string& actor_role,
                           const std::string& request_id) {
  return tx
      .exec_params1(
          "INSERT INTO write_requests (kind, payload, actor, actor_role, request_id)"
          " VALUES ($1, $2, $3, $4, $5) RETURNING id",
          kind, postgres::Bytes(payload), actor, actor_role, request_id)[0]
      .as<int64_t>();
}

std::vector<WriteRequest> PendingWriteRequests(pqxx::work& tx, int limit) {
  std::vector<WriteRequest> out;
  for (const auto& r :
       tx.exec_params("SELECT id, kind, payload, actor, actor_role, request_id FROM write_requests"
                      " WHERE done_at IS NULL ORDER BY id LIMIT $1",
                      limit)) {
    pqxx::binarystring payload(r["payload"]);
    out.push_back({r["id"].as<int64_t>(), r["kind"].as<std::string>(), payload.str(),
                   r["actor"].as<std::string>(), r["actor_role"].as<std::string>(),
                   r["request_id"].as<std::string>()});
  }
  return out;
}

void FinishWriteRequest(pqxx::work& tx, int64_t id, const std::string& result, int code,
                        const std::string& message) {
  tx.exec_params(
      "UPDATE write_requests SET done_at = now(), result = $2, error_code = $3,"
      " error_message = $4 WHERE id = $1",
      id, postgres::Bytes(result), code, message);
}

std::optional<WriteOutcome> LoadWriteOutcome(pqxx::work& tx, int64_t id) {
  const pqxx::result r = tx.exec_params(
      "SELECT done_at IS NOT NULL, result, error_code, error_message FROM write_requests"
      " WHERE id = $1",
      id);
  if (r.empty()) return std::nullopt;
  WriteOutcome o;
  o.done = r[0][0].as<bool>();
  if (!r[0][1].is_null()) o.result = pqxx::binarystring(r[0][1]).str();
  o.code = r[0][2].as<int>();
  o.message = r[0][3].as<std::string>();
  return o;
}

}  // namespace tierwise::classification::store
