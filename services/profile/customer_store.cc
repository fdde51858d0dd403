#include "services/profile/customer_store.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/postgres/audit.h"
#include "common/postgres/text_array.h"
#include "common/postgres/time_sql.h"
#include "common/status/macros.h"
#include "common/time/micros.h"

namespace tierwise::profile {

using postgres::Prepared;
namespace {

using time::SetTimestamp;
using time::ToMicros;

using postgres::FromTextArray;
using postgres::ToTextArray;

// Columns read for a customer, named as CustomerColumnNumbers looks them up.
const std::string& CustomerColumns() {
  static const std::string* const kColumns = new std::string(absl::StrCat(
      "id::text AS id, coalesce(external_ref, '') AS external_ref, legal_name, short_name,"
      " aliases, nature, business_mode, industry, province, city, owner,"
      " coalesce(registration::text, '') AS registration,"
      " coalesce(first_transaction_date::text, '') AS first_transaction_date, lifecycle_stage,"
      " tags, potential_notes, data_consent, ",
      postgres::MicrosColumn("consent_time"), " AS consent_time, state, version, ",
      postgres::MicrosColumn("created_at"), " AS created_at, ",
      postgres::MicrosColumn("updated_at"), " AS updated_at, ",
      postgres::MicrosColumn("deleted_at"), " AS deleted_at, ", postgres::MicrosColumn("erased_at"),
      " AS erased_at, coalesce(erased_by, '') AS erased_by, created_by, updated_by"));
  return *kColumns;
}

// Where CustomerColumns() are in a result: looked up by name once per result, as a lookup by
// name per field scans the column names (a page of 100 customers reads 2,700 fields).
struct CustomerColumnNumbers {
  explicit CustomerColumnNumbers(const pqxx::result& r)
      : id(r.column_number("id")),
        external_ref(r.column_number("external_ref")),
        legal_name(r.column_number("legal_name")),
        short_name(r.column_number("short_name")),
        aliases(r.column_number("aliases")),
        nature(r.column_number("nature")),
        business_mode(r.column_number("business_mode")),
        industry(r.column_number("industry")),
        province(r.column_number("province")),
        city(r.column_number("city")),
        owner(r.column_number("owner")),
        registration(r.column_number("registration")),
        first_transaction_date(r.column_number("first_transaction_date")),
        lifecycle_stage(r.column_number("lifecycle_stage")),
        tags(r.column_number("tags")),
        potential_notes(r.column_number("potential_notes")),
        data_consent(r.column_number("data_consent")),
        consent_time(r.column_number("consent_time")),
        state(r.column_number("state")),
        version(r.column_number("version")),
        created_at(r.column_number("created_at")),
        updated_at(r.column_number("updated_at")),
        deleted_at(r.column_number("deleted_at")),
        erased_at(r.column_number("erased_at")),
        erased_by(r.column_number("erased_by")),
        created_by(r.column_number("created_by")),
        updated_by(r.column_number("updated_by")) {}
  pqxx::row::size_type id, external_ref, legal_name, short_name, aliases, nature, business_mode,
      industry, province, city, owner, registration, first_transaction_date, lifecycle_stage, tags,
      potential_notes, data_consent, consent_time, state, version, created_at, updated_at,
      deleted_at, erased_at, erased_by, created_by, updated_by;
};

// "2024-03-05" → Date; "" leaves it unset.
void ParseDate(absl::string_view text, type::v1::Date* date) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  int y = 0, m = 0, d = 0;
  if (parts.size() == 3 && absl::SimpleAtoi(parts[0], &y) && absl::SimpleAtoi(parts[1], &m) &&
      absl::SimpleAtoi(parts[2], &d)) {
    date->set_year(y);
    date->set_month(m);
    date->set_day(d);
  }
}

// Date → "2024-03-05", or "" for unset (stored as NULL via NULLIF).
std::string FormatDate(bool has, const type::v1::Date& d) {
  if (!has || d.year() == 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string RegistrationJson(const v1::Customer& c) {
  if (!c.has_registration()) return "";
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(c.registration(), &json, options);
  return json;
}

// Text of a column without a temporary std::string (a page of 100 customers has 1,500 of them).
void SetText(const pqxx::field& f, std::string* out) { out->assign(f.c_str(), f.size()); }

void RowToCustomer(const pqxx::row& r, const CustomerColumnNumbers& k, v1::Customer& c) {
  SetText(r[k.id], c.mutable_id());
  SetText(r[k.external_ref], c.mutable_external_ref());
  SetText(r[k.legal_name], c.mutable_legal_name());
  SetText(r[k.short_name], c.mutable_short_name());
  for (auto& a : FromTextArray(r[k.aliases])) c.add_aliases(std::move(a));
  c.set_nature(static_cast<v1::Nature>(r[k.nature].as<int>()));
  SetText(r[k.business_mode], c.mutable_business_mode());
  SetText(r[k.industry], c.mutable_industry());
  SetText(r[k.province], c.mutable_region()->mutable_province());
  SetText(r[k.city], c.mutable_region()->mutable_city());
  SetText(r[k.owner], c.mutable_owner());
  if (const pqxx::field json = r[k.registration]; json.size() > 0) {
    (void)google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(json.c_str(), json.size()), c.mutable_registration());
  }
  if (const pqxx::field date = r[k.first_transaction_date]; date.size() > 0) {
    ParseDate(date.c_str(), c.mutable_first_transaction_date());
  }
  c.set_lifecycle_stage(static_cast<v1::LifecycleStage>(r[k.lifecycle_stage].as<int>()));
  for (auto& t : FromTextArray(r[k.tags])) c.add_tags(std::move(t));
  SetText(r[k.potential_notes], c.mutable_potential_notes());
  c.set_data_consent(r[k.data_consent].as<bool>());
  if (const int64_t t = r[k.consent_time].as<int64_t>(); t != 0) {
    SetTimestamp(t, c.mutable_consent_time());
  }
  c.set_state(static_cast<v1::CustomerState>(r[k.state].as<int>()));
  c.set_etag(absl::StrCat("v", r[k.version].as<int64_t>()));
  SetTimestamp(r[k.created_at].as<int64_t>(), c.mutable_create_time());
  SetTimestamp(r[k.updated_at].as<int64_t>(), c.mutable_update_time());
  if (const int64_t t = r[k.deleted_at].as<int64_t>(); t != 0) {
    SetTimestamp(t, c.mutable_delete_time());
  }
  if (const int64_t t = r[k.erased_at].as<int64_t>(); t != 0) {
    SetTimestamp(t, c.mutable_erase_time());
  }
  SetText(r[k.erased_by], c.mutable_erased_by());
  SetText(r[k.created_by], c.mutable_created_by());
  SetText(r[k.updated_by], c.mutable_updated_by());
}

// A customer and (when asked for) its contacts in one statement: one row per contact, the
// customer's columns first (CustomerColumns), then contact_* columns (NULL without any).
std::string GetWithContactsSql(absl::string_view where) {
  return absl::StrCat(
      "SELECT c.*, k.contact_id, k.contact_name, k.contact_title, k.contact_role,"
      " k.contact_key_man, k.contact_phone, k.contact_email, k.contact_birthday,"
      " k.contact_preferences FROM (SELECT ",
      CustomerColumns(), " FROM customers WHERE ", where,
      ") c LEFT JOIN LATERAL (SELECT id::text AS contact_id, name AS contact_name,"
      " title AS contact_title, role AS contact_role, key_man AS contact_key_man,"
      " phone AS contact_phone, email AS contact_email,"
      " coalesce(birthday::text, '') AS contact_birthday, preferences AS contact_preferences,"
      " seq FROM contacts WHERE customer_id = c.id::uuid AND $2 ORDER BY seq) k ON true"
      " ORDER BY k.seq");
}

std::optional<v1::Customer> CustomerWithContacts(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  v1::Customer c;
  RowToCustomer(r[0], CustomerColumnNumbers(r), c);
  for (const auto& row : r) {
    if (row["contact_id"].is_null()) continue;
    v1::Contact* k = c.add_contacts();
    k->set_id(row["contact_id"].as<std::string>());
    k->set_name(row["contact_name"].as<std::string>());
    k->set_title(row["contact_title"].as<std::string>());
    k->set_role(static_cast<v1::DecisionRole>(row["contact_role"].as<int>()));
    k->set_key_man(row["contact_key_man"].as<bool>());
    k->set_phone(row["contact_phone"].as<std::string>());
    k->set_email(row["contact_email"].as<std::string>());
    if (const std::string date = row["contact_birthday"].as<std::string>(); !date.empty()) {
      ParseDate(date, k->mutable_birthday());
    }
    k->set_preferences(row["contact_preferences"].as<std::string>());
  }
  return c;
}

void InsertContactRow(pqxx::work& tx, const std::string& customer_id, const v1::Contact& c) {
  tx.exec_params(
      "INSERT INTO contacts (id, customer_id, name, title, role, key_man, phone, email, birthday,"
      " preferences) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, '')::date, $10)",
      c.id(), customer_id, c.name(), c.title(), static_cast<int>(c.role()), c.key_man(), c.phone(),
      c.email(), FormatDate(c.has_birthday(), c.birthday()), c.preferences());
}

// Profile's audit actions are the AuditAction numbers (ListCustomerAudit returns them).
void WriteAudit(pqxx::transaction_base& tx, const AuditRecord& a) {
  postgres::WriteAudit(tx, {.customer_id = a.customer_id,
                            .action = std::to_string(static_cast<int>(a.action)),
                            .actor = a.actor,
                            .actor_role = a.actor_role,
                            .request_id = a.request_id,
                            .fields = a.fields,
                            .note = a.note});
}

void Finish(pqxx::work& tx, const WriteContext& write) {
  WriteAudit(tx, write.audit);
  outbox::Enqueue(tx, write.event);
}

// Moves the customer from bump.expected to bump.next; NOT_FOUND or ABORTED when it cannot.
absl::Status Bump(pqxx::work& tx, const std::string& id, const VersionBump& bump) {
  const pqxx::result r = tx.exec_params(
      "UPDATE customers SET version = $3, updated_at = " + postgres::MicrosToTimestamp("$4") +
          ","
          " updated_by = $5 WHERE id = $1 AND version = $2",
      id, bump.expected, bump.next, bump.time_micros, bump.actor);
  if (r.affected_rows() == 1) return absl::OkStatus();
  if (tx.exec_params("SELECT 1 FROM customers WHERE id = $1", id).empty()) {
    return absl::NotFoundError(absl::StrCat("customer ", id, " not found"));
  }
  return absl::AbortedError("the customer was changed concurrently; read it again and retry");
}

absl::Status MapWriteError(const absl::Status& s) {
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError("a customer with this external_ref already exists");
  }
  return s;
}

}  // namespace

