#include "services/interaction/interaction_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/postgres/bytea.h"
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
  v1::Interaction in = postgres::ParseBytea<v1::Interaction>(r[0]);
  if (!r[1].is_null()) in.set_superseded_by(r[1].as<std::string>());
  return in;
}

constexpr char kInteractionColumns[] = "payload, superseded_by::text";

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

std::optional<KnownCustomer> FindCustomer(pqxx::work& tx, const std::string& customer_id,
                                          bool for_write) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT external_ref, owner, deleted, former, erased_at IS NOT NULL"
                   " FROM customers WHERE customer_id = $1",
                   for_write ? " FOR SHARE" : ""),
      customer_id);
  if (r.empty()) return std::nullopt;
  return KnownCustomer{customer_id,        r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                       r[0][2].as<bool>(), r[0][3].as<bool>(),        r[0][4].as<bool>()};
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
  return r.empty() ? std::string() : r[0][0].as<std::string>();
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

std::optional<v1::Interaction> FindInteraction(pqxx::work& tx, const std::string& id,
                                               bool for_update) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kInteractionColumns, " FROM interactions WHERE id = $1",
                   for_update ? " FOR UPDATE" : ""),
      id);
  if (r.empty()) return std::nullopt;
  return InteractionOf(r[0]);
}

std::optional<v1::Interaction> FindInteractionByKey(pqxx::work& tx,
                                                    const std::string& request_key) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kInteractionColumns, " FROM interactions WHERE request_key = $1"),
      request_key);
  if (r.empty()) return std::nullopt;
  return InteractionOf(r[0]);
}

void MarkSuperseded(pqxx::work& tx, const std::string& id, const std::string& by) {
  tx.exec_params("UPDATE interactions SET superseded_by = $2 WHERE id = $1", id, by);
}

void RefreshContactState(pqxx::work& tx, const std::string& customer_id) {
  // The last contact per channel (columns in Channel enum order 1..7), executive and intent.
  auto last = [](absl::string_view condition) {
    return absl::StrCat("coalesce((extract(epoch from max(occurred_at) FILTER (WHERE ", condition,
                        ")) * 1000000)::bigint, 0)");
  };
  tx.exec_params(
      absl::StrCat(
          "INSERT INTO contact_state (customer_id, last_on_site, last_phone, last_mail,"
          " last_email_im, last_exhibition, last_customer_visit, last_other, last_executive,"
          " last_intent, next_follow_up) SELECT $1::uuid, ",
          last("channel = 1"), ", ", last("channel = 2"), ", ", last("channel = 3"), ", ",
          last("channel = 4"), ", ", last("channel = 5"), ", ", last("channel = 6"), ", ",
          last("channel = 7"), ", ", last("executive_contact"), ", ", last("purchase_intent"),
          ", (SELECT next_follow_up FROM interactions WHERE customer_id = $1"
          "   AND superseded_by IS NULL ORDER BY occurred_at DESC, recorded_at DESC, id DESC"
          "   LIMIT 1)"
          " FROM interactions WHERE customer_id = $1 AND superseded_by IS NULL"
          " ON CONFLICT (customer_id) DO UPDATE SET last_on_site = EXCLUDED.last_on_site,"
          " last_phone = EXCLUDED.last_phone, last_mail = EXCLUDED.last_mail,"
          " last_email_im = EXCLUDED.last_email_im, last_exhibition = EXCLUDED.last_exhibition,"
          " last_customer_visit = EXCLUDED.last_customer_visit,"
          " last_other = EXCLUDED.last_other, last_executive = EXCLUDED.last_executive,"
          " last_intent = EXCLUDED.last_intent, next_follow_up = EXCLUDED.next_follow_up"),
      customer_id);
}

