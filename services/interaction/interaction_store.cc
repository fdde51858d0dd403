#include "services/interaction/interaction_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/postgres/bytea.h"
#include "common/postgres/pool.h"
#include "common/postgres/text_array.h"
#include "common/postgres/time_sql.h"
#include "common/time/micros.h"
#include "services/interaction/erasure.h"

namespace tierwise::interaction::store {
namespace {

using postgres::MicrosColumn;
using postgres::TimestampParam;

Micros MicrosOr0(const google::protobuf::Timestamp& ts, bool has) {
  return has ? time::ToMicros(ts) : 0;
}

std::string DateText(const type::v1::Date& d) {
  if (DayOfDate(d) < 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

// Current versions carry superseded_by only in the column; the payload is what was written.
v1::Interaction InteractionOf(const pqxx::row& r) {
  v1::Interaction in = postgres::ParseBytea<v1::Interaction>(r["payload"]);
  if (!r["superseded_by"].is_null()) in.set_superseded_by(r["superseded_by"].as<std::string>());
  return in;
}

constexpr char kInteractionColumns[] = "payload, superseded_by::text AS superseded_by";

// Statements of the hot paths (LogInteraction, follow-up lists, reads) are prepared once per
// connection (postgres::Prepared): later calls skip parsing and planning.
using postgres::Prepared;

}  // namespace

void UpsertCustomer(pqxx::work& tx, const KnownCustomer& c, int64_t version, Micros known_at) {
  tx.exec_params(
      absl::StrCat("INSERT INTO customers (customer_id, external_ref, owner, deleted, former,"
                   " version, known_at) VALUES ($1, $2, $3, $4, $5, $6, ",
                   TimestampParam(7),
                   ") ON CONFLICT (customer_id) DO UPDATE SET external_ref ="
                   " EXCLUDED.external_ref, owner = EXCLUDED.owner, deleted = EXCLUDED.deleted,"
                   " former = EXCLUDED.former, version = EXCLUDED.version"
                   " WHERE customers.version < EXCLUDED.version AND customers.erased_at IS NULL"),
      c.customer_id, c.external_ref, c.owner, c.deleted, c.former, version, known_at);
}

std::optional<KnownCustomer> FindCustomer(pqxx::transaction_base& tx,
                                          const std::string& customer_id, bool for_write) {
  auto sql = [](bool lock) {
    return absl::StrCat(
        "SELECT c.external_ref, c.owner, c.deleted, c.former,"
        " c.erased_at IS NOT NULL AS erased, ",
        MicrosColumn("c.known_at"), " AS known_at, coalesce(t.tier, '') AS tier, ",
        MicrosColumn("t.changed_at"),
        " AS tier_since FROM customers c LEFT JOIN customer_tiers t"
        " USING (customer_id) WHERE c.customer_id = $1",
        lock ? " FOR NO KEY UPDATE OF c" : "");
  };
  static const std::string kRead = sql(false);
  static const std::string kLock = sql(true);
  const pqxx::result r = for_write ? Prepared(tx, "interaction_lock_customer", kLock, customer_id)
                                   : Prepared(tx, "interaction_find_customer", kRead, customer_id);
  if (r.empty()) return std::nullopt;
  const pqxx::row row = r[0];
  return KnownCustomer{.customer_id = customer_id,
                       .external_ref = row["external_ref"].as<std::string>(),
                       .owner = row["owner"].as<std::string>(),
                       .deleted = row["deleted"].as<bool>(),
                       .former = row["former"].as<bool>(),
                       .erased = row["erased"].as<bool>(),
                       .known_at = row["known_at"].as<Micros>(),
                       .tier = row["tier"].as<std::string>(),
                       .tier_since = row["tier_since"].as<Micros>()};
}

bool UpsertTier(pqxx::work& tx, const std::string& customer_id, const std::string& tier,
                Micros changed_at) {
  return !tx.exec_params(absl::StrCat("INSERT INTO customer_tiers (customer_id, tier, changed_at)"
                                      " VALUES ($1, $2, ",
                                      TimestampParam(3),
                                      ") ON CONFLICT (customer_id) DO UPDATE SET tier ="
                                      " EXCLUDED.tier, changed_at = EXCLUDED.changed_at"
                                      " WHERE customer_tiers.changed_at < EXCLUDED.changed_at"
                                      " RETURNING customer_id"),
                         customer_id, tier, changed_at)
              .empty();
}

std::string LastKnownTier(pqxx::work& tx, const std::string& customer_id) {
  const pqxx::result r =
      tx.exec_params("SELECT tier FROM customer_tiers WHERE customer_id = $1", customer_id);
  return r.empty() ? std::string() : r[0]["tier"].as<std::string>();
}

void InsertInteraction(pqxx::work& tx, const v1::Interaction& in, const std::string& request_key) {
  std::string payload;
  in.SerializeToString(&payload);
  tx.exec_params(
      absl::StrCat("INSERT INTO interactions (id, root_id, version, customer_id, owner,"
                   " occurred_at, recorded_at, channel, satisfaction, executive_contact,"
                   " purchase_intent, next_follow_up, recorded_by, request_key, payload)"
                   " VALUES ($1, $2, $3, $4, $5, ",
                   TimestampParam(6), ", ", TimestampParam(7),
                   ", $8, $9, $10, $11, NULLIF($12, '')::date, $13, NULLIF($14, ''), $15)"),
      in.id(), in.root_id(), in.version(), in.customer_id(), in.owner(),
      time::ToMicros(in.occurred_at()), time::ToMicros(in.recorded_at()),
      static_cast<int>(in.channel()), in.satisfaction(), in.executive_contact(),
      in.purchase_intent(), DateText(in.next_follow_up_date()), in.recorded_by(), request_key,
      postgres::Bytes(payload));
}

std::optional<v1::Interaction> FindInteraction(pqxx::transaction_base& tx, const std::string& id,
                                               bool for_update) {
  static const std::string kRead =
      absl::StrCat("SELECT ", kInteractionColumns, " FROM interactions WHERE id = $1");
  const pqxx::result r = for_update ? tx.exec_params(absl::StrCat(kRead, " FOR UPDATE"), id)
                                    : Prepared(tx, "interaction_find", kRead, id);
  if (r.empty()) return std::nullopt;
  return InteractionOf(r[0]);
}

std::optional<v1::Interaction> FindInteractionByKey(pqxx::work& tx,
                                                    const std::string& request_key) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kInteractionColumns, " FROM interactions WHERE request_key = $1");
  const pqxx::result r = Prepared(tx, "interaction_find_by_key", kSql, request_key);
  if (r.empty()) return std::nullopt;
  return InteractionOf(r[0]);
}

void MarkSuperseded(pqxx::work& tx, const std::string& id, const std::string& by) {
  tx.exec_params("UPDATE interactions SET superseded_by = $2 WHERE id = $1", id, by);
}

void RefreshContactState(pqxx::work& tx, const std::string& customer_id) {
  // The last contact per channel (columns in Channel enum order 1..7), executive and intent,
  // and the latest current record (its next_follow_up).
  auto last = [](absl::string_view condition) {
    return postgres::MicrosColumn(absl::StrCat("max(occurred_at) FILTER (WHERE ", condition, ")"));
  };
  tx.exec_params(
      absl::StrCat(
          "WITH latest AS (SELECT next_follow_up, occurred_at, recorded_at, id FROM interactions"
          "   WHERE customer_id = $1 AND superseded_by IS NULL"
          "   ORDER BY occurred_at DESC, recorded_at DESC, id DESC LIMIT 1)"
          " INSERT INTO contact_state (customer_id, last_on_site, last_phone, last_mail,"
          " last_email_im, last_exhibition, last_customer_visit, last_other, last_executive,"
          " last_intent, next_follow_up, latest_occurred, latest_recorded, latest_id)"
          " SELECT $1::uuid, ",
          last("channel = 1"), ", ", last("channel = 2"), ", ", last("channel = 3"), ", ",
          last("channel = 4"), ", ", last("channel = 5"), ", ", last("channel = 6"), ", ",
          last("channel = 7"), ", ", last("executive_contact"), ", ", last("purchase_intent"),
          ", (SELECT next_follow_up FROM latest), ",
          postgres::MicrosColumn("(SELECT occurred_at FROM latest)"), ", ",
          postgres::MicrosColumn("(SELECT recorded_at FROM latest)"), ",",
          " (SELECT id FROM latest)"
          " FROM interactions WHERE customer_id = $1 AND superseded_by IS NULL"
          " ON CONFLICT (customer_id) DO UPDATE SET last_on_site = EXCLUDED.last_on_site,"
          " last_phone = EXCLUDED.last_phone, last_mail = EXCLUDED.last_mail,"
          " last_email_im = EXCLUDED.last_email_im, last_exhibition = EXCLUDED.last_exhibition,"
          " last_customer_visit = EXCLUDED.last_customer_visit,"
          " last_other = EXCLUDED.last_other, last_executive = EXCLUDED.last_executive,"
          " last_intent = EXCLUDED.last_intent, next_follow_up = EXCLUDED.next_follow_up,"
          " latest_occurred = EXCLUDED.latest_occurred,"
          " latest_recorded = EXCLUDED.latest_recorded, latest_id = EXCLUDED.latest_id"),
      customer_id);
}

namespace {

// The statement of LogInteraction (see there).
std::string LogInteractionSql() {
  // Channel columns in enum order 1..7.
  static constexpr const char* kChannelColumns[] = {"",
                                                    "last_on_site",
                                                    "last_phone",
                                                    "last_mail",
                                                    "last_email_im",
                                                    "last_exhibition",
                                                    "last_customer_visit",
                                                    "last_other"};
  std::string values, greatest, returning;
  for (int ch = 1; ch <= 7; ++ch) {
    absl::StrAppend(&values, "CASE WHEN $8::integer = ", ch, " THEN $6::bigint ELSE 0 END, ");
    absl::StrAppend(&greatest, kChannelColumns[ch], " = GREATEST(s.", kChannelColumns[ch],
                    ", EXCLUDED.", kChannelColumns[ch], "), ");
    absl::StrAppend(&returning, "s.", kChannelColumns[ch], " AS last_", ch, ", ");
  }
  // The new record is the latest when it sorts after the one remembered.
  static constexpr char kNewer[] =
      "(EXCLUDED.latest_occurred, EXCLUDED.latest_recorded, EXCLUDED.latest_id) >"
      " (s.latest_occurred, s.latest_recorded,"
      " coalesce(s.latest_id, '00000000-0000-0000-0000-000000000000'))";
  auto if_newer = [&](absl::string_view column) {
    return absl::StrCat(column, " = CASE WHEN ", kNewer, " THEN EXCLUDED.", column, " ELSE s.",
                        column, " END");
  };
  return absl::StrCat(
      "WITH i AS (INSERT INTO interactions (id, root_id, version, customer_id, owner,"
      "   occurred_at, recorded_at, channel, satisfaction, executive_contact,"
      "   purchase_intent, next_follow_up, recorded_by, request_key, payload)"
      "   VALUES ($1, $2, $3, $4, $5, ",
      TimestampParam(6), ", ", TimestampParam(7),
      ", $8, $9, $10, $11, NULLIF($12, '')::date, $13, NULLIF($14, ''), $15)),"
      " a AS (",
      postgres::AuditInsertSql(16), "), o AS (", outbox::InsertSql(25),
      ")"
      " INSERT INTO contact_state AS s (customer_id, last_on_site, last_phone, last_mail,"
      " last_email_im, last_exhibition, last_customer_visit, last_other, last_executive,"
      " last_intent, next_follow_up, latest_occurred, latest_recorded, latest_id)"
      " VALUES ($4::uuid, ",
      values,
      "CASE WHEN $10::boolean THEN $6::bigint ELSE 0 END,"
      " CASE WHEN $11::boolean THEN $6::bigint ELSE 0 END, NULLIF($12, '')::date,"
      " $6::bigint, $7::bigint, $1::uuid)"
      " ON CONFLICT (customer_id) DO UPDATE SET ",
      greatest,
      "last_executive = GREATEST(s.last_executive, EXCLUDED.last_executive),"
      " last_intent = GREATEST(s.last_intent, EXCLUDED.last_intent), ",
      if_newer("next_follow_up"), ", ", if_newer("latest_occurred"), ", ",
      if_newer("latest_recorded"), ", ", if_newer("latest_id"), " RETURNING ", returning,
      "s.last_executive, s.last_intent,"
      " coalesce(s.next_follow_up - DATE '1970-01-01', -1) AS next_follow_up_day");
}

}  // namespace

ContactState LogInteraction(pqxx::work& tx, const v1::Interaction& in,
                            const std::string& request_key, const AuditEntry& audit,
                            const outbox::Message& event) {
  std::string payload;
  in.SerializeToString(&payload);
  static const std::string kSql = LogInteractionSql();
  const pqxx::result r = Prepared(
      tx, "interaction_log", kSql, in.id(), in.root_id(), in.version(), in.customer_id(),
      in.owner(), time::ToMicros(in.occurred_at()), time::ToMicros(in.recorded_at()),
      static_cast<int>(in.channel()), in.satisfaction(), in.executive_contact(),
      in.purchase_intent(), DateText(in.next_follow_up_date()), in.recorded_by(), request_key,
      postgres::Bytes(payload), audit.customer_id, audit.action, audit.actor, audit.actor_role,
      audit.request_id, audit.entity, audit.entity_id, postgres::ToTextArray(audit.fields),
      audit.note, event.stream, event.type, event.event_id, postgres::Bytes(event.payload));
  ContactState out;
  const pqxx::row row = r.at(0);
  static constexpr const char* kLast[] = {"",       "last_1", "last_2", "last_3",
                                          "last_4", "last_5", "last_6", "last_7"};
  for (int ch = 1; ch <= 7; ++ch) out.last_by_channel[ch] = row[kLast[ch]].as<Micros>();
  out.last_executive = row["last_executive"].as<Micros>();
  out.last_intent = row["last_intent"].as<Micros>();
  out.next_follow_up_day = row["next_follow_up_day"].as<int64_t>();
  return out;
}

std::vector<v1::Interaction> ListInteractions(pqxx::transaction_base& tx,
                                              const InteractionFilter& f) {
  // Optional filters are bound as empty/zero and switched off in SQL, so the text is fixed.
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kInteractionColumns,
                   " FROM interactions WHERE ($1 = '' OR customer_id = NULLIF($1, '')::uuid)"
                   " AND ($2 = '' OR owner = $2)"
                   " AND ($3::bigint = 0 OR occurred_at >= ",
                   TimestampParam(3), ") AND ($4::bigint = 0 OR occurred_at < ", TimestampParam(4),
                   ") AND ($5 = 0 OR channel = $5) AND ($6 OR superseded_by IS NULL)"
                   " AND ($7::bigint = 0 OR (occurred_at, id) < (",
                   TimestampParam(7),
                   ", NULLIF($8, '')::uuid))"
                   " ORDER BY occurred_at DESC, id DESC LIMIT $9"),
      f.customer_id, f.owner, f.from, f.to, f.channel, f.include_superseded, f.after_occurred,
      f.after_id, f.limit);
  std::vector<v1::Interaction> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(InteractionOf(row));
  return out;
}

