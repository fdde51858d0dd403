#include "services/profile/customer_archive.h"

#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/ids/ids.h"
#include "common/redis/stream_names.h"
#include "common/status/macros.h"
#include "common/status/status.h"
#include "common/time/micros.h"
#include "services/profile/customer_validation.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::profile {
namespace {

using time::SetTimestamp;
using time::ToMicros;

using auth::Role;
using google::protobuf::util::FieldMaskUtil;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr size_t kMaxReasonLength = 500;

// Fields a caller may name in UpdateCustomer's update_mask (first path segment).
const absl::flat_hash_set<std::string>& UpdatableFields() {
  static const auto* const kFields = new absl::flat_hash_set<std::string>{
      "external_ref",           "legal_name",      "short_name", "aliases",         "nature",
      "business_mode",          "industry",        "region",     "owner",           "registration",
      "first_transaction_date", "lifecycle_stage", "tags",       "potential_notes", "data_consent"};
  return *kFields;
}

const absl::flat_hash_set<std::string>& ContactFields() {
  static const auto* const kFields = new absl::flat_hash_set<std::string>{
      "name", "title", "role", "key_man", "phone", "email", "birthday", "preferences"};
  return *kFields;
}

bool CanSeeFull(const auth::CallContext& call, const v1::Customer& c) {
  switch (call.principal.role) {
    case Role::kAdmin:
    case Role::kManager:
    case Role::kFinance:
      return true;
    case Role::kSalesRep:
      return c.owner() == call.principal.name;
    default:
      return false;
  }
}

// Sales reps change only the customers they own; other writers are limited by the role table.
absl::Status CheckMayChange(const auth::CallContext& call, const v1::Customer& c) {
  if (call.principal.role == Role::kSalesRep && c.owner() != call.principal.name) {
    return absl::PermissionDeniedError("sales reps may change only the customers they own");
  }
  return absl::OkStatus();
}

// Assigning a customer to a rep is the back office's decision; the ERP customer code is the
// back office's or the ERP's. `field` names the request field in the message.
absl::Status CheckMaySetOwner(const auth::CallContext& call, absl::string_view field) {
  const Role role = call.principal.role;
  if (role == Role::kAdmin || role == Role::kManager) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(field, ": role ", auth::RoleName(role),
                   " may not assign an owner; only admins and managers (re)assign customers"));
}

absl::Status CheckMaySetExternalRef(const auth::CallContext& call, absl::string_view field) {
  const Role role = call.principal.role;
  if (role == Role::kAdmin || role == Role::kManager || role == Role::kErpAdapter) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(field, ": role ", auth::RoleName(role),
                   " may not set the ERP customer code; only admins, managers and the ERP do"));
}

int64_t VersionOf(const v1::Customer& c) {
  int64_t v = 0;
  (void)absl::SimpleAtoi(absl::StripPrefix(c.etag(), "v"), &v);
  return v;
}

absl::Status CheckEtag(const std::string& etag, const v1::Customer& current) {
  if (!etag.empty() && etag != current.etag()) {
    return absl::AbortedError(
        absl::StrCat("etag ", etag, " is stale; the customer is now at ", current.etag()));
  }
  return absl::OkStatus();
}

int PageSize(int requested, const std::string& field, absl::Status* status) {
  if (requested < 0) {
    *status = status::InvalidArgument(field, "must not be negative");
    return 0;
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

// A page token binds the position to the filter it was made for, so it cannot be replayed
// against another filter.
std::string FilterFingerprint(const v1::ListCustomersRequest& r) {
  v1::ListCustomersRequest f = r;
  f.clear_page_size();
  f.clear_page_token();
  return absl::StrCat(absl::Hex(std::hash<std::string>{}(f.SerializeAsString()) & 0xffffffff));
}

std::string EncodeListToken(const ListCursor& cursor, const std::string& fingerprint) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("c1\x1f", fingerprint, "\x1f", cursor.id, "\x1f", cursor.legal_name));
}

absl::StatusOr<ListCursor> DecodeListToken(const std::string& token,
                                           const std::string& fingerprint) {
  std::string raw;
  const absl::Status bad = status::InvalidArgument("page_token", "is not a token from this list");
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad;
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('\x1f', 3));
  if (parts.size() != 4 || parts[0] != "c1" || !ids::IsUuid(parts[2])) return bad;
  if (parts[1] != fingerprint) {
    return status::InvalidArgument("page_token", "was made for a different filter");
  }
  return ListCursor{parts[3], parts[2]};
}

}  // namespace