absl::Status CustomerStore::Insert(const v1::Customer& c, const WriteContext& write) {
  return MapWriteError(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO customers (id, external_ref, legal_name, short_name, aliases, nature,"
        " business_mode, industry, province, city, owner, registration, first_transaction_date,"
        " lifecycle_stage, tags, potential_notes, data_consent, consent_time, state, version,"
        " created_at, updated_at, created_by, updated_by)"
        " VALUES ($1, NULLIF($2, ''), $3, $4, $5::text[], $6, $7, $8, $9, $10, $11,"
        " NULLIF($12, '')::jsonb, NULLIF($13, '')::date, $14, $15::text[], $16, $17,"
        " CASE WHEN $17 THEN " +
            postgres::MicrosToTimestamp("$18") +
            " END, $19, 1,"
            " " +
            postgres::MicrosToTimestamp("$18") + ", " + postgres::MicrosToTimestamp("$18") +
            ","
            " $20, $20)",
        c.id(), c.external_ref(), c.legal_name(), c.short_name(),
        ToTextArray({c.aliases().begin(), c.aliases().end()}), static_cast<int>(c.nature()),
        c.business_mode(), c.industry(), c.region().province(), c.region().city(), c.owner(),
        RegistrationJson(c), FormatDate(c.has_first_transaction_date(), c.first_transaction_date()),
        static_cast<int>(c.lifecycle_stage()), ToTextArray({c.tags().begin(), c.tags().end()}),
        c.potential_notes(), c.data_consent(), ToMicros(c.create_time()),
        static_cast<int>(c.state()), c.created_by());
    for (const v1::Contact& contact : c.contacts()) InsertContactRow(tx, c.id(), contact);
    Finish(tx, write);
    return absl::OkStatus();
  }));
}

