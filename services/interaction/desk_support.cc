#include "services/interaction/desk_support.h"

#include "absl/strings/str_cat.h"

namespace tierwise::interaction {

store::AuditEntry AuditOf(const auth::CallContext& call, std::string action, std::string entity,
                          std::string entity_id, std::string customer_id, std::string detail) {
  return {.customer_id = std::move(customer_id),
          .action = std::move(action),
          .actor = call.principal.name,
          .actor_role = std::string(auth::RoleName(call.principal.role)),
          .request_id = call.request_id,
          .entity = std::move(entity),
          .entity_id = std::move(entity_id),
          .note = std::move(detail)};
}

absl::StatusOr<store::KnownCustomer> AccessCustomer(pqxx::transaction_base& tx,
                                                    const auth::CallContext& call,
                                                    const std::string& customer_id,
                                                    absl::string_view field, bool for_write) {
  std::optional<store::KnownCustomer> c = store::FindCustomer(tx, customer_id, for_write);
  if (!c.has_value() || c->deleted) {
    return absl::NotFoundError(
        absl::StrCat(field, ": customer ", customer_id, " is not known (or was deleted)"));
  }
  if (IsRep(call) && c->owner != call.principal.name) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": customer ", customer_id, " is owned by another sales rep"));
  }
  return *c;
}

std::string RequestKey(const auth::CallContext& call, const std::string& request_id) {
  return request_id.empty() ? "" : absl::StrCat(call.principal.name, "/", request_id);
}

}  // namespace tierwise::interaction
