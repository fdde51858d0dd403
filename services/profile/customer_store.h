#ifndef TIERWISE_SERVICES_PROFILE_CUSTOMER_STORE_H_
#define TIERWISE_SERVICES_PROFILE_CUSTOMER_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/outbox/outbox.h"
#include "common/postgres/pool.h"
#include "tierwise/profile/v1/profile.pb.h"

// PostgreSQL storage of the customer archive (schema `profile` by default; tables in
// migrations/). Every write runs in one transaction together with its audit row and its outbox
// event, so a change is either complete, audited and announced, or absent. Writes check the
// version the caller read (optimistic concurrency): a mismatch is ABORTED. Thread-safe.
namespace tierwise::profile {

struct AuditRecord {
  std::string customer_id;
  v1::AuditAction action = v1::AUDIT_ACTION_UNSPECIFIED;
  std::vector<std::string> fields;  // names only, never values
  std::string actor;
  std::string actor_role;
  std::string request_id;
  std::string note;
};

struct ListFilter {
  std::string province;
  std::string city;
  std::string industry;
  std::string owner;
  int lifecycle_stage = 0;
  int nature = 0;
  std::string tag;
  std::string name_prefix;
  bool show_deleted = false;
};

// Position after the last row of a page, in the list order (legal_name bytewise, then id).
struct ListCursor {
  std::string legal_name;
  std::string id;
};

// The statement CustomerStore::List runs for a filter: its name (one per combination of set
// filters; prepared once per connection), text and parameters. Tests EXPLAIN it.
struct ListQuery {
  std::string name;
  std::string sql;
  std::vector<std::string> params;
};
ListQuery BuildListQuery(const ListFilter& filter, const std::optional<ListCursor>& after,
                         int limit);

// What a write needs besides its data: who, for the audit trail, and the event to publish.
struct WriteContext {
  AuditRecord audit;
  outbox::Message event;
};

// A version step: the write happens only if the stored version is still `expected`.
struct VersionBump {
  int64_t expected = 0;
  int64_t next = 0;
  int64_t time_micros = 0;  // becomes update_time
  std::string actor;        // becomes updated_by
};

class CustomerStore {
 public:
  explicit CustomerStore(postgres::PgPool& pool) : pool_(pool) {}

  // Inserts a new customer (id, version 1, timestamps set by the caller) and its contacts.
  // ALREADY_EXISTS when external_ref is taken.
  absl::Status Insert(const v1::Customer& customer, const WriteContext& write);

  // NOT_FOUND when absent. Contacts are loaded only when asked for.
  absl::StatusOr<v1::Customer> Get(const std::string& id, bool with_contacts);
  absl::StatusOr<v1::Customer> GetByExternalRef(const std::string& external_ref,
                                                bool with_contacts);

  // Version of the stored customer; NOT_FOUND when absent.
  absl::StatusOr<int64_t> Version(const std::string& id);

  // Rewrites every mutable column of `customer` (identified by its id), including state and
  // delete_time.
  absl::Status Update(const v1::Customer& customer, const VersionBump& bump,
                      const WriteContext& write);

  // Erasure: clears every personal column, deletes contacts, keeps the tombstone (id,
  // external_ref, timestamps, erased_by = bump.actor).
  absl::Status Erase(const std::string& id, const VersionBump& bump, const WriteContext& write);

  // Contact changes bump the customer's version as any change does.
  absl::Status AddContact(const std::string& customer_id, const VersionBump& bump,
                          const v1::Contact& contact, const WriteContext& write);
  absl::Status UpdateContact(const std::string& customer_id, const VersionBump& bump,
                             const v1::Contact& contact, const WriteContext& write);
  absl::Status RemoveContact(const std::string& customer_id, const VersionBump& bump,
                             const std::string& contact_id, const WriteContext& write);

  // One page in list order, starting after `after`, into `out` (replacing what it held): built
  // in place in the response, contacts not loaded.
  absl::Status List(const ListFilter& filter, const std::optional<ListCursor>& after, int limit,
                    google::protobuf::RepeatedPtrField<v1::Customer>* out);

  // Newest first, starting below `before_id` (0 = from the newest).
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(const std::string& customer_id,
                                                        int64_t before_id, int limit);

  // Records a sensitive read.
  absl::Status AppendAudit(const AuditRecord& record);

 private:
  postgres::PgPool& pool_;
};

}  // namespace tierwise::profile

#endif  // TIERWISE_SERVICES_PROFILE_CUSTOMER_STORE_H_