std::string CustomerChangedStream(const std::string& redis_prefix) {
  return streams::CustomerChanged(redis_prefix);
}

void MaskToBasicView(v1::Customer& c) {
  if (c.has_registration()) {
    v1::Registration* r = c.mutable_registration();
    r->clear_tax_id();
    r->clear_legal_representative();
    r->clear_bank_name();
    r->clear_bank_account();
    r->clear_annual_revenue();
    r->clear_fixed_assets();
    r->clear_working_capital();
    if (c.nature() == v1::NATURE_INDIVIDUAL) {
      r->clear_unified_credit_code();
      r->clear_phone();
      r->clear_email();
      r->clear_address();
    }
  }
  for (v1::Contact& contact : *c.mutable_contacts()) {
    contact.clear_phone();
    contact.clear_email();
    contact.clear_birthday();
  }
}

CustomerArchive::CustomerArchive(CustomerStore& store, std::string event_stream, Clock clock,
                                 std::function<void()> published)
    : store_(store),
      event_stream_(std::move(event_stream)),
      clock_(std::move(clock)),
      published_(std::move(published)) {}

WriteContext CustomerArchive::MakeWrite(const auth::CallContext& call, const v1::Customer& after,
                                        v1::AuditAction action, std::vector<std::string> fields,
                                        int change_type, std::string note) {
  WriteContext write;
  write.audit = AuditRecord{after.id(),
                            action,
                            fields,
                            call.principal.name,
                            std::string(auth::RoleName(call.principal.role)),
                            call.request_id,
                            std::move(note)};
  events::v1::CustomerChanged event;
  event.set_event_id(ids::NewUuid());
  event.set_customer_id(after.id());
  event.set_external_ref(after.external_ref());
  event.set_change_type(static_cast<events::v1::CustomerChangeType>(change_type));
  event.set_version(VersionOf(after));
  for (auto& f : fields) event.add_changed_fields(std::move(f));
  *event.mutable_occurred_at() = after.update_time();
  event.set_actor(call.principal.name);
  if (after.state() != v1::CUSTOMER_STATE_ERASED) {
    event.set_nature(after.nature());
    event.set_industry(after.industry());
    event.set_province(after.region().province());
    event.set_city(after.region().city());
    event.set_owner(after.owner());
    event.set_lifecycle_stage(after.lifecycle_stage());
    *event.mutable_tags() = after.tags();
    if (after.has_first_transaction_date()) {
      *event.mutable_first_transaction_date() = after.first_transaction_date();
    }
    *event.mutable_create_time() = after.create_time();
  }
  write.event = outbox::Message{event_stream_, event.GetTypeName(), event.event_id(),
                                event.SerializeAsString()};
  return write;
}

VersionBump CustomerArchive::NextVersion(const auth::CallContext& call,
                                         const v1::Customer& current) const {
  const int64_t v = VersionOf(current);
  return VersionBump{v, v + 1, clock_(), call.principal.name};
}

absl::StatusOr<v1::Customer> CustomerArchive::Create(const auth::CallContext& call,
                                                     const v1::CreateCustomerRequest& request) {
  v1::Customer c = request.customer();
  c.set_legal_name(std::string(absl::StripAsciiWhitespace(c.legal_name())));
  status::ViolationList violations;
  if (!c.id().empty()) violations.Add("customer.id", "is assigned by the server; leave it empty");
  if (!request.has_customer()) violations.Add("customer", "is required");
  ValidateCustomer(c, "customer", violations);
  if (static_cast<size_t>(request.contacts_size()) > kMaxContacts) {
    violations.Add("contacts", absl::StrCat("at most ", kMaxContacts, " contacts"));
  }
  for (int i = 0; i < request.contacts_size(); ++i) {
    ValidateContact(request.contacts(i), absl::StrCat("contacts[", i, "]"), violations);
  }
  if (!violations.empty()) return violations.ToStatus();
  if (call.principal.role == Role::kSalesRep) {
    // A rep's new customer is theirs: that is not an assignment by someone else.
    if (c.owner().empty()) c.set_owner(call.principal.name);
    if (c.owner() != call.principal.name) {
      return absl::PermissionDeniedError(
          "customer.owner: sales reps may create customers only for themselves");
    }
  } else if (!c.owner().empty()) {
    TW_RETURN_IF_ERROR(CheckMaySetOwner(call, "customer.owner"));
  }
  if (!c.external_ref().empty()) {
    TW_RETURN_IF_ERROR(CheckMaySetExternalRef(call, "customer.external_ref"));
  }

  const int64_t now = clock_();
  c.set_id(ids::NewUuid());
  c.clear_contacts();
  for (const v1::Contact& input : request.contacts()) {
    v1::Contact* contact = c.add_contacts();
    *contact = input;
    contact->set_id(ids::NewUuid());
  }
  if (c.lifecycle_stage() == v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    c.set_lifecycle_stage(v1::LIFECYCLE_STAGE_PROSPECT);
  }
  c.set_state(v1::CUSTOMER_STATE_ACTIVE);
  c.set_etag("v1");
  SetTimestamp(now, c.mutable_create_time());
  SetTimestamp(now, c.mutable_update_time());
  if (c.data_consent()) SetTimestamp(now, c.mutable_consent_time());
  c.clear_delete_time();
  c.clear_erase_time();
  c.clear_erased_by();
  c.set_created_by(call.principal.name);
  c.set_updated_by(call.principal.name);

  WriteContext write =
      MakeWrite(call, c, v1::AUDIT_ACTION_CREATE, {}, events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
  if (absl::Status s = store_.Insert(c, write); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(
          absl::StrCat("customer.external_ref: ", c.external_ref(), " is already in use"));
    }
    return s;
  }
  if (published_) published_();
  return c;  // the creator may see what they just wrote
}

