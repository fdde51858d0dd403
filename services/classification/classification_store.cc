#include "services/classification/classification_store.h"

#include "absl/strings/str_cat.h"
#include "common/postgres/bytea.h"
#include "common/postgres/time_sql.h"

namespace tierwise::classification::store {
namespace {

std::string MicrosOf(const char* column) { return postgres::MicrosColumn(column); }
std::string Ts(int n) { return postgres::TimestampParam(n); }

}  // namespace

bool InsertLedgerEntry(pqxx::work& tx, const std::string& customer_id, const LedgerEntry& e) {
  return !tx.exec_params(
                absl::StrCat("INSERT INTO ledger_entries (event_id, customer_id, kind, document_no,"
                             " amount, margin, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, ",
                             Ts(7), ") ON CONFLICT (event_id) DO NOTHING RETURNING event_id"),
                e.event_id, customer_id, static_cast<int>(e.kind), e.document_no, e.amount,
                e.margin, e.occurred_at)
              .empty();
}

bool IsNewestLedgerEntry(pqxx::work& tx, const std::string& customer_id,
                         const std::string& event_id) {
  return tx
      .exec_params1(
          "SELECT NOT EXISTS (SELECT 1 FROM ledger_entries o JOIN ledger_entries e"
          " ON e.event_id = $2 WHERE o.customer_id = $1"
          " AND (o.occurred_at, o.event_id) > (e.occurred_at, e.event_id))",
          customer_id, event_id)[0]
      .as<bool>();
}

std::vector<LedgerEntry> LoadLedger(pqxx::work& tx, const std::string& customer_id) {
  std::vector<LedgerEntry> out;
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT event_id, kind, document_no, amount, margin, ",
                        MicrosOf("occurred_at"), " FROM ledger_entries WHERE customer_id = $1"),
           customer_id)) {
    out.push_back({r[0].as<std::string>(), static_cast<LedgerEntry::Kind>(r[1].as<int>()),
                   r[2].as<std::string>(), r[3].as<int64_t>(), r[4].as<int64_t>(),
                   r[5].as<int64_t>()});
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

void LoadInteractionFacts(pqxx::work& tx, const std::string& customer_id, Micros now,
                          std::vector<InteractionFact>* interactions,
                          std::vector<ComplaintFact>* complaints) {
  const Micros window_start = now - kYear;
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT 'i', interaction_id, ", MicrosOf("occurred_at"),
                        ", satisfaction, false, false, false FROM interaction_facts"
                        " WHERE customer_id = $1 AND logged AND NOT superseded"
                        " AND satisfaction > 0 AND occurred_at > ",
                        Ts(2), " UNION ALL SELECT 'c', complaint_id, ", MicrosOf("opened_at"),
                        ", 0, open, response_breached, resolution_breached FROM complaint_facts"
                        " WHERE customer_id = $1 AND (open OR opened_at > ",
                        Ts(2), ")"),
           customer_id, window_start)) {
    if (r[0].as<std::string>() == "i") {
      interactions->push_back(
          {r[1].as<std::string>(), r[2].as<int64_t>(), r[3].as<int>(), /*superseded=*/false});
    } else {
      complaints->push_back({r[1].as<std::string>(), r[2].as<int64_t>(), r[4].as<bool>(),
                             r[5].as<bool>(), r[6].as<bool>()});
    }
  }
}

void UpsertCustomer(pqxx::work& tx, const std::string& customer_id, const std::string& external_ref,
                    const std::string& owner, Micros since, bool removed, int64_t version) {
  // Later profile versions win; a redelivered or older event changes nothing.
  tx.exec_params(
      absl::StrCat("INSERT INTO customers (customer_id, external_ref, owner, since, removed,"
                   " profile_version) VALUES ($1, $2, $3, ",
                   Ts(4),
                   ", $5, $6)"
                   " ON CONFLICT (customer_id) DO UPDATE SET external_ref = EXCLUDED.external_ref,"
                   " owner = EXCLUDED.owner, since = EXCLUDED.since, removed = EXCLUDED.removed,"
                   " profile_version = EXCLUDED.profile_version"
                   " WHERE customers.profile_version < EXCLUDED.profile_version"),
      customer_id, external_ref, owner, since, removed, version);
}