std::vector<v1::Interaction> ListInteractions(pqxx::work& tx, const InteractionFilter& f) {
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

std::vector<PlanCustomer> LoadPlanCustomers(pqxx::work& tx,
                                            const std::vector<std::string>& owners) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat(
          "SELECT c.customer_id::text, c.external_ref, c.owner, coalesce(t.tier, ''), ",
          MicrosColumn("t.changed_at"), ", ", MicrosColumn("c.known_at"),
          ", k.customer_id IS NOT NULL,"
          " coalesce(s.last_on_site, 0), coalesce(s.last_phone, 0), coalesce(s.last_mail, 0),"
          " coalesce(s.last_email_im, 0), coalesce(s.last_exhibition, 0),"
          " coalesce(s.last_customer_visit, 0), coalesce(s.last_other, 0),"
          " coalesce(s.last_executive, 0), coalesce(s.last_intent, 0),"
          " coalesce(s.next_follow_up - DATE '1970-01-01', -1)"
          " FROM customers c LEFT JOIN customer_tiers t USING (customer_id)"
          " LEFT JOIN contact_state s USING (customer_id)"
          " LEFT JOIN (SELECT DISTINCT customer_id FROM complaints WHERE resolved_at IS NULL) k"
          "   USING (customer_id)"
          " WHERE NOT c.deleted AND NOT c.former"
          " AND (cardinality($1::text[]) = 0 OR c.owner = ANY($1::text[]))"),
      postgres::ToTextArray(owners));
  std::vector<PlanCustomer> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    PlanCustomer c;
    c.customer_id = row[0].as<std::string>();
    c.external_ref = row[1].as<std::string>();
    c.owner = row[2].as<std::string>();
    c.tier = row[3].as<std::string>();
    c.tier_since = row[4].as<Micros>();
    c.known_at = row[5].as<Micros>();
    c.needs_attention = row[6].as<bool>();
    // Columns 7..13 follow the Channel enum values 1..7.
    for (int ch = 1; ch <= 7; ++ch) c.contacts.last_by_channel[ch] = row[6 + ch].as<Micros>();
    c.contacts.last_executive = row[14].as<Micros>();
    c.contacts.last_intent = row[15].as<Micros>();
    c.contacts.next_follow_up_day = row[16].as<int64_t>();
    out.push_back(std::move(c));
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

std::optional<v1::Complaint> FindComplaint(pqxx::work& tx, const std::string& id, bool for_update) {
  const pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", kComplaintColumns, " FROM complaints WHERE id = $1",
                                  for_update ? " FOR UPDATE" : ""),
                     id);
  if (r.empty()) return std::nullopt;
  return postgres::ParseBytea<v1::Complaint>(r[0][0]);
}

std::optional<v1::Complaint> FindComplaintByKey(pqxx::work& tx, const std::string& request_key) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kComplaintColumns, " FROM complaints WHERE request_key = $1"),
      request_key);
  if (r.empty()) return std::nullopt;
  return postgres::ParseBytea<v1::Complaint>(r[0][0]);
}

std::vector<v1::Complaint> ListComplaints(pqxx::work& tx, const ComplaintQuery& q) {
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
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Complaint>(row[0]));
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
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Complaint>(row[0]));
  return out;
}

bool MarkErased(pqxx::work& tx, const std::string& customer_id, Micros at) {
  const pqxx::result r = tx.exec_params(
      "SELECT erased_at IS NULL FROM customers WHERE customer_id = $1 FOR UPDATE", customer_id);
  if (r.empty() || !r[0][0].as<bool>()) return false;
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
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Interaction>(row[0]));
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
  for (const auto& row : r) out.push_back(postgres::ParseBytea<v1::Complaint>(row[0]));
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
      "UPDATE audit_log SET detail = CASE WHEN action = 'correct'"
      " AND detail ~ '^corrects [0-9a-f-]{36}' THEN substring(detail from"
      " '^corrects [0-9a-f-]{36}') ELSE $3 END"
      " WHERE customer_id = $1 AND detail !~ $2",
      customer_id, kValueFree, std::string(kErasedText));
  return static_cast<int>(r.affected_rows());
}

void Audit(pqxx::work& tx, const AuditEntry& e) {
  tx.exec_params(
      "INSERT INTO audit_log (actor, role, action, entity, entity_id, customer_id, request_id,"
      " detail) VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::uuid, $7, $8)",
      e.actor, e.role, e.action, e.entity, e.entity_id, e.customer_id, e.request_id, e.detail);
}

}  // namespace tierwise::interaction::store