absl::StatusOr<v1::Customer> CustomerArchive::Present(const auth::CallContext& call,
                                                      v1::Customer customer,
                                                      v1::CustomerView view) {
  if (!v1::CustomerView_IsValid(view)) {
    return status::InvalidArgument("view", "is not a known value");
  }
  if (view != v1::CUSTOMER_VIEW_FULL) {
    MaskToBasicView(customer);
    return customer;
  }
  if (!CanSeeFull(call, customer)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", auth::RoleName(call.principal.role),
                     " may not read the FULL view of this customer"));
  }
  if (customer.state() != v1::CUSTOMER_STATE_ERASED) {
    AuditRecord read{customer.id(),
                     v1::AUDIT_ACTION_READ_SENSITIVE,
                     {"registration", "contacts"},
                     call.principal.name,
                     std::string(auth::RoleName(call.principal.role)),
                     call.request_id,
                     ""};
    TW_RETURN_IF_ERROR(store_.AppendAudit(read));  // no audit, no data
  }
  return customer;
}

absl::StatusOr<v1::Customer> CustomerArchive::Get(const auth::CallContext& call,
                                                  const v1::GetCustomerRequest& request) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(request.id(), "id"));
  TW_ASSIGN_OR_RETURN(v1::Customer c, store_.Get(request.id(), /*with_contacts=*/true));
  return Present(call, std::move(c), request.view());
}

absl::StatusOr<v1::Customer> CustomerArchive::GetByExternalRef(
    const auth::CallContext& call, const v1::GetCustomerByExternalRefRequest& request) {
  if (!IsValidExternalRef(request.external_ref())) {
    return status::InvalidArgument("external_ref", "is required: an ERP customer code");
  }
  TW_ASSIGN_OR_RETURN(v1::Customer c, store_.GetByExternalRef(request.external_ref(), true));
  return Present(call, std::move(c), request.view());
}

absl::StatusOr<v1::Customer> CustomerArchive::LoadForChange(const auth::CallContext& call,
                                                            const std::string& id,
                                                            const std::string& id_field) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(id, id_field));
  TW_ASSIGN_OR_RETURN(v1::Customer current, store_.Get(id, /*with_contacts=*/true));
  if (current.state() == v1::CUSTOMER_STATE_ERASED) {
    return absl::FailedPreconditionError("the customer was erased");
  }
  TW_RETURN_IF_ERROR(CheckMayChange(call, current));
  return current;
}