absl::StatusOr<v1::Customer> CustomerStore::Get(const std::string& id, bool with_contacts) {
  static const std::string kSql = GetWithContactsSql("id = $1::uuid");
  return pool_.Read<v1::Customer>([&](pqxx::nontransaction& tx) -> absl::StatusOr<v1::Customer> {
    std::optional<v1::Customer> c =
        CustomerWithContacts(Prepared(tx, "profile_get_customer", kSql, id, with_contacts));
    if (!c.has_value()) return absl::NotFoundError(absl::StrCat("customer ", id, " not found"));
    return *std::move(c);
  });
}

absl::StatusOr<v1::Customer> CustomerStore::GetByExternalRef(const std::string& ref,
                                                             bool with_contacts) {
  static const std::string kSql = GetWithContactsSql("external_ref = $1");
  return pool_.Read<v1::Customer>([&](pqxx::nontransaction& tx) -> absl::StatusOr<v1::Customer> {
    std::optional<v1::Customer> c =
        CustomerWithContacts(Prepared(tx, "profile_get_customer_by_ref", kSql, ref, with_contacts));
    if (!c.has_value()) {
      return absl::NotFoundError(absl::StrCat("no customer with external_ref ", ref));
    }
    return *std::move(c);
  });
}

absl::StatusOr<int64_t> CustomerStore::Version(const std::string& id) {
  return pool_.Transact<int64_t>([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    const pqxx::result r = tx.exec_params("SELECT version FROM customers WHERE id = $1", id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("customer ", id, " not found"));
    return r[0]["version"].as<int64_t>();
  });
}