namespace {

// The from-scratch inputs of customers' plans; `where` selects the customers ($1).
std::vector<PlanCustomer> SelectPlanCustomers(pqxx::work& tx, absl::string_view where,
                                              const std::string& param) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat(
          "SELECT c.customer_id::text AS customer_id, c.external_ref, c.owner,"
          " coalesce(t.tier, '') AS tier, ",
          MicrosColumn("t.changed_at"), " AS tier_since, ", MicrosColumn("c.known_at"),
          " AS known_at, EXISTS (SELECT 1 FROM complaints k WHERE k.customer_id = c.customer_id"
          "   AND k.resolved_at IS NULL) AS needs_attention,"
          " coalesce(s.last_on_site, 0) AS last_1, coalesce(s.last_phone, 0) AS last_2,"
          " coalesce(s.last_mail, 0) AS last_3, coalesce(s.last_email_im, 0) AS last_4,"
          " coalesce(s.last_exhibition, 0) AS last_5, coalesce(s.last_customer_visit, 0) AS last_6,"
          " coalesce(s.last_other, 0) AS last_7, coalesce(s.last_executive, 0) AS last_executive,"
          " coalesce(s.last_intent, 0) AS last_intent,"
          " coalesce(s.next_follow_up - DATE '1970-01-01', -1) AS next_follow_up_day"
          " FROM customers c LEFT JOIN customer_tiers t USING (customer_id)"
          " LEFT JOIN contact_state s USING (customer_id)"
          " WHERE NOT c.deleted AND NOT c.former AND ",
          where),
      param);
  static constexpr const char* kLast[] = {"",       "last_1", "last_2", "last_3",
                                          "last_4", "last_5", "last_6", "last_7"};
  std::vector<PlanCustomer> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    PlanCustomer c;
    c.customer_id = row["customer_id"].as<std::string>();
    c.external_ref = row["external_ref"].as<std::string>();
    c.owner = row["owner"].as<std::string>();
    c.tier = row["tier"].as<std::string>();
    c.tier_since = row["tier_since"].as<Micros>();
    c.known_at = row["known_at"].as<Micros>();
    c.needs_attention = row["needs_attention"].as<bool>();
    // last_1..last_7 follow the Channel enum values 1..7.
    for (int ch = 1; ch <= 7; ++ch) c.contacts.last_by_channel[ch] = row[kLast[ch]].as<Micros>();
    c.contacts.last_executive = row["last_executive"].as<Micros>();
    c.contacts.last_intent = row["last_intent"].as<Micros>();
    c.contacts.next_follow_up_day = row["next_follow_up_day"].as<int64_t>();
    out.push_back(std::move(c));
  }
  return out;
}