absl::StatusOr<v1::Customer> CustomerArchive::Update(const auth::CallContext& call,
                                                     const v1::UpdateCustomerRequest& request) {
  const auto& mask = request.update_mask();
  if (mask.paths_size() == 0) {
    return status::InvalidArgument("update_mask", "is required: name the fields to change");
  }
  status::ViolationList mask_violations;
  std::vector<std::string> fields;
  for (const std::string& path : mask.paths()) {
    const std::string top = path.substr(0, path.find('.'));
    if (!UpdatableFields().contains(top) || !FieldMaskUtil::IsValidPath<v1::Customer>(path)) {
      mask_violations.Add("update_mask", absl::StrCat("'", path, "' is not an updatable field"));
    } else {
      fields.push_back(path);
    }
  }
  if (!mask_violations.empty()) return mask_violations.ToStatus();

  TW_ASSIGN_OR_RETURN(v1::Customer current,
                      LoadForChange(call, request.customer().id(), "customer.id"));
  TW_RETURN_IF_ERROR(CheckEtag(request.etag(), current));
  if (current.state() == v1::CUSTOMER_STATE_DELETED) {
    return absl::FailedPreconditionError("the customer is deleted");
  }

  v1::Customer updated = current;
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(request.customer(), mask, options, &updated);
  updated.set_legal_name(std::string(absl::StripAsciiWhitespace(updated.legal_name())));

  status::ViolationList violations;
  ValidateCustomer(updated, "customer", violations);
  if (!violations.empty()) return violations.ToStatus();
  if (updated.owner() != current.owner()) {
    TW_RETURN_IF_ERROR(CheckMaySetOwner(call, "customer.owner"));
  }
  if (updated.external_ref() != current.external_ref()) {
    TW_RETURN_IF_ERROR(CheckMaySetExternalRef(call, "customer.external_ref"));
  }
  if (google::protobuf::util::MessageDifferencer::Equals(updated, current)) {
    return current;  // nothing changes: no version, no audit, no event
  }

  const VersionBump bump = NextVersion(call, current);
  updated.set_etag(absl::StrCat("v", bump.next));
  SetTimestamp(bump.time_micros, updated.mutable_update_time());
  updated.set_updated_by(call.principal.name);
  if (updated.data_consent() && !current.data_consent()) {
    SetTimestamp(bump.time_micros, updated.mutable_consent_time());
  } else if (!updated.data_consent()) {
    updated.clear_consent_time();
  }
  WriteContext write = MakeWrite(call, updated, v1::AUDIT_ACTION_UPDATE, fields,
                                 events::v1::CUSTOMER_CHANGE_TYPE_UPDATED);
  if (absl::Status s = store_.Update(updated, bump, write); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(
          absl::StrCat("customer.external_ref: ", updated.external_ref(), " is already in use"));
    }
    return s;
  }
  if (published_) published_();
  return updated;
}

absl::StatusOr<v1::ListCustomersResponse> CustomerArchive::List(
    const auth::CallContext& call, const v1::ListCustomersRequest& request) {
  absl::Status status;
  const int page_size = PageSize(request.page_size(), "page_size", &status);
  if (!status.ok()) return status;
  if (!v1::LifecycleStage_IsValid(request.lifecycle_stage())) {
    return status::InvalidArgument("lifecycle_stage", "is not a known value");
  }
  if (!v1::Nature_IsValid(request.nature())) {
    return status::InvalidArgument("nature", "is not a known value");
  }
  if (request.name_prefix().size() > kMaxNameLength * 4) {
    return status::InvalidArgument("name_prefix", "is too long");
  }
  const std::string fingerprint = FilterFingerprint(request);
  std::optional<ListCursor> after;
  if (!request.page_token().empty()) {
    TW_ASSIGN_OR_RETURN(ListCursor cursor, DecodeListToken(request.page_token(), fingerprint));
    after = cursor;
  }
  ListFilter filter{
      request.province(),        request.city(),   request.industry(), request.owner(),
      request.lifecycle_stage(), request.nature(), request.tag(),      request.name_prefix(),
      request.show_deleted()};
  // One row more than the page tells whether another page follows.
  v1::ListCustomersResponse response;
  TW_RETURN_IF_ERROR(store_.List(filter, after, page_size + 1, response.mutable_customers()));
  const bool more = response.customers_size() > page_size;
  if (more) response.mutable_customers()->RemoveLast();
  for (v1::Customer& c : *response.mutable_customers()) MaskToBasicView(c);
  if (more) {
    const v1::Customer& last = response.customers(response.customers_size() - 1);
    response.set_next_page_token(EncodeListToken({last.legal_name(), last.id()}, fingerprint));
  }
  return response;
}