void SaveMetrics(pqxx::work& tx, const std::string& customer_id, const CustomerMetrics& m,
                 const std::optional<std::string>& rating, const std::optional<int>& on_time) {
  tx.exec_params(
      absl::StrCat(
          "INSERT INTO customer_metrics (customer_id, revenue_12m, margin_12m, orders_12m,"
          " revenue_prev_6m, revenue_last_6m, renewal_permille, first_order_at, last_order_at,"
          " next_window_exit, credit_rating, on_time_permille, satisfaction_x100,"
          " satisfaction_count_12m, complaints_12m, open_complaints, sla_breaches_12m)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, ",
          Ts(8), ", ", Ts(9), ", ", Ts(10),
          ", coalesce($11, ''), $12::integer, $13::integer, $14, $15, $16, $17)"
          " ON CONFLICT (customer_id) DO UPDATE SET revenue_12m = $2, margin_12m = $3,"
          " orders_12m = $4, revenue_prev_6m = $5, revenue_last_6m = $6, renewal_permille = $7,"
          " first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,"
          " next_window_exit = EXCLUDED.next_window_exit,"
          " credit_rating = coalesce($11, customer_metrics.credit_rating),"
          " on_time_permille = coalesce($12::integer, customer_metrics.on_time_permille),"
          " satisfaction_x100 = $13::integer, satisfaction_count_12m = $14,"
          " complaints_12m = $15, open_complaints = $16, sla_breaches_12m = $17,"
          " updated_at = now()"),
      customer_id, m.revenue_12m, m.margin_12m, m.orders_12m, m.revenue_prev_6m, m.revenue_last_6m,
      m.renewal_permille, m.first_order_at, m.last_order_at, m.next_window_exit,
      rating.has_value() ? rating->c_str() : nullptr,
      on_time.has_value() ? std::to_string(*on_time).c_str() : nullptr,
      m.satisfaction_x100.has_value() ? std::to_string(*m.satisfaction_x100).c_str() : nullptr,
      m.satisfaction_count_12m, m.complaints_12m, m.open_complaints, m.sla_breaches_12m);
}

std::optional<CustomerFacts> LoadFacts(pqxx::work& tx, const std::string& customer_id) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat(
          "SELECT coalesce(m.revenue_12m, 0), coalesce(m.margin_12m, 0), coalesce(m.orders_12m, 0),"
          " coalesce(m.revenue_prev_6m, 0), coalesce(m.revenue_last_6m, 0),"
          " coalesce(m.renewal_permille, 0), ",
          MicrosOf("m.first_order_at"), ", ", MicrosOf("m.last_order_at"), ", ",
          MicrosOf("m.next_window_exit"),
          ", coalesce(m.credit_rating, ''), m.on_time_permille, m.satisfaction_x100, ",
          MicrosOf("c.since"),
          ", c.customer_id IS NOT NULL, m.customer_id IS NOT NULL, coalesce(c.removed, false),"
          " coalesce(m.satisfaction_count_12m, 0), coalesce(m.complaints_12m, 0),"
          " coalesce(m.open_complaints, 0), coalesce(m.sla_breaches_12m, 0)"
          " FROM (SELECT $1::uuid AS id) k"
          " LEFT JOIN customers c ON c.customer_id = k.id"
          " LEFT JOIN customer_metrics m ON m.customer_id = k.id"),
      customer_id);
  if (r.empty() || (!r[0][13].as<bool>() && !r[0][14].as<bool>()) || r[0][15].as<bool>()) {
    return std::nullopt;
  }
  const auto& row = r[0];
  CustomerFacts f;
  f.customer_id = customer_id;
  f.metrics.revenue_12m = row[0].as<int64_t>();
  f.metrics.margin_12m = row[1].as<int64_t>();
  f.metrics.orders_12m = row[2].as<int>();
  f.metrics.revenue_prev_6m = row[3].as<int64_t>();
  f.metrics.revenue_last_6m = row[4].as<int64_t>();
  f.metrics.renewal_permille = row[5].as<int>();
  f.metrics.first_order_at = row[6].as<int64_t>();
  f.metrics.last_order_at = row[7].as<int64_t>();
  f.metrics.next_window_exit = row[8].as<int64_t>();
  f.credit_rating = row[9].as<std::string>();
  if (!row[10].is_null()) f.on_time_permille = row[10].as<int>();
  if (!row[11].is_null()) f.metrics.satisfaction_x100 = row[11].as<int>();
  f.since = row[12].as<int64_t>();
  f.metrics.satisfaction_count_12m = row[16].as<int>();
  f.metrics.complaints_12m = row[17].as<int>();
  f.metrics.open_complaints = row[18].as<int>();
  f.metrics.sla_breaches_12m = row[19].as<int>();
  if (f.since == 0) f.since = f.metrics.first_order_at;
  return f;
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

std::vector<std::string> CustomersWithExpiredWindow(pqxx::work& tx, Micros now, int limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_params(
           "SELECT customer_id::text FROM customer_metrics WHERE next_window_exit <="
           " to_timestamp($1::double precision / 1e6) ORDER BY next_window_exit LIMIT $2",
           now, limit)) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