// A bigint[] literal.
std::string Int64Array(const std::vector<int64_t>& values) { return postgres::ToIntArray(values); }

}  // namespace

std::vector<PlanCustomer> LoadPlanCustomers(pqxx::work& tx,
                                            const std::vector<std::string>& owners) {
  return SelectPlanCustomers(tx, "(cardinality($1::text[]) = 0 OR c.owner = ANY($1::text[]))",
                             postgres::ToTextArray(owners));
}

std::vector<PlanCustomer> LoadPlanCustomersById(pqxx::work& tx,
                                                const std::vector<std::string>& customer_ids) {
  return SelectPlanCustomers(tx, "c.customer_id = ANY($1::uuid[])",
                             postgres::ToTextArray(customer_ids));
}

void ReplacePlans(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                  const std::vector<PlanWrite>& plans, const std::string& policy_fingerprint) {
  std::vector<std::string> ids, owners, refs, tiers, reasons;
  std::vector<int64_t> kinds, due_days, valid_from, valid_until, channels, last_contacts;
  std::vector<bool> pools;
  for (const PlanWrite& plan : plans) {
    for (const StoredContact& row : plan.rows) {
      ids.push_back(plan.customer_id);
      owners.push_back(plan.owner);
      refs.push_back(plan.external_ref);
      tiers.push_back(row.tier);
      reasons.push_back(row.reason);
      kinds.push_back(row.planned.kind);
      pools.push_back(row.planned.pool);
      due_days.push_back(row.planned.due_day);
      valid_from.push_back(row.valid_from);
      valid_until.push_back(row.valid_until);
      channels.push_back(row.planned.channel);
      last_contacts.push_back(row.planned.last);
    }
  }
  // Rows the new plans no longer have go; the others are inserted or updated in place. The
  // two touch different rows, so they can share the statement.
  Prepared(tx, "interaction_replace_plans",
           "WITH r AS (SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::boolean[], $4::text[],"
           "   $5::text[], $6::text[], $7::integer[], $8::bigint[], $9::bigint[], $10::smallint[],"
           "   $11::bigint[], $12::text[]) AS r(customer_id, kind, pool, owner, external_ref, tier,"
           "   due_day, valid_from, valid_until, channel, last_contact, reason)),"
           " gone AS (DELETE FROM follow_ups f WHERE f.customer_id = ANY($13::uuid[])"
           "   AND NOT EXISTS (SELECT 1 FROM r WHERE r.customer_id = f.customer_id"
           "     AND r.kind = f.kind AND r.pool = f.pool)),"
           " put AS (INSERT INTO follow_ups (customer_id, kind, pool, owner, external_ref, tier,"
           "   due_day, valid_from, valid_until, channel, last_contact, reason)"
           "   SELECT * FROM r ON CONFLICT (customer_id, kind, pool) DO UPDATE SET"
           "   owner = EXCLUDED.owner, external_ref = EXCLUDED.external_ref, tier = EXCLUDED.tier,"
           "   due_day = EXCLUDED.due_day, valid_from = EXCLUDED.valid_from,"
           "   valid_until = EXCLUDED.valid_until, channel = EXCLUDED.channel,"
           "   last_contact = EXCLUDED.last_contact, reason = EXCLUDED.reason)"
           " UPDATE customers SET plan_policy = $14 WHERE customer_id = ANY($13::uuid[])"
           "   AND plan_policy IS DISTINCT FROM $14",
           postgres::ToTextArray(ids), Int64Array(kinds), postgres::ToBoolArray(pools),
           postgres::ToTextArray(owners), postgres::ToTextArray(refs), postgres::ToTextArray(tiers),
           Int64Array(due_days), Int64Array(valid_from), Int64Array(valid_until),
           Int64Array(channels), Int64Array(last_contacts), postgres::ToTextArray(reasons),
           postgres::ToTextArray(customer_ids), policy_fingerprint);
}