absl::Status CustomerStore::Update(const v1::Customer& c, const VersionBump& bump,
                                   const WriteContext& write) {
  return MapWriteError(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec_params(
        "UPDATE customers SET external_ref = NULLIF($3, ''), legal_name = $4, short_name = $5,"
        " aliases = $6::text[], nature = $7, business_mode = $8, industry = $9, province = $10,"
        " city = $11, owner = $12, registration = NULLIF($13, '')::jsonb,"
        " first_transaction_date = NULLIF($14, '')::date, lifecycle_stage = $15,"
        " tags = $16::text[], potential_notes = $17, data_consent = $18,"
        " consent_time = CASE WHEN NOT $18 THEN NULL WHEN data_consent THEN consent_time"
        "   ELSE " +
            postgres::MicrosToTimestamp("$19") +
            " END,"
            " state = $20, deleted_at = CASE WHEN $21::bigint = 0 THEN NULL"
            "   ELSE " +
            postgres::MicrosToTimestamp("$21") +
            " END,"
            " version = $22, updated_at = " +
            postgres::MicrosToTimestamp("$19") +
            ", updated_by = $23"
            " WHERE id = $1 AND version = $2",
        c.id(), bump.expected, c.external_ref(), c.legal_name(), c.short_name(),
        ToTextArray({c.aliases().begin(), c.aliases().end()}), static_cast<int>(c.nature()),
        c.business_mode(), c.industry(), c.region().province(), c.region().city(), c.owner(),
        RegistrationJson(c), FormatDate(c.has_first_transaction_date(), c.first_transaction_date()),
        static_cast<int>(c.lifecycle_stage()), ToTextArray({c.tags().begin(), c.tags().end()}),
        c.potential_notes(), c.data_consent(), bump.time_micros, static_cast<int>(c.state()),
        c.has_delete_time() ? ToMicros(c.delete_time()) : 0, bump.next, bump.actor);
    if (r.affected_rows() != 1) {
      if (tx.exec_params("SELECT 1 FROM customers WHERE id = $1", c.id()).empty()) {
        return absl::NotFoundError(absl::StrCat("customer ", c.id(), " not found"));
      }
      return absl::AbortedError("the customer was changed concurrently; read it again and retry");
    }
    Finish(tx, write);
    return absl::OkStatus();
  }));
}