absl::StatusOr<v1::Customer> CustomerArchive::Delete(const auth::CallContext& call,
                                                     const v1::DeleteCustomerRequest& request) {
  TW_ASSIGN_OR_RETURN(v1::Customer current, LoadForChange(call, request.id(), "id"));
  TW_RETURN_IF_ERROR(CheckEtag(request.etag(), current));
  if (current.state() == v1::CUSTOMER_STATE_DELETED) return current;  // already done
  v1::Customer deleted = current;
  const VersionBump bump = NextVersion(call, current);
  deleted.set_state(v1::CUSTOMER_STATE_DELETED);
  deleted.set_etag(absl::StrCat("v", bump.next));
  SetTimestamp(bump.time_micros, deleted.mutable_update_time());
  SetTimestamp(bump.time_micros, deleted.mutable_delete_time());
  deleted.set_updated_by(call.principal.name);
  WriteContext write = MakeWrite(call, deleted, v1::AUDIT_ACTION_DELETE, {"state"},
                                 events::v1::CUSTOMER_CHANGE_TYPE_DELETED);
  TW_RETURN_IF_ERROR(store_.Update(deleted, bump, write));
  if (published_) published_();
  return deleted;
}

absl::StatusOr<v1::Customer> CustomerArchive::Erase(const auth::CallContext& call,
                                                    const v1::EraseCustomerRequest& request) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(request.id(), "id"));
  const std::string reason(absl::StripAsciiWhitespace(request.reason()));
  if (reason.empty()) return status::InvalidArgument("reason", "is required for an erasure");
  if (reason.size() > kMaxReasonLength) {
    return status::InvalidArgument("reason", absl::StrCat("at most ", kMaxReasonLength, " bytes"));
  }
  TW_ASSIGN_OR_RETURN(v1::Customer current, store_.Get(request.id(), /*with_contacts=*/false));
  if (current.state() == v1::CUSTOMER_STATE_ERASED) return current;  // already done
  const VersionBump bump = NextVersion(call, current);
  v1::Customer tombstone;
  tombstone.set_id(current.id());
  tombstone.set_external_ref(current.external_ref());
  tombstone.set_state(v1::CUSTOMER_STATE_ERASED);
  tombstone.set_etag(absl::StrCat("v", bump.next));
  *tombstone.mutable_create_time() = current.create_time();
  SetTimestamp(bump.time_micros, tombstone.mutable_update_time());
  SetTimestamp(bump.time_micros, tombstone.mutable_erase_time());
  tombstone.set_erased_by(call.principal.name);
  tombstone.set_created_by(current.created_by());
  tombstone.set_updated_by(call.principal.name);
  WriteContext write = MakeWrite(call, tombstone, v1::AUDIT_ACTION_ERASE, {"*"},
                                 events::v1::CUSTOMER_CHANGE_TYPE_ERASED, reason);
  TW_RETURN_IF_ERROR(store_.Erase(tombstone.id(), bump, write));
  if (published_) published_();
  return tombstone;
}

absl::StatusOr<v1::Customer> CustomerArchive::AddContact(const auth::CallContext& call,
                                                         const v1::AddContactRequest& request) {
  status::ViolationList violations;
  if (!request.contact().id().empty()) {
    violations.Add("contact.id", "is assigned by the server; leave it empty");
  }
  ValidateContact(request.contact(), "contact", violations);
  if (!violations.empty()) return violations.ToStatus();
  TW_ASSIGN_OR_RETURN(v1::Customer current,
                      LoadForChange(call, request.customer_id(), "customer_id"));
  if (static_cast<size_t>(current.contacts_size()) >= kMaxContacts) {
    return absl::FailedPreconditionError(
        absl::StrCat("the customer already has ", kMaxContacts, " contacts"));
  }
  v1::Customer after = current;
  v1::Contact* contact = after.add_contacts();
  *contact = request.contact();
  contact->set_id(ids::NewUuid());
  const VersionBump bump = NextVersion(call, current);
  after.set_etag(absl::StrCat("v", bump.next));
  SetTimestamp(bump.time_micros, after.mutable_update_time());
  after.set_updated_by(call.principal.name);
  WriteContext write = MakeWrite(call, after, v1::AUDIT_ACTION_ADD_CONTACT, {"contacts"},
                                 events::v1::CUSTOMER_CHANGE_TYPE_CONTACTS_CHANGED);
  TW_RETURN_IF_ERROR(store_.AddContact(after.id(), bump, *contact, write));
  if (published_) published_();
  return after;
}