void MarkPlansStale(pqxx::work& tx, const std::vector<std::string>& customer_ids) {
  tx.exec_params(
      "UPDATE customers SET plan_policy = '' WHERE customer_id = ANY($1::uuid[])"
      " AND plan_policy <> ''",
      postgres::ToTextArray(customer_ids));
}

std::vector<std::string> LockStalePlans(pqxx::work& tx, const std::string& policy_fingerprint,
                                        const std::string& after, bool only_unplanned, int limit) {
  static constexpr char kAfter[] =
      " AND customer_id > coalesce(NULLIF($1, '')::uuid,"
      " '00000000-0000-0000-0000-000000000000') ORDER BY customer_id LIMIT $2"
      " FOR UPDATE SKIP LOCKED";
  const pqxx::result r =
      only_unplanned
          ? tx.exec_params(absl::StrCat("SELECT customer_id::text AS customer_id FROM customers"
                                        " WHERE plan_policy = ''",
                                        kAfter),
                           after, limit)
          : tx.exec_params(absl::StrCat("SELECT customer_id::text AS customer_id FROM customers"
                                        " WHERE plan_policy <> $3",
                                        kAfter),
                           after, limit, policy_fingerprint);
  std::vector<std::string> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(row["customer_id"].as<std::string>());
  return out;
}