absl::Status CustomerStore::Erase(const std::string& id, const VersionBump& bump,
                                  const WriteContext& write) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec_params(
        "UPDATE customers SET legal_name = '', short_name = '', aliases = '{}', nature = 0,"
        " business_mode = '', industry = '', province = '', city = '', owner = '',"
        " registration = NULL, first_transaction_date = NULL, lifecycle_stage = 0, tags = '{}',"
        " potential_notes = '', data_consent = false, consent_time = NULL, state = $3,"
        " erased_at = " +
            postgres::MicrosToTimestamp("$4") +
            ", erased_by = $5,"
            " updated_at = " +
            postgres::MicrosToTimestamp("$4") +
            ", updated_by = $5,"
            " version = $6 WHERE id = $1 AND version = $2",
        id, bump.expected, static_cast<int>(v1::CUSTOMER_STATE_ERASED), bump.time_micros,
        bump.actor, bump.next);
    if (r.affected_rows() != 1) {
      return absl::AbortedError("the customer was changed concurrently; read it again and retry");
    }
    tx.exec_params("DELETE FROM contacts WHERE customer_id = $1", id);
    Finish(tx, write);
    return absl::OkStatus();
  });
}

absl::Status CustomerStore::AddContact(const std::string& customer_id, const VersionBump& bump,
                                       const v1::Contact& contact, const WriteContext& write) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    TW_RETURN_IF_ERROR(Bump(tx, customer_id, bump));
    InsertContactRow(tx, customer_id, contact);
    Finish(tx, write);
    return absl::OkStatus();
  });
}

absl::Status CustomerStore::UpdateContact(const std::string& customer_id, const VersionBump& bump,
                                          const v1::Contact& c, const WriteContext& write) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    TW_RETURN_IF_ERROR(Bump(tx, customer_id, bump));
    const pqxx::result r = tx.exec_params(
        "UPDATE contacts SET name = $3, title = $4, role = $5, key_man = $6, phone = $7,"
        " email = $8, birthday = NULLIF($9, '')::date, preferences = $10"
        " WHERE id = $1 AND customer_id = $2",
        c.id(), customer_id, c.name(), c.title(), static_cast<int>(c.role()), c.key_man(),
        c.phone(), c.email(), FormatDate(c.has_birthday(), c.birthday()), c.preferences());
    if (r.affected_rows() != 1) {
      return absl::NotFoundError(absl::StrCat("contact ", c.id(), " not found"));
    }
    Finish(tx, write);
    return absl::OkStatus();
  });
}

absl::Status CustomerStore::RemoveContact(const std::string& customer_id, const VersionBump& bump,
                                          const std::string& contact_id,
                                          const WriteContext& write) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    TW_RETURN_IF_ERROR(Bump(tx, customer_id, bump));
    const pqxx::result r = tx.exec_params("DELETE FROM contacts WHERE id = $1 AND customer_id = $2",
                                          contact_id, customer_id);
    if (r.affected_rows() != 1) {
      return absl::NotFoundError(absl::StrCat("contact ", contact_id, " not found"));
    }
    Finish(tx, write);
    return absl::OkStatus();
  });
}