std::optional<StoredTier> LoadTier(pqxx::work& tx, const std::string& customer_id,
                                   bool for_update) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT payload, gate, coalesce(pin_tier, ''), coalesce(pin_reason, ''), ",
                   MicrosOf("pin_expires"), " FROM tiers WHERE customer_id = $1",
                   for_update ? " FOR UPDATE" : ""),
      customer_id);
  if (r.empty()) return std::nullopt;
  StoredTier t;
  t.tier = postgres::ParseBytea<v1::Tier>(r[0][0]);
  t.gate = r[0][1].as<std::string>();
  t.pin_tier = r[0][2].as<std::string>();
  t.pin_reason = r[0][3].as<std::string>();
  t.pin_expires = r[0][4].as<int64_t>();
  return t;
}

void SaveTier(pqxx::work& tx, const StoredTier& t) {
  tx.exec_params(
      absl::StrCat("INSERT INTO tiers (customer_id, tier, score, gate, payload, rule_set_version,"
                   " evaluated_at, pin_tier, pin_reason, pin_expires) VALUES ($1, $2, $3, $4, $5,"
                   " $6, ",
                   Ts(7), ", NULLIF($8, ''), NULLIF($9, ''), ", Ts(10),
                   ")"
                   " ON CONFLICT (customer_id) DO UPDATE SET tier = $2, score = $3, gate = $4,"
                   " payload = $5, rule_set_version = $6, evaluated_at = EXCLUDED.evaluated_at,"
                   " pin_tier = NULLIF($8, ''), pin_reason = NULLIF($9, ''),"
                   " pin_expires = EXCLUDED.pin_expires"),
      t.tier.customer_id(), t.tier.tier(), t.tier.score(), t.gate,
      postgres::Bytes(t.tier.SerializeAsString()), t.tier.rule_set_version(),
      ToMicros(t.tier.evaluated_at()), t.pin_tier, t.pin_reason, t.pin_expires);
}

void AppendHistory(pqxx::work& tx, const v1::TierChange& c) {
  tx.exec_params(
      absl::StrCat("INSERT INTO tier_history (customer_id, previous_tier, tier, reason_code,"
                   " trigger_event_id, payload, changed_at) VALUES ($1, $2, $3, $4, $5, $6, ",
                   Ts(7), ")"),
      c.customer_id(), c.previous_tier(), c.tier(), c.reason_code(), c.trigger_event_id(),
      postgres::Bytes(c.SerializeAsString()), ToMicros(c.changed_at()));
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
                                 const std::string& after_customer, int limit) {
  std::vector<v1::Tier> out;
  for (const auto& r : tx.exec_params(
           "SELECT payload FROM tiers WHERE tier = $1 AND customer_id > $2::uuid"
           " ORDER BY customer_id LIMIT $3",
           tier, after_customer.empty() ? "00000000-0000-0000-0000-000000000000" : after_customer,
           limit)) {
    out.push_back(postgres::ParseBytea<v1::Tier>(r[0]));
  }
  return out;
}

std::vector<std::string> ExpiredPins(pqxx::work& tx, Micros now) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_params(
           "SELECT customer_id::text FROM tiers WHERE pin_tier IS NOT NULL AND pin_expires <="
           " to_timestamp($1::double precision / 1e6)",
           now)) {
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
      at == 0 ? tx.exec("SELECT customer_id::text, tier FROM tiers")
              : tx.exec_params(
                    "SELECT DISTINCT ON (customer_id) customer_id::text, tier FROM tier_history"
                    " WHERE changed_at <= to_timestamp($1::double precision / 1e6)"
                    " ORDER BY customer_id, id DESC",
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

std::optional<v1::Job> LoadJob(pqxx::work& tx, const std::string& id) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT id::text, state, total, processed, changed, ", MicrosOf("started_at"),
                   ", ", MicrosOf("ended_at"), ", error FROM jobs WHERE id = $1"),
      id);
  if (r.empty()) return std::nullopt;
  v1::Job j;
  j.set_id(r[0][0].as<std::string>());
  j.set_state(r[0][1].as<std::string>());
  j.set_total(r[0][2].as<int64_t>());
  j.set_processed(r[0][3].as<int64_t>());
  j.set_changed(r[0][4].as<int64_t>());
  SetTimestamp(r[0][5].as<int64_t>(), j.mutable_start_time());
  if (const int64_t end = r[0][6].as<int64_t>(); end != 0) SetTimestamp(end, j.mutable_end_time());
  j.set_error(r[0][7].as<std::string>());
  return j;
}

}  // namespace tierwise::classification::store