std::string PlanPageSql(bool by_owner) {
  static constexpr char kColumns[] =
      "f.customer_id::text AS customer_id, f.kind, f.pool, f.owner, f.external_ref, f.tier,"
      " f.due_day, f.channel, f.last_contact, f.reason,"
      " EXISTS (SELECT 1 FROM complaints k WHERE k.customer_id = f.customer_id"
      "   AND k.resolved_at IS NULL) AS needs_attention";
  static constexpr char kRange[] =
      "(f.due_day, f.customer_id, f.kind) > ($1::integer, $2::uuid, $3::smallint)"
      " AND f.due_day <= $4::integer AND f.valid_from <= $5::bigint"
      " AND f.valid_until > $5::bigint";
  static constexpr char kOrder[] = " ORDER BY f.due_day, f.customer_id, f.kind LIMIT $6";
  if (!by_owner)
    return absl::StrCat("SELECT ", kColumns, " FROM follow_ups f WHERE ", kRange, kOrder);
  // One index range per owner, each at most a page, merged.
  return absl::StrCat("SELECT ", kColumns,
                      " FROM unnest($7::text[]) AS o(owner) CROSS JOIN LATERAL"
                      " (SELECT * FROM follow_ups f WHERE f.owner = o.owner AND ",
                      kRange, kOrder, ") f", kOrder);
}