ListQuery BuildListQuery(const ListFilter& f, const std::optional<ListCursor>& after, int limit) {
  // The statement text depends only on which filters are set (named after them, prepared once
  // per connection); values are always parameters. Active customers are selected by a
  // constant, so the partial indexes of migrations/002 (filter column, legal_name, id) WHERE
  // state = 1 serve every filter in list order, also for a generic plan.
  ListQuery q;
  std::string where = f.show_deleted ? " WHERE true" : " WHERE state = 1";
  std::string name = f.show_deleted ? "profile_list_all" : "profile_list";
  const auto add = [&](absl::string_view key, absl::string_view condition, std::string value) {
    q.params.push_back(std::move(value));
    absl::StrAppend(&name, "_", key);
    absl::StrAppend(&where, " AND ",
                    absl::StrReplaceAll(condition, {{"$?", absl::StrCat("$", q.params.size())}}));
  };
  if (!f.province.empty()) add("province", "province = $?", f.province);
  if (!f.city.empty()) add("city", "city = $?", f.city);
  if (!f.industry.empty()) add("industry", "industry = $?", f.industry);
  if (!f.owner.empty()) add("owner", "owner = $?", f.owner);
  if (f.lifecycle_stage != 0) {
    add("stage", "lifecycle_stage = $?::smallint", absl::StrCat(f.lifecycle_stage));
  }
  if (f.nature != 0) add("nature", "nature = $?::smallint", absl::StrCat(f.nature));
  if (!f.tag.empty()) add("tag", "tags @> ARRAY[$?::text]", f.tag);
  if (!f.name_prefix.empty()) {
    // Prefix as a range on the bytewise order, so the name index serves it. U+10FFFF is the
    // largest code point, so every valid name that starts with the prefix sorts below this.
    const std::string upper = f.name_prefix + "\xf4\x8f\xbf\xbf";
    add("prefix", "legal_name >= $?", f.name_prefix);
    add("prefix_end", "legal_name < $?", upper);
  }
  if (after.has_value()) {
    q.params.push_back(after->legal_name);
    q.params.push_back(after->id);
    absl::StrAppend(&name, "_after");
    absl::StrAppend(&where, " AND (legal_name, id) > ($", q.params.size() - 1, ", $",
                    q.params.size(), "::uuid)");
  }
  q.params.push_back(absl::StrCat(limit));
  // The table's id (uuid), not the text id of the select list, or no index has the order.
  q.name = std::move(name);
  q.sql = absl::StrCat("SELECT ", CustomerColumns(), " FROM customers", where,
                       " ORDER BY customers.legal_name, customers.id LIMIT $", q.params.size(),
                       "::int");
  return q;
}

absl::Status CustomerStore::List(const ListFilter& f, const std::optional<ListCursor>& after,
                                 int limit, google::protobuf::RepeatedPtrField<v1::Customer>* out) {
  const ListQuery q = BuildListQuery(f, after, limit);
  return pool_.Read([&](pqxx::nontransaction& tx) -> absl::Status {
    const pqxx::result r =
        Prepared(tx, q.name, q.sql, pqxx::prepare::make_dynamic_params(q.params));
    out->Clear();  // a retry on a fresh connection starts over
    out->Reserve(static_cast<int>(r.size()));
    const CustomerColumnNumbers columns(r);
    for (const auto& row : r) RowToCustomer(row, columns, *out->Add());
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::AuditEntry>> CustomerStore::ListAudit(const std::string& customer_id,
                                                                     int64_t before_id, int limit) {
  return pool_.Transact<std::vector<v1::AuditEntry>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::AuditEntry>> {
        std::vector<v1::AuditEntry> out;
        for (const auto& r : tx.exec_params(
                 "SELECT id, customer_id::text AS customer_id, action, fields, actor, actor_role,"
                 " request_id, note, " +
                     postgres::MicrosColumn("at") +
                     " AS at FROM audit_log"
                     " WHERE customer_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3",
                 customer_id, before_id, limit)) {
          v1::AuditEntry e;
          e.set_id(r["id"].as<int64_t>());
          e.set_customer_id(r["customer_id"].as<std::string>());
          e.set_action(static_cast<v1::AuditAction>(r["action"].as<int>()));
          for (auto& field : FromTextArray(r["fields"])) e.add_fields(std::move(field));
          e.set_actor(r["actor"].as<std::string>());
          e.set_actor_role(r["actor_role"].as<std::string>());
          e.set_request_id(r["request_id"].as<std::string>());
          e.set_note(r["note"].as<std::string>());
          SetTimestamp(r["at"].as<int64_t>(), e.mutable_time());
          out.push_back(std::move(e));
        }
        return out;
      });
}

absl::Status CustomerStore::AppendAudit(const AuditRecord& record) {
  // One INSERT that commits on its own: no BEGIN/COMMIT round trips for a read's audit row.
  return pool_.Read([&](pqxx::nontransaction& tx) {
    WriteAudit(tx, record);
    return absl::OkStatus();
  });
}

}  // namespace tierwise::profile