absl::StatusOr<v1::Customer> CustomerArchive::UpdateContact(
    const auth::CallContext& call, const v1::UpdateContactRequest& request) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(request.contact().id(), "contact.id"));
  if (request.update_mask().paths_size() == 0) {
    return status::InvalidArgument("update_mask", "is required: name the fields to change");
  }
  for (const std::string& path : request.update_mask().paths()) {
    if (!ContactFields().contains(path.substr(0, path.find('.'))) ||
        !FieldMaskUtil::IsValidPath<v1::Contact>(path)) {
      return status::InvalidArgument("update_mask",
                                     absl::StrCat("'", path, "' is not an updatable field"));
    }
  }
  TW_ASSIGN_OR_RETURN(v1::Customer current,
                      LoadForChange(call, request.customer_id(), "customer_id"));
  v1::Customer after = current;
  v1::Contact* target = nullptr;
  for (v1::Contact& c : *after.mutable_contacts()) {
    if (c.id() == request.contact().id()) target = &c;
  }
  if (target == nullptr) {
    return absl::NotFoundError(absl::StrCat("contact ", request.contact().id(), " not found"));
  }
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  FieldMaskUtil::MergeMessageTo(request.contact(), request.update_mask(), options, target);
  status::ViolationList violations;
  ValidateContact(*target, "contact", violations);
  if (!violations.empty()) return violations.ToStatus();
  const VersionBump bump = NextVersion(call, current);
  after.set_etag(absl::StrCat("v", bump.next));
  SetTimestamp(bump.time_micros, after.mutable_update_time());
  after.set_updated_by(call.principal.name);
  std::vector<std::string> fields;
  for (const std::string& path : request.update_mask().paths()) {
    fields.push_back(absl::StrCat("contacts.", path));
  }
  WriteContext write = MakeWrite(call, after, v1::AUDIT_ACTION_UPDATE_CONTACT, fields,
                                 events::v1::CUSTOMER_CHANGE_TYPE_CONTACTS_CHANGED);
  TW_RETURN_IF_ERROR(store_.UpdateContact(after.id(), bump, *target, write));
  if (published_) published_();
  return after;
}

absl::StatusOr<v1::Customer> CustomerArchive::RemoveContact(
    const auth::CallContext& call, const v1::RemoveContactRequest& request) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(request.contact_id(), "contact_id"));
  TW_ASSIGN_OR_RETURN(v1::Customer current,
                      LoadForChange(call, request.customer_id(), "customer_id"));
  v1::Customer after = current;
  auto* contacts = after.mutable_contacts();
  const auto it = std::find_if(contacts->begin(), contacts->end(), [&](const v1::Contact& c) {
    return c.id() == request.contact_id();
  });
  if (it == contacts->end()) {
    return absl::NotFoundError(absl::StrCat("contact ", request.contact_id(), " not found"));
  }
  contacts->erase(it);
  const VersionBump bump = NextVersion(call, current);
  after.set_etag(absl::StrCat("v", bump.next));
  SetTimestamp(bump.time_micros, after.mutable_update_time());
  after.set_updated_by(call.principal.name);
  WriteContext write = MakeWrite(call, after, v1::AUDIT_ACTION_REMOVE_CONTACT, {"contacts"},
                                 events::v1::CUSTOMER_CHANGE_TYPE_CONTACTS_CHANGED);
  TW_RETURN_IF_ERROR(store_.RemoveContact(after.id(), bump, request.contact_id(), write));
  if (published_) published_();
  return after;
}

absl::StatusOr<v1::ListCustomerAuditResponse> CustomerArchive::ListAudit(
    const auth::CallContext& call, const v1::ListCustomerAuditRequest& request) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(request.customer_id(), "customer_id"));
  absl::Status status;
  const int page_size = PageSize(request.page_size(), "page_size", &status);
  if (!status.ok()) return status;
  int64_t before = 0;
  if (!request.page_token().empty()) {
    std::string raw;
    if (!absl::WebSafeBase64Unescape(request.page_token(), &raw) ||
        !absl::SimpleAtoi(absl::StripPrefix(raw, "a1:"), &before) || before <= 0) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
  }
  TW_ASSIGN_OR_RETURN(std::vector<v1::AuditEntry> entries,
                      store_.ListAudit(request.customer_id(), before, page_size + 1));
  v1::ListCustomerAuditResponse response;
  const bool more = static_cast<int>(entries.size()) > page_size;
  if (more) entries.pop_back();
  for (auto& e : entries) *response.add_entries() = std::move(e);
  if (more) {
    response.set_next_page_token(absl::WebSafeBase64Escape(
        absl::StrCat("a1:", response.entries(response.entries_size() - 1).id())));
  }
  return response;
}

}  // namespace tierwise::profile