std::vector<v1::FollowUp> ListPlanPage(pqxx::transaction_base& tx, const PlanPageQuery& q) {
  // The first page starts just before from_day; the row comparison is the index range.
  const bool first = q.after_customer.empty();
  const int64_t after_day = first ? q.from_day - 1 : q.after_day;
  const std::string after_customer =
      first ? "ffffffff-ffff-ffff-ffff-ffffffffffff" : q.after_customer;
  const int after_kind = first ? 32767 : q.after_kind;
  static const std::string kEveryone = PlanPageSql(false);
  static const std::string kOwners = PlanPageSql(true);
  const pqxx::result r =
      q.owners.empty()
          ? Prepared(tx, "interaction_plan_page", kEveryone, after_day, after_customer, after_kind,
                     q.to_day, q.now, q.limit)
          : Prepared(tx, "interaction_plan_page_owners", kOwners, after_day, after_customer,
                     after_kind, q.to_day, q.now, q.limit, postgres::ToTextArray(q.owners));
  // Columns by name, looked up once per page: a lookup by name per field scans the column names
  // (PQfnumber), a page of 100 rows did 1,100 of them.
  struct Columns {
    pqxx::row::size_type customer_id, external_ref, owner, tier, kind, channel, due_day,
        last_contact, pool, needs_attention, reason;
  };
  const Columns c{.customer_id = r.column_number("customer_id"),
                  .external_ref = r.column_number("external_ref"),
                  .owner = r.column_number("owner"),
                  .tier = r.column_number("tier"),
                  .kind = r.column_number("kind"),
                  .channel = r.column_number("channel"),
                  .due_day = r.column_number("due_day"),
                  .last_contact = r.column_number("last_contact"),
                  .pool = r.column_number("pool"),
                  .needs_attention = r.column_number("needs_attention"),
                  .reason = r.column_number("reason")};
  std::vector<v1::FollowUp> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    v1::FollowUp& f = out.emplace_back();
    f.set_customer_id(row[c.customer_id].c_str(), row[c.customer_id].size());
    f.set_external_ref(row[c.external_ref].c_str(), row[c.external_ref].size());
    f.set_owner(row[c.owner].c_str(), row[c.owner].size());
    f.set_tier(row[c.tier].c_str(), row[c.tier].size());
    f.set_kind(static_cast<v1::FollowUpKind>(row[c.kind].as<int>()));
    f.set_channel(static_cast<v1::Channel>(row[c.channel].as<int>()));
    *f.mutable_due_date() = DateOfDay(row[c.due_day].as<int64_t>());
    const Micros last = row[c.last_contact].as<Micros>();
    if (last > 0) time::SetTimestamp(last, f.mutable_last_contact_at());
    f.set_potential_pool(row[c.pool].as<bool>());
    f.set_needs_attention(row[c.needs_attention].as<bool>());
    f.set_reason(row[c.reason].c_str(), row[c.reason].size());
  }
  return out;
}

namespace {

constexpr char kComplaintColumns[] = "payload";

Micros RespondedAt(const v1::Complaint& c) {
  return MicrosOr0(c.responded_at(), c.has_responded_at());
}
Micros ResolvedAt(const v1::Complaint& c) {
  return MicrosOr0(c.resolved_at(), c.has_resolved_at());
}

}  // namespace

void InsertComplaint(pqxx::work& tx, const v1::Complaint& c, const std::string& request_key) {
  std::string payload;
  c.SerializeToString(&payload);
  tx.exec_params(
      absl::StrCat("INSERT INTO complaints (id, customer_id, owner, status, opened_at,"
                   " response_due_at, resolution_due_at, responded_at, resolved_at,"
                   " response_breached_at, resolution_breached_at, version, request_key, payload)"
                   " VALUES ($1, $2, $3, $4, ",
                   TimestampParam(5), ", ", TimestampParam(6), ", ", TimestampParam(7), ", ",
                   TimestampParam(8), ", ", TimestampParam(9), ", ", TimestampParam(10), ", ",
                   TimestampParam(11), ", $12, NULLIF($13, ''), $14)"),
      c.id(), c.customer_id(), c.owner(), static_cast<int>(c.status()),
      time::ToMicros(c.opened_at()), time::ToMicros(c.response_due_at()),
      time::ToMicros(c.resolution_due_at()), RespondedAt(c), ResolvedAt(c),
      MicrosOr0(c.response_breached_at(), c.has_response_breached_at()),
      MicrosOr0(c.resolution_breached_at(), c.has_resolution_breached_at()), c.version(),
      request_key, postgres::Bytes(payload));
}

void UpdateComplaint(pqxx::work& tx, const v1::Complaint& c) {
  std::string payload;
  c.SerializeToString(&payload);
  tx.exec_params(
      absl::StrCat("UPDATE complaints SET status = $2, responded_at = ", TimestampParam(3),
                   ", resolved_at = ", TimestampParam(4), ", response_breached_at = ",
                   TimestampParam(5), ", resolution_breached_at = ", TimestampParam(6),
                   ", version = $7, payload = $8 WHERE id = $1"),
      c.id(), static_cast<int>(c.status()), RespondedAt(c), ResolvedAt(c),
      MicrosOr0(c.response_breached_at(), c.has_response_breached_at()),
      MicrosOr0(c.resolution_breached_at(), c.has_resolution_breached_at()), c.version(),
      postgres::Bytes(payload));
}

std::optional<v1::Complaint> FindComplaint(pqxx::transaction_base& tx, const std::string& id,
                                           bool for_update) {
  static const std::string kRead =
      absl::StrCat("SELECT ", kComplaintColumns, " FROM complaints WHERE id = $1");
  const pqxx::result r = for_update ? tx.exec_params(absl::StrCat(kRead, " FOR UPDATE"), id)
                                    : Prepared(tx, "interaction_find_complaint", kRead, id);
  if (r.empty()) return std::nullopt;
  return postgres::ParseBytea<v1::Complaint>(r[0]["payload"]);
}

std::optional<v1::Complaint> FindComplaintByKey(pqxx::work& tx, const std::string& request_key) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kComplaintColumns, " FROM complaints WHERE request_key = $1"),
      request_key);
  if (r.empty()) return std::nullopt;
  return postgres::ParseBytea<v1::Complaint>(r[0]["payload"]);
}

std::vector<v1::Complaint> ListComplaints(pqxx::transaction_base& tx, const ComplaintQuery& q) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kComplaintColumns,
                   " FROM complaints WHERE ($1 = '' OR owner = $1)"
                   " AND ($2 = '' OR customer_id = NULLIF($2, '')::uuid)"
                   " AND ($3 <> 1 OR resolved_at IS NULL)"
                   " AND ($3 <> 2 OR response_breached_at IS NOT NULL)"
                   " AND ($3 <> 3 OR resolution_breached_at IS NOT NULL)"
                   " AND ($4::bigint = 0 OR (opened_at, id) < (",
                   TimestampParam(4),
                   ", NULLIF($5, '')::uuid))"
                   " ORDER BY opened_at DESC, id DESC LIMIT $6"),
      q.owner, q.customer_id, static_cast<int>(q.filter), q.after_opened, q.after_id, q.limit);
  std::vector<v1::Complaint> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Complaint>(row["payload"]));
  return out;
}

std::vector<v1::Complaint> LockUnrecordedBreaches(pqxx::work& tx, Micros now, int limit) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat(
          "SELECT ", kComplaintColumns,
          " FROM complaints WHERE resolved_at IS NULL AND ("
          " (responded_at IS NULL AND response_breached_at IS NULL"
          "  AND response_due_at < ",
          TimestampParam(1), ") OR (resolution_breached_at IS NULL AND resolution_due_at < ",
          TimestampParam(1), ")) ORDER BY response_due_at LIMIT $2 FOR UPDATE SKIP LOCKED"),
      now, limit);
  std::vector<v1::Complaint> out;
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Complaint>(row["payload"]));
  return out;
}

bool MarkErased(pqxx::work& tx, const std::string& customer_id, Micros at) {
  const pqxx::result r = tx.exec_params(
      "SELECT erased_at IS NULL AS not_erased FROM customers WHERE customer_id = $1 FOR UPDATE",
      customer_id);
  if (r.empty() || !r[0]["not_erased"].as<bool>()) return false;
  tx.exec_params(absl::StrCat("UPDATE customers SET erased_at = ", TimestampParam(2),
                              ", deleted = true WHERE customer_id = $1"),
                 customer_id, at);
  return true;
}

std::vector<v1::Interaction> LockInteractionPayloads(pqxx::work& tx,
                                                     const std::string& customer_id) {
  const pqxx::result r = tx.exec_params(
      "SELECT payload FROM interactions WHERE customer_id = $1 ORDER BY id FOR UPDATE",
      customer_id);
  std::vector<v1::Interaction> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Interaction>(row["payload"]));
  return out;
}

void ReplaceInteractionPayload(pqxx::work& tx, const v1::Interaction& in) {
  std::string payload;
  in.SerializeToString(&payload);
  tx.exec_params("UPDATE interactions SET payload = $2 WHERE id = $1", in.id(),
                 postgres::Bytes(payload));
}

std::vector<v1::Complaint> LockComplaints(pqxx::work& tx, const std::string& customer_id) {
  const pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", kComplaintColumns,
                                  " FROM complaints WHERE customer_id = $1 ORDER BY id FOR UPDATE"),
                     customer_id);
  std::vector<v1::Complaint> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Complaint>(row["payload"]));
  return out;
}

int ClearRequestKeys(pqxx::work& tx, const std::string& customer_id) {
  const pqxx::result a = tx.exec_params(
      "UPDATE interactions SET request_key = NULL WHERE customer_id = $1"
      " AND request_key IS NOT NULL",
      customer_id);
  const pqxx::result b = tx.exec_params(
      "UPDATE complaints SET request_key = NULL WHERE customer_id = $1"
      " AND request_key IS NOT NULL",
      customer_id);
  return static_cast<int>(a.affected_rows() + b.affected_rows());
}

int ScrubAuditDetails(pqxx::work& tx, const std::string& customer_id) {
  // The details the service writes, none of which carries a value (see the desk's Audit calls).
  static constexpr char kValueFree[] =
      "^(|\\[erased\\]|recorded_at back-filled|[0-9]+ records"
      "|corrects [0-9a-f-]{36}(; fields: [a-z_, ]+)?|fields: [a-z_, ]+"
      "|scrubbed [0-9]+ record versions, [0-9]+ complaints, [0-9]+ request keys,"
      " [0-9]+ audit details)$";
  const pqxx::result r = tx.exec_params(
      "UPDATE audit_log SET note = CASE WHEN action = 'correct'"
      " AND note ~ '^corrects [0-9a-f-]{36}' THEN substring(note from"
      " '^corrects [0-9a-f-]{36}') ELSE $3 END"
      " WHERE customer_id = $1 AND note !~ $2",
      customer_id, kValueFree, std::string(kErasedText));
  return static_cast<int>(r.affected_rows());
}

void Audit(pqxx::transaction_base& tx, const AuditEntry& e) { postgres::WriteAudit(tx, e); }

}  // namespace tierwise::interaction::store
